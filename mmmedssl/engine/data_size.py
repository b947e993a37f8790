# Copyright (c) mmmedssl contributors. All rights reserved.
"""Settings that follow the size of the training set.

A recipe written for one data set fails quietly on another: 20 epochs are
2,180 optimizer steps on HAM10000 but 500 on 1,600 images, and a 4,096-key
queue is longer than the smaller set, so every query meets its own image
among its negatives. A config that sets ``data_size_recipe`` has these
derived from the training set when the runner is built (``build_runner``):

- ``min_steps``: the fewest optimizer steps a run may take. The epochs
  become ``max(max_epochs, ceil(min_steps / steps_per_epoch))``, with
  ``steps_per_epoch`` from the number of training samples, the batch size,
  the number of processes and ``drop_last``: a large set trains the
  configured epochs, a small one more epochs of it. Epoch-based schedulers
  whose ``end`` was the old last epoch (and their ``T_max``) are stretched
  to the new length, and the checkpoint and validation intervals so that a
  run saves and validates as often as before.
- ``memory_fraction``: every ``queue_len`` / ``memory_size`` of the model
  (MoCo's queue, DistillingSelf's student and teacher queues, PCRL's NCE
  memory) becomes at most this share of the training samples, rounded down
  to a multiple of the total batch (one batch at least); the config's value
  is the upper bound.
- ``scale_lr``: the learning rate scales linearly with the total batch
  (``auto_scale_lr.base_batch_size``; mmengine's linear scaling rule).

``keep`` lists dotted config paths the recipe leaves as written;
``tools/train.py`` adds every ``--cfg-options`` key to it, so that
``--cfg-options train_cfg.max_epochs=1`` or ``model.queue_len=512`` means
what it says. ``data_size_recipe = None`` (e.g. ``--cfg-options
data_size_recipe=None``) keeps the config's epochs, memories and learning
rate as written.
"""
import math
import os
from typing import List, Optional

from mmengine.config import Config

MEMORY_KEYS = ('queue_len', 'memory_size')
_DEFAULTS = dict(min_steps=None, memory_fraction=1 / 8, scale_lr=True,
                 keep=())


def _count_samples(dataset_cfg) -> int:
    import inspect

    from mmmedssl.registry import DATASETS
    if not isinstance(dataset_cfg, dict):
        return len(dataset_cfg)
    dataset_type = dataset_cfg.get('type')
    cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) \
        else dataset_type
    if cls is not None and 'check_files' in inspect.signature(
            cls).parameters:
        # Counting needs no file: the Runner's own build checks them.
        dataset_cfg = dict(dataset_cfg, check_files=False)
    try:
        return len(DATASETS.build(dataset_cfg))
    except TypeError as err:  # an iterable dataset has no length
        raise ValueError(
            'data_size_recipe: the training set has no length '
            f'({err}); set the epochs and memories in the config and '
            'data_size_recipe=None.') from err


def _world_size(cfg) -> int:
    if cfg.get('launcher', 'none') == 'none':
        return 1
    return int(os.environ.get('WORLD_SIZE', 1))


