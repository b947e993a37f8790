# Copyright (c) mmmedssl contributors. All rights reserved.
"""Throughput of a config's multi-view training pipeline beside GraVIS'
released torchvision recipe, in one process.

    python tools/benchmarks/pipeline_throughput.py CONFIG \\
        [--num-images N] [--out results.json] [--data-root DIR]

"ours" is ``train_dataloader.dataset`` built from CONFIG: ``dataset[i]``
(decode + all views + packing), then ``default_collate`` and the data
preprocessor's normalisation (``model.data_preprocessor`` when the config
has a model, else ImageNet mean/std with ``bgr_to_rgb=True``).
"torchvision" is the released recipe on PIL images at the same crop size,
number of views and hole size: PIL decode, RandomResizedCrop(scale 0.2-1),
RandomRotation(10), ColorJitter(0.4, 0.4, 0.4, 0.1), RandomGrayscale(0.2),
PIL GaussianBlur (sigma 0.1-2, p=0.5), RandomHorizontalFlip, ToTensor,
Normalize, Cutout (3 holes, after normalisation), then torch's
``default_collate``. Both run on the same images, batch by batch, taking
turns to go first so that machine noise hits both. One thread each for
torch and OpenCV, as in a dataloader worker (``--threads`` to change).
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import random
import sys
import time
from typing import List, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import default_collate

DEFAULT_PREPROCESSOR = dict(
    type='MedSelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--num-images', type=int, default=64,
                        help='source images timed per pipeline')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='source images per collated batch (default: '
                        'the config\'s train batch size)')
    parser.add_argument('--data-root', default=None,
                        help='override the training set\'s data_root')
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch and OpenCV threads (default 1)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--breakdown', action='store_true',
                        help='also time each view transform of the config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


# ----------------------------------------------------------------------
# The released torchvision recipe
# ----------------------------------------------------------------------
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

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
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


# ----------------------------------------------------------------------
def find_multiview(pipeline) -> dict:
    for step in pipeline:
        if step.get('type') in ('MedMultiView', 'MultiView'):
            return step
    raise SystemExit('The training pipeline has no MedMultiView step: this '
                     'benchmark times multi-view pipelines.')


def find_step(view_pipeline, name):
    return next((t for t in view_pipeline if t.get('type') == name), None)


def time_ours(dataset, indices, preprocessor):
    t0 = time.perf_counter()
    samples = [dataset[i] for i in indices]
    t1 = time.perf_counter()
    preprocessor(default_collate(samples), True)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def time_torchvision(paths, view_tf, num_views):
    from PIL import Image
    from torch.utils.data import default_collate as torch_collate
    t0 = time.perf_counter()
    samples = []
    for path in paths:
        with Image.open(path) as f:
            img = f.convert('RGB')
        samples.append([view_tf(img) for _ in range(num_views)])
    t1 = time.perf_counter()
    torch_collate(samples)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def breakdown(dataset, indices, multiview_cfg) -> List[tuple]:
    """Mean ms of the decode (per image) and of each view transform (per
    view), outside the dataset's wrappers."""
    from mmcv.transforms import LoadImageFromFile

    from mmmedssl.registry import TRANSFORMS
    steps = [TRANSFORMS.build(t) for t in multiview_cfg['transforms'][0]]
    names = [f'{k + 1}. {type(s).__name__}' for k, s in enumerate(steps)]
    load = LoadImageFromFile()
    decode_s, step_s, views = 0., [0.] * len(steps), 0
    for i in indices:
        t = time.perf_counter()
        results = load(dict(img_path=dataset.get_data_info(i)['img_path']))
        decode_s += time.perf_counter() - t
        for _ in range(multiview_cfg['num_views']):
            out = copy.deepcopy(results)
            for k, step in enumerate(steps):
                t = time.perf_counter()
                out = step(out)
                step_s[k] += time.perf_counter() - t
            views += 1
    rows = [('LoadImageFromFile (ms per image)',
             decode_s / len(indices) * 1e3)]
    rows += [(name, s / views * 1e3) for name, s in zip(names, step_s)]
    return rows


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    from mmmedssl.registry import DATASETS, MODELS
    from mmmedssl.utils import register_all_modules
    register_all_modules()

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    loader_cfg = cfg.train_dataloader
    if args.data_root:
        loader_cfg.dataset.data_root = args.data_root
    batch_size = args.batch_size or loader_cfg.batch_size
    multiview = find_multiview(loader_cfg.dataset.pipeline)
    if len(multiview['transforms']) != 1:
        raise SystemExit('Only MedMultiView with one view pipeline is '
                         'supported.')
    num_views = multiview['num_views']
    num_views = num_views[0] if isinstance(num_views, list) else num_views
    pre_cfg = (cfg.model.get('data_preprocessor') if 'model' in cfg else
               None) or DEFAULT_PREPROCESSOR
    preprocessor = MODELS.build(pre_cfg)

    dataset = DATASETS.build(loader_cfg.dataset)
    if len(dataset) < args.num_images:
        raise SystemExit(f'The dataset has {len(dataset)} images, fewer '
                         f'than --num-images {args.num_images}.')
    probe = dataset[0]['inputs']
    crop_size = int(probe[0].shape[-1])
    cutout = find_step(multiview['transforms'][0], 'MedCutout')
    cutout_size = cutout['size'] if cutout else max(1, crop_size // 7)
    mean = [m / 255 for m in pre_cfg['mean']]
    std = [s / 255 for s in pre_cfg['std']]
    view_tf = torchvision_view_transform(crop_size, cutout_size, mean, std)
    paths = [
        dataset.get_data_info(i)['img_path'] for i in range(args.num_images)
    ]

    # Warm up both with one full batch (imports, allocator, file cache).
    warm = list(range(min(batch_size, args.num_images)))
    time_ours(dataset, warm, preprocessor)
    time_torchvision([paths[i] for i in warm], view_tf, num_views)

    totals = {'ours': [0., 0.], 'torchvision': [0., 0.]}
    for k, start in enumerate(range(0, args.num_images, batch_size)):
        indices = list(range(start, min(start + batch_size,
                                        args.num_images)))
        runs = [('ours', lambda: time_ours(dataset, indices, preprocessor)),
                ('torchvision', lambda: time_torchvision(
                    [paths[i] for i in indices], view_tf, num_views))]
        for name, run in (runs if k % 2 == 0 else runs[::-1]):
            pipeline_s, batch_s = run()
            totals[name][0] += pipeline_s
            totals[name][1] += batch_s

    n = args.num_images
    rows = {}
    for name, (pipeline_s, batch_s) in totals.items():
        total = pipeline_s + batch_s
        rows[name] = dict(
            images_per_s=n / total,
            views_per_s=n * num_views / total,
            ms_per_view=total / (n * num_views) * 1e3,
            pipeline_ms_per_image=pipeline_s / n * 1e3,
            collate_normalise_ms_per_image=batch_s / n * 1e3)
    for row in rows.values():
        row['vs_torchvision'] = (
            row['images_per_s'] / rows['torchvision']['images_per_s'])

    print(f'{args.config}: {n} images x {num_views} views at '
          f'{crop_size} px, batches of {batch_size}, {args.threads} '
          f'thread(s)')
    header = ('| pipeline | images/s | views/s | ms/view | vs torchvision '
              '| pipeline ms/img | collate+normalise ms/img |')
    print(header)
    print('|' + '---|' * 7)
    for name, r in rows.items():
        print(f"| {name} | {r['images_per_s']:.2f} | {r['views_per_s']:.1f} "
              f"| {r['ms_per_view']:.3f} | {r['vs_torchvision']:.2f}x "
              f"| {r['pipeline_ms_per_image']:.1f} "
              f"| {r['collate_normalise_ms_per_image']:.1f} |")

    result = dict(
        config=args.config,
        data_root=loader_cfg.dataset.get('data_root'),
        num_images=n,
        num_views=num_views,
        crop_size=crop_size,
        cutout_size=cutout_size,
        batch_size=batch_size,
        threads=args.threads,
        machine=dict(
            platform=platform.platform(),
            processor=platform.processor(),
            python=sys.version.split()[0],
            torch=torch.__version__,
            opencv=cv2.__version__),
        results=rows)
    if args.breakdown:
        rows_b = breakdown(dataset, range(min(n, 16)), multiview)
        print('\n| ours, per transform | ms per view |\n|---|---|')
        for name, ms in rows_b:
            print(f'| {name} | {ms:.3f} |')
        result['breakdown_ms'] = dict(rows_b)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'Wrote {args.out}')
    return result


if __name__ == '__main__':
    main()
