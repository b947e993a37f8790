# Copyright (c) mmmedssl contributors. All rights reserved.
"""Throughput of a config's training pipeline beside a reference pipeline,
in one process.

    python tools/benchmarks/pipeline_throughput.py CONFIG [CONFIG ...] \\
        [--reference plain|torchvision] [--num-images 64] [--batch-size N] \\
        [--data-root DIR] [--threads 1] [--breakdown] [--out results.json] \\
        [--img-size 224] [--volume-shape D H W] [--no-synthetic] \\
        [--cfg-options ...]

"ours" is the config's training set (``train_dataloader.dataset``):
``dataset[i]`` (decode, every view, packing) for each image of a batch of
``--batch-size`` images (default: the config's train batch size), then
``default_collate`` and the data preprocessor's normalisation
(``model.data_preprocessor``; for a config without a model, ImageNet
mean/std with ``bgr_to_rgb=True``): the model does that, not the dataset,
but the work is the pipeline's. When the training set is not found
(``--synthetic``, the default), the config's pipeline reads synthetic JPEGs
of ``--img-size`` pixels (3D configs, ``PackMedInputs(spatial_dims=3)``:
``.npy`` volumes of ``--volume-shape``) written to a temporary directory.

The reference runs on the same files:

- ``plain`` (the default): ``cv2.imread`` + resize to ours' output size +
  float32 normalisation with the preprocessor's mean/std (3D: ``np.load`` +
  trilinear resize + normalisation); one view per image, no collation: the
  floor of any pipeline.
- ``torchvision``: GraVIS' released recipe on PIL images, at the crop size,
  number of views and hole size of the config's ``MedMultiView``: PIL
  decode, RandomResizedCrop(scale 0.2-1), RandomRotation(10),
  ColorJitter(0.4, 0.4, 0.4, 0.1), RandomGrayscale(0.2), PIL GaussianBlur
  (sigma 0.1-2, p=0.5), RandomHorizontalFlip, ToTensor, Normalize, Cutout
  (3 holes, after normalisation), then torch's ``default_collate``.

Ours and the reference take turns to go first, batch by batch, so that
machine noise hits both; one thread each for torch and OpenCV, as in a
dataloader worker (``--threads`` to change). ``ratio`` is ours' time over
the reference's. ``--breakdown`` also times the decode and each view
transform of a ``MedMultiView`` pipeline.
"""
import argparse
import copy
import os.path as osp
import random
import sys
import tempfile
import time
from typing import List, Sequence

import numpy as np

from mmmedssl.utils.benchmarking import (first_view, load_config,
                                         machine_info, markdown_table,
                                         seed_everything, set_threads,
                                         spatial_dims_of, synthetic_image,
                                         synthetic_volume, take_turns, timed,
                                         training_data, write_json)

