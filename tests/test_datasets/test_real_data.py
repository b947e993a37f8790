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
