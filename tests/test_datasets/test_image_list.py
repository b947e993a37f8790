# Copyright (c) mmmedssl contributors. All rights reserved.
import json

import pytest

from mmmedssl.datasets import MedImageList


@pytest.fixture(autouse=True)
def _lists_without_image_files(monkeypatch):
    """These lists name images that are never written: they test parsing,
    not the existence check (tests/test_datasets/test_file_checks.py)."""
    from mmmedssl.datasets import MedImageList
    monkeypatch.setattr(MedImageList, '_check_images_exist',
                        lambda *args: None)


CSV = '''image,label,lesion_id,split
a.png,nv,L1,train
b.png,mel,L1,train
c.png,nv,L2,val
d.png,bkl,L3,test
'''


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_with_labels_groups_and_split(tmp_path):
    _write(tmp_path, 'ann.csv', CSV)
    ds = MedImageList(
        ann_file='ann.csv',
        data_root=str(tmp_path),
        data_prefix='imgs',
        label_key='label',
        group_key='lesion_id',
        split=['train', 'test'])
    assert len(ds) == 3
    # String labels map to sorted class names when classes are not given.
    assert ds.CLASSES == ('bkl', 'mel', 'nv')
    infos = [ds.get_data_info(i) for i in range(3)]
    assert [i['gt_label'] for i in infos] == [2, 1, 0]
    assert [i['group_id'] for i in infos] == ['L1', 'L1', 'L3']
    assert infos[0]['img_path'] == str(tmp_path / 'imgs' / 'a.png')


def test_classes_given_and_integer_labels(tmp_path):
    _write(tmp_path, 'ann.csv', 'image,y\na.png,2\nb.png,0\n')
    ds = MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                      label_key='y')
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [2, 0]
    ds = MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                      label_key='y', classes=['x', 'y', 'z'])
    assert ds.CLASSES == ('x', 'y', 'z')
    assert ds.get_data_info(0)['gt_label'] == 2


def test_unlabelled_list_has_no_label(tmp_path):
    _write(tmp_path, 'ann.csv', CSV)
    ds = MedImageList(ann_file='ann.csv', data_root=str(tmp_path))
    assert len(ds) == 4
    assert 'gt_label' not in ds.get_data_info(0)
    assert 'group_id' not in ds.get_data_info(0)


def test_split_file_joined_on_image(tmp_path):
    _write(tmp_path, 'labels.csv', 'image,label\na.png,0\nb.png,1\nc.png,1\n')
    _write(tmp_path, 'splits.csv', 'image,split\nc.png,val\na.png,train\n'
           'b.png,val\n')
    ds = MedImageList(ann_file='labels.csv', split_file='splits.csv',
                      data_root=str(tmp_path), label_key='label',
                      split='val')
    assert [ds.get_data_info(i)['img_path'].split('/')[-1]
            for i in range(len(ds))] == ['b.png', 'c.png']


def test_tsv_txt_and_json(tmp_path):
    _write(tmp_path, 'ann.tsv', 'image\tlabel\na.png\t1\n')
    ds = MedImageList(ann_file='ann.tsv', data_root=str(tmp_path),
                      label_key='label')
    assert ds.get_data_info(0)['gt_label'] == 1

    _write(tmp_path, 'ann.txt', 'a.png 0\nb.png 1\n\n')
    ds = MedImageList(ann_file='ann.txt', data_root=str(tmp_path),
                      label_key='label')
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [0, 1]

    records = [dict(image='a.png', patient='P1', label=0),
               dict(image='b.png', patient='P2', label=1)]
    _write(tmp_path, 'ann.json', json.dumps(dict(metainfo={},
                                                 data_list=records)))
    ds = MedImageList(ann_file='ann.json', data_root=str(tmp_path),
                      label_key='label', group_key='patient')
    assert ds.get_data_info(1)['group_id'] == 'P2'
    _write(tmp_path, 'plain.json', json.dumps(records))
    assert len(MedImageList(ann_file='plain.json',
                            data_root=str(tmp_path))) == 2


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        MedImageList(ann_file='nope.csv', data_root=str(tmp_path))


@pytest.mark.parametrize('kwargs,match', [
    (dict(label_key='diagnosis'), r"'diagnosis' \(given as label_key\)"),
    (dict(group_key='patient'), r"'patient' \(given as group_key\)"),
    (dict(img_key='path'), r"'path' \(given as img_key\)"),
])
def test_bad_column_names_file_key_and_available_columns(
        tmp_path, kwargs, match):
    _write(tmp_path, 'ann.csv', CSV)
    with pytest.raises(KeyError, match=match) as err:
        MedImageList(ann_file='ann.csv', data_root=str(tmp_path), **kwargs)
    assert 'ann.csv' in str(err.value)
    assert 'lesion_id' in str(err.value)  # lists what is available


def test_unknown_split_lists_present_splits(tmp_path):
    _write(tmp_path, 'ann.csv', CSV)
    with pytest.raises(ValueError, match=r"\['test', 'train', 'val'\]"):
        MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                     split='training')


