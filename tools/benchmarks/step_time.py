# Copyright (c) mmmedssl contributors. All rights reserved.
"""Cost of one training step of a config's algorithm beside a bare backbone
forward + backward, and (``--pipeline``) of its training pipeline beside a
plain decode + resize + normalise.

    python tools/benchmarks/step_time.py CONFIG [CONFIG ...] \\
        [--batch-size 8] [--img-size 224] [--repeats 5] [--warmup 2] \\
        [--threads N] [--out step_time.json] [--cfg-options ...] \\
        [--channels-last] [--amp] [--pipeline --num-images 64]

Step cost. ONE fixed batch is made by running the config's training
pipeline on ``--batch-size`` samples: the config's training set when it is
found, else (``--synthetic``, the default) synthetic inputs built here: a
uint8 ``H x W x 3`` BGR image of ``--img-size`` pixels per sample, or for 3D
configs (``PackMedInputs(spatial_dims=3)``) a float32 ``(2, D, H, W)``
volume of ``--volume-shape``, skipping the pipeline's loading transforms
(any type starting with ``Load``). The samples are collated with
``default_collate`` and normalised by ``model.data_preprocessor``. The
pipeline itself is not rewritten: each 2D input tensor of the batch (every
view, and any other image-shaped input) is then resized bilinearly to
``--img-size`` x ``--img-size`` when the pipeline made another size, so that
a demo config cropping 32 px can be timed at 224 px; ``--img-size 0`` keeps
the pipeline's size, and 3D volumes are never resized. Rewrite the
pipeline with ``--cfg-options`` to time other crops.

Two cases are timed, each in its own process so that its peak memory is its
own:

- ``model``: the config's model (SyncBN reverted to BN), ``losses =
  model(**data, mode='loss')``, the sum of the entries whose key contains
  ``'loss'`` (as mmengine's ``parse_losses``), ``backward()`` and a step of
  the config's optimizer (``optim_wrapper.optimizer``; plain SGD when it
  cannot be built). Hooks that run after the step (momentum updates of an
  EMA encoder by a hook or ``after_train_iter_update``) are not run; what
  the algorithm's own ``loss`` does (MoCo's key-encoder update and queue) is.
- ``backbone``: a fresh ``cfg.model.backbone`` alone, on the batch's first
  view, loss = mean of its last feature map, same optimizer.

The time is the best of ``--repeats`` steps after ``--warmup`` steps (and
the median is kept in the JSON); the peak memory is the process's peak
resident set size over all steps (warm-up included: the first step
allocates the gradients and optimizer state) minus its size just before the
first step. With ``--rounds R`` both cases run R times, taking turns to go
first; the best time and the largest peak are kept.

``--channels-last`` converts the model and the inputs to channels-last (3D:
channels-last-3d). ``--amp`` runs the forward under ``torch.autocast``:
float16 with a gradient scaler on CUDA, bfloat16 on CPU (only faster on
CPUs with native bf16; numbers are not comparable to fp32 elsewhere).

Pipeline (``--pipeline``): the config's ``train_dataloader.dataset.pipeline``
followed by the model's data preprocessor (collation of the one sample and
normalisation of all its views: the model does it, not the dataset, but the
work is the pipeline's) on ``--num-images`` images of its training set when found, else on
synthetic JPEGs (3D: ``.npy`` volumes) written to a temporary directory,
beside a plain pipeline on the same files: ``cv2.imread`` + resize to the
pipeline's output size + float32 normalisation with the data preprocessor's
mean/std (3D: ``np.load`` + trilinear resize + normalisation). One process,
one thread for torch and OpenCV as in a dataloader worker, taking turns to
go first; the ratio is pipeline time / plain time.
"""
import argparse
import copy
import gc
import json
import os
import os.path as osp
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext

import numpy as np

