# Copyright (c) mmmedssl contributors. All rights reserved.
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest

from mmmedssl.datasets import ISIC2017
from mmmedssl.registry import DATASETS

HEADER = 'image_id,melanoma,seborrheic_keratosis\n'
# id -> (melanoma, seborrheic_keratosis); CSV order is not sorted on purpose.
TRAIN = {
    'ISIC_0000003': ('0.0', '0.0'),
    'ISIC_0000001': ('1.0', '0.0'),
    'ISIC_0000002': ('0.0', '1.0'),
    'ISIC_0000000': ('0.0', '0.0'),
}
VAL = {'ISIC_0001000': ('1.0', '0.0'), 'ISIC_0001001': ('0.0', '0.0')}


def _image(path, value, size=(6, 8)):
    img = np.full((*size, 3), value, dtype=np.uint8)
    assert cv2.imwrite(str(path), img)


def _split(root, tag, labels, masks=True):
    data = root / f'ISIC-2017_{tag}_Data'
    data.mkdir()
    mask_dir = root / f'ISIC-2017_{tag}_Part1_GroundTruth'
    mask_dir.mkdir()
    for k, image_id in enumerate(labels):
        _image(data / f'{image_id}.jpg', 40 * k)
        # Decoys the dataset must ignore.
        _image(data / f'{image_id}_superpixels.png', 0)
        if masks:
            cv2.imwrite(str(mask_dir / f'{image_id}_segmentation.png'),
                        np.zeros((6, 8), np.uint8))
    (data / f'ISIC-2017_{tag}_Data_metadata.csv').write_text(
        'image_id,age_approximate,sex\n')
    rows = ''.join(f'{i},{m},{s}\n' for i, (m, s) in labels.items())
    (root / f'ISIC-2017_{tag}_Part3_GroundTruth.csv').write_text(HEADER +
                                                                   rows)


@pytest.fixture
def isic_root(tmp_path):
    root = tmp_path / 'ISIC2017'
    root.mkdir()
    _split(root, 'Training', TRAIN)
    _split(root, 'Validation', VAL)
    return root


def _ids(ds):
    return [ds.get_data_info(i)['image_id'] for i in range(len(ds))]


def test_multiclass_labels_in_csv_order(isic_root):
    ds = ISIC2017(data_root=str(isic_root))
    assert ds.CLASSES == ('nevus', 'melanoma', 'seborrheic_keratosis')
    assert _ids(ds) == list(TRAIN)
    assert [ds.get_data_info(i)['gt_label'] for i in range(4)] == [0, 1, 2, 0]
    info = ds.get_data_info(1)
    assert info['img_path'] == osp.join(
        str(isic_root), 'ISIC-2017_Training_Data', 'ISIC_0000001.jpg')
    assert 'gt_seg_map_path' not in info
    assert ds.get_cat_ids(2) == [2]
    text = repr(ds)
    assert 'Number of samples: \t4' in text
    assert 'melanoma: \t1' in text and 'nevus: \t2' in text

    val = ISIC2017(data_root=str(isic_root), split='val')
    assert _ids(val) == list(VAL)
    assert 'Validation' in val.get_data_info(0)['img_path']


def test_multilabel_gives_positive_indices(isic_root):
    csv = isic_root / 'ISIC-2017_Training_Part3_GroundTruth.csv'
    csv.write_text(csv.read_text().replace('ISIC_0000000,0.0,0.0',
                                           'ISIC_0000000,1.0,1.0'))
    ds = ISIC2017(data_root=str(isic_root), label_mode='multilabel')
    assert ds.CLASSES == ('melanoma', 'seborrheic_keratosis')
    assert [ds.get_data_info(i)['gt_label']
            for i in range(4)] == [[], [0], [1], [0, 1]]
    assert ds.get_cat_ids(3) == [0, 1]
    # The same row is an error in multiclass mode, naming file and row.
    with pytest.raises(ValueError, match=r'Part3_GroundTruth.csv: line 5 '
                       r'\(ISIC_0000000\) has both'):
        ISIC2017(data_root=str(isic_root))


def test_masks(isic_root):
    ds = ISIC2017(data_root=str(isic_root), with_mask=True)
    info = ds.get_data_info(0)
    assert info['gt_seg_map_path'] == osp.join(
        str(isic_root), 'ISIC-2017_Training_Part1_GroundTruth',
        'ISIC_0000003_segmentation.png')
    assert info['seg_map_path'] == info['gt_seg_map_path']
    assert 'With masks: \tTrue' in repr(ds)


def test_unlabelled_lists_the_folder_without_csv(isic_root):
    (isic_root / 'ISIC-2017_Training_Part3_GroundTruth.csv').unlink()
    ds = ISIC2017(data_root=str(isic_root), with_label=False)
    # Sorted ids; superpixels and metadata skipped.
    assert _ids(ds) == sorted(TRAIN)
    assert all(ds.get_data_info(i)['img_path'].endswith(
        ds.get_data_info(i)['image_id'] + '.jpg') for i in range(len(ds)))
    assert 'gt_label' not in ds.get_data_info(0)
    with pytest.raises(FileNotFoundError,
                       match='Training_Part3_GroundTruth.csv'):
        ISIC2017(data_root=str(isic_root))


