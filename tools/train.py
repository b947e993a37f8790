# Copyright (c) mmmedssl contributors. All rights reserved.
"""Train a model from a config: ``python tools/train.py CONFIG [options]``.

The arguments are mmpretrain's. On top of them this script makes CPU runs
sane (no persistent workers without workers, no pinned memory without CUDA),
runs distributed training on CPU processes (gloo) when CUDA is absent, and
refuses ``--amp`` on CPU with an explanation.
"""
import argparse
import os
import os.path as osp
import sys

# Importing mmmedssl first installs the safe checkpoint loader and atomic
# checkpoint writer for everything below, and silences two mmcv warnings
# that say nothing about the run before anything imports mmcv.
import mmmedssl  # noqa: F401,E402
import torch
from mmengine.config import Config, ConfigDict, DictAction

from mmmedssl.apis import (build_runner, sanitize_dataloaders,
                           set_default_work_dir)
from mmmedssl.engine import find_resume_checkpoint, shutdown_distributed
from mmmedssl.utils.checkpoint import TRUST_ENV, checkpoint_problem
from mmmedssl.utils.signals import exit_on_sigterm


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a value, from the '
        'latest checkpoint in the work dir (a fresh start if there is none)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (fp16 with a dynamic loss scale); '
        'needs a CUDA device')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size over '
        '`auto_scale_lr.base_batch_size`')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='do not pin memory in the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='do not keep dataloader workers alive between epochs')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also write the logged scalars as TensorBoard events under the '
        'work dir (`tensorboard --logdir WORK_DIR`)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load checkpoints with full unpickling (can run code from the '
        'file): only for files you trust that the safe loader refuses')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs such as '
        'train_dataloader.batch_size=16 or model.backbone.depth=18')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch>=2.0) or
    # --local_rank; torchrun passes neither and sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def add_tensorboard_backend(cfg: Config) -> None:
    """Add mmengine's TensorboardVisBackend to the visualizer's backends
    (once; the others, such as the local JSON one, stay)."""
    visualizer = cfg.get('visualizer')
    if visualizer is None:
        raise SystemExit('--tensorboard: the config has no `visualizer` to '
                         'add the TensorBoard backend to.')
    backends = list(visualizer.get('vis_backends') or [])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(ConfigDict(type='TensorboardVisBackend'))
    visualizer.vis_backends = backends


def merge_args(cfg: Config, args) -> Config:
    """Merge command-line arguments into the config."""
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
        recipe = cfg.get('data_size_recipe')
        if recipe:  # what the command line sets is not re-derived
            recipe.keep = sorted(set(recipe.get('keep') or ())
                                 | set(args.cfg_options))
    cfg.launcher = args.launcher
    set_default_work_dir(cfg, args.config, args.work_dir)

    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit(
                '--amp needs a CUDA device: mixed precision here is fp16 '
                'with a dynamic loss scale, which mmengine runs on GPUs '
                'only. This machine has no CUDA device; train in fp32 by '
                'leaving out --amp.')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise SystemExit(f'--amp cannot be combined with optim_wrapper '
                             f'type {optim_wrapper!r}.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', ConfigDict(base_batch_size=256))
        cfg.auto_scale_lr.enable = True

    if args.tensorboard:
        add_tensorboard_backend(cfg)

    sanitize_dataloaders(cfg, args.no_pin_memory, args.no_persistent_workers)

    if args.trust_checkpoint:
        os.environ[TRUST_ENV] = '1'

    if args.resume == 'auto':
        # The newest checkpoint that loads: an empty or truncated file
        # (named in a warning) does not stop the resume.
        found = find_resume_checkpoint(cfg.work_dir)
        cfg.resume = found is not None
        cfg.load_from = found
        if found is None:
            print(f'--resume: no loadable checkpoint in {cfg.work_dir}, '
                  'starting from scratch.')
        else:
            print(f'--resume: resuming from {found}.')
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise SystemExit(f'--resume {args.resume}: no such checkpoint '
                             'file.')
        # A named file is what the user wants: refuse a broken one rather
        # than fall back, pointing at what would load.
        problem = checkpoint_problem(args.resume)
        if problem is not None:
            newest = find_resume_checkpoint(
                osp.dirname(osp.abspath(args.resume)))
            hint = (f' The newest loadable checkpoint beside it is {newest} '
                    '(or use --resume without a file).') if newest else ''
            raise SystemExit(f'--resume {args.resume}: the checkpoint cannot '
                             f'be loaded: {problem}.{hint}')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    exit_on_sigterm()  # loaders stop their workers; exit 143
    if not osp.isfile(args.config):
        raise SystemExit(f'Config file {args.config} does not exist.')
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    runner = build_runner(cfg)
    runner.train()
    shutdown_distributed()


if __name__ == '__main__':
    sys.exit(main())
