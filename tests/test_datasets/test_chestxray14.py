# Copyright (c) mmmedssl contributors. All rights reserved.
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest

from mmmedssl.datasets import ChestXray14
from mmmedssl.datasets.chestxray14 import CHESTXRAY14_CLASSES
from mmmedssl.registry import DATASETS

# The official header: the last two names hold unquoted commas, so a row has
# 11 fields (12 with the trailing comma of the older Data_Entry_2017.csv).
HEADER = ('Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,'
          'Patient Gender,View Position,OriginalImage[Width,Height],'
          'OriginalImagePixelSpacing[x,y]')
# (image, Finding Labels, Patient ID) in CSV order.
ROWS = [
    ('00000001_000.png', 'Cardiomegaly', '1'),
    ('00000001_001.png', 'Cardiomegaly|Emphysema', '1'),
    ('00000001_002.png', 'Cardiomegaly|Effusion', '1'),
    ('00000002_000.png', 'No Finding', '2'),
    ('00000003_000.png', 'Hernia', '3'),
    ('00000003_001.png', 'Hernia|Infiltration', '3'),
    ('00000004_000.png', 'Mass|Nodule', '4'),
    ('00000005_000.png', 'No Finding', '5'),
    ('00000005_001.png', 'Pleural_Thickening|Atelectasis', '5'),
    ('00000006_000.png', 'Pneumothorax', '6'),
    ('00000007_000.png', 'Consolidation|Edema|Fibrosis|Pneumonia', '7'),
    ('00000008_000.png', 'No Finding', '8'),
    ('00000010_000.png', 'Effusion', '10'),
    ('00000010_001.png', 'No Finding', '10'),
    ('00000011_000.png', 'Atelectasis|Effusion', '11'),
]
# The positive indices in the standard order (Atelectasis 0, Cardiomegaly 1,
# Effusion 2, Infiltration 3, Mass 4, Nodule 5, Pneumonia 6, Pneumothorax 7,
# Consolidation 8, Edema 9, Emphysema 10, Fibrosis 11, Pleural_Thickening
# 12, Hernia 13), written out by hand.
LABELS = {
    '00000001_000': [1],
    '00000001_001': [1, 10],
    '00000001_002': [1, 2],
    '00000002_000': [],
    '00000003_000': [13],
    '00000003_001': [3, 13],
    '00000004_000': [4, 5],
    '00000005_000': [],
    '00000005_001': [0, 12],
    '00000006_000': [7],
    '00000007_000': [6, 8, 9, 11],
    '00000008_000': [],
    '00000010_000': [2],
    '00000010_001': [],
    '00000011_000': [0, 2],
}
# Lists in an order that differs from the CSV's.
TRAIN_VAL = [r[0] for r in ROWS[:12]][::-1]
TEST = ['00000011_000.png', '00000010_000.png', '00000010_001.png']


def _csv_text(rows=ROWS, header=HEADER, trailing=''):
    lines = [header + trailing]
    for name, findings, patient in rows:
        follow_up = int(name[9:12])
        lines.append(f'{name},{findings},{follow_up},{patient},58,M,PA,'
                     f'2682,2749,0.143,0.143{trailing}')
    return '\n'.join(lines) + '\n'


def _image(path, value):
    assert cv2.imwrite(str(path), np.full((5, 4), value, dtype=np.uint8))


@pytest.fixture
def nih_root(tmp_path):
    root = tmp_path / 'ChestXray14'
    (root / 'images').mkdir(parents=True)
    for k, (name, _, _) in enumerate(ROWS):
        _image(root / 'images' / name, 10 * k)
    (root / 'Data_Entry_2017.csv').write_text(_csv_text(trailing=','))
    (root / 'train_val_list.txt').write_text('\n'.join(TRAIN_VAL) + '\n')
    (root / 'test_list.txt').write_text('\n'.join(TEST) + '\n\n')
    return root


@pytest.fixture
def archive_root(nih_root):
    """The images as the archives unpack them, over two folders."""
    for k, (name, _, _) in enumerate(ROWS):
        folder = nih_root / f'images_{1 + k // 8:03d}' / 'images'
        folder.mkdir(parents=True, exist_ok=True)
        shutil.move(str(nih_root / 'images' / name), str(folder / name))
    (nih_root / 'images').rmdir()
    return nih_root


def _ids(ds):
    return [ds.get_data_info(i)['image_id'] for i in range(len(ds))]