REFERENCES = ('plain', 'torchvision')
DEFAULT_PREPROCESSOR = dict(
    type='MedSelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG')
    parser.add_argument('--reference', choices=REFERENCES, default='plain',
                        help='what ours is compared with (default: plain)')
    parser.add_argument('--num-images', type=int, default=64,
                        help='source images timed per pipeline')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='source images per collated batch (default: '
                        'the config\'s train batch size)')
    parser.add_argument('--data-root', default=None,
                        help='override the training set\'s data_root')
    parser.add_argument('--img-size', type=int, default=224,
                        help='size of synthetic images (default 224)')
    parser.add_argument('--volume-shape', type=int, nargs=3,
                        default=[64, 64, 32], metavar=('D', 'H', 'W'),
                        help='synthetic volume shape for 3D configs')
    parser.add_argument('--synthetic', action=argparse.BooleanOptionalAction,
                        default=True,
                        help='use synthetic files when the config\'s '
                        'training set is not found (--no-synthetic: fail)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch and OpenCV threads (default 1)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--breakdown', action='store_true',
                        help='also time each view transform of the config')
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    for name in ('num_images', 'batch_size', 'threads', 'img_size'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


# ----------------------------------------------------------------------
# Ours: the config's training set, or its pipeline on synthetic files
# ----------------------------------------------------------------------
def path_of(info: dict) -> str:
    return info['img_path'] if 'img_path' in info else info['img_paths'][0]


def write_synthetic_files(directory, args, dims) -> List[str]:
    import cv2
    rng = np.random.default_rng(args.seed)
    paths = []
    for i in range(args.num_images):
        if dims == 3:
            path = osp.join(directory, f'{i:05d}.npy')
            np.save(path, synthetic_volume(rng, args.volume_shape))
        else:
            path = osp.join(directory, f'{i:05d}.jpg')
            cv2.imwrite(path, synthetic_image(rng, args.img_size),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths


def open_source(cfg, args, directory):
    """``(load, paths, info)``: ``load(i)`` makes ours' ``i``-th sample,
    ``paths[i]`` is the file it reads, ``info`` says where they are."""
    from mmcv.transforms import Compose
    n = args.num_images
    dataset, why = training_data(cfg, args.synthetic)
    if dataset is not None:
        if len(dataset) < n:
            raise SystemExit(f'The training set has {len(dataset)} images, '
                             f'fewer than --num-images {n}.')
        paths = [path_of(dataset.get_data_info(i)) for i in range(n)]
        root = cfg.train_dataloader.dataset.get('data_root')
        return dataset.__getitem__, paths, dict(data='real', data_root=root)
    pipeline_cfg = cfg.train_dataloader.dataset.pipeline
    paths = write_synthetic_files(directory, args,
                                  spatial_dims_of(pipeline_cfg))
    pipeline = Compose(pipeline_cfg)

    def load(i):
        return pipeline(dict(img_path=paths[i], sample_idx=i))

    return load, paths, dict(data='synthetic', why=why)


# ----------------------------------------------------------------------
# References
# ----------------------------------------------------------------------
def plain_reference(out_shape, dims, mean, std):
    """Decode + resize to ``out_shape`` + normalise, one view per file."""
    import cv2
    import torch
    import torch.nn.functional as F
    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)
    if dims == 2:
        def load(path):
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            img = cv2.resize(img, (out_shape[1], out_shape[0]),
                             interpolation=cv2.INTER_LINEAR)
            c = img.shape[2]
            return (img.astype(np.float32) - mean[:c]) / std[:c]
        return load

    def load_volume(path):
        vol = torch.from_numpy(np.load(path).astype(np.float32))
        vol = vol.reshape(-1, *vol.shape[-3:])[None]
        vol = F.interpolate(vol, size=tuple(out_shape), mode='trilinear',
                            align_corners=False)[0]
        if len(mean) == vol.shape[0]:  # per-channel statistics
            view = (-1, 1, 1, 1)
            return (vol - torch.from_numpy(mean).view(view)) / \
                torch.from_numpy(std).view(view)
        return (vol - float(mean[0])) / float(std[0])

    return load_volume


class PILGaussianBlur:
    """The release's blur: PIL ``GaussianBlur`` with a uniform sigma."""

    def __init__(self, sigma=(0.1, 2.0)):
        self.sigma = sigma

    def __call__(self, img):
        from PIL import ImageFilter
        return img.filter(
            ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))


class TensorCutout:
    """The release's Cutout on a normalised ``C x H x W`` tensor: holes
    of ``size`` around uniform centres, clipped at the borders, set to 0
    through a multiplicative mask."""

    def __init__(self, num_holes: int, size: int):
        self.num_holes = num_holes
        self.size = size

    def __call__(self, img):
        import torch
        h, w = img.shape[1:]
        mask = np.ones((h, w), np.float32)
        half = self.size // 2
        for _ in range(self.num_holes):
            cy, cx = np.random.randint(h), np.random.randint(w)
            mask[max(cy - half, 0):min(cy + half, h),
                 max(cx - half, 0):min(cx + half, w)] = 0.
        return img * torch.from_numpy(mask).expand_as(img)


def torchvision_view_transform(crop_size: int, cutout_size: int,
                               mean: Sequence[float], std: Sequence[float]):
    from torchvision import transforms as T
    return T.Compose([
        T.RandomResizedCrop(crop_size, scale=(0.2, 1.0)),
        T.RandomRotation(10),
        T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([PILGaussianBlur((0.1, 2.0))], p=0.5),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(mean, std),
        TensorCutout(3, cutout_size),
    ])


