# Copyright (c) mmmedssl contributors. All rights reserved.
"""tools/dataset_converters/make_filelist.py: a folder listed in a CSV that
MedImageList reads as MedImageFolder would scan it."""
import csv
import os.path as osp
import re
import sys

import pytest

from mmmedssl.datasets import MedImageFolder, MedImageList

from ..conftest import REPO_ROOT, python_tool

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
from make_filelist import main  # noqa: E402

IMAGES = [f'{c}/pat{p}_{k}.png' for c in ('mel', 'nv') for p in range(5)
          for k in range(2)] + ['nv/scan.DCM', 'notes.txt']
REGEX = r'(?P<group>pat\d)_'


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / 'images'
    for name in IMAGES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b'')
    return str(root)


def _read(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_csv_reads_like_the_folder(folder, tmp_path):
    out = str(tmp_path / 'lists' / 'all.csv')
    assert main([folder, '--out', out, '--group-regex', REGEX,
                 '--own-group-if-unmatched', '--labels-from-parent',
                 '--split', 'train=0.6,val=0.2,test=0.2', '--seed', '3']) == 0
    rows = _read(out)
    assert list(rows[0]) == ['image', 'group', 'label', 'split']
    assert [r['image'] for r in rows] == sorted(IMAGES[:-1])
    assert rows[0] == dict(image='mel/pat0_0.png', group='pat0', label='mel',
                           split=rows[0]['split'])
    # The unmatched DICOM is its own group.
    assert rows[-1]['group'] == 'nv/scan.DCM'
    for split in ('train', 'val', 'test'):
        listed = MedImageList(ann_file=out, data_root=folder, img_key='image',
                              label_key='label', group_key='group',
                              split=split)
        scanned = MedImageFolder(
            data_root=folder, group_regex=REGEX, on_unmatched='own_group',
            label_from='parent', split=split,
            split_ratios=dict(train=0.6, val=0.2, test=0.2), split_seed=3)
        assert [listed.get_data_info(i) for i in range(len(listed))] == [
            scanned.get_data_info(i) for i in range(len(scanned))]
        assert listed.CLASSES == scanned.CLASSES == ('mel', 'nv')


def test_image_column_only_and_no_overwrite(folder, tmp_path, capsys):
    out = str(tmp_path / 'plain.csv')
    main([folder, '--out', out, '--extensions', 'png'])
    assert _read(out)[0] == dict(image='mel/pat0_0.png')
    assert len(_read(out)) == 20
    with pytest.raises(SystemExit, match='plain.csv exists; pass --force'):
        main([folder, '--out', out])
    main([folder, '--out', out, '--force', '--extensions', '.dcm'])
    assert _read(out) == [dict(image='nv/scan.DCM')]
    with pytest.raises(SystemExit, match=r'make_filelist: .*no image file'):
        main([folder, '--out', out, '--force', '--extensions', '.nii'])
    with pytest.raises(SystemExit, match=r'pat0_0.png does not match '
                       'group_regex'):
        main([folder, '--out', out, '--force', '--group-regex', 'zzz'])


@pytest.mark.parametrize('split, message', [
    ('train=0.8,val=0.1', 'sum to 0.9; they must sum to 1'),
    ('train:0.8,val:0.2', "expected NAME=FRACTION pairs.*'train:0.8'"),
    ('train=0.5,train=0.5', "split 'train' is given twice"),
    ('train=x', 'expected NAME=FRACTION'),
])
def test_bad_split_is_a_parser_error(folder, tmp_path, capsys, split,
                                     message):
    with pytest.raises(SystemExit) as err:
        main([folder, '--out', str(tmp_path / 'x.csv'), '--split', split])
    assert err.value.code == 2
    error = capsys.readouterr().err
    assert 'argument --split' in error
    assert re.search(message, error)
    assert not osp.exists(tmp_path / 'x.csv')


def test_command_line_summary(folder, tmp_path):
    out = str(tmp_path / 'list.csv')
    proc = python_tool('tools/dataset_converters/make_filelist.py', folder,
                       '--out', out, '--group-regex', REGEX,
                       '--own-group-if-unmatched', '--split',
                       'train=0.5,val=0.5')
    assert f'{out}: 21 images from {folder}' in proc.stdout
    assert 'groups: 6' in proc.stdout
    assert 'split train: ' in proc.stdout and ' 3 groups' in proc.stdout