def _groups(ds):
    return {ds.get_data_info(i)['group_id'] for i in range(len(ds))}


def _stems(names):
    return [osp.splitext(n)[0] for n in names]


def test_labels_are_exact_multi_hot(nih_root):
    ds = ChestXray14(data_root=str(nih_root), split='all')
    assert ds.CLASSES == CHESTXRAY14_CLASSES
    assert len(ds.CLASSES) == 14 and ds.CLASSES[-1] == 'Hernia'
    assert _ids(ds) == _stems(r[0] for r in ROWS)
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        expected = LABELS[info['image_id']]
        assert info['gt_label'] == expected
        onehot = np.zeros(14, np.float32)
        onehot[expected] = 1
        assert info['gt_score'].dtype == np.float32
        np.testing.assert_array_equal(info['gt_score'], onehot)
        assert ds.get_cat_ids(i) == expected
    info = ds.get_data_info(1)
    assert info['img_path'] == osp.join(str(nih_root), 'images',
                                        '00000001_001.png')
    assert info['group_id'] == '1'
    assert ds.get_data_info(13)['group_id'] == '10'
    text = repr(ds)
    assert 'Number of samples: \t15' in text
    assert 'Number of patients: \t10' in text
    assert 'Effusion: \t3' in text and 'Hernia: \t2' in text
    assert 'No Finding: \t4' in text


def test_official_lists(nih_root):
    test = ChestXray14(data_root=str(nih_root), split='test')
    assert _ids(test) == _stems(TEST)
    assert [test.get_data_info(i)['gt_label'] for i in range(3)] == [
        [0, 2], [2], []
    ]
    assert _groups(test) == {'10', '11'}
    train_val = ChestXray14(data_root=str(nih_root), split='train_val')
    assert _ids(train_val) == _stems(TRAIN_VAL)
    assert not _groups(train_val) & _groups(test)


def test_train_val_split_by_patient(nih_root):
    train_val = ChestXray14(data_root=str(nih_root), split='train_val')
    splits = {
        s: ChestXray14(data_root=str(nih_root), split=s, val_fraction=0.25)
        for s in ('train', 'val')
    }
    train, val = splits['train'], splits['val']
    # 8 patients, a quarter of them in val; the list order is kept.
    assert len(_groups(val)) == 2 and len(_groups(train)) == 6
    assert not _groups(train) & _groups(val)
    assert sorted(_ids(train) + _ids(val)) == sorted(_ids(train_val))
    assert _ids(train) == [i for i in _ids(train_val) if i in _ids(train)]
    # Never the test list.
    assert not (_groups(val) | _groups(train)) & {'10', '11'}
    assert 'val_fraction=0.25, split_seed=0' in repr(val)

    # Deterministic, and the seed changes the split.
    again = ChestXray14(data_root=str(nih_root), split='val',
                        val_fraction=0.25)
    assert _ids(again) == _ids(val)
    other = [
        _groups(ChestXray14(data_root=str(nih_root), split='val',
                            val_fraction=0.25, split_seed=seed))
        for seed in range(1, 6)
    ]
    assert any(g != _groups(val) for g in other)
    # Default: 10 % of 8 patients rounds to 1, at least one.
    assert len(_groups(ChestXray14(data_root=str(nih_root),
                                   split='val'))) == 1
    assert val.val_patients(['1', '2']) == val.val_patients(['2', '1'])


def test_archive_layout(archive_root):
    ds = ChestXray14(data_root=str(archive_root), split='all')
    assert _ids(ds) == _stems(r[0] for r in ROWS)
    paths = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    assert all(osp.isfile(p) for p in paths)
    assert paths[0] == osp.join(str(archive_root), 'images_001', 'images',
                                '00000001_000.png')
    assert paths[-1] == osp.join(str(archive_root), 'images_002', 'images',
                                 '00000011_000.png')
    test = ChestXray14(data_root=str(archive_root), split='test',
                       check_files=False)
    assert _ids(test) == _stems(TEST)
    # A missing image is found even without check_files.
    (archive_root / 'images_002' / 'images' / '00000010_000.png').unlink()
    with pytest.raises(FileNotFoundError,
                       match=r"split='test'\): 1 image\(s\) of the split are "
                       r'missing in .*images_\*.*00000010_000.png'):
        ChestXray14(data_root=str(archive_root), split='test',
                    check_files=False)
    shutil.copy(
        archive_root / 'images_001' / 'images' / '00000001_000.png',
        archive_root / 'images_002' / 'images' / '00000001_000.png')
    with pytest.raises(ValueError, match='00000001_000.png is in two '
                       'folders'):
        ChestXray14(data_root=str(archive_root), split='all')