DEFAULT_MEAN = [123.675, 116.28, 103.53]
DEFAULT_STD = [58.395, 57.12, 57.375]
CASES = ('model', 'backbone')


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--img-size', type=int, default=224,
                        help='resize 2D inputs to this size after the '
                        'pipeline (0: keep the pipeline\'s size); also the '
                        'size of synthetic images (default 224)')
    parser.add_argument('--volume-shape', type=int, nargs=3, default=[64, 64,
                                                                      32],
                        metavar=('D', 'H', 'W'),
                        help='synthetic volume shape for 3D configs')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=1,
                        help='run both cases this many times, alternating')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads for the step (default: torch\'s)')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda (default: cuda when available)')
    parser.add_argument('--synthetic', action=argparse.BooleanOptionalAction,
                        default=True,
                        help='use synthetic inputs when the config\'s '
                        'training set is not found (--no-synthetic: fail)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--pipeline', action='store_true',
                        help='also time the training pipeline')
    parser.add_argument('--num-images', type=int, default=64,
                        help='images timed by --pipeline')
    parser.add_argument('--no-step', action='store_true',
                        help='skip the step timing (with --pipeline)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='step_time.json')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--child', nargs=2, metavar=('KIND', 'CONFIG'),
                        help=argparse.SUPPRESS)
    parser.add_argument('--cfg-json', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cfg_json:
        args.cfg_options = json.loads(args.cfg_json)
    for name in ('batch_size', 'repeats', 'rounds', 'num_images'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0 or args.img_size < 0:
        parser.error('--warmup and --img-size must be >= 0')
    if args.no_step and not args.pipeline:
        parser.error('--no-step needs --pipeline')
    return args


# ----------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------
def _status_mb(field: str) -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def current_rss_mb() -> float:
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so that the peak
    read later is the peak since now, not since the process started."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_rss_mb(reset_ok: bool) -> float:
    if reset_ok:
        try:
            return _status_mb('VmHWM')
        except (OSError, KeyError):
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------
# Config helpers
# ----------------------------------------------------------------------
def load_config(path, cfg_options):
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def iter_transforms(pipeline):
    """Every transform dict of a pipeline, wrappers' inner ones included."""
    for step in pipeline or []:
        if not isinstance(step, dict):
            continue
        yield step
        for key in ('transforms', 'pipeline'):
            inner = step.get(key)
            if isinstance(inner, (list, tuple)):
                for item in inner:
                    if isinstance(item, (list, tuple)):
                        yield from iter_transforms(item)
                    elif isinstance(item, dict):
                        yield from iter_transforms([item])


def spatial_dims_of(pipeline) -> int:
    for step in iter_transforms(pipeline):
        if step.get('type') == 'PackMedInputs' and step.get(
                'spatial_dims', 2) == 3:
            return 3
    return 2


def is_loading(step) -> bool:
    t = step.get('type')
    name = t if isinstance(t, str) else getattr(t, '__name__', '')
    return name.split('.')[-1].startswith('Load')


def preprocessor_cfg(cfg):
    model = cfg.get('model') or {}
    pre = model.get('data_preprocessor')
    if pre is None:
        pre = dict(type='MedSelfSupDataPreprocessor')
    return pre


def try_build_dataset(cfg):
    """The config's training set, or (None, why) when it cannot be built
    (missing files, missing annotation)."""
    from mmmedssl.registry import DATASETS
    try:
        dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
        if len(dataset) == 0:
            return None, 'empty training set'
        return dataset, None
    except Exception as exc:  # noqa: BLE001 - any failure means "not found"
        return None, f'{type(exc).__name__}: {exc}'.splitlines()[0]


def synthetic_image(rng, size: int) -> np.ndarray:
    """A smooth random colour image (uint8 BGR): low-frequency noise
    upsampled, plus a little grain, closer to a photo than white noise."""
    import cv2
    low = rng.integers(0, 256, (8, 8, 3)).astype(np.float32)
    img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def synthetic_volume(rng, shape) -> np.ndarray:
    return rng.random((2, *shape), dtype=np.float32)


def data_source(cfg, args):
    """('real', dataset) or ('synthetic', why)."""
    dataset, why = try_build_dataset(cfg)
    if dataset is not None:
        return 'real', dataset
    if not args.synthetic:
        raise SystemExit(f'The training set of {args.child[1]} was not found '
                         f'({why}) and --no-synthetic was given.')
    return 'synthetic', why


# ----------------------------------------------------------------------
# The fixed batch
# ----------------------------------------------------------------------
def make_samples(cfg, args, count):
    """``count`` packed samples and a description of where they came
    from."""
    from mmcv.transforms import Compose
    kind, source = data_source(cfg, args)
    if kind == 'real':
        samples = [source[i % len(source)] for i in range(count)]
        return samples, dict(data='real', data_root=cfg.train_dataloader.
                             dataset.get('data_root'))
    pipeline_cfg = cfg.train_dataloader.dataset.pipeline
    dims = spatial_dims_of(pipeline_cfg)
    pipeline = Compose([t for t in pipeline_cfg if not is_loading(t)])
    rng = np.random.default_rng(args.seed)
    samples = []
    for i in range(count):
        if dims == 3:
            img = synthetic_volume(rng, args.volume_shape)
            shape = tuple(args.volume_shape)
        else:
            size = args.img_size or 224
            img = synthetic_image(rng, size)
            shape = img.shape[:2]
        results = dict(img=img, img_path=f'synthetic_{i}', ori_shape=shape,
                       img_shape=shape, sample_idx=i)
        out = pipeline(results)
        if out is None:
            raise SystemExit('The pipeline dropped a synthetic sample.')
        samples.append(out)
    return samples, dict(data='synthetic', why=source, spatial_dims=dims)


def resize_inputs(inputs, size):
    import torch.nn.functional as F

    def one(t):
        if size and t.dim() == 4 and tuple(t.shape[-2:]) != (size, size):
            return F.interpolate(t, size=(size, size), mode='bilinear',
                                 align_corners=False)
        return t

    if isinstance(inputs, (list, tuple)):
        return [one(t) for t in inputs]
    return one(inputs)


def to_memory_format(t):
    import torch
    if not isinstance(t, torch.Tensor):
        return t
    if t.dim() == 4:
        return t.contiguous(memory_format=torch.channels_last)
    if t.dim() == 5:
        return t.contiguous(memory_format=torch.channels_last_3d)
    return t


def first_view(inputs):
    return inputs[0] if isinstance(inputs, (list, tuple)) else inputs


def shapes(inputs):
    if isinstance(inputs, (list, tuple)):
        return [list(t.shape) for t in inputs]
    return list(inputs.shape)


def build_optimizer(cfg, params):
    import torch

    from mmmedssl.registry import OPTIMIZERS
    opt_cfg = (cfg.get('optim_wrapper') or {}).get('optimizer')
    params = list(params)
    if opt_cfg:
        try:
            return OPTIMIZERS.build(dict(copy.deepcopy(opt_cfg),
                                         params=params)), None
        except Exception as exc:  # noqa: BLE001
            why = f'{type(exc).__name__}: {exc}'.splitlines()[0]
    else:
        why = 'no optim_wrapper.optimizer in the config'
    return torch.optim.SGD(params, lr=0.01, momentum=0.9), why


def parse_losses(losses):
    """The sum mmengine's ``BaseModel.parse_losses`` backpropagates."""
    import torch
    terms = []
    for key, value in losses.items():
        if 'loss' not in key:
            continue
        if isinstance(value, torch.Tensor):
            terms.append(value.mean())
        elif isinstance(value, (list, tuple)):
            terms.extend(v.mean() for v in value)
    if not terms:
        raise RuntimeError(f'The model returned no loss: keys '
                           f'{sorted(losses)}')
    return sum(terms)


def last_feature(out):
    while isinstance(out, (list, tuple)):
        out = out[-1]
    return out


def load_teacher_for_timing(model, cfg) -> str:
    """Give a distillation model (DistillingSelf) its teacher: the
    config's ``teacher_checkpoint`` when it exists, else the teacher built
    from ``cfg.model.teacher`` at its initialisation, through the same
    loading path (a temporary checkpoint). Returns which one."""
    import torch

    from mmmedssl.registry import MODELS
    checkpoint = cfg.model.get('teacher_checkpoint')
    if checkpoint and osp.isfile(checkpoint):
        model.load_teacher(checkpoint)
        return checkpoint
    teacher = MODELS.build(copy.deepcopy(cfg.model.teacher))
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'teacher.pth')
        torch.save(dict(state_dict=teacher.state_dict()), path)
        model.load_teacher(path)
    return 'built from cfg.model.teacher (random init, not trained)'


def run_step_case(case, config, args):
    import torch
    from mmengine.dataset import default_collate
    from mmengine.model import revert_sync_batchnorm

    from mmmedssl.registry import MODELS
    from mmmedssl.utils import register_all_modules

    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    register_all_modules()
    cfg = load_config(config, args.cfg_options)

    samples, info = make_samples(cfg, args, args.batch_size)
    if case == 'model':
        model = revert_sync_batchnorm(MODELS.build(cfg.model))
        preprocessor = model.data_preprocessor
        if hasattr(model, 'load_teacher'):
            info['teacher'] = load_teacher_for_timing(model, cfg)
    else:
        preprocessor = MODELS.build(preprocessor_cfg(cfg))
        if 'backbone' in cfg.model:
            model = MODELS.build(copy.deepcopy(cfg.model.backbone))
        else:
            full = MODELS.build(cfg.model)
            model = copy.deepcopy(full.backbone)
            del full
        model = revert_sync_batchnorm(model)
    model.to(device).train()
    preprocessor.to(device)
    with torch.no_grad():
        data = preprocessor(default_collate(samples), True)
    del samples
    data['inputs'] = resize_inputs(data['inputs'], args.img_size)
    if args.channels_last:
        model.to(memory_format=torch.channels_last if
                 first_view(data['inputs']).dim() == 4 else
                 torch.channels_last_3d)
        inputs = data['inputs']
        data['inputs'] = ([to_memory_format(t) for t in inputs] if
                          isinstance(inputs, (list, tuple)) else
                          to_memory_format(inputs))
    optimizer, optimizer_note = build_optimizer(
        cfg, (p for p in model.parameters() if p.requires_grad))

    amp_dtype = None
    scaler = None
    if args.amp:
        amp_dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
        if device.type == 'cuda':
            scaler = torch.amp.GradScaler('cuda')

    def autocast():
        if amp_dtype is None:
            return nullcontext()
        return torch.autocast(device.type, dtype=amp_dtype)

    if case == 'model':
        def forward():
            return parse_losses(model(**data, mode='loss'))
    else:
        view = first_view(data['inputs'])

        def forward():
            return last_feature(model(view)).float().mean()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = forward()
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return loss

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    gc.collect()
    base = current_rss_mb()
    reset_ok = reset_peak_rss()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        gpu_base = torch.cuda.memory_allocated()
    times = []
    loss = None
    for k in range(args.warmup + args.repeats):
        sync()
        start = time.perf_counter()
        loss = step()
        sync()
        if k >= args.warmup:
            times.append(time.perf_counter() - start)
    peak = peak_rss_mb(reset_ok)
    result = dict(
        time_s=min(times),
        median_s=float(np.median(times)),
        times_s=times,
        peak_mb=peak - base,
        base_rss_mb=base,
        loss=float(loss.detach()),
        input_shapes=shapes(data['inputs'] if case == 'model' else
                            first_view(data['inputs'])),
        params_m=sum(p.numel() for p in model.parameters()) / 1e6,
        model_type=type(model).__name__,
        optimizer=type(optimizer).__name__,
        device=str(device),
        threads=torch.get_num_threads(),
        peak_reset=reset_ok,
        **info)
    if optimizer_note:
        result['optimizer_note'] = optimizer_note
    if device.type == 'cuda':
        result['peak_gpu_mb'] = (torch.cuda.max_memory_allocated() -
                                 gpu_base) / 2**20
    return result


# ----------------------------------------------------------------------
# Pipeline throughput
# ----------------------------------------------------------------------
def run_pipeline_case(config, args):
    import cv2
    import torch
    import torch.nn.functional as F
    from mmcv.transforms import Compose

    from mmmedssl.utils import register_all_modules

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    register_all_modules()
    cfg = load_config(config, args.cfg_options)
    pipeline_cfg = cfg.train_dataloader.dataset.pipeline
    dims = spatial_dims_of(pipeline_cfg)
    pre = preprocessor_cfg(cfg)
    mean = pre.get('mean') or (DEFAULT_MEAN if dims == 2 else [0.])
    std = pre.get('std') or (DEFAULT_STD if dims == 2 else [1.])

    kind, source = data_source(cfg, args)
    tmp = None
    n = args.num_images
    if kind == 'real':
        dataset = source
        if len(dataset) < n:
            raise SystemExit(f'The training set has {len(dataset)} images, '
                             f'fewer than --num-images {n}.')
        infos = [dataset.get_data_info(i) for i in range(n)]
        pipeline = dataset.pipeline
        info = dict(data='real',
                    data_root=cfg.train_dataloader.dataset.get('data_root'))
    else:
        tmp = tempfile.TemporaryDirectory(prefix='step_time_')
        rng = np.random.default_rng(args.seed)
        infos = []
        for i in range(n):
            if dims == 3:
                path = osp.join(tmp.name, f'{i:05d}.npy')
                np.save(path, synthetic_volume(rng, args.volume_shape))
            else:
                path = osp.join(tmp.name, f'{i:05d}.jpg')
                cv2.imwrite(path, synthetic_image(rng, args.img_size or 224),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
            infos.append(dict(img_path=path, sample_idx=i))
        pipeline = Compose(pipeline_cfg)
        info = dict(data='synthetic', why=source)

    def path_of(item):
        if 'img_path' in item:
            return item['img_path']
        return item['img_paths'][0]

    # The pipeline's output is normalised by the data preprocessor in the
    # model, not in the dataset: include it (one sample at a time, as its
    # share of a batch), since the plain reference normalises too.
    from mmengine.dataset import default_collate

    from mmmedssl.registry import MODELS
    preprocessor = MODELS.build(dict(pre)) if pre else None

    def run_pipeline(item):
        out = pipeline(copy.deepcopy(item))
        if preprocessor is not None:
            preprocessor(default_collate([out]), True)
        return out

    probe = run_pipeline(infos[0])
    out_shape = tuple(first_view(probe['inputs']).shape[1:])
    channels = len(mean)
    mean_a = np.asarray(mean, np.float32)
    std_a = np.asarray(std, np.float32)
    if dims == 2:
        def run_plain(item):
            img = cv2.imread(path_of(item), cv2.IMREAD_COLOR)
            img = cv2.resize(img, (out_shape[1], out_shape[0]),
                             interpolation=cv2.INTER_LINEAR)
            return (img.astype(np.float32) - mean_a[:img.shape[2]]) / std_a[
                :img.shape[2]]
    else:
        def run_plain(item):
            vol = torch.from_numpy(np.load(path_of(item)).astype(np.float32))
            vol = vol.reshape(-1, *vol.shape[-3:])[None]
            vol = F.interpolate(vol, size=out_shape, mode='trilinear',
                                align_corners=False)[0]
            view = (-1, 1, 1, 1) if channels == vol.shape[0] else ()
            if view:
                return (vol - torch.from_numpy(mean_a).view(view)) / \
                    torch.from_numpy(std_a).view(view)
            return (vol - float(mean_a[0])) / float(std_a[0])

    # Warm-up (imports, allocator, file cache) on a few images.
    for item in infos[:min(4, n)]:
        run_pipeline(item)
        run_plain(item)
    totals = dict(pipeline=0., plain=0.)
    for k, item in enumerate(infos):
        runs = [('pipeline', run_pipeline), ('plain', run_plain)]
        for name, fn in (runs if k % 2 == 0 else runs[::-1]):
            start = time.perf_counter()
            fn(item)
            totals[name] += time.perf_counter() - start
    if tmp is not None:
        tmp.cleanup()
    result = dict(
        num_images=n,
        output_shape=list(out_shape),
        num_inputs=(len(probe['inputs']) if isinstance(
            probe['inputs'], (list, tuple)) else 1),
        spatial_dims=dims,
        threads=1,
        pipeline=dict(images_per_s=n / totals['pipeline'],
                      ms_per_image=totals['pipeline'] / n * 1e3),
        plain=dict(images_per_s=n / totals['plain'],
                   ms_per_image=totals['plain'] / n * 1e3),
        ratio=totals['pipeline'] / totals['plain'],
        **info)
    return result


# ----------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------
def child_argv(args, kind, config):
    argv = [sys.executable, osp.abspath(__file__), config, '--child', kind,
            config, '--batch-size', str(args.batch_size), '--img-size',
            str(args.img_size), '--repeats', str(args.repeats), '--warmup',
            str(args.warmup), '--num-images', str(args.num_images), '--seed',
            str(args.seed), '--volume-shape',
            *[str(v) for v in args.volume_shape]]
    if args.threads:
        argv += ['--threads', str(args.threads)]
    if args.device:
        argv += ['--device', args.device]
    if not args.synthetic:
        argv.append('--no-synthetic')
    if args.channels_last:
        argv.append('--channels-last')
    if args.amp:
        argv.append('--amp')
    if args.cfg_options:
        argv += ['--cfg-json', json.dumps(args.cfg_options)]
    return argv


def measure(args, kind, config):
    proc = subprocess.run(child_argv(args, kind, config), capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return dict(error=lines[-1] if lines else
                    f'exit code {proc.returncode}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_steps(args, config):
    results = {}
    for r in range(args.rounds):
        order = CASES if r % 2 == 0 else CASES[::-1]
        for case in order:
            res = measure(args, case, config)
            best = results.get(case)
            if best is None or 'error' in best:
                results[case] = res
            elif 'error' not in res:
                res['peak_mb'] = max(res['peak_mb'], best['peak_mb'])
                res['times_s'] = best['times_s'] + res['times_s']
                res['time_s'] = min(res['times_s'])
                res['median_s'] = float(np.median(res['times_s']))
                results[case] = res
    row = dict(config=config, **results)
    model, backbone = results['model'], results['backbone']
    if 'time_s' in model and 'time_s' in backbone:
        row['ratio'] = model['time_s'] / backbone['time_s']
        row['memory_ratio'] = model['peak_mb'] / max(backbone['peak_mb'], 1.)
    return row


def _version(*dists):
    from importlib import metadata
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return None


def _child_threads(steps):
    """The torch thread count the step processes used (the parent does not
    import torch)."""
    for row in steps:
        for case in CASES:
            if 'threads' in row.get(case, {}):
                return row[case]['threads']
    return None


def _fmt(result, key, scale=1., fmt='{:.1f}'):
    if key in result:
        return fmt.format(result[key] * scale)
    return 'error'


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        kind, config = args.child
        if kind == 'pipeline':
            result = run_pipeline_case(config, args)
        else:
            result = run_step_case(kind, config, args)
        print(json.dumps(result))
        return 0

    steps, pipes = [], []
    for config in args.configs:
        if not args.no_step:
            steps.append(measure_steps(args, config))
        if args.pipeline:
            pipes.append(dict(config=config,
                              **measure(args, 'pipeline', config)))

    if steps:
        print(f'Training step, batch {args.batch_size}, img size '
              f'{args.img_size or "as the pipeline"}, best of '
              f'{args.repeats} after {args.warmup} warm-up'
              + (', channels-last' if args.channels_last else '')
              + (', amp' if args.amp else ''))
        print('| config | step (ms) | bare backbone (ms) | ratio | '
              'step peak (MiB) | backbone peak (MiB) | data |')
        print('|' + '---|' * 7)
        for row in steps:
            m, b = row['model'], row['backbone']
            print(f"| {osp.basename(row['config'])} | "
                  f"{_fmt(m, 'time_s', 1e3)} | {_fmt(b, 'time_s', 1e3)} | "
                  f"{_fmt(row, 'ratio', fmt='{:.2f}x')} | "
                  f"{_fmt(m, 'peak_mb', fmt='{:.0f}')} | "
                  f"{_fmt(b, 'peak_mb', fmt='{:.0f}')} | "
                  f"{m.get('data', '-')} |")
            for case in CASES:
                if 'error' in row[case]:
                    print(f"  {case} failed: {row[case]['error']}")
    if pipes:
        print(f'\nTraining pipeline, {args.num_images} images, 1 thread')
        print('| config | pipeline (img/s) | plain (img/s) | ratio '
              '(pipeline / plain time) | output | data |')
        print('|' + '---|' * 6)
        for row in pipes:
            if 'error' in row:
                print(f"| {osp.basename(row['config'])} | error | | | | |\n"
                      f"  failed: {row['error']}")
                continue
            print(f"| {osp.basename(row['config'])} | "
                  f"{row['pipeline']['images_per_s']:.1f} | "
                  f"{row['plain']['images_per_s']:.1f} | "
                  f"{row['ratio']:.2f}x | {row['num_inputs']} x "
                  f"{tuple(row['output_shape'])} | {row['data']} |")

    meta = dict(
        platform=platform.platform(),
        processor=platform.processor(),
        machine=platform.machine(),
        python=platform.python_version(),
        torch=_version('torch'),
        opencv=_version('opencv-python', 'opencv-python-headless'),
        cpu_count=os.cpu_count(),
        threads=args.threads or _child_threads(steps),
        batch_size=args.batch_size,
        img_size=args.img_size,
        volume_shape=args.volume_shape,
        repeats=args.repeats,
        warmup=args.warmup,
        rounds=args.rounds,
        channels_last=args.channels_last,
        amp=args.amp,
        synthetic=args.synthetic,
        cfg_options=args.cfg_options)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(meta=meta, steps=steps, pipelines=pipes), f,
                      indent=2)
        print(f'\nwritten to {args.out}')
    failed = any('error' in row[c] for row in steps for c in CASES) or any(
        'error' in row for row in pipes)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
