# Copyright (c) mmmedssl contributors. All rights reserved.
"""A tiny GraVIS pretraining run on the demo data: the loss goes down."""
import os.path as osp
import textwrap

from ..conftest import REPO_ROOT, python_tool, train_records

GRAVIS_DEMO = osp.join(REPO_ROOT, 'configs', 'gravis',
                       'gravis_resnet18_1xb16-v4-coslr-40e_demo.py')


def tiny_gravis_config(data_root, epochs, extra=''):
    return textwrap.dedent(f'''
        _base_ = [{GRAVIS_DEMO!r}]
        data_root = {data_root!r}
        model = dict(
            backbone=dict(stem_channels=8, base_channels=8),
            neck=dict(in_channels=64, hid_channels=32, out_channels=16))
        train_dataloader = dict(batch_size=8,
                                dataset=dict(data_root=data_root))
        val_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root))
        test_dataloader = val_dataloader
        param_scheduler = [dict(type='CosineAnnealingLR', T_max={epochs},
                                by_epoch=True, begin=0, end={epochs})]
        train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval={epochs}))
    ''') + textwrap.dedent(extra)


def _train_losses(work_dir):
    return [r['loss'] for r in train_records(work_dir)]


def test_gravis_demo_training_loss_goes_down(tmp_path, tiny_demo_data):
    config = tmp_path / 'tiny_gravis.py'
    config.write_text(tiny_gravis_config(tiny_demo_data, epochs=8))
    work_dir = str(tmp_path / 'run')
    python_tool('tools/train.py', str(config), '--work-dir', work_dir)
    losses = _train_losses(work_dir)
    # 32 images, 8 sources x 4 views per step: 4 steps per epoch
    assert len(losses) == 32
    assert all(0.0 < x < 1.0 for x in losses)
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < first - 0.05, (first, last)
    assert osp.isfile(osp.join(work_dir, 'epoch_8.pth'))


def test_gravis_dist_train_two_cpu_processes(tmp_path, tiny_demo_data):
    """tools/dist_train.sh with gloo: cross-rank view shuffling and the
    gathered loss run inside the launcher's DDP wrapper (the gradient itself
    is checked against one process in test_gravis.py)."""
    import sys

    import torch

    from mmmedssl.utils import safe_load
    from ..conftest import free_port, run_tool
    config = tmp_path / 'dist_gravis.py'
    config.write_text(tiny_gravis_config(
        tiny_demo_data, epochs=1,
        extra="train_dataloader['batch_size'] = 4\n"))
    work_dir = str(tmp_path / 'dist')
    run_tool(['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir',
              work_dir],
             env=dict(PYTHON=sys.executable, PORT=str(free_port())))
    losses = _train_losses(work_dir)
    # 32 images over 2 ranks x 4 sources: 4 steps, logged by rank 0
    assert len(losses) == 4 and all(0.0 < x < 1.0 for x in losses)
    state = safe_load(osp.join(work_dir, 'epoch_1.pth'))['state_dict']
    floats = [v for v in state.values() if v.dtype.is_floating_point]
    assert floats and all(torch.isfinite(v).all() for v in floats)