def test_missing_image_is_checked_or_left_to_loading(nih_root):
    (nih_root / 'images' / '00000003_001.png').unlink()
    with pytest.raises(FileNotFoundError,
                       match=r"split='train_val'\): 1 image\(s\) .* "
                       r'e.g. 00000003_001.png.*check_files=False'):
        ChestXray14(data_root=str(nih_root), split='train_val')
    # The test split does not need it.
    assert len(ChestXray14(data_root=str(nih_root), split='test')) == 3
    lazy = ChestXray14(data_root=str(nih_root), split='train_val',
                       check_files=False)
    assert len(lazy) == 12
    path = lazy.get_data_info(_ids(lazy).index('00000003_001'))['img_path']
    assert not osp.exists(path)


def test_pcrl_image_list(nih_root):
    (nih_root / 'chest_train.txt').write_text(
        'images/00000011_000.png 1 0 1 0 0 0 0 0 0 0 0 0 0 0\n'
        '\n'
        'images/00000001_001.png 0 1 0 0 0 0 0 0 0 0 1 0 0 0\n'
        '00000002_000 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n')
    ds = ChestXray14(data_root=str(nih_root), split='all',
                     image_list='chest_train.txt')
    assert _ids(ds) == ['00000011_000', '00000001_001', '00000002_000']
    # Labels come from the CSV.
    assert [ds.get_data_info(i)['gt_label'] for i in range(3)] == [
        [0, 2], [1, 10], []
    ]
    assert 'chest_train.txt' in repr(ds)
    # Within a split every listed image must belong to it.
    with pytest.raises(ValueError,
                       match=r"chest_train.txt: line 1: 'images/00000011_000"
                       r".png' is not an image of split 'train_val'; use "
                       r"split='all'"):
        ChestXray14(data_root=str(nih_root), split='train_val',
                    image_list='chest_train.txt')
    (nih_root / 'sub.txt').write_text('00000008_000.png\n00000001_000.png\n')
    sub = ChestXray14(data_root=str(nih_root), split='train_val',
                      image_list='sub.txt')
    assert _ids(sub) == ['00000008_000', '00000001_000']


def test_list_errors(nih_root):
    (nih_root / 'dup.txt').write_text('00000001_000.png\nx/00000001_000.png\n')
    with pytest.raises(ValueError, match='dup.txt: line 2: .*line 1'):
        ChestXray14(data_root=str(nih_root), split='all',
                    image_list='dup.txt')
    with pytest.raises(FileNotFoundError, match='image_list .*nope.txt'):
        ChestXray14(data_root=str(nih_root), split='all',
                    image_list='nope.txt')
    with open(nih_root / 'test_list.txt', 'a') as f:
        f.write('00000099_000.png\n')
    with pytest.raises(ValueError,
                       match=r"test_list.txt: line 5: '00000099_000.png' is "
                       r'not an image of .*Data_Entry_2017.csv'):
        ChestXray14(data_root=str(nih_root), split='test')
    (nih_root / 'train_val_list.txt').unlink()
    with pytest.raises(FileNotFoundError,
                       match=r'split list .*train_val_list.txt does not '
                       r'exist.*nihcc.app.box.com'):
        ChestXray14(data_root=str(nih_root), split='val')


def test_unlabelled_without_csv(nih_root):
    (nih_root / 'Data_Entry_2017.csv').unlink()
    with pytest.raises(FileNotFoundError) as err:
        ChestXray14(data_root=str(nih_root))
    message = str(err.value)
    assert 'Data_Entry_2017.csv or ' in message
    assert 'Data_Entry_2017_v2020.csv' in message
    assert 'nihcc.app.box.com/v/ChestXray-NIHCC' in message
    assert 'with_label=False' in message

    ds = ChestXray14(data_root=str(nih_root), split='all', with_label=False)
    assert _ids(ds) == sorted(LABELS)
    info = ds.get_data_info(0)
    assert 'gt_label' not in info and 'gt_score' not in info
    # The patient comes from the file name.
    assert info['group_id'] == '1'
    assert ds.get_data_info(14)['group_id'] == '11'
    test = ChestXray14(data_root=str(nih_root), split='test',
                       with_label=False)
    assert _ids(test) == _stems(TEST)
    train = ChestXray14(data_root=str(nih_root), split='train',
                        with_label=False, val_fraction=0.25)
    val = ChestXray14(data_root=str(nih_root), split='val',
                      with_label=False, val_fraction=0.25)
    assert not _groups(train) & _groups(val)
    assert len(train) + len(val) == 12
    # A list naming an image that is not on disk.
    (nih_root / 'images' / '00000010_001.png').unlink()
    with pytest.raises(ValueError,
                       match=r"test_list.txt: line 3: '00000010_001.png' is "
                       'not an image of the image folders'):
        ChestXray14(data_root=str(nih_root), split='test', with_label=False)