def _memory_entries(node, path='model'):
    """(parent dict, key, dotted path) of every memory length in the model
    config."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f'{path}.{key}'
            if key in MEMORY_KEYS and isinstance(value, int):
                yield node, key, here
            else:
                yield from _memory_entries(value, here)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _memory_entries(value, f'{path}.{index}')


def memory_length(num_samples: int, total_batch: int, fraction: float,
                  upper: int) -> int:
    """The largest multiple of ``total_batch`` not above ``fraction`` of the
    samples (one batch at least), capped at ``upper``."""
    fitted = int(num_samples * fraction) // total_batch * total_batch
    return min(upper, max(total_batch, fitted))


def epochs_for(min_steps: int, steps_per_epoch: int, epochs: int) -> int:
    """The configured ``epochs``, or more when they make fewer than
    ``min_steps`` steps."""
    return max(epochs, math.ceil(min_steps / steps_per_epoch))


def _stretch_schedulers(cfg, old_epochs: int, new_epochs: int) -> None:
    schedulers = cfg.get('param_scheduler')
    if schedulers is None:
        return
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for scheduler in schedulers:
        if not scheduler.get('by_epoch', True):
            continue  # iteration-based: converted from epochs it is not
        begin = scheduler.get('begin', 0)
        if scheduler.get('end') == old_epochs:
            if scheduler.get('T_max') == old_epochs - begin:
                scheduler['T_max'] = new_epochs - begin
            scheduler['end'] = new_epochs
        if 'milestones' in scheduler:
            scheduler['milestones'] = [
                max(1, round(m * new_epochs / old_epochs))
                for m in scheduler['milestones']]


def _scaled_interval(interval: int, old_epochs: int, new_epochs: int) -> int:
    return max(1, round(interval * new_epochs / old_epochs))


def apply_data_size_recipe(cfg: Config) -> List[str]:
    """Derive epochs, memory lengths and lr scaling of ``cfg`` (in place)
    from its training set; returns one line per change, for the log."""
    recipe = cfg.get('data_size_recipe')
    if not recipe:
        return []
    unknown = set(recipe) - set(_DEFAULTS)
    if unknown:
        raise ValueError(f'data_size_recipe: unknown keys {sorted(unknown)}; '
                         f'expected some of {sorted(_DEFAULTS)}.')
    recipe = {**_DEFAULTS, **recipe}
    keep = set(recipe['keep'] or ())
    loader = cfg.get('train_dataloader')
    if not isinstance(loader, dict) or 'dataset' not in loader:
        raise ValueError('data_size_recipe needs a train_dataloader with a '
                         'dataset.')
    num_samples = _count_samples(loader['dataset'])
    total_batch = loader['batch_size'] * _world_size(cfg)
    drop_last = loader.get('drop_last', False)
    steps_per_epoch = (num_samples // total_batch if drop_last else
                       math.ceil(num_samples / total_batch))
    lines = [f'{num_samples} training samples, total batch {total_batch} '
             f'-> {steps_per_epoch} steps per epoch']
    if steps_per_epoch < 1:
        return lines  # check_train_loader names the problem

    fraction = recipe['memory_fraction']
    if fraction is not None:
        if not 0 < fraction < 1:
            raise ValueError('data_size_recipe.memory_fraction must be in '
                             f'(0, 1), got {fraction!r}.')
        for parent, key, path in _memory_entries(cfg.get('model', {})):
            if path in keep:
                continue
            new = memory_length(num_samples, total_batch, fraction,
                                parent[key])
            if new != parent[key]:
                lines.append(f'{path}: {parent[key]} -> {new} keys '
                             f'(<= {fraction:g} of the samples, a multiple '
                             f'of the batch)')
                parent[key] = new

    min_steps = recipe['min_steps']
    train_cfg = cfg.get('train_cfg') or {}
    if min_steps is not None and 'train_cfg.max_epochs' not in keep:
        if 'max_epochs' not in train_cfg:
            raise ValueError('data_size_recipe.min_steps needs an epoch-based '
                             'train_cfg (max_epochs); with an iteration-'
                             'based loop set max_iters directly.')
        old = train_cfg['max_epochs']
        new = epochs_for(min_steps, steps_per_epoch, old)
        if new != old:
            _stretch_schedulers(cfg, old, new)
            train_cfg['max_epochs'] = new
            if 'val_interval' in train_cfg:
                train_cfg['val_interval'] = _scaled_interval(
                    train_cfg['val_interval'], old, new)
            checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
            if isinstance(checkpoint, dict) and checkpoint.get(
                    'by_epoch', True) and 'interval' in checkpoint:
                checkpoint['interval'] = _scaled_interval(
                    checkpoint['interval'], old, new)
        lines.append(f'at least {min_steps} steps -> {new} epochs '
                     f'({new * steps_per_epoch} steps; the config says '
                     f'{old} epochs)')

    if recipe['scale_lr'] and 'auto_scale_lr.enable' not in keep:
        scale = cfg.get('auto_scale_lr')
        if not scale or 'base_batch_size' not in scale:
            raise ValueError('data_size_recipe.scale_lr needs '
                             'auto_scale_lr.base_batch_size: the batch the '
                             'configured lr is meant for.')
        scale['enable'] = True
        lines.append(f'lr x {total_batch}/{scale["base_batch_size"]} '
                     '(linear in the total batch)')
    return lines


def describe(lines: List[str]) -> Optional[str]:
    if not lines:
        return None
    return 'data_size_recipe: ' + '; '.join(lines) + '.'
