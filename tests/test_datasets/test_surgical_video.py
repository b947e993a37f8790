# Copyright (c) mmmedssl contributors. All rights reserved.
"""SurgicalVideoFrames and the Cholec80/M2CAI16 annotation readers."""
import warnings

import numpy as np
import pytest

from mmmedssl.datasets import SurgicalVideoFrames
from mmmedssl.datasets.surgical_video import (CHOLEC80_PHASES,
                                              CHOLEC80_TOOLS, M2CAI16_PHASES,
                                              read_phase_annotation,
                                              read_tool_annotation,
                                              surgical_video_splits)
from mmmedssl.registry import DATASETS

TOOL_HEADER = 'Frame\t' + '\t'.join(CHOLEC80_TOOLS) + '\n'


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def _frames(root, video, indices, ext='jpg', frame_dir='frames'):
    """Empty frame files: the dataset only lists them."""
    folder = root / frame_dir / video
    folder.mkdir(parents=True, exist_ok=True)
    for index in indices:
        (folder / f'{index}.{ext}').write_bytes(b'')


def _phases(labels, header=True):
    """A Cholec80-style file for a list of phase indices (None: no line)."""
    lines = ['Frame\tPhase'] if header else []
    lines += [f'{i}\t{CHOLEC80_PHASES[p]}' for i, p in enumerate(labels)
              if p is not None]
    return '\n'.join(lines) + '\n'


def _samples(ds, *keys):
    return [tuple(ds.get_data_info(i).get(k) for k in keys)
            for i in range(len(ds))]


def _videos(ds):
    return list(dict.fromkeys(v for v, in _samples(ds, 'video_id')))


# ----------------------------------------------------------------------
# Annotation readers
# ----------------------------------------------------------------------
def test_read_phase_annotation_formats(tmp_path):
    # Header, tabs, names (Cholec80).
    path = _write(tmp_path / 'a.txt',
                  'Frame\tPhase\n0\tPreparation\n1\tPreparation\n'
                  '2\tCalotTriangleDissection\n3\tGallbladderRetraction\n')
    labels = read_phase_annotation(path, CHOLEC80_PHASES)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [0, 0, 1, 6])

    # No header, spaces, integer phases, out of order, a gap, a BOM and
    # Windows line ends.
    path = _write(tmp_path / 'b.txt',
                  '\ufeff4 2\r\n0   0\r\n\r\n1 ClippingCutting\r\n5 6\r\n')
    np.testing.assert_array_equal(
        read_phase_annotation(path, CHOLEC80_PHASES), [0, 2, -1, -1, 2, 6])

    # M2CAI16 has TrocarPlacement first: the same name, another index.
    path = _write(tmp_path / 'c.txt', 'Frame Phase\n0 TrocarPlacement\n'
                  '1 Preparation\n2 7\n')
    np.testing.assert_array_equal(
        read_phase_annotation(path, M2CAI16_PHASES), [0, 1, 7])


@pytest.mark.parametrize('text, message', [
    ('Frame\tPhase\n0\tPreparation\n1\tPreperation\n',
     "line 3: unknown phase 'Preperation' for frame 1"),
    ('0\tPreparation\n1\t7\n', "line 2: unknown phase '7'"),
    ('0\tPreparation\n1\tPreparation\textra\n', 'line 2: malformed line'),
    ('0\tPreparation\n-1\tPreparation\n', 'line 2: malformed line'),
    ('0\tPreparation\nx1\tPreparation\n', 'line 2: malformed line'),
    ('0\tPreparation\n1\n', 'line 2: malformed line'),
    ('Frame\tPhase\n0\tPreparation\n1\tPreparation\n0\tClippingCutting\n',
     'line 4: frame 0 is already annotated on line 2'),
    ('Frame\tPhase\n\n', 'no annotated frame'),
    ('', 'no annotated frame'),
])
def test_read_phase_annotation_errors(tmp_path, text, message):
    path = _write(tmp_path / 'video07-phase.txt', text)
    with pytest.raises(ValueError, match=message) as info:
        read_phase_annotation(path, CHOLEC80_PHASES)
    assert path in str(info.value)


