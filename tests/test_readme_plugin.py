# Copyright (c) mmmedssl contributors. All rights reserved.
"""The README's plugin example, as a user would run it: its backbone module
and its config (which inherits ``mmmedssl::`` and imports the plugin) train
one iteration through tools/train.py; and a plain ``mmmedssl::`` child config
trains with dataloader workers (``_scope_`` must not reach the collate or
worker-init functions)."""
import os.path as osp
import re

import torch

from .conftest import REPO_ROOT, python_tool

SHRINK = [
    'train_cfg.max_epochs=1', 'train_dataloader.batch_size=8',
    'model.queue_len=16', 'val_cfg=None', 'val_dataloader=None',
    'val_evaluator=None'
]


def _readme_block(marker: str) -> str:
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        text = f.read()
    blocks = re.findall(r'```python\n(.*?)```', text, re.S)
    return next(b for b in blocks if b.startswith(marker))


def _data_options(data_root: str):
    return [f'train_dataloader.dataset.data_root={data_root}']


def test_readme_plugin_trains_one_iteration(tmp_path, tiny_demo_data):
    package = tmp_path / 'my_project'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'my_backbone.py').write_text(
        _readme_block('# my_project/my_backbone.py'))
    config = tmp_path / 'my_config.py'
    config.write_text(_readme_block('# my_config.py'))
    work_dir = tmp_path / 'work'
    python_tool('tools/train.py', str(config), '--work-dir', str(work_dir),
                '--cfg-options', *SHRINK,
                'train_dataloader.num_workers=0',
                *_data_options(tiny_demo_data),
                env=dict(PYTHONPATH=f'{tmp_path}{osp.pathsep}{REPO_ROOT}'),
                timeout=600)
    ckpt = torch.load(str(work_dir / 'epoch_1.pth'), map_location='cpu',
                      weights_only=False)
    # The plugin's backbone was trained, with the width the README sets.
    weight = ckpt['state_dict']['backbone.layers.0.weight']
    assert weight.shape == (64, 3, 3, 3)


def test_package_config_trains_with_workers(tmp_path, tiny_demo_data):
    config = tmp_path / 'child.py'
    config.write_text("_base_ = ['mmmedssl::mocov2/"
                      "mocov2_resnet18_1xb32-coslr-40e_demo.py']\n"
                      'model = dict(backbone=dict(stem_channels=8, '
                      'base_channels=8), neck=dict(in_channels=64))\n')
    work_dir = tmp_path / 'work'
    proc = python_tool('tools/train.py', str(config), '--work-dir',
                       str(work_dir), '--cfg-options', *SHRINK,
                       'train_dataloader.num_workers=1',
                       'train_dataloader.persistent_workers=False',
                       *_data_options(tiny_demo_data), timeout=600)
    assert osp.isfile(work_dir / 'epoch_1.pth'), proc.stdout[-3000:]
