# Copyright (c) mmmedssl contributors. All rights reserved.
"""Splits drawn by ratio and the check that no group is in two splits."""
import os.path as osp
import random
from collections import Counter

import pytest

from mmmedssl.datasets import MedImageList, split_by_ratios
from mmmedssl.datasets.splits import check_split_ratios
from mmmedssl.datasets.utils import check_split_leakage, missing_label_argument


@pytest.fixture(autouse=True)
def _lists_without_image_files(monkeypatch):
    """These lists name images that are never written: they test parsing,
    not the existence check (tests/test_datasets/test_file_checks.py)."""
    from mmmedssl.datasets import MedImageList
    monkeypatch.setattr(MedImageList, '_check_images_exist',
                        lambda *args: None)


SHARED = osp.join(osp.dirname(__file__), '..', '..', '..', 'shared', 'data')


def test_split_by_ratios_keeps_groups_whole_and_ignores_order():
    groups = [f'g{i // 3}' for i in range(60)]  # 20 groups of 3 images
    ratios = dict(train=0.7, val=0.1, test=0.2)
    splits = split_by_ratios(groups, ratios, seed=0)
    per_group = {}
    for group, split in zip(groups, splits):
        assert per_group.setdefault(group, split) == split
    assert Counter(per_group.values()) == dict(train=14, val=2, test=4)
    # The draw depends on the seed and the set of groups, not the order.
    order = list(range(60))
    random.Random(1).shuffle(order)
    shuffled = split_by_ratios([groups[i] for i in order], ratios, seed=0)
    assert shuffled == [splits[i] for i in order]
    assert split_by_ratios(groups, ratios, seed=1) != splits


def test_split_by_ratios_rounding_and_small_counts():
    # Largest remainder: 0.45 * 5 = 2.25, 0.45 * 5, 0.1 * 5 = 0.5 -> 2, 2, 1.
    splits = split_by_ratios(list('abcde'), dict(a=0.45, b=0.45, c=0.1))
    assert Counter(splits) == dict(a=2, b=2, c=1)
    # Every split with a positive fraction gets a group when there are
    # enough; a zero fraction gets none.
    splits = split_by_ratios(list('abc'), dict(a=0.98, b=0.01, c=0.01, d=0))
    assert Counter(splits) == dict(a=1, b=1, c=1)
    assert split_by_ratios(['x'], dict(train=0.5, val=0.5)) in (['train'],
                                                                ['val'])


@pytest.mark.parametrize('ratios, match', [
    ({}, 'non-empty dict'),
    (dict(train=0.8, val=0.1), 'sum to 0.9'),
    (dict(train=1.5, val=-0.5), "fraction of 'train' must be a number"),
    ({'': 1.0}, 'is not a non-empty string'),
    (dict(train='1'), 'must be a number'),
])
def test_check_split_ratios_errors(ratios, match):
    with pytest.raises(ValueError, match=match):
        check_split_ratios(ratios)


def test_check_split_leakage_names_groups_and_splits():
    groups = ['a', 'a', 'b', 'c', 'c', '', '', 'd']
    splits = ['train', 'val', 'train', 'train', 'test', 'train', 'val', 'val']
    with pytest.raises(ValueError) as err:
        check_split_leakage(groups, splits, 'x.csv', 'lesion_id', hint='H.')
    message = str(err.value)
    assert message.startswith("x.csv: 2 group(s) of 'lesion_id' are in more "
                              "than one split: 'a' in ['train', 'val'], 'c' "
                              "in ['test', 'train'].")
    assert message.endswith(' H.')
    # Empty ids are not a group; independent splits are left out.
    check_split_leakage(groups, splits, 'x.csv', 'lesion_id',
                        independent_splits=['val', 'test'])
    many = [str(i) for i in range(8)] * 2
    with pytest.raises(ValueError, match=r"'4' in \['a', 'b'\] and 3 more"):
        check_split_leakage(many, ['a'] * 8 + ['b'] * 8, 's', 'g')


LEAKY = '''image,lesion_id,split
a.png,L1,train
b.png,L1,test
c.png,L2,val
d.png,L3,test
'''