@pytest.mark.parametrize('with_label', [True, False])
def test_ann_file_restricts_and_orders(isic_root, with_label):
    (isic_root / 'isic_seg_train.txt').write_text(
        'ISIC_0000002.jpg\n\nsome/dir/ISIC_0000000.jpg\nISIC_0000001\n')
    ds = ISIC2017(data_root=str(isic_root), ann_file='isic_seg_train.txt',
                  with_label=with_label)
    assert _ids(ds) == ['ISIC_0000002', 'ISIC_0000000', 'ISIC_0000001']
    if with_label:
        assert [ds.get_data_info(i)['gt_label'] for i in range(3)] == [2, 0, 1]
    assert 'isic_seg_train.txt' in repr(ds)
    # '' means no list.
    assert len(ISIC2017(data_root=str(isic_root), ann_file='')) == 4


def test_ann_file_errors(isic_root):
    (isic_root / 'list.txt').write_text('ISIC_0000002.jpg\nISIC_0001000.jpg\n')
    with pytest.raises(ValueError,
                       match=r"list.txt: line 2: 'ISIC_0001000.jpg' is not an "
                       "image of split 'train'"):
        ISIC2017(data_root=str(isic_root), ann_file='list.txt')
    (isic_root / 'dup.txt').write_text('ISIC_0000002.jpg\nISIC_0000002\n')
    with pytest.raises(ValueError, match='dup.txt: line 2: .*line 1'):
        ISIC2017(data_root=str(isic_root), ann_file='dup.txt')
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        ISIC2017(data_root=str(isic_root), ann_file='nope.txt')


def test_missing_folders_name_the_archive(tmp_path, isic_root):
    with pytest.raises(FileNotFoundError) as err:
        ISIC2017(data_root=str(tmp_path / 'empty'))
    message = str(err.value)
    assert 'ISIC-2017_Training_Data.zip' in message
    assert 'challenge.isic-archive.com/data/#2017' in message
    assert 'empty' in message

    with pytest.raises(FileNotFoundError,
                       match='ISIC-2017_Test_v2_Data.zip'):
        ISIC2017(data_root=str(isic_root), split='test')

    shutil.rmtree(isic_root / 'ISIC-2017_Validation_Part1_GroundTruth')
    with pytest.raises(FileNotFoundError,
                       match='ISIC-2017_Validation_Part1_GroundTruth.zip'):
        ISIC2017(data_root=str(isic_root), split='val', with_mask=True)


def test_missing_image_and_mask(isic_root):
    (isic_root / 'ISIC-2017_Training_Data' / 'ISIC_0000002.jpg').unlink()
    with pytest.raises(FileNotFoundError,
                       match=r'1 image\(s\) listed in .*Training_Part3_Ground'
                       r'Truth.csv are missing, e.g. .*ISIC_0000002.jpg'):
        ISIC2017(data_root=str(isic_root))
    (isic_root / 'ISIC-2017_Validation_Part1_GroundTruth' /
     'ISIC_0001001_segmentation.png').unlink()
    with pytest.raises(FileNotFoundError,
                       match=r'1 mask\(s\) missing .*'
                       'ISIC_0001001_segmentation.png'):
        ISIC2017(data_root=str(isic_root), split='val', with_mask=True)


@pytest.mark.parametrize('text,match', [
    (HEADER + 'ISIC_0000000,0.5,0.0\n',
     r"line 2: melanoma is '0.5', expected 0 or 1"),
    (HEADER + 'ISIC_0000000,0.0,yes\n',
     r"line 2: seborrheic_keratosis is 'yes'"),
    (HEADER + 'ISIC_0000000,0.0\n', r'line 2: seborrheic_keratosis is None'),
    (HEADER + 'foo.jpg,0.0,0.0\n', r"line 2: image_id 'foo.jpg'"),
    (HEADER + 'ISIC_0000000,0,0\nISIC_0000000,0,0\n',
     'line 3: ISIC_0000000 already listed on line 2'),
    ('image,melanoma\nISIC_0000000,0\n',
     r"no column\(s\) \['image_id', 'seborrheic_keratosis'\]"),
    (HEADER, 'no rows'),
])
def test_bad_csv_values(isic_root, text, match):
    csv = isic_root / 'ISIC-2017_Training_Part3_GroundTruth.csv'
    csv.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        ISIC2017(data_root=str(isic_root))
    assert 'ISIC-2017_Training_Part3_GroundTruth.csv' in str(err.value)


