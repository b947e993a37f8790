# Copyright (c) mmmedssl contributors. All rights reserved.
"""Datasets find missing files and unreadable lists when they are built."""
import json

import pytest

from mmmedssl.datasets import MedImageList


def _images(root, names):
    for name in names:
        (root / name).write_bytes(b'')


@pytest.mark.parametrize('ext', ['csv', 'tsv', 'txt', 'json'])
def test_missing_image_of_a_split_named_with_its_line(tmp_path, ext):
    _images(tmp_path, ['a.png', 'b.png'])
    names = ['a.png', 'gone.png', 'b.png']
    if ext == 'json':
        (tmp_path / 'list.json').write_text(json.dumps(
            [dict(image=n) for n in names], indent=1))
        line = 6  # '[', '{', a.png, '},', '{', then this path
    elif ext == 'txt':
        (tmp_path / 'list.txt').write_text('\n'.join(names) + '\n')
        line = 2
    else:
        sep = '\t' if ext == 'tsv' else ','
        (tmp_path / f'list.{ext}').write_text(
            f'image{sep}split\n' +
            ''.join(f'{n}{sep}val\n' for n in names))
        line = 3
    with pytest.raises(FileNotFoundError,
                       match=rf'1 of the 3 image.*line {line}: '
                       r"'gone.png'.*check_files=False"):
        MedImageList(ann_file=f'list.{ext}', data_root=str(tmp_path))
    # The switch skips the check: the list is only read.
    dataset = MedImageList(ann_file=f'list.{ext}', data_root=str(tmp_path),
                           check_files=False)
    assert len(dataset) == 3


def test_only_the_split_is_checked(tmp_path):
    _images(tmp_path, ['a.png'])
    (tmp_path / 'list.csv').write_text(
        'image,split\na.png,train\ngone.png,test\n')
    assert len(MedImageList(ann_file='list.csv', data_root=str(tmp_path),
                            split='train')) == 1
    with pytest.raises(FileNotFoundError, match=r"split \['test'\]"):
        MedImageList(ann_file='list.csv', data_root=str(tmp_path),
                     split='test')


def test_csv_with_byte_order_mark_is_read(tmp_path):
    # Excel's "CSV UTF-8" starts with a BOM, which made the first column
    # '\ufeffimage'.
    _images(tmp_path, ['a.png'])
    (tmp_path / 'list.csv').write_bytes(
        '\ufeffimage,label\na.png,nevus\n'.encode('utf-8'))
    dataset = MedImageList(ann_file='list.csv', data_root=str(tmp_path),
                           label_key='label')
    assert dataset.get_data_info(0)['gt_label'] == 0


def test_latin1_list_names_file_line_and_encoding(tmp_path):
    _images(tmp_path, ['a.png'])
    (tmp_path / 'list.csv').write_bytes(
        'image,label\na.png,nævus\n'.encode('latin-1'))
    with pytest.raises(ValueError,
                       match=r'list\.csv: line 2: byte 0xe6 is not valid '
                       r'UTF-8.*utf-8.*Re-save the file as UTF-8'):
        MedImageList(ann_file='list.csv', data_root=str(tmp_path),
                     label_key='label')
