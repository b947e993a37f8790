# Copyright (c) mmmedssl contributors. All rights reserved.
"""Cost of one training step of a config's algorithm beside a bare backbone
forward + backward.

    python tools/benchmarks/step_time.py CONFIG [CONFIG ...] \\
        [--batch-size 8] [--img-size 224] [--repeats 5] [--warmup 2] \\
        [--rounds 1] [--threads N] [--device cpu|cuda] [--channels-last] \\
        [--amp] [--out step_time.json] [--cfg-options ...]

(The training pipeline is timed by ``pipeline_throughput.py``.)

ONE fixed batch is made by running the config's training pipeline on
``--batch-size`` samples: the config's training set when it is found, else
(``--synthetic``, the default) synthetic inputs built here: a uint8
``H x W x 3`` BGR image of ``--img-size`` pixels per sample, or for 3D
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
  the algorithm's own ``loss`` does (MoCo's momentum update and queue) is.
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
"""
import argparse
import copy
import gc
import json
import os.path as osp
import subprocess
import sys
import tempfile
from contextlib import nullcontext

import numpy as np

from mmmedssl.utils.benchmarking import (cell, current_rss_mb, first_view,
                                         is_loading, load_config,
                                         machine_info, markdown_table,
                                         peak_rss_mb, reset_peak_rss,
                                         seed_everything, spatial_dims_of,
                                         synthetic_image, synthetic_volume,
                                         take_turns, timed, training_data,
                                         write_json)

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
    parser.add_argument('--volume-shape', type=int, nargs=3,
                        default=[64, 64, 32], metavar=('D', 'H', 'W'),
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
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='step_time.json')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    # Pipelines used to be timed here; say where that went.
    parser.add_argument('--pipeline', '--no-step', dest='moved',
                        action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--child', nargs=2, metavar=('CASE', 'CONFIG'),
                        help=argparse.SUPPRESS)
    parser.add_argument('--cfg-json', help=argparse.SUPPRESS)
    args, unknown = parser.parse_known_args(argv)
    if args.moved:
        parser.error('the training pipeline is timed by '
                     'tools/benchmarks/pipeline_throughput.py CONFIG '
                     '--reference plain (it replaces --pipeline --no-step)')
    if unknown:
        parser.error(f'unrecognized arguments: {" ".join(unknown)}')
    if args.cfg_json:
        args.cfg_options = json.loads(args.cfg_json)
    for name in ('batch_size', 'repeats', 'rounds'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0 or args.img_size < 0:
        parser.error('--warmup and --img-size must be >= 0')
    return args


# ----------------------------------------------------------------------
# The fixed batch
# ----------------------------------------------------------------------
def make_samples(cfg, args):
    """``--batch-size`` packed samples and where they came from."""
    from mmcv.transforms import Compose
    dataset, why = training_data(cfg, args.synthetic)
    count = args.batch_size
    if dataset is not None:
        samples = [dataset[i % len(dataset)] for i in range(count)]
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
            img = synthetic_image(rng, args.img_size or 224)
            shape = img.shape[:2]
        out = pipeline(dict(img=img, img_path=f'synthetic_{i}',
                            ori_shape=shape, img_shape=shape, sample_idx=i))
        if out is None:
            raise SystemExit('The pipeline dropped a synthetic sample.')
        samples.append(out)
    return samples, dict(data='synthetic', why=why, spatial_dims=dims)


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


def shapes(inputs):
    if isinstance(inputs, (list, tuple)):
        return [list(t.shape) for t in inputs]
    return list(inputs.shape)


# ----------------------------------------------------------------------
# One case in a child process
# ----------------------------------------------------------------------
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


def build_case(case, cfg, info):
    """The network a case trains and the data preprocessor of its batch."""
    from mmengine.model import revert_sync_batchnorm

    from mmmedssl.registry import MODELS
    if case == 'model':
        model = revert_sync_batchnorm(MODELS.build(cfg.model))
        if hasattr(model, 'load_teacher'):
            info['teacher'] = load_teacher_for_timing(model, cfg)
        return model, model.data_preprocessor
    preprocessor = MODELS.build(
        cfg.model.get('data_preprocessor')
        or dict(type='MedSelfSupDataPreprocessor'))
    if 'backbone' in cfg.model:
        backbone = MODELS.build(copy.deepcopy(cfg.model.backbone))
    else:
        backbone = copy.deepcopy(MODELS.build(cfg.model).backbone)
    return revert_sync_batchnorm(backbone), preprocessor


def run_step_case(case, config, args):
    import torch
    from mmengine.dataset import default_collate

    from mmmedssl.utils import register_all_modules

    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    register_all_modules()
    cfg = load_config(config, args.cfg_options)

    samples, info = make_samples(cfg, args)
    model, preprocessor = build_case(case, cfg, info)
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

    sync = torch.cuda.synchronize if device.type == 'cuda' else None
    gc.collect()
    base = current_rss_mb()
    reset_ok = reset_peak_rss()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        gpu_base = torch.cuda.memory_allocated()
    times = []
    for k in range(args.warmup + args.repeats):
        seconds, loss = timed(step, sync)
        if k >= args.warmup:
            times.append(seconds)
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
# Driver
# ----------------------------------------------------------------------
def child_argv(args, case, config):
    argv = [sys.executable, osp.abspath(__file__), config, '--child', case,
            config, '--batch-size', str(args.batch_size), '--img-size',
            str(args.img_size), '--repeats', str(args.repeats), '--warmup',
            str(args.warmup), '--seed', str(args.seed), '--volume-shape',
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


def measure(args, case, config):
    proc = subprocess.run(child_argv(args, case, config), capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return dict(error=lines[-1] if lines else
                    f'exit code {proc.returncode}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_steps(args, config):
    results = {}
    for r in range(args.rounds):
        for case in take_turns(CASES, r):
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


def child_threads(steps):
    """The torch thread count the step processes used (the parent does not
    build torch's thread pool)."""
    for row in steps:
        for case in CASES:
            if 'threads' in row.get(case, {}):
                return row[case]['threads']
    return None


def report(args, steps):
    print(f'Training step, batch {args.batch_size}, img size '
          f'{args.img_size or "as the pipeline"}, best of '
          f'{args.repeats} after {args.warmup} warm-up'
          + (', channels-last' if args.channels_last else '')
          + (', amp' if args.amp else ''))
    rows = []
    for row in steps:
        m, b = row['model'], row['backbone']
        rows.append([
            osp.basename(row['config']),
            cell(m, 'time_s', scale=1e3),
            cell(b, 'time_s', scale=1e3),
            cell(row, 'ratio', '{:.2f}x'),
            cell(m, 'peak_mb', '{:.0f}'),
            cell(b, 'peak_mb', '{:.0f}'),
            m.get('data', '-')
        ])
    print(markdown_table(
        ['config', 'step (ms)', 'bare backbone (ms)', 'ratio',
         'step peak (MiB)', 'backbone peak (MiB)', 'data'], rows))
    for row in steps:
        for case in CASES:
            if 'error' in row[case]:
                print(f"  {osp.basename(row['config'])}: {case} failed: "
                      f"{row[case]['error']}")


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        case, config = args.child
        print(json.dumps(run_step_case(case, config, args)))
        return 0

    steps = [measure_steps(args, config) for config in args.configs]
    report(args, steps)
    meta = dict(
        machine_info(),
        threads=args.threads or child_threads(steps),
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
        write_json(args.out, dict(meta=meta, steps=steps))
        print(f'\nwritten to {args.out}')
    failed = any('error' in row[c] for row in steps for c in CASES)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
