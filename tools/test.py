# Copyright (c) mmmedssl contributors. All rights reserved.
"""Evaluate a checkpoint: ``python tools/test.py CONFIG [CHECKPOINT]``.

Runs the config's ``test_dataloader`` and ``test_evaluator`` (for
self-supervised configs: kNN accuracy on backbone features). Without a
checkpoint the model is evaluated as the config initialises it (random
init, or ``init_cfg``), which gives the baseline to compare against.
"""
import argparse
import json
import os
import os.path as osp
import sys

import mmmedssl  # noqa: F401  (safe loading before anything is loaded)
from mmengine.config import Config, DictAction
from mmengine.dist import get_rank

from mmmedssl.apis import run_test, set_default_work_dir
from mmmedssl.engine import shutdown_distributed
from mmmedssl.utils.checkpoint import TRUST_ENV
from mmmedssl.utils.signals import exit_on_sigterm


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint file; leave out to evaluate the initialised model')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load the checkpoint with full unpickling (can run code from '
        'the file): only for files you trust')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    exit_on_sigterm()  # loaders stop their workers; exit 143
    if not osp.isfile(args.config):
        raise SystemExit(f'Config file {args.config} does not exist.')
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        raise SystemExit(f'Checkpoint {args.checkpoint} does not exist.')
    if args.trust_checkpoint:
        os.environ[TRUST_ENV] = '1'
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    set_default_work_dir(cfg, args.config, args.work_dir)
    metrics = run_test(cfg, args.checkpoint)
    if args.out and get_rank() == 0:
        with open(args.out, 'w') as f:
            json.dump(metrics, f, indent=2)
    shutdown_distributed()
    return 0


if __name__ == '__main__':
    sys.exit(main())