def test_read_phase_annotation_missing(tmp_path):
    path = str(tmp_path / 'nope-phase.txt')
    with pytest.raises(FileNotFoundError, match='nope-phase.txt'):
        read_phase_annotation(path, CHOLEC80_PHASES)


def test_read_tool_annotation(tmp_path):
    path = _write(
        tmp_path / 'video01-tool.txt', TOOL_HEADER +
        '25\t1\t0\t1\t0\t0\t0\t0\n0\t0 0 0 0 0 0 0\n\n'
        '50\t1\t1\t0\t0\t0\t1\t1\n')
    frames, presence = read_tool_annotation(path)
    assert frames.dtype == np.int64 and presence.dtype == np.uint8
    np.testing.assert_array_equal(frames, [0, 25, 50])
    np.testing.assert_array_equal(
        presence,
        [[0, 0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 1, 1]])
    # Other tool columns.
    path = _write(tmp_path / 'two.txt', 'Frame A B\n0 1 0\n')
    frames, presence = read_tool_annotation(path, ('A', 'B'))
    assert presence.shape == (1, 2) and presence.tolist() == [[1, 0]]


@pytest.mark.parametrize('text, message', [
    ('Frame\tGrasper\tHook\n0\t1\t0\n', 'line 1: header .* does not match'),
    ('0\t1\t0\t1\t0\t0\t0\t0\n', 'line 1: header .* does not match'),
    (TOOL_HEADER + '0\t1\t0\t1\t0\t0\t0\n', 'line 2: malformed row'),
    (TOOL_HEADER + '0\t1\t0\t2\t0\t0\t0\t0\n', 'line 2: malformed row'),
    (TOOL_HEADER + 'a\t1\t0\t1\t0\t0\t0\t0\n', 'line 2: malformed row'),
    (TOOL_HEADER + '0\t1\t0\t1\t0\t0\t0\t0\n0\t0\t0\t1\t0\t0\t0\t0\n',
     'line 3: frame 0 is already annotated on line 2'),
    (TOOL_HEADER, 'no row after the header'),
    ('\n', 'empty file'),
])
def test_read_tool_annotation_errors(tmp_path, text, message):
    path = _write(tmp_path / 'video03-tool.txt', text)
    with pytest.raises(ValueError, match=message) as info:
        read_tool_annotation(path)
    assert path in str(info.value)
    with pytest.raises(FileNotFoundError, match='video04-tool.txt'):
        read_tool_annotation(str(tmp_path / 'video04-tool.txt'))


# ----------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------
def test_default_split_lists():
    cholec = surgical_video_splits('cholec80')
    assert cholec['train_val'] == [f'video{i:02d}' for i in range(1, 41)]
    assert cholec['val'] == [f'video{i:02d}' for i in range(33, 41)]
    assert cholec['train'] == [f'video{i:02d}' for i in range(1, 33)]
    assert cholec['test'] == [f'video{i:02d}' for i in range(41, 81)]
    assert cholec['all'] == [f'video{i:02d}' for i in range(1, 81)]
    m2cai = surgical_video_splits('m2cai16')
    assert m2cai['train'] == [f'workflow_video_{i:02d}' for i in range(1, 24)]
    assert m2cai['val'] == [f'workflow_video_{i:02d}' for i in range(24, 28)]
    assert m2cai['test'] == [
        f'test_workflow_video_{i:02d}' for i in range(1, 15)
    ]
    for splits in (cholec, m2cai):
        assert not set(splits['test']) & set(splits['train_val'])
    # Ints are formatted per list, names kept.
    custom = surgical_video_splits('m2cai16', [3, 'workflow_video_01'], [3],
                                   val_videos=[1])
    assert custom == dict(
        train=['workflow_video_03'], val=['workflow_video_01'],
        train_val=['workflow_video_03', 'workflow_video_01'],
        test=['test_workflow_video_03'],
        all=['workflow_video_03', 'workflow_video_01',
             'test_workflow_video_03'])
    assert surgical_video_splits('cholec80', [1, 2],
                                 num_val_videos=0)['val'] == []


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(train_val_videos=[1, 2, 41]), ValueError,
     r"\['video41'\] are in both train_val_videos and test_videos"),
    (dict(train_val_videos=[1, 2], val_videos=[3]), ValueError,
     r"val_videos \['video03'\] are not in train_val_videos"),
    (dict(train_val_videos=[1, 2, 1]), ValueError,
     r"train_val_videos lists \['video01'\] more than once"),
    (dict(train_val_videos=[1, 2], num_val_videos=2), ValueError,
     r'num_val_videos must be an integer in \[0, 2\)'),
    (dict(train_val_videos=[1, 2], num_val_videos=-1), ValueError,
     'num_val_videos'),
    (dict(test_videos=5), TypeError, 'test_videos must be a list'),
    (dict(test_videos=[1.5]), TypeError, '1.5 is neither'),
    (dict(protocol='cholec81'), ValueError, 'protocol must be one of'),
])
def test_split_list_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        surgical_video_splits(**kwargs)


