# Copyright (c) mmmedssl contributors. All rights reserved.
"""MedImageFolder: a folder of images without an annotation file."""
import os.path as osp
from collections import defaultdict

import pytest

from mmmedssl.datasets import MedImageFolder, scan_image_folder

# patient/image; the scan does not read the files, so they may be empty.
FILES = [
    'p01/a.png', 'p01/b.PNG', 'p02/c.jpg', 'p02/sub/d.nii.gz', 'p03/e.dcm',
    'p04/f.TIFF', 'p05/g.png', 'p06/h.jpeg', 'p07/i.bmp', 'p08/j.tif'
]
# Not images, or hidden.
OTHER = ['p01/notes.txt', 'p01/.k.png', '.cache/l.png', 'p02/m.gz']


def _touch(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'')
    return str(root)


@pytest.fixture
def folder(tmp_path):
    return _touch(tmp_path / 'images', FILES + OTHER)


def _infos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


def test_scan_finds_images_recursively_sorted_any_case(folder):
    ds = MedImageFolder(data_root=folder)
    paths = [osp.relpath(i['img_path'], folder) for i in _infos(ds)]
    assert paths == sorted(FILES)
    # Unlabelled and ungrouped by default.
    assert all(set(i) == {'img_path', 'sample_idx'} for i in _infos(ds))
    # extensions narrow the search; 'png' and '.PNG' mean the same.
    ds = MedImageFolder(data_root=folder, extensions=['PNG', '.nii.gz'])
    assert [osp.basename(i['img_path']) for i in _infos(ds)] == [
        'a.png', 'b.PNG', 'd.nii.gz', 'g.png']
    assert 'Image folder' in repr(ds)


def test_data_prefix_is_the_scanned_folder(tmp_path):
    root = _touch(tmp_path, ['imgs/p1/a.png', 'other/b.png'])
    ds = MedImageFolder(data_root=root, data_prefix=dict(img_path='imgs'),
                        group_regex=r'^(p\d)/')
    assert [i['img_path'] for i in _infos(ds)] == [
        osp.join(root, 'imgs', 'p1/a.png')]
    assert ds.get_data_info(0)['group_id'] == 'p1'


def test_empty_or_missing_folder_is_an_error(tmp_path):
    root = _touch(tmp_path / 'x', ['notes.txt'])
    with pytest.raises(ValueError, match=r'no image file in .*x.*\.png, '
                       r'\.jpg.*\.nii\.gz'):
        MedImageFolder(data_root=root)
    with pytest.raises(FileNotFoundError,
                       match='nope.*does not exist.*dataset.data_root'):
        MedImageFolder(data_root=str(tmp_path / 'nope'))
    with pytest.raises(ValueError, match='data_root is required'):
        MedImageFolder()


def test_group_regex_first_named_or_whole_match(folder):
    ds = MedImageFolder(data_root=folder, group_regex=r'^(p\d+)/')
    groups = [i['group_id'] for i in _infos(ds)]
    assert groups[:4] == ['p01', 'p01', 'p02', 'p02']
    named = MedImageFolder(data_root=folder,
                           group_regex=r'(?P<x>p)(?P<group>\d+)/')
    assert [i['group_id'] for i in _infos(named)][:2] == ['01', '01']
    whole = MedImageFolder(data_root=folder, group_regex=r'^p\d+')
    assert [i['group_id'] for i in _infos(whole)] == groups


def test_unmatched_path_is_an_error_or_its_own_group(folder):
    with pytest.raises(ValueError, match=r"images: p02/sub/d.nii.gz does not "
                       r"match group_regex .*own_group"):
        MedImageFolder(data_root=folder, group_regex=r'^(p\d+)/[a-z]\.')
    ds = MedImageFolder(data_root=folder, group_regex=r'^(p\d+)/[a-z]\.',
                        on_unmatched='own_group')
    assert ds.get_data_info(3)['group_id'] == 'p02/sub/d.nii.gz'
    with pytest.raises(ValueError, match='not a valid regular expression'):
        MedImageFolder(data_root=folder, group_regex='(')
    with pytest.raises(ValueError, match='on_unmatched must be one of'):
        MedImageFolder(data_root=folder, on_unmatched='skip')


