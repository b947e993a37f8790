# Copyright (c) mmmedssl contributors. All rights reserved.
"""Tiny segmentation fine-tuning runs through tools/train.py: the HAM10000
config on generated lesion photos with masks (pretrained encoder and label
fraction given on the command line, as documented), and the 3D config on
labelled demo volumes. Both log the Dice/Jaccard metrics and keep the best
checkpoint."""
import csv
import glob
import json
import os
import os.path as osp
import sys
import textwrap

import cv2
import numpy as np
import torch

from ..conftest import REPO_ROOT, python_tool

SEG_DIR = osp.join(REPO_ROOT, 'configs', 'benchmarks', 'segmentation')
HAM_CONFIG = osp.join(SEG_DIR,
                      'unet-resnet18_1xb32-coslr-20e_ham10000-64px.py')
DEMO_3D_CONFIG = osp.join(SEG_DIR, 'unet3d_1xb4-coslr-20e_demo-volumes.py')


def make_lesion_photos(root, per_split=(8, 4, 4), seed=0):
    """HAM10000-like files: images/*.jpg (48x64) with a dark ellipse,
    masks/*_segmentation.png (0/255), labels.csv and splits.csv."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'images'))
    os.makedirs(osp.join(root, 'masks'))
    labels, splits = [], []
    index = 0
    for split, count in zip(('train', 'val', 'test'), per_split):
        for _ in range(count):
            name = f'ISIC_{index:07d}'
            mask = np.zeros((48, 64), np.uint8)
            centre = (int(rng.integers(20, 44)), int(rng.integers(16, 32)))
            axes = (int(rng.integers(8, 16)), int(rng.integers(6, 12)))
            cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0,
                        360, 255, -1)
            skin = np.array([150, 170, 220]) + rng.normal(0, 10, 3)
            img = np.tile(skin, (48, 64, 1))
            img[mask > 0] *= 0.4
            img += rng.normal(0, 8, img.shape)
            cv2.imwrite(osp.join(root, 'images', name + '.jpg'),
                        img.clip(0, 255).astype(np.uint8))
            cv2.imwrite(
                osp.join(root, 'masks', name + '_segmentation.png'), mask)
            labels.append((f'images/{name}.jpg',
                           f'masks/{name}_segmentation.png',
                           'nv' if index % 2 else 'mel', f'HAM_{index // 2}'))
            splits.append((f'images/{name}.jpg', split))
            index += 1
    with open(osp.join(root, 'labels.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'mask', 'label', 'lesion_id'])
        writer.writerows(labels)
    with open(osp.join(root, 'splits.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'split'])
        writer.writerows(splits)
    return root


def _loaders(data_root, batch):
    return f'''
        data = dict(data_root={data_root!r})
        loader = dict(num_workers=0, persistent_workers=False)
        train_dataloader = dict(batch_size={batch}, dataset=data, **loader)
        val_dataloader = dict(batch_size={batch}, dataset=data, **loader)
        test_dataloader = dict(batch_size={batch}, dataset=data, **loader)
        max_epochs = 2
        param_scheduler = [dict(type='CosineAnnealingLR', T_max=2,
                                by_epoch=True, begin=0, end=2)]
        train_cfg = dict(max_epochs=2, val_interval=1)
        default_hooks = dict(logger=dict(interval=1))
    '''


def _val_records(work_dir):
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    records = [json.loads(line) for path in logs for line in open(path)]
    return ([r for r in records if 'seg/dice' in r],
            [r for r in records if 'loss' in r])


def test_ham10000_config_fine_tunes_from_a_checkpoint(tmp_path):
    from mmmedssl.registry import MODELS
    data_root = make_lesion_photos(str(tmp_path / 'ham'))
    config = tmp_path / 'ham_seg.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = [{HAM_CONFIG!r}]
        model = dict(
            backbone=dict(stem_channels=8, base_channels=8),
            decoder=dict(in_channels=[8, 8, 16, 32, 64],
                         decoder_channels=(16, 8, 8, 4, 4)))
    ''') + textwrap.dedent(_loaders(data_root, 4)))
    torch.manual_seed(0)
    source = MODELS.build(dict(type='ResNet', depth=18, stem_channels=8,
                               base_channels=8, out_indices=[3]))
    checkpoint = str(tmp_path / 'mocov2.pth')
    torch.save(dict(state_dict={f'backbone.{k}': v
                                for k, v in source.state_dict().items()}),
               checkpoint)

    work_dir = str(tmp_path / 'run')
    python_tool(
        'tools/train.py', str(config), '--work-dir', work_dir,
        '--cfg-options', 'model.backbone.init_cfg.type=Pretrained',
        f'model.backbone.init_cfg.checkpoint={checkpoint}',
        'model.backbone.init_cfg.prefix=backbone.',
        'train_dataloader.dataset.label_fraction=0.5')
    val, train = _val_records(work_dir)
    assert len(val) == 2
    for record in val:
        for key in ('seg/dice', 'seg/jaccard', 'seg/dice_lesion',
                    'seg/jaccard_background'):
            assert 0 <= record[key] <= 100, key
        assert record['seg/jaccard'] <= record['seg/dice'] + 1e-6
    # label_fraction=0.5 of 4 lesions x 2 images: 4 images, batch 4.
    assert len(train) == 2
    assert all('loss_ce' in r and 'loss_dice' in r for r in train)
    best = glob.glob(osp.join(work_dir, 'best_seg_dice_epoch_*.pth'))
    assert best
    # The saved encoder started from the checkpoint: the first conv moved
    # only by two AdamW steps of lr 1e-3.
    saved = torch.load(best[0], map_location='cpu',
                       weights_only=False)['state_dict']
    delta = (saved['backbone.conv1.weight'] -
             source.state_dict()['conv1.weight']).abs().max()
    assert delta < 5e-3

    # The test split from the best epoch, as the README says.
    out = str(tmp_path / 'test.json')
    python_tool('tools/test.py', str(config), best[0], '--work-dir',
                str(tmp_path / 'test'), '--out', out)
    metrics = json.load(open(out))
    assert 0 <= metrics['seg/dice'] <= 100


def test_3d_demo_config_trains(tmp_path):
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
    from make_demo_volumes import make_seg_volumes
    data_root = str(tmp_path / 'volumes')
    make_seg_volumes(data_root, 6, shape=(32, 32, 16), seed=0)
    config = tmp_path / 'seg3d.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = [{DEMO_3D_CONFIG!r}]
        model = dict(
            backbone=dict(base_channels=2, num_levels=3),
            decoder=dict(in_channels=[4, 8, 16], decoder_channels=(8, 4)))
    ''') + textwrap.dedent(_loaders(data_root, 2)) + textwrap.dedent('''
        train_dataloader['dataset']['pipeline'] = [
            dict(type='LoadVolume'),
            dict(type='LoadMedSegMap'),
            dict(type='MedSegRandomCrop', crop_size=(16, 16, 16)),
            dict(type='MedSegRandomFlip', axes=(0, 1, 2), prob=0.5),
            dict(type='PackMedInputs', spatial_dims=3),
        ]
    '''))
    work_dir = str(tmp_path / 'run3d')
    python_tool('tools/train.py', str(config), '--work-dir', work_dir)
    val, train = _val_records(work_dir)
    # 4 train volumes, batch 2: 2 iterations per epoch; 1 val volume.
    assert len(train) == 4 and len(val) == 2
    for key in ('seg/dice', 'seg/dice_lung', 'seg/dice_blob',
                'seg/dice_wall', 'seg/jaccard'):
        assert 0 <= val[-1][key] <= 100, key
    assert glob.glob(osp.join(work_dir, 'best_seg_dice_epoch_*.pth'))