# ----------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------
@pytest.fixture
def cholec_root(tmp_path):
    """Six Cholec80 videos with 1 fps frames and their annotations."""
    root = tmp_path / 'cholec80'
    for video in ('video01', 'video02', 'video33', 'video40', 'video41',
                  'video80'):
        _frames(root, video, [0, 25, 50])
        labels = [0] * 10 + [1] * 30 + [3] * 20  # frames 0..59
        _write(root / 'phase_annotations' / f'{video}-phase.txt',
               _phases(labels))
    return root


def test_cholec80_default_splits(cholec_root):
    videos = {}
    for split in ('train', 'val', 'train_val', 'test', 'all'):
        with pytest.warns(UserWarning, match='; skipped'):
            ds = SurgicalVideoFrames(str(cholec_root), split=split,
                                     skip_missing_videos=True)
        videos[split] = _videos(ds)
        assert ds.missing_videos == [
            v for v in ds.videos if v not in videos[split]
        ]
    assert videos['train'] == ['video01', 'video02']
    assert videos['val'] == ['video33', 'video40']
    assert videos['train_val'] == ['video01', 'video02', 'video33',
                                   'video40']
    assert videos['test'] == ['video41', 'video80']
    assert videos['all'] == videos['train_val'] + videos['test']

    ds = SurgicalVideoFrames(str(cholec_root), split='test',
                             skip_missing_videos=True, lazy_init=True)
    assert ds.CLASSES == CHOLEC80_PHASES
    assert ds.videos == [f'video{i}' for i in range(41, 81)]
    assert not set(ds.videos) & set(ds.splits['train_val'])


def test_labels_follow_frame_index(cholec_root):
    # Frames at 5 fps; the annotation has a gap at 25 and ends at 59.
    _frames(cholec_root, 'video02', range(0, 80, 5))
    labels = [0] * 10 + [1] * 15 + [None] + [2] * 14 + [3] * 20
    _write(cholec_root / 'phase_annotations' / 'video02-phase.txt',
           _phases(labels, header=False))
    with pytest.warns(UserWarning) as record:
        ds = SurgicalVideoFrames(str(cholec_root), split='train_val',
                                 train_val_videos=[2, 1], val_videos=[],
                                 fps=5)
    messages = [str(w.message) for w in record]
    assert len(messages) == 1
    assert 'video video02: 5 of 16 frame(s) have no phase' in messages[0]
    assert 'video02-phase.txt' in messages[0]
    # Videos in list order, frames by integer index (10 after 5).
    assert _samples(ds, 'video_id', 'frame_index', 'gt_label') == [
        ('video02', 0, 0), ('video02', 5, 0), ('video02', 10, 1),
        ('video02', 15, 1), ('video02', 20, 1), ('video02', 30, 2),
        ('video02', 35, 2), ('video02', 40, 3), ('video02', 45, 3),
        ('video02', 50, 3), ('video02', 55, 3),
        ('video01', 0, 0), ('video01', 25, 1), ('video01', 50, 3),
    ]
    info = ds.get_data_info(1)
    assert info['img_path'] == str(cholec_root / 'frames' / 'video02' /
                                   '5.jpg')
    assert info['group_id'] == 'video02'
    assert 'tool_label' not in info
    assert ds.get_cat_ids(2) == [1]