def find_multiview(pipeline) -> dict:
    for step in pipeline:
        if step.get('type') in ('MedMultiView', 'MultiView'):
            if len(step['transforms']) != 1:
                raise SystemExit('Only MedMultiView with one view pipeline '
                                 'is supported.')
            return step
    raise SystemExit('The training pipeline has no MedMultiView step: '
                     '--reference torchvision and --breakdown time '
                     'multi-view pipelines.')


def torchvision_reference(pipeline_cfg, crop_size, mean, std):
    """The released GraVIS recipe at the config's sizes, and those sizes."""
    from PIL import Image
    multiview = find_multiview(pipeline_cfg)
    num_views = multiview['num_views']
    num_views = num_views[0] if isinstance(num_views, list) else num_views
    cutout = next((t for t in multiview['transforms'][0]
                   if t.get('type') == 'MedCutout'), None)
    cutout_size = cutout['size'] if cutout else max(1, crop_size // 7)
    view_tf = torchvision_view_transform(crop_size, cutout_size,
                                         [m / 255 for m in mean],
                                         [s / 255 for s in std])

    def load(path):
        with Image.open(path) as f:
            img = f.convert('RGB')
        return [view_tf(img) for _ in range(num_views)]

    return load, dict(num_views=num_views, crop_size=crop_size,
                      cutout_size=cutout_size)


# ----------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------
def time_batch(load, collate, indices):
    """Seconds to make the batch's samples, and to collate them."""
    load_s, samples = timed(lambda: [load(i) for i in indices])
    collate_s = timed(lambda: collate(samples))[0] if collate else 0.
    return load_s, collate_s


def rates(load_s, collate_s, num_images, views):
    total = load_s + collate_s
    return dict(
        images_per_s=num_images / total,
        views_per_s=num_images * views / total,
        ms_per_image=total / num_images * 1e3,
        ms_per_view=total / (num_images * views) * 1e3,
        pipeline_ms_per_image=load_s / num_images * 1e3,
        collate_normalise_ms_per_image=collate_s / num_images * 1e3)


def breakdown(paths, multiview_cfg) -> List[tuple]:
    """Mean ms of the decode (per image) and of each view transform (per
    view), outside the dataset's wrappers."""
    from mmcv.transforms import LoadImageFromFile

    from mmmedssl.registry import TRANSFORMS
    steps = [TRANSFORMS.build(t) for t in multiview_cfg['transforms'][0]]
    names = [f'{k + 1}. {type(s).__name__}' for k, s in enumerate(steps)]
    num_views = multiview_cfg['num_views']
    num_views = num_views[0] if isinstance(num_views, list) else num_views
    load = LoadImageFromFile()
    decode_s, step_s, views = 0., [0.] * len(steps), 0
    for path in paths:
        t = time.perf_counter()
        results = load(dict(img_path=path))
        decode_s += time.perf_counter() - t
        for _ in range(num_views):
            out = copy.deepcopy(results)
            for k, step in enumerate(steps):
                t = time.perf_counter()
                out = step(out)
                step_s[k] += time.perf_counter() - t
            views += 1
    rows = [('LoadImageFromFile (ms per image)', decode_s / len(paths) * 1e3)]
    rows += [(name, s / views * 1e3) for name, s in zip(names, step_s)]
    return rows


def time_config(config, args):
    """Ours and the reference on ``--num-images`` images of one config."""
    from mmengine.dataset import default_collate
    from torch.utils.data import default_collate as torch_collate

    from mmmedssl.registry import MODELS
    seed_everything(args.seed)
    cfg = load_config(config, args.cfg_options)
    loader_cfg = cfg.train_dataloader
    if args.data_root:
        loader_cfg.dataset.data_root = args.data_root
    pipeline_cfg = loader_cfg.dataset.pipeline
    dims = spatial_dims_of(pipeline_cfg)
    batch_size = args.batch_size or loader_cfg.batch_size
    pre_cfg = (cfg.model.get('data_preprocessor') if 'model' in cfg else
               None) or (DEFAULT_PREPROCESSOR if dims == 2 else dict(
                   type='MedSelfSupDataPreprocessor'))
    mean = pre_cfg.get('mean') or (DEFAULT_PREPROCESSOR['mean']
                                   if dims == 2 else [0.])
    std = pre_cfg.get('std') or (DEFAULT_PREPROCESSOR['std']
                                 if dims == 2 else [1.])
    preprocessor = MODELS.build(pre_cfg)
    n = args.num_images

    with tempfile.TemporaryDirectory(prefix='pipeline_throughput_') as tmp:
        load, paths, source = open_source(cfg, args, tmp)
        probe = load(0)
        inputs = probe['inputs']
        num_inputs = len(inputs) if isinstance(inputs, (list, tuple)) else 1
        out_shape = tuple(first_view(inputs).shape[1:])
        row = dict(config=config, **source, spatial_dims=dims, num_images=n,
                   batch_size=batch_size, num_inputs=num_inputs,
                   output_shape=list(out_shape), threads=args.threads,
                   reference=args.reference)
        if args.reference == 'plain':
            ref_load, ref_collate = plain_reference(out_shape, dims, mean,
                                                    std), None
            ref_views = 1
        else:
            if dims != 2:
                raise SystemExit('--reference torchvision times 2D images.')
            ref_load, sizes = torchvision_reference(
                pipeline_cfg, int(out_shape[-1]), mean, std)
            ref_collate, ref_views = torch_collate, sizes['num_views']
            row.update(sizes)
        runs = {
            'ours': (load, lambda s: preprocessor(default_collate(s), True)),
            args.reference: (lambda i: ref_load(paths[i]), ref_collate),
        }
        # Warm up both with one batch (imports, allocator, file cache).
        for name, run in runs.items():
            time_batch(*run, range(min(batch_size, n)))
        totals = {name: [0., 0.] for name in runs}
        for k, start in enumerate(range(0, n, batch_size)):
            indices = range(start, min(start + batch_size, n))
            for name in take_turns(list(runs), k):
                load_s, collate_s = time_batch(*runs[name], indices)
                totals[name][0] += load_s
                totals[name][1] += collate_s
        if args.breakdown:
            row['breakdown_ms'] = dict(
                breakdown(paths[:16], find_multiview(pipeline_cfg)))

    views = dict(ours=num_inputs, **{args.reference: ref_views})
    results = {name: rates(*totals[name], n, views[name]) for name in totals}
    reference = results[args.reference]
    for result in results.values():
        result['vs_reference'] = (
            result['images_per_s'] / reference['images_per_s'])
    row['results'] = results
    row['ratio'] = sum(totals['ours']) / sum(totals[args.reference])
    return row


def report(row):
    print(f"\n{row['config']}: {row['num_images']} images ({row['data']} "
          f"data), {row['num_inputs']} x {tuple(row['output_shape'])} per "
          f"image, batches of {row['batch_size']}, {row['threads']} "
          'thread(s)')
    print(markdown_table(
        ['pipeline', 'images/s', 'views/s', 'ms/view',
         f"vs {row['reference']}", 'pipeline ms/img',
         'collate+normalise ms/img'],
        [[name, f"{r['images_per_s']:.2f}", f"{r['views_per_s']:.1f}",
          f"{r['ms_per_view']:.3f}", f"{r['vs_reference']:.2f}x",
          f"{r['pipeline_ms_per_image']:.1f}",
          f"{r['collate_normalise_ms_per_image']:.1f}"]
         for name, r in row['results'].items()]))
    print(f"ratio (ours / {row['reference']} time): {row['ratio']:.2f}x")
    if 'breakdown_ms' in row:
        print()
        print(markdown_table(
            ['ours, per transform', 'ms per view'],
            [[name, f'{ms:.3f}'] for name, ms in row['breakdown_ms'].items()]))


def main(argv=None):
    args = parse_args(argv)
    from mmmedssl.utils import register_all_modules
    register_all_modules()
    set_threads(args.threads)
    rows = []
    for config in args.configs:
        rows.append(time_config(config, args))
        report(rows[-1])
    if args.out:
        meta = dict(
            machine_info(),
            reference=args.reference,
            num_images=args.num_images,
            threads=args.threads,
            seed=args.seed,
            synthetic=args.synthetic,
            cfg_options=args.cfg_options)
        write_json(args.out, dict(meta=meta, pipelines=rows))
        print(f'\nwritten to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