def test_image_list_checks_the_whole_file_before_the_split(tmp_path):
    (tmp_path / 'ann.csv').write_text(LEAKY)
    # L1 leaks even though split='val' reads neither of its images.
    with pytest.raises(ValueError, match=r"ann.csv: 1 group\(s\) of "
                       r"'lesion_id' .*'L1' in \['test', 'train'\].*"
                       'independent_splits'):
        MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                     group_key='lesion_id', split='val')
    ds = MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                      group_key='lesion_id', split='val',
                      independent_splits='test')
    assert len(ds) == 1
    # Without groups, or without a split, there is nothing to check.
    assert len(MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                            split='test')) == 2
    assert len(MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                            group_key='lesion_id')) == 4
    # Splits from a split file are checked too, and named.
    (tmp_path / 'labels.csv').write_text(
        'image,lesion_id\na.png,L1\nb.png,L1\n')
    (tmp_path / 'splits.csv').write_text('image,split\na.png,train\n'
                                         'b.png,val\n')
    with pytest.raises(ValueError, match=r'labels.csv with splits from '
                       r"splits.csv: .*'L1' in \['train', 'val'\]"):
        MedImageList(ann_file='labels.csv', data_root=str(tmp_path),
                     split_file='splits.csv', group_key='lesion_id',
                     split='train')


def test_image_column_only_lists(tmp_path):
    """An unlabelled list needs no other column: a CSV with only `image`,
    or a .txt of paths."""
    (tmp_path / 'only.csv').write_text('image\na.png\nsub/b.png\n')
    (tmp_path / 'only.txt').write_text('a.png\n\nsub/b.png\n')
    for name in ('only.csv', 'only.txt'):
        ds = MedImageList(ann_file=name, data_root=str(tmp_path))
        assert [ds.get_data_info(i) for i in range(2)] == [
            dict(img_path=osp.join(str(tmp_path), 'a.png'), sample_idx=0),
            dict(img_path=osp.join(str(tmp_path), 'sub/b.png'),
                 sample_idx=1)]


def test_missing_label_argument():
    assert missing_label_argument(
        dict(type='MedImageList', ann_file='x.csv')) == 'label_key=COLUMN'
    assert missing_label_argument(
        dict(type='MedImageList', label_key='label')) is None
    assert missing_label_argument(
        dict(type='mmmedssl.MedImageFolder')) == "label_from='parent'"
    assert missing_label_argument(
        dict(type='ChestXray14', with_label=False)) == 'with_label=True'
    assert missing_label_argument(dict(type='ChestXray14')) is None
    # Through wrappers; unknown types are trusted.
    assert missing_label_argument(dict(
        type='RepeatDataset', times=2,
        dataset=dict(type='MedImageFolder'))) == "label_from='parent'"
    assert missing_label_argument(dict(type='ConcatDataset', datasets=[
        dict(type='MedImageList', label_key='y'),
        dict(type='MedImageList')])) == 'label_key=COLUMN'
    assert missing_label_argument(dict(type='SomeDataset')) is None
    assert missing_label_argument(None) is None


@pytest.mark.skipif(not osp.isdir(SHARED), reason='../shared/data is absent')
@pytest.mark.parametrize('folder, group_key, independent', [
    ('ham10000_200x150', 'lesion_id', ()),
    ('chest_xray_pneumonia_224', 'patient_id', ('test', )),
])
def test_shared_data_splits_are_grouped(folder, group_key, independent):
    """The real sets' splits.csv keep lesions/patients in one split (the
    Kermany test folder numbers its patients on its own)."""
    root = osp.join(SHARED, folder)
    ds = MedImageList(ann_file='labels.csv', data_root=root,
                      split_file='splits.csv', group_key=group_key,
                      split='val', independent_splits=independent)
    assert len(ds) > 0
    if independent:
        with pytest.raises(ValueError, match=f"of '{group_key}' are in"):
            MedImageList(ann_file='labels.csv',
                         data_root=osp.join(SHARED, folder),
                         split_file='splits.csv', group_key=group_key,
                         split='val')