def test_fps_subsampling(cholec_root):
    _frames(cholec_root, 'video01', range(0, 80, 5))  # 5 fps on disk
    _frames(cholec_root, 'video02', [0, 25, 50])  # 1 fps on disk
    kwargs = dict(split='train', train_val_videos=[1, 2], val_videos=[],
                  with_label=False)

    def indices(**extra):
        ds = SurgicalVideoFrames(str(cholec_root), **kwargs, **extra)
        return _samples(ds, 'video_id', 'frame_index')

    assert indices() == [('video01', 0), ('video01', 25), ('video01', 50),
                         ('video01', 75), ('video02', 0), ('video02', 25),
                         ('video02', 50)]
    five = indices(fps=5)
    assert [i for v, i in five if v == 'video01'] == list(range(0, 80, 5))
    # Frames extracted more sparsely are all kept.
    assert [i for v, i in five if v == 'video02'] == [0, 25, 50]
    assert indices(fps=None) == five
    assert [i for _, i in indices(fps=0.5)] == [0, 50, 0, 50]
    assert [i for _, i in indices(fps=3, native_fps=30)] == [
        0, 10, 20, 30, 40, 50, 60, 70, 0, 50]
    for fps in (2, 0, 30, -1):
        with pytest.raises(ValueError, match='must be an integer >= 1'):
            SurgicalVideoFrames(str(cholec_root), fps=fps, **kwargs)


def test_tool_labels(cholec_root):
    _frames(cholec_root, 'video01', [0, 5, 25, 50])
    _write(cholec_root / 'tool_annotations' / 'video01-tool.txt',
           TOOL_HEADER + '0\t1\t0\t1\t0\t0\t0\t0\n25\t0\t0\t0\t0\t0\t0\t0\n'
           '50\t1\t0\t0\t1\t1\t0\t1\n')
    ds = SurgicalVideoFrames(
        str(cholec_root), split='train', train_val_videos=[1],
        num_val_videos=0, fps=5, tool_dir='tool_annotations')
    assert _samples(ds, 'frame_index', 'gt_label', 'tool_label') == [
        (0, 0, [0, 2]), (5, 0, None), (25, 1, []), (50, 3, [0, 3, 4, 6])
    ]
    assert 'tool_label' not in ds.get_data_info(1)
    assert 'Tool annotations: \t' in repr(ds)
    # Unlabelled: neither phases nor tools are read.
    ds = SurgicalVideoFrames(
        str(cholec_root), split='train', train_val_videos=[1],
        num_val_videos=0, fps=5, tool_dir='no_such_dir', with_label=False)
    assert all('tool_label' not in ds.get_data_info(i) for i in range(4))


def test_without_labels_reads_no_annotation(tmp_path):
    root = tmp_path / 'frames_only'
    _frames(root, 'video01', [0, 25], ext='png', frame_dir='extracted')
    (root / 'extracted' / 'video01' / '.done').write_text('{}')
    (root / 'extracted' / 'video01' / 'notes.txt').write_text('ignored')
    ds = DATASETS.build(
        dict(type='SurgicalVideoFrames', data_root=str(root),
             frame_dir='extracted', split='train', with_label=False,
             train_val_videos=['video01'], num_val_videos=0))
    assert len(ds) == 2
    info = ds.get_data_info(1)
    assert info == dict(
        img_path=str(root / 'extracted' / 'video01' / '25.png'),
        video_id='video01', frame_index=25, group_id='video01',
        sample_idx=1)
    # The same root with labels needs the annotations.
    with pytest.raises(FileNotFoundError, match='video01-phase.txt') as info:
        SurgicalVideoFrames(str(root), frame_dir='extracted', split='train',
                            train_val_videos=['video01'], num_val_videos=0)
    assert 'with_label=False' in str(info.value)


