# Copyright (c) mmmedssl contributors. All rights reserved.
"""Grey images as ONE channel end to end: 16-bit PNGs and DICOMs through
configs/_base_/datasets/grey_mocov2.py into a 1-channel MoCo v2."""
import os.path as osp
import textwrap

import cv2
import numpy as np
import pytest
import torch

from mmmedssl.models.backbones import ResNetWithStem
from mmmedssl.models.utils import MedSelfSupDataPreprocessor
from mmmedssl.utils import safe_load
from ..conftest import REPO_ROOT, python_tool, train_records

BASES = osp.join(REPO_ROOT, 'configs', '_base_')


def test_resnet_with_stem_and_preprocessor_take_one_channel():
    backbone = ResNetWithStem(depth=18, in_channels=1, stem_channels=8,
                              base_channels=8)
    outs = backbone(torch.rand(2, 1, 32, 32))
    assert [o.shape[1] for o in outs] == [8, 8, 16, 32, 64]
    with pytest.raises(ValueError, match=r'in_channels=1\): expected '
                       r'\(N, 1, H, W\) inputs, got \(2, 3, 32, 32\)'):
        backbone(torch.rand(2, 3, 32, 32))

    pre = MedSelfSupDataPreprocessor(mean=[127.5], std=[64.])
    white = torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)
    views = pre(dict(inputs=[white]))
    assert torch.allclose(views['inputs'][0], torch.tensor(127.5 / 64))
    with pytest.raises(ValueError, match='bgr_to_rgb=False for grey'):
        MedSelfSupDataPreprocessor(bgr_to_rgb=True)(
            dict(inputs=torch.zeros(2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r'3 values but the input has 1'):
        MedSelfSupDataPreprocessor(mean=[0.] * 3, std=[1.] * 3)(
            dict(inputs=torch.zeros(2, 1, 4, 4)))


def test_one_mocov2_iteration_on_grey_png_and_dicom(tmp_path):
    from ..test_datasets.test_transforms.test_medical_image import \
        write_dicom
    rng = np.random.default_rng(0)
    names = []
    for i in range(4):
        name = f'xray{i}.png'
        cv2.imwrite(str(tmp_path / name),
                    rng.integers(0, 4096, (32, 32), np.uint16))
        names.append(name)
        name = f'ct{i}.dcm'
        write_dicom(tmp_path / name,
                    rng.integers(0, 2000, (32, 32)).astype(np.uint16),
                    'MONOCHROME1' if i % 2 else 'MONOCHROME2', slope=1,
                    intercept=-1000, center=40, width=400)
        names.append(name)
    (tmp_path / 'images.csv').write_text('image\n' + '\n'.join(names) + '\n')

    config = tmp_path / 'grey.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = [
            {osp.join(BASES, 'models', 'mocov2_resnet18.py')!r},
            {osp.join(BASES, 'datasets', 'grey_mocov2.py')!r},
            {osp.join(BASES, 'default_runtime.py')!r},
        ]
        model = dict(
            queue_len=16,
            feat_dim=8,
            data_preprocessor=dict(mean=[127.5], std=[64.],
                                   bgr_to_rgb=False),
            backbone=dict(in_channels=1, stem_channels=8, base_channels=8),
            neck=dict(in_channels=64, hid_channels=16, out_channels=8))
        train_dataloader = dict(
            batch_size=8, num_workers=0, persistent_workers=False,
            dataset=dict(data_root={str(tmp_path)!r}))
        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
        # (the backbone export has its own tests)
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(by_epoch=False, interval=1),
                             export_backbone=None)
    '''))
    work_dir = str(tmp_path / 'run')
    python_tool('tools/train.py', str(config), '--work-dir', work_dir,
                '--cfg-options',
                'train_dataloader.dataset.pipeline.1.transforms.0.0.scale=32')
    records = train_records(work_dir)
    assert len(records) == 1 and np.isfinite(records[0]['loss'])
    ckpt = safe_load(osp.join(work_dir, 'iter_1.pth'))
    assert ckpt['state_dict']['backbone.conv1.weight'].shape[1] == 1