def test_malformed_rows_and_labels(tmp_path):
    _write(tmp_path, 'short.csv', 'image,label\na.png,0\nb.png\n')
    with pytest.raises(ValueError, match='short.csv: line 3'):
        MedImageList(ann_file='short.csv', data_root=str(tmp_path))
    _write(tmp_path, 'bad.csv', 'image,label\na.png,cat\n')
    with pytest.raises(ValueError, match="label 'cat'"):
        MedImageList(ann_file='bad.csv', data_root=str(tmp_path),
                     label_key='label', classes=['dog'])
    _write(tmp_path, 'ann.yaml', 'a: 1\n')
    with pytest.raises(ValueError, match='unsupported annotation file'):
        MedImageList(ann_file='ann.yaml', data_root=str(tmp_path))
    _write(tmp_path, 'broken.json', '{"data_list": [')
    with pytest.raises(ValueError, match='broken.json: invalid JSON'):
        MedImageList(ann_file='broken.json', data_root=str(tmp_path))
    _write(tmp_path, 'labels.csv', 'image\na.png\nb.png\n')
    _write(tmp_path, 'splits.csv', 'image,split\na.png,train\n')
    with pytest.raises(KeyError, match="no split for 1 image.*'b.png'"):
        MedImageList(ann_file='labels.csv', split_file='splits.csv',
                     data_root=str(tmp_path), split='train')


GROUPED = '''image,label,lesion_id,split
a.png,nv,L2,train
b.png,mel,L1,train
c.png,nv,L2,train
d.png,mel,L3,train
e.png,mel,L1,train
f.png,bkl,L3,train
g.png,nv,L4,val
'''


def test_group_sources_one_sample_per_group(tmp_path):
    _write(tmp_path, 'ann.csv', GROUPED)
    ds = MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                      data_prefix='imgs', group_key='lesion_id',
                      group_sources=True)
    # Order of first appearance; paths in file order.
    assert len(ds) == 4
    infos = [ds.get_data_info(i) for i in range(4)]
    assert [i['group_id'] for i in infos] == ['L2', 'L1', 'L3', 'L4']
    assert [[p.split('/')[-1] for p in i['img_paths']] for i in infos] == [
        ['a.png', 'c.png'], ['b.png', 'e.png'], ['d.png', 'f.png'],
        ['g.png']]
    assert infos[0]['img_paths'][0] == str(tmp_path / 'imgs' / 'a.png')
    assert 'img_path' not in infos[0]
    assert 'Grouped sources (lesion_id): \t4 groups of 7 images' in repr(ds)
    # With labels, L3 disagrees (mel vs bkl): the error names the group,
    # its images and their labels.
    with pytest.raises(ValueError) as err:
        MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                     label_key='label', group_key='lesion_id',
                     group_sources=True, split=['train', 'val'])
    message = str(err.value)
    assert "ann.csv: group 'L3'" in message
    assert "d.png -> 'mel', f.png -> 'bkl'" in message


def test_group_sources_labels_and_split_before_grouping(tmp_path):
    # f.png (bkl) is the only image of L3 left in train; d.png is in test.
    _write(tmp_path, 'ann.csv', GROUPED.replace('d.png,mel,L3,train',
                                                'd.png,mel,L5,test'))
    ds = MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                      label_key='label', group_key='lesion_id',
                      group_sources=True, split='train')
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [i['group_id'] for i in infos] == ['L2', 'L1', 'L3']
    assert [len(i['img_paths']) for i in infos] == [2, 2, 1]
    assert ds.CLASSES == ('bkl', 'mel', 'nv')
    assert [i['gt_label'] for i in infos] == [2, 1, 0]
    assert ds.get_cat_ids(1) == [1]
    # Only val: one group with one image.
    ds = MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                      group_key='lesion_id', group_sources=True, split='val')
    assert len(ds) == 1
    assert ds.get_data_info(0)['img_paths'][0].endswith('g.png')
    assert 'gt_label' not in ds.get_data_info(0)


def test_group_sources_errors(tmp_path):
    _write(tmp_path, 'ann.csv', GROUPED)
    with pytest.raises(ValueError, match='group_sources=True needs group_key'):
        MedImageList(ann_file='ann.csv', data_root=str(tmp_path),
                     group_sources=True)
    _write(tmp_path, 'blank.csv', 'image,lesion_id\na.png,L1\nb.png,\n')
    with pytest.raises(ValueError,
                       match="blank.csv: empty 'lesion_id'.*'b.png'"):
        MedImageList(ann_file='blank.csv', data_root=str(tmp_path),
                     group_key='lesion_id', group_sources=True)
    # A label fraction draws whole groups, so it needs every group id too.
    _write(tmp_path, 'blank_labels.csv',
           'image,label,lesion_id\na.png,0,L1\nb.png,1,\n')
    with pytest.raises(ValueError, match="empty 'lesion_id'.*'b.png'; with "
                       'label_fraction < 1'):
        MedImageList(ann_file='blank_labels.csv', data_root=str(tmp_path),
                     label_key='label', group_key='lesion_id',
                     label_fraction=0.5)
    # Without a draw the empty id is kept as it is.
    ds = MedImageList(ann_file='blank_labels.csv', data_root=str(tmp_path),
                      label_key='label', group_key='lesion_id')
    assert ds.get_data_info(1)['group_id'] == ''