def test_missing_videos(cholec_root):
    kwargs = dict(split='train_val', train_val_videos=[1, 5, 2, 6],
                  num_val_videos=1)
    with pytest.raises(FileNotFoundError) as info:
        SurgicalVideoFrames(str(cholec_root), **kwargs)
    message = str(info.value)
    assert "2 of the 4 video(s) have no frame folder" in message
    assert "['video05', 'video06']" in message
    assert 'skip_missing_videos=True' in message
    # An empty folder counts as missing.
    (cholec_root / 'frames' / 'video05').mkdir()
    with pytest.warns(UserWarning, match=r"\['video05', 'video06'\]"):
        ds = SurgicalVideoFrames(str(cholec_root), skip_missing_videos=True,
                                 **kwargs)
    assert _videos(ds) == ['video01', 'video02']
    assert ds.missing_videos == ['video05', 'video06']
    assert "Skipped videos (missing): \t['video05', 'video06']" in repr(ds)


def test_m2cai16(tmp_path):
    root = tmp_path / 'm2cai16'
    trains = ('workflow_video_01', 'workflow_video_24', 'workflow_video_27')
    labels = '\n'.join(f'{i}\t{M2CAI16_PHASES[i // 25]}' for i in range(60))
    for video in trains:
        _frames(root, video, [0, 25, 50])
        _write(root / 'train_dataset' / f'{video}.txt', labels)  # no header
    _frames(root, 'test_workflow_video_01', [0, 25])
    _write(root / 'test_dataset' / 'test_workflow_video_01.txt',
           'Frame\tPhase\n0\tTrocarPlacement\n25\tGallbladderRetraction\n')

    def build(split, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the missing videos
            return SurgicalVideoFrames(str(root), protocol='m2cai16',
                                       split=split, skip_missing_videos=True,
                                       **kwargs)

    assert _videos(build('train')) == ['workflow_video_01']
    assert _videos(build('val')) == ['workflow_video_24', 'workflow_video_27']
    test = build('test')
    assert test.CLASSES == M2CAI16_PHASES and len(test.CLASSES) == 8
    assert _samples(test, 'video_id', 'frame_index', 'gt_label') == [
        ('test_workflow_video_01', 0, 0), ('test_workflow_video_01', 25, 7)
    ]
    assert _samples(build('train'), 'gt_label') == [(0, ), (1, ), (2, )]

    # All annotations in one folder.
    (root / 'annotations').mkdir()
    for video in trains + ('test_workflow_video_01', ):
        src = root / ('test_dataset' if video.startswith('test') else
                      'train_dataset') / f'{video}.txt'
        src.rename(root / 'annotations' / f'{video}.txt')
    ds = build('all', phase_dir='annotations',
               train_val_videos=[27, 1], test_videos=[1], val_videos=[27])
    assert _videos(ds) == ['workflow_video_27', 'workflow_video_01',
                           'test_workflow_video_01']
    assert [label for label, in _samples(ds, 'gt_label')] == [
        0, 1, 2, 0, 1, 2, 0, 7]
    text = repr(ds)
    assert 'Protocol: \tm2cai16' in text and 'Split: \tall' in text
    assert 'Videos: \t3 (workflow_video_27, workflow_video_01, ' \
           'test_workflow_video_01)' in text
    assert 'Frames per second: \t1 (frame indices that are multiples of 25'\
           in text


def test_dataset_errors(cholec_root):
    root = str(cholec_root)
    one = dict(train_val_videos=[1], num_val_videos=0)
    with pytest.raises(ValueError, match="split must be one of"):
        SurgicalVideoFrames(root, split='training')
    with pytest.raises(ValueError, match='protocol must be one of'):
        SurgicalVideoFrames(root, protocol='cholec')
    with pytest.raises(ValueError, match='data_root is required'):
        SurgicalVideoFrames('')
    with pytest.raises(ValueError, match="split 'val' has no video"):
        SurgicalVideoFrames(root, split='val', **one)
    with pytest.raises(ValueError, match='phase_file must contain'):
        SurgicalVideoFrames(root, phase_file='phases.txt', **one)
    with pytest.raises(ValueError, match='7 in the order of'):
        SurgicalVideoFrames(root, classes=('a', 'b'), **one)
    # Renamed classes keep reading the official names in the files.
    ds = SurgicalVideoFrames(root, classes=[f'P{i}' for i in range(7)], **one)
    assert ds.CLASSES[1] == 'P1'
    assert [label for label, in _samples(ds, 'gt_label')] == [0, 1, 3]
    # Frames must be named by their index.
    _frames(cholec_root, 'video01', ['frame_0075'])
    with pytest.raises(ValueError, match='frame_0075.jpg: frame files must'):
        SurgicalVideoFrames(root, **one)
    (cholec_root / 'frames' / 'video01' / 'frame_0075.jpg').unlink()
    _frames(cholec_root, 'video01', [50], ext='png')
    with pytest.raises(ValueError, match='two files for frame 50'):
        SurgicalVideoFrames(root, **one)
    (cholec_root / 'frames' / 'video01' / '50.png').unlink()
    # An annotation error names the file.
    _write(cholec_root / 'phase_annotations' / 'video01-phase.txt',
           'Frame\tPhase\n0\tPrep\n')
    with pytest.raises(ValueError, match="video01-phase.txt: line 2: "
                       "unknown phase 'Prep'"):
        SurgicalVideoFrames(root, **one)


def test_label_fraction_keeps_whole_videos(tmp_path):
    """label_fraction keeps the frames of the videos draw_groups draws from
    the split's videos, whole, in list order."""
    from mmmedssl.datasets import draw_groups
    root = tmp_path / 'cholec80'
    train = [f'video{i:02d}' for i in range(1, 11)]
    for video in train:
        _frames(root, video, [0, 25, 50])
        _write(root / 'phase_annotations' / f'{video}-phase.txt',
               _phases([0] * 30 + [1] * 30))

    def build(**kwargs):
        return SurgicalVideoFrames(str(root), split='train',
                                   train_val_videos=list(range(1, 11)),
                                   val_videos=[], **kwargs)

    full = build()
    part = build(label_fraction=0.3, fraction_seed=1)
    expected = draw_groups(train, 0.3, 1)
    assert len(expected) == 3
    assert part.videos == _videos(part) == expected
    assert _samples(part, 'video_id', 'frame_index', 'gt_label') == [
        s for s in _samples(full, 'video_id', 'frame_index', 'gt_label')
        if s[0] in expected
    ]
    assert build(label_fraction=0.3, fraction_seed=1).videos == expected
    assert any(
        build(label_fraction=0.3, fraction_seed=s).videos != expected
        for s in (2, 3, 4))
    # At least one video; 1 keeps everything.
    assert len(build(label_fraction=0.01).videos) == 1
    assert _videos(build(label_fraction=1.0)) == _videos(full)
    with pytest.raises(ValueError, match='label_fraction must be in'):
        build(label_fraction=1.5)
    with pytest.raises(ValueError, match='needs with_label=True'):
        build(label_fraction=0.5, with_label=False)


def test_default_classes_come_from_metainfo(cholec_root):
    assert SurgicalVideoFrames.METAINFO['classes'] == CHOLEC80_PHASES
    one = dict(train_val_videos=[1], num_val_videos=0)
    renamed = tuple(f'P{i}' for i in range(7))
    ds = SurgicalVideoFrames(str(cholec_root), metainfo=dict(classes=renamed),
                             **one)
    assert ds.CLASSES == renamed
    # The protocol's default, not the class attribute, for M2CAI16.
    ds = SurgicalVideoFrames(str(cholec_root), protocol='m2cai16',
                             lazy_init=True)
    assert ds.CLASSES == M2CAI16_PHASES
    assert SurgicalVideoFrames.METAINFO['classes'] == CHOLEC80_PHASES