def test_labels_from_parent_folder(tmp_path):
    root = _touch(tmp_path, ['b_mel/1.png', 'a_nv/2.png', 'a_nv/x/3.png',
                             '10/4.png', '9/5.png'])
    ds = MedImageFolder(data_root=root, label_from='parent')
    # Sorted folder names, also when they look like numbers.
    assert ds.CLASSES == ('10', '9', 'a_nv', 'b_mel', 'x')
    assert [i['gt_label'] for i in _infos(ds)] == [0, 1, 2, 4, 3]
    _touch(tmp_path, ['top.png'])
    with pytest.raises(ValueError, match=r"top.png: label_from='parent'.*"
                       'directly in'):
        MedImageFolder(data_root=root, label_from='parent')
    with pytest.raises(ValueError, match='label_from must be None'):
        MedImageFolder(data_root=root, label_from='folder')


def test_splits_by_group_with_a_seed(folder):
    ratios = dict(train=0.5, val=0.25, test=0.25)
    parts = {
        split: MedImageFolder(data_root=folder, group_regex=r'^(p\d+)/',
                              split=split, split_ratios=ratios)
        for split in ratios
    }
    groups = {s: {i['group_id'] for i in _infos(ds)}
              for s, ds in parts.items()}
    # 8 patients: 4/2/2, no patient in two splits, every image somewhere.
    assert [len(groups[s]) for s in ratios] == [4, 2, 2]
    assert set.union(*groups.values()) == {f'p{i:02d}' for i in range(1, 9)}
    assert sum(len(ds) for ds in parts.values()) == len(FILES)
    # Deterministic; another seed draws other patients.
    again = MedImageFolder(data_root=folder, group_regex=r'^(p\d+)/',
                           split='train', split_ratios=ratios)
    assert _infos(again) == _infos(parts['train'])
    other = MedImageFolder(data_root=folder, group_regex=r'^(p\d+)/',
                           split='train', split_ratios=ratios, split_seed=1)
    assert {i['group_id'] for i in _infos(other)} != groups['train']
    # Several splits at once, and the same rows as scan_image_folder.
    both = MedImageFolder(data_root=folder, group_regex=r'^(p\d+)/',
                          split=['val', 'test'], split_ratios=ratios)
    assert len(both) == len(parts['val']) + len(parts['test'])
    rows = scan_image_folder(folder, group_regex=r'^(p\d+)/',
                             split_ratios=ratios)
    assert {r['group'] for r in rows if r['split'] == 'val'} == groups['val']


def test_split_errors(folder):
    with pytest.raises(ValueError, match="split='train' needs split_ratios"):
        MedImageFolder(data_root=folder, split='train')
    with pytest.raises(ValueError, match='sum to 0.9'):
        MedImageFolder(data_root=folder, split='train',
                       split_ratios=dict(train=0.8, val=0.1))
    with pytest.raises(ValueError, match=r"no sample in split \['test'\]"):
        MedImageFolder(data_root=folder, split='test',
                       split_ratios=dict(train=1.0))


def test_group_sources_label_fraction_and_fixed_arguments(tmp_path):
    root = _touch(tmp_path, [f'{c}/p{p}_{k}.png' for c in ('a', 'b')
                             for p in range(4) for k in range(2)])
    ds = MedImageFolder(data_root=root, group_regex=r'^(\w/p\d)_',
                        group_sources=True)
    assert len(ds) == 8
    assert all(len(i['img_paths']) == 2 for i in _infos(ds))
    ds = MedImageFolder(data_root=root, group_regex=r'^(\w/p\d)_',
                        label_from='parent', label_fraction=0.5)
    per_class = defaultdict(set)
    for info in _infos(ds):
        per_class[info['gt_label']].add(info['group_id'])
    assert {c: len(g) for c, g in per_class.items()} == {0: 2, 1: 2}
    with pytest.raises(ValueError, match="needs label_from='parent'"):
        MedImageFolder(data_root=root, label_fraction=0.5)
    with pytest.raises(ValueError, match='group_sources=True needs '
                       'group_regex'):
        MedImageFolder(data_root=root, group_sources=True)
    with pytest.raises(TypeError, match=r"takes no \['ann_file'\].*"
                       'make_filelist'):
        MedImageFolder(data_root=root, ann_file='x.csv')