def test_unlabelled_with_csv_and_the_v2020_name(nih_root):
    (nih_root / 'Data_Entry_2017.csv').rename(nih_root /
                                              'Data_Entry_2017_v2020.csv')
    # The v2020 file has no trailing comma.
    (nih_root / 'Data_Entry_2017_v2020.csv').write_text(_csv_text())
    ds = ChestXray14(data_root=str(nih_root), split='test')
    assert [ds.get_data_info(i)['gt_label'] for i in range(3)] == [
        [0, 2], [2], []
    ]
    assert 'Data_Entry_2017_v2020.csv' in repr(ds)
    # The patient comes from the CSV when it is there.
    rows = [(n, f, 'P' + p if n.startswith('00000011') else p)
            for n, f, p in ROWS]
    (nih_root / 'my.csv').write_text(_csv_text(rows))
    unlabelled = ChestXray14(data_root=str(nih_root), split='test',
                             with_label=False, ann_file='my.csv')
    assert unlabelled.get_data_info(0)['group_id'] == 'P11'
    assert 'gt_label' not in unlabelled.get_data_info(0)
    with pytest.raises(FileNotFoundError, match='other.csv does not exist'):
        ChestXray14(data_root=str(nih_root), with_label=False,
                    ann_file='other.csv')


@pytest.mark.parametrize('text,match', [
    (_csv_text(header=HEADER.replace('Patient ID', 'Patient')),
     r"no column\(s\) \['Patient ID'\]"),
    (_csv_text([('00000001_000.png', 'Cardiomegaly|Pneumonitis', '1')]),
     r"line 2 \(00000001_000.png\): unknown finding 'Pneumonitis' in "
     r"'Finding Labels' 'Cardiomegaly\|Pneumonitis'"),
    (_csv_text(ROWS[:2] + [('00000001_002.png', 'No Finding|Mass', '1')]),
     r"line 4 \(00000001_002.png\): 'Finding Labels' 'No Finding\|Mass' has "
     r"'No Finding' with other findings"),
    (_csv_text(ROWS[:1] + [('00000001_001.png', '', '1')]),
     r"line 3 \(00000001_001.png\): empty 'Finding Labels'"),
    (_csv_text(ROWS[:1] + [('00000001_001.png', 'Mass||Nodule', '1')]),
     r"line 3 \(00000001_001.png\): unknown finding ''"),
    (_csv_text(ROWS[:2] + ROWS[:1]),
     'line 4: 00000001_000.png already listed on line 2'),
    (_csv_text([('00000001_000.png', 'Mass', '')]),
     r"line 2 \(00000001_000.png\): empty 'Patient ID'"),
    (HEADER + '\n00000001_000.png,Mass\n', 'line 2 has 2 fields, too few'),
    (HEADER + '\n', 'no rows'),
])
def test_bad_csv(nih_root, text, match):
    csv = nih_root / 'Data_Entry_2017.csv'
    csv.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        ChestXray14(data_root=str(nih_root), split='all')
    assert 'Data_Entry_2017.csv' in str(err.value)


