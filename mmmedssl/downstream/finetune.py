# Copyright (c) mmmedssl contributors. All rights reserved.
"""Fine-tuning and segmentation runs from a pretrained backbone: the
downstream config of one run, then train, pick the best checkpoint and
test."""
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config

from mmmedssl.engine import find_resume_checkpoint
from .launch import run_tool
from .tables import read_json


def downstream_config(config: str,
                      checkpoint: Optional[str],
                      seed: int,
                      label_fraction: float = 1.0,
                      cfg_options: Optional[dict] = None,
                      prefix: str = 'backbone.') -> Config:
    """A downstream (classification or segmentation) config for one run:
    its backbone starts from ``checkpoint`` (keys under ``prefix``; None:
    random init), ``randomness.seed`` is ``seed`` and, below 1, the train
    set keeps ``label_fraction`` of its groups, drawn with the seed."""
    cfg = Config.fromfile(config)
    options = dict(cfg_options or {})
    options['randomness.seed'] = seed
    if label_fraction < 1.0:
        options['train_dataloader.dataset.label_fraction'] = label_fraction
        options['train_dataloader.dataset.fraction_seed'] = seed
    cfg.merge_from_dict(options)
    if checkpoint is not None:
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=checkpoint, prefix=prefix)
    else:
        cfg.model.backbone.pop('init_cfg', None)
    return cfg


def best_checkpoint(work_dir: str) -> str:
    """The ``best_*.pth`` the checkpoint hook kept, else the last one."""
    best = sorted(f for f in os.listdir(work_dir)
                  if f.startswith('best_') and f.endswith('.pth'))
    if best:
        return osp.join(work_dir, best[-1])
    last = find_resume_checkpoint(work_dir)
    if last is None:
        raise RuntimeError(f'{work_dir}: no checkpoint after training.')
    return last


def train_and_test(cfg: Config, work_dir: str,
                   dry_run: bool = False) -> Optional[dict]:
    """Train ``cfg`` in ``work_dir`` (resuming an interrupted run), then
    test its best checkpoint; returns ``dict(evaluated, test)`` (the
    checkpoint and its test metrics), or None on a dry run. The derived
    config is kept as ``finetune_config.py``, the output in ``run.log``."""
    derived = osp.join(work_dir, 'finetune_config.py')
    if not dry_run:
        os.makedirs(work_dir, exist_ok=True)
        cfg.dump(derived)
    log = osp.join(work_dir, 'run.log')
    run_tool('train.py', [derived, '--work-dir', work_dir, '--resume'], log,
             dry_run)
    best = None if dry_run else best_checkpoint(work_dir)
    metrics_file = osp.join(work_dir, 'test_metrics.json')
    run_tool('test.py', [derived, str(best), '--work-dir',
                         osp.join(work_dir, 'test'), '--out', metrics_file],
             log, dry_run)
    if dry_run:
        return None
    return dict(evaluated=best, test=read_json(metrics_file))
