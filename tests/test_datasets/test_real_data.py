# Copyright (c) mmmedssl contributors. All rights reserved.
"""Parsing of the real sets in ../shared/data (skipped when absent)."""
import os.path as osp

import pytest

from mmmedssl.datasets import MedImageList

SHARED = osp.join(osp.dirname(__file__), '..', '..', '..', 'shared', 'data')
HAM = osp.join(SHARED, 'ham10000_200x150')


@pytest.mark.skipif(not osp.isdir(HAM), reason='../shared/data is absent')
def test_ham10000_splits_keep_lesions_apart():
    splits = {}
    for split in ('train', 'val', 'test'):
        ds = MedImageList(ann_file='labels.csv', split_file='splits.csv',
                          data_root=HAM, label_key='label',
                          group_key='lesion_id', split=split)
        splits[split] = ds
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes == {'train': 6977, 'val': 991, 'test': 2047}
    assert len(splits['train'].CLASSES) == 7
    groups = {
        k: {v.get_data_info(i)['group_id'] for i in range(len(v))}
        for k, v in splits.items()
    }
    assert not groups['train'] & groups['val']
    assert not groups['train'] & groups['test']
    assert osp.isfile(splits['val'].get_data_info(0)['img_path'])


@pytest.mark.skipif(not osp.isdir(HAM), reason='../shared/data is absent')
def test_ham10000_config_pipeline_reads_real_images():
    from mmengine.config import Config

    from mmmedssl.registry import DATASETS
    repo = osp.join(osp.dirname(__file__), '..', '..')
    cfg = Config.fromfile(
        osp.join(repo, 'configs', 'mocov2',
                 'mocov2_resnet18_1xb64-coslr-20e_ham10000-64px.py'))
    train_cfg = cfg.train_dataloader.dataset
    train_cfg.data_root = HAM  # the config's path is relative to the repo
    train = DATASETS.build(train_cfg)
    assert len(train) == 6977
    sample = train[0]
    assert [v.shape for v in sample['inputs']] == [(3, 64, 64)] * 2
    assert sample['data_samples'].group_id.startswith('HAM_')
    test_cfg = cfg.test_dataloader.dataset
    test_cfg.data_root = HAM
    test = DATASETS.build(test_cfg)
    assert len(test) == 2047
    assert test[0]['inputs'].shape == (3, 64, 64)
    assert 0 <= int(test[0]['data_samples'].gt_label) < 7


@pytest.mark.skipif(not osp.isdir(HAM), reason='../shared/data is absent')
def test_ham10000_lesions_as_multi_image_sources():
    ds = MedImageList(ann_file='labels.csv', split_file='splits.csv',
                      data_root=HAM, label_key='label', group_key='lesion_id',
                      split='train', group_sources=True,
                      pipeline=[
                          dict(type='LoadSourceImages', max_images=4),
                          dict(type='MedMultiView', num_views=2,
                               transforms=[[dict(type='RandomFlip',
                                                 prob=0.5)]],
                               source_images_key='source_imgs'),
                          dict(type='PackMedInputs'),
                      ])
    sizes = [len(ds.get_data_info(i)['img_paths']) for i in range(len(ds))]
    assert len(ds) == 5229 and sum(sizes) == 6977
    multi = sizes.index(max(sizes))
    out = ds[multi]
    metas = out['data_samples'].view_metas
    assert all(0 <= m['source_index'] < min(4, sizes[multi]) for m in metas)
    assert out['inputs'][0].shape == (3, 150, 200)