def test_argument_and_layout_errors(tmp_path, nih_root):
    with pytest.raises(ValueError, match='split must be one of'):
        ChestXray14(data_root=str(nih_root), split='training')
    for fraction in (0, 1, 1.5):
        with pytest.raises(ValueError, match=r'val_fraction must be in'):
            ChestXray14(data_root=str(nih_root), val_fraction=fraction)
    with pytest.raises(ValueError, match='data_root is required'):
        ChestXray14(data_root='')
    with pytest.raises(ValueError, match='3 classes given.*expected 14'):
        ChestXray14(data_root=str(nih_root), classes=['a', 'b', 'c'])
    renamed = [c.lower() for c in CHESTXRAY14_CLASSES]
    assert ChestXray14(data_root=str(nih_root),
                       classes=renamed).CLASSES == tuple(renamed)
    # The 14 findings are the class-level METAINFO; metainfo= overrides it.
    assert ChestXray14.METAINFO['classes'] == CHESTXRAY14_CLASSES
    assert ChestXray14(data_root=str(nih_root)).CLASSES == CHESTXRAY14_CLASSES
    assert list(ChestXray14(data_root=str(nih_root),
                            metainfo=dict(classes=renamed)).CLASSES) == \
        renamed
    assert ChestXray14.METAINFO['classes'] == CHESTXRAY14_CLASSES

    empty = tmp_path / 'empty'
    empty.mkdir()
    shutil.copy(nih_root / 'Data_Entry_2017.csv', empty)
    with pytest.raises(FileNotFoundError,
                       match=r'no image folder in .*empty.*images/ or the '
                       r'unpacked archives images_001/images/'):
        ChestXray14(data_root=str(empty), split='all')
    (nih_root / 'train_val_list.txt').write_text('00000001_000.png\n')
    with pytest.raises(ValueError, match='has 1 patient'):
        ChestXray14(data_root=str(nih_root), split='train')


def test_config_pipeline_gives_multilabel_targets(nih_root):
    import torch
    from mmpretrain.evaluation import AveragePrecision, MultiLabelMetric

    from mmmedssl.utils import register_all_modules
    register_all_modules()
    ds = DATASETS.build(
        dict(
            type='ChestXray14',
            data_root=str(nih_root),
            split='all',
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='PackMedInputs'),
            ]))
    assert isinstance(ds, ChestXray14)
    samples = []
    for i in range(len(ds)):
        out = ds[i]
        assert tuple(out['inputs'].shape) == (3, 5, 4)
        sample = out['data_samples']
        assert sample.gt_label.tolist() == LABELS[ds.get_data_info(i)
                                                  ['image_id']]
        assert sample.group_id == ds.get_data_info(i)['group_id']
        samples.append(sample)

    def scores(noise):
        # A perfect ranking, or every score flipped.
        out = []
        for sample in samples:
            onehot = torch.zeros(14)
            onehot[sample.gt_label] = 1
            pred = sample.clone().set_pred_score(
                0.9 * onehot + 0.05 if not noise else 0.9 * (1 - onehot))
            out.append(pred.to_dict())
        return out

    ap = AveragePrecision()
    ap.process(None, scores(False))
    assert ap.evaluate(len(samples)) == {'multi-label/mAP': 100.0}
    metric = MultiLabelMetric(thr=0.5)
    metric.process(None, scores(False))
    result = metric.evaluate(len(samples))
    assert result['multi-label/precision'] == pytest.approx(100)
    assert result['multi-label/recall'] == pytest.approx(100)
    metric = MultiLabelMetric(thr=0.5)
    metric.process(None, scores(True))
    assert metric.evaluate(len(samples))['multi-label/recall'] == 0


def test_mmpretrain_pack_inputs_packs_gt_score(nih_root):
    from mmpretrain.evaluation import AveragePrecision

    from mmmedssl.utils import register_all_modules
    register_all_modules()
    ds = DATASETS.build(
        dict(
            type='ChestXray14',
            data_root=str(nih_root),
            split='test',
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='mmpretrain.PackInputs'),
            ]))
    samples = [ds[i]['data_samples'] for i in range(len(ds))]
    assert samples[0].gt_score.tolist() == [1.] + [0.] + [1.] + [0.] * 11
    assert samples[2].gt_score.sum() == 0
    ap = AveragePrecision(average=None)
    ap.process(None, [
        s.clone().set_pred_score(s.gt_score).to_dict() for s in samples
    ])
    # Atelectasis and Effusion are the classes with positives here (the
    # others score 0, mmpretrain's value without positives).
    per_class = ap.evaluate(3)['multi-label/AP_classwise']
    assert per_class[0] == per_class[2] == 100
    assert sum(per_class) == 200