def test_argument_errors(isic_root):
    with pytest.raises(ValueError, match="split must be one of"):
        ISIC2017(data_root=str(isic_root), split='training')
    with pytest.raises(ValueError, match='label_mode'):
        ISIC2017(data_root=str(isic_root), label_mode='binary')
    with pytest.raises(ValueError, match='3 classes given.*expected 2'):
        ISIC2017(data_root=str(isic_root), label_mode='multilabel',
                 classes=['a', 'b', 'c'])
    renamed = ISIC2017(data_root=str(isic_root), classes=['nv', 'mel', 'sk'])
    assert renamed.CLASSES == ('nv', 'mel', 'sk')


def test_pipeline_loads_a_sample_built_from_config(isic_root):
    from mmmedssl.utils import register_all_modules
    register_all_modules()
    ds = DATASETS.build(
        dict(
            type='ISIC2017',
            data_root=str(isic_root),
            split='val',
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='PackMedInputs', meta_keys=('img_path',
                                                       'image_id')),
            ]))
    assert isinstance(ds, ISIC2017)
    out = ds[0]
    assert tuple(out['inputs'].shape) == (3, 6, 8)
    sample = out['data_samples']
    assert sample.gt_label.tolist() == [1]
    assert sample.image_id == 'ISIC_0001000'


def _write_labels(root, labels):
    """Replace the training split with ``labels`` (id -> flags)."""
    shutil.rmtree(root / 'ISIC-2017_Training_Data')
    shutil.rmtree(root / 'ISIC-2017_Training_Part1_GroundTruth')
    _split(root, 'Training', labels)


@pytest.mark.parametrize('label_mode', ['multiclass', 'multilabel'])
def test_label_fraction_keeps_images_per_class(isic_root, label_mode):
    """ISIC 2017 has no lesion ids: label_fraction draws images, per class,
    as label_fraction_indices does with each image its own group."""
    from mmmedssl.datasets import label_fraction_indices
    # At most 7 images: _split writes image k with the value 40 * k.
    flags = [('0.0', '0.0')] * 4 + [('1.0', '0.0')] * 2 + [('0.0', '1.0')]
    labels = {f'ISIC_{k:07d}': f for k, f in enumerate(flags)}
    _write_labels(isic_root, labels)

    def build(**kwargs):
        return ISIC2017(data_root=str(isic_root), label_mode=label_mode,
                        **kwargs)

    full = build()
    part = build(label_fraction=0.5, fraction_seed=3)
    targets = [full.get_data_info(i)['gt_label'] for i in range(len(full))]
    kept = label_fraction_indices(targets, None, 0.5, seed=3)
    assert _ids(part) == [_ids(full)[i] for i in kept]
    if label_mode == 'multiclass':
        # Half of each class, at least one: 2 nevi, 1 melanoma, 1 keratosis.
        assert sorted(part.get_data_info(i)['gt_label']
                      for i in range(len(part))) == [0, 0, 1, 2]
    else:
        assert {c for i in range(len(part))
                for c in part.get_data_info(i)['gt_label']} == {0, 1}
    assert _ids(build(label_fraction=0.5, fraction_seed=3)) == _ids(part)
    assert any(_ids(build(label_fraction=0.5, fraction_seed=s)) != _ids(part)
               for s in (4, 5, 6, 7))
    assert _ids(build(label_fraction=1.0)) == _ids(full)
    assert 'Label fraction: \t0.5 of the images' in repr(part)
    with pytest.raises(ValueError, match='label_fraction must be in'):
        build(label_fraction=0)
    with pytest.raises(ValueError, match='needs with_label=True'):
        build(label_fraction=0.5, with_label=False)


def test_label_fraction_after_ann_file(isic_root):
    (isic_root / 'list.txt').write_text(
        'ISIC_0000002\nISIC_0000000\nISIC_0000001\n')
    ds = ISIC2017(data_root=str(isic_root), ann_file='list.txt',
                  label_fraction=0.5)
    # One image per class of the listed three: all of them, listed order.
    assert _ids(ds) == ['ISIC_0000002', 'ISIC_0000000', 'ISIC_0000001']


def test_default_classes_come_from_metainfo(isic_root):
    assert ISIC2017.METAINFO['classes'] == (
        'nevus', 'melanoma', 'seborrheic_keratosis')
    ds = ISIC2017(data_root=str(isic_root), label_mode='multilabel')
    assert ds.CLASSES == ('melanoma', 'seborrheic_keratosis')
    ds = ISIC2017(data_root=str(isic_root),
                  metainfo=dict(classes=('nv', 'mel', 'sk')))
    assert ds.CLASSES == ('nv', 'mel', 'sk')
    ds = ISIC2017(data_root=str(isic_root), label_mode='multilabel',
                  metainfo=dict(classes=('mel', 'sk')))
    assert ds.CLASSES == ('mel', 'sk')
    # The class attribute is never changed by an instance.
    assert ISIC2017.METAINFO['classes'][0] == 'nevus'
