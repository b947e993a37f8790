# Copyright (c) mmmedssl contributors. All rights reserved.
"""Tiny PCRL pretraining runs through tools/train.py (2D on the demo images,
3D on synthetic crop pairs, and 2 gloo processes): the reconstruction loss
goes down, every term is logged, checkpoints are written."""
import os.path as osp
import sys
import textwrap

import torch

from ..conftest import (REPO_ROOT, free_port, python_tool, run_tool,
                        train_records)

PCRL_2D_DEMO = osp.join(REPO_ROOT, 'configs', 'pcrl',
                        'pcrl_resnet18-unet_1xb16-coslr-20e_demo.py')
PCRL_3D_DEMO = osp.join(REPO_ROOT, 'configs', 'pcrl',
                        'pcrl_unet3d-w8_1xb8-coslr-10e_demo.py')
TERMS = ('loss_contrast', 'loss_recon', 'nce_plain', 'nce_mixup',
         'nce_mixed_key', 'mse_ordinary', 'mse_mixup', 'mse_hybrid',
         'mse_mixup_hybrid')


def _schedule(epochs):
    return f'''
        param_scheduler = [dict(type='CosineAnnealingLR', T_max={epochs},
                                by_epoch=True, begin=0, end={epochs})]
        train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval={epochs}))
    '''


def tiny_2d_config(data_root, epochs, batch=8, extra=''):
    return textwrap.dedent(f'''
        _base_ = [{PCRL_2D_DEMO!r}]
        data_root = {data_root!r}
        model = dict(
            backbone=dict(stem_channels=8, base_channels=8),
            neck=dict(in_channels=64, hid_channels=16, out_channels=16,
                      gate_hid_channels=16),
            decoder=dict(in_channels=[8, 8, 16, 32, 64],
                         decoder_channels=(32, 16, 8, 8, 4)),
            head=dict(memory_size=64, feat_dim=16))
        train_dataloader = dict(batch_size={batch},
                                dataset=dict(data_root=data_root))
        val_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root))
        test_dataloader = val_dataloader
    ''') + textwrap.dedent(_schedule(epochs)) + textwrap.dedent(extra)


def test_pcrl_2d_training_reconstruction_goes_down(tmp_path, tiny_demo_data):
    config = tmp_path / 'tiny_pcrl.py'
    config.write_text(tiny_2d_config(tiny_demo_data, epochs=8))
    work_dir = str(tmp_path / 'run')
    python_tool('tools/train.py', str(config), '--work-dir', work_dir)
    records = train_records(work_dir)
    # 32 images, batch 8: 4 steps per epoch
    assert len(records) == 32
    for r in records:
        assert all(k in r and r[k] == r[k] for k in TERMS)  # logged, no NaN
        assert abs(r['loss'] - r['loss_contrast'] - r['loss_recon']) < 1e-3
    recon = [r['loss_recon'] for r in records]
    first, last = sum(recon[:4]) / 4, sum(recon[-4:]) / 4
    assert last < 0.8 * first, (first, last)
    assert osp.isfile(osp.join(work_dir, 'epoch_8.pth'))


def test_pcrl_3d_training_on_synthetic_volumes(tmp_path):
    data = str(tmp_path / 'volumes')
    python_tool('tools/dataset_converters/make_demo_volumes.py', '--out',
                data, '--num-pairs', '16', '--shape', '2', '16', '16', '8')
    config = tmp_path / 'tiny_pcrl3d.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = [{PCRL_3D_DEMO!r}]
        model = dict(
            backbone=dict(base_channels=2),
            neck=dict(in_channels=32, hid_channels=16, out_channels=16,
                      gate_hid_channels=16),
            decoder=dict(in_channels=[4, 8, 16, 32],
                         decoder_channels=(16, 8, 4)),
            head=dict(memory_size=64, feat_dim=16))
        train_dataloader = dict(batch_size=4, dataset=dict(data_root={data!r}))
    ''') + textwrap.dedent(_schedule(6)).replace(
        'train_cfg = dict(max_epochs=6, val_interval=6)',
        'train_cfg = dict(max_epochs=6)'))
    work_dir = str(tmp_path / 'run3d')
    python_tool('tools/train.py', str(config), '--work-dir', work_dir)
    records = train_records(work_dir)
    assert len(records) == 24  # 16 pairs, batch 4, 6 epochs
    assert all(all(k in r and r[k] == r[k] for k in TERMS) for r in records)
    recon = [r['loss_recon'] for r in records]
    # Sigmoid outputs against [0, 1] targets.
    assert all(0 < x < 1 for x in recon)
    first, last = sum(recon[:4]) / 4, sum(recon[-4:]) / 4
    assert last < first, (first, last)
    assert osp.isfile(osp.join(work_dir, 'epoch_6.pth'))


def test_pcrl_dist_train_two_cpu_processes(tmp_path, tiny_demo_data):
    """2 gloo processes: keys of both ranks enter the memory (3 pushes of
    2 x 4 keys per step) and the checkpoint is finite."""
    from mmmedssl.utils import safe_load
    config = tmp_path / 'dist_pcrl.py'
    # The released C2L NCE, whose Z is averaged over the ranks.
    config.write_text(tiny_2d_config(
        tiny_demo_data, epochs=1, batch=4,
        extra="model['head']['contrast_loss'] = dict(type='C2LNCELoss', "
        "num_data=4)\n"))
    work_dir = str(tmp_path / 'dist')
    run_tool(['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir',
              work_dir],
             env=dict(PYTHON=sys.executable, PORT=str(free_port())))
    records = train_records(work_dir)
    assert len(records) == 4  # 32 images over 2 ranks x 4
    state = safe_load(osp.join(work_dir, 'epoch_1.pth'))['state_dict']
    assert int(state['head.memory.ptr']) == (4 * 3 * 8) % 64
    assert float(state['head.contrast_loss.norm_constant']) > 0
    floats = [v for v in state.values() if v.dtype.is_floating_point]
    assert all(torch.isfinite(v).all() for v in floats)