def write_fake_chestxray14(root, n_patients=30, test_patients=6, seed=0,
                           size=(5, 4)):
    """A fake ChestX-ray14 download under ``root``: ``n_patients`` patients
    with 1-3 images and 0-2 findings each, the first ``n_patients -
    test_patients`` of them in train_val_list.txt, the others in
    test_list.txt. Every finding shows up among the train_val patients and
    among the test patients. Returns the ``(name, findings, patient)``
    rows."""
    rng = np.random.RandomState(seed)
    rows = []
    for p in range(1, n_patients + 1):
        for k in range(rng.randint(1, 4)):
            count = rng.randint(0, 3)
            names = sorted(rng.choice(CHESTXRAY14_CLASSES, count,
                                      replace=False)) if count else []
            rows.append([f'{p:08d}_{k:03d}.png', names, str(p)])
    # Every finding in both lists: patient f + 1 (train_val) and the last
    # test patients get it too.
    for f, name in enumerate(CHESTXRAY14_CLASSES):
        for patient in (f % (n_patients - test_patients) + 1,
                        n_patients - f % test_patients):
            row = next(r for r in rows if r[2] == str(patient))
            if name not in row[1]:
                row[1] = sorted(row[1] + [name])
    rows = [(name, '|'.join(findings) or 'No Finding', patient)
            for name, findings, patient in rows]
    (root / 'images').mkdir(parents=True)
    for k, (name, _, _) in enumerate(rows):
        assert cv2.imwrite(str(root / 'images' / name),
                           np.full(size, 7 * k % 256, dtype=np.uint8))
    (root / 'Data_Entry_2017.csv').write_text(_csv_text(rows))
    first_test = n_patients - test_patients
    (root / 'train_val_list.txt').write_text('\n'.join(
        r[0] for r in rows if int(r[2]) <= first_test) + '\n')
    (root / 'test_list.txt').write_text('\n'.join(
        r[0] for r in rows if int(r[2]) > first_test) + '\n')
    return rows


def test_label_fraction_draws_whole_patients(tmp_path):
    root = tmp_path / 'fake14'
    rows = write_fake_chestxray14(root)
    images_of = {}
    for name, _, patient in rows:
        images_of.setdefault(patient, set()).add(osp.splitext(name)[0])

    def build(**kwargs):
        return ChestXray14(data_root=str(root), split='train', **kwargs)

    full = build()
    part = build(label_fraction=0.25, fraction_seed=0)
    ids = _ids(part)
    # Whole patients, in the split's order, and about a quarter of them
    # (plus the patients a rare finding needs).
    assert all(images_of[g] <= set(ids) for g in _groups(part))
    assert ids == [i for i in _ids(full) if i in set(ids)]
    n_full = len(_groups(full))
    assert round(0.25 * n_full) <= len(_groups(part)) < n_full
    # Every finding of the split is still present.
    findings = {c for i in range(len(part))
                for c in part.get_data_info(i)['gt_label']}
    assert findings == {c for i in range(len(full))
                        for c in full.get_data_info(i)['gt_label']}
    # The targets travel with the images.
    for i in range(len(part)):
        info = part.get_data_info(i)
        assert info['gt_score'].nonzero()[0].tolist() == info['gt_label']
    # Reproducible with the seed, different with another one.
    assert _ids(build(label_fraction=0.25, fraction_seed=0)) == ids
    others = [_groups(build(label_fraction=0.25, fraction_seed=s))
              for s in (1, 2)]
    assert any(g != _groups(part) for g in others)
    assert 'Label fraction: \t0.25' in repr(part)
    assert _ids(build(label_fraction=1.0)) == _ids(full)
    with pytest.raises(ValueError, match=r'label_fraction must be in'):
        build(label_fraction=0)
    with pytest.raises(ValueError, match='needs with_label=True'):
        build(label_fraction=0.5, with_label=False)


def test_patient_in_both_official_lists_is_an_error(nih_root):
    # Patient 10 is in test_list.txt; put one of its images in train_val.
    with open(nih_root / 'train_val_list.txt', 'a') as f:
        f.write('00000010_000.png\n')
    with open(nih_root / 'test_list.txt', 'w') as f:
        f.write('00000010_001.png\n00000011_000.png\n')
    for split in ('train', 'test', 'train_val'):
        with pytest.raises(ValueError, match=r"train_val_list.txt and .*"
                           r"test_list.txt: 1 group\(s\) of 'Patient ID' "
                           r"are in more than one split: '10' in "
                           r"\['test', 'train_val'\]"):
            ChestXray14(data_root=str(nih_root), split=split)
    # 'all' reads no list.
    assert len(ChestXray14(data_root=str(nih_root), split='all')) == 15
