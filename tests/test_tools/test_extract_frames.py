# Copyright (c) mmmedssl contributors. All rights reserved.
"""Frame extraction (tools/dataset_converters/extract_frames.py) and the
synthetic surgical videos (make_demo_surgical_videos.py)."""
import math
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from mmmedssl.datasets import SurgicalVideoFrames
from mmmedssl.datasets.surgical_video import (CHOLEC80_PHASES,
                                              read_phase_annotation,
                                              read_tool_annotation)

from ..conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
import extract_frames as ef  # noqa: E402
from make_demo_surgical_videos import make_demo_surgical_videos  # noqa

# A 64 x 48 video with a black border of 8 px (a whole JPEG block, so no
# ringing) around a uniform grey field of view whose level encodes the frame
# index: 20 + 4 * i.
NUM_FRAMES, WIDTH, HEIGHT, BORDER = 50, 64, 48, 8


def level_of(index):
    return 20 + 4 * index


def index_of(image):
    """The frame index a grey level encodes (MJPG and JPEG shift levels by
    up to ~1.7, less than half the step of 4)."""
    value = float(image.mean())
    index = int(round((value - 20) / 4))
    assert abs(value - level_of(index)) < 1.9, value  # half a step: 2
    return index


def write_video(path, num_frames=NUM_FRAMES, fps=25):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps,
                             (WIDTH, HEIGHT))
    assert writer.isOpened()
    for i in range(num_frames):
        frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        frame[BORDER:-BORDER, BORDER:-BORDER] = level_of(i)
        writer.write(frame)
    writer.release()
    return str(path)


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp('videos') / 'video07.avi')


def listing(folder):
    return {n for n in os.listdir(folder) if not n.startswith('.')}


def read(path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


@pytest.mark.parametrize('fps, native_fps, expected', [
    (1, None, [0, 25]),
    (5, None, list(range(0, 50, 5))),
    (2, None, [0, 13, 25, 38]),  # 12.5 frames apart, rounded half up
    (0, None, list(range(50))),
    (25, None, list(range(50))),
    (1, 50, [0]),
    (10, 50, list(range(0, 50, 5))),
])
def test_kept_frames_and_content(tmp_path, video, fps, native_fps,
                                 expected):
    out = tmp_path / 'video07'
    written = ef.extract_frames(video, str(out), fps=fps, size=(16, 12),
                                ext='png', native_fps=native_fps)
    assert written == len(expected)
    assert listing(out) == {f'{i}.png' for i in expected}
    assert ef.kept_indices(NUM_FRAMES, native_fps or 25, fps) == expected
    for i in expected:
        image = read(out / f'{i}.png')
        assert image.shape == (12, 16, 3)
        assert index_of(image) == i
        # The black border is cropped away.
        assert image.min() >= level_of(i) - 6


def test_margin_modes(tmp_path, video):
    def frame(margin, size=None, name='m'):
        out = tmp_path / name
        ef.extract_frames(video, str(out), fps=1, size=size, margin=margin,
                          ext='png', overwrite=True)
        return read(out / '25.png')

    inner = (HEIGHT - 2 * BORDER, WIDTH - 2 * BORDER, 3)
    for margin in ('auto', BORDER, str(BORDER)):
        image = frame(margin)
        assert image.shape == inner
        assert image.min() >= level_of(25) - 6
    # A smaller fixed margin leaves part of the border, none all of it.
    image = frame(4)
    assert image.shape == (HEIGHT - 8, WIDTH - 8, 3)
    assert image[0].max() <= 5 and image[4:-4, 4:-4].min() >= 110
    for margin in (None, 'none', 0):
        image = frame(margin)
        assert image.shape == (HEIGHT, WIDTH, 3)
        assert image[:BORDER].max() <= 5
    # Resized with INTER_AREA after cropping: still uniform.
    image = frame('auto', size=(250, 250))
    assert image.shape == (250, 250, 3) and index_of(image) == 25
    assert image.min() >= level_of(25) - 6
    with pytest.raises(ValueError, match='leaves nothing'):
        frame(24)
    with pytest.raises(ValueError, match='margin must be'):
        frame('wide')
    with pytest.raises(ValueError, match='margin must be'):
        frame(-2)


def test_crop_margin_black_frame():
    black = np.zeros((10, 12, 3), np.uint8)
    assert ef.crop_margin(black, 'auto').shape == (10, 12, 3)
    dim = black.copy()
    dim[2:8, 3:9] = 30  # rows 2..7 have a mean of 15 > 10
    assert ef.crop_margin(dim, 'auto').shape == (6, 6, 3)
    assert ef.crop_margin(dim, 'auto', threshold=20).shape == (10, 12, 3)


def test_done_marker_and_overwrite(tmp_path, video):
    out = tmp_path / 'video07'
    assert ef.extract_frames(video, str(out), fps=1) == 2
    assert listing(out) == {'0.jpg', '25.jpg'}
    assert osp.isfile(out / '.done')
    assert index_of(read(out / '25.jpg')) == 25
    # Done: skipped, nothing touched.
    (out / '25.jpg').write_bytes(b'edited')
    assert ef.extract_frames(video, str(out), fps=5) == 0
    assert (out / '25.jpg').read_bytes() == b'edited'
    # Overwrite: redone at the new rate, the old frames removed.
    assert ef.extract_frames(video, str(out), fps=5, overwrite=True) == 10
    assert listing(out) == {f'{i}.jpg' for i in range(0, 50, 5)}
    assert index_of(read(out / '25.jpg')) == 25
    # Interrupted (no marker): redone from scratch, stale frames removed.
    os.remove(out / '.done')
    (out / '3.jpg').write_bytes(b'stale')
    (out / '7.jpg.tmp').write_bytes(b'partial')
    assert ef.extract_frames(video, str(out), fps=1) == 2
    assert listing(out) == {'0.jpg', '25.jpg'}


def test_unreadable_and_bad_arguments(tmp_path, video):
    bad = tmp_path / 'broken.mp4'
    bad.write_bytes(b'not a video at all')
    with pytest.raises(ef.VideoReadError, match='broken.mp4'):
        ef.extract_frames(str(bad), str(tmp_path / 'broken'))
    assert not osp.exists(tmp_path / 'broken' / '.done')
    with pytest.raises(FileNotFoundError, match='missing.avi'):
        ef.extract_frames(str(tmp_path / 'missing.avi'), str(tmp_path / 'x'))
    with pytest.raises(ValueError, match='exceeds'):
        ef.extract_frames(video, str(tmp_path / 'x'), fps=30)
    with pytest.raises(ValueError, match='ext must be one of'):
        ef.extract_frames(video, str(tmp_path / 'x'), ext='bmp')


def test_cli(tmp_path, video, capsys):
    videos = tmp_path / 'in'
    videos.mkdir()
    good = videos / 'video01.avi'
    good.write_bytes(open(video, 'rb').read())
    (videos / 'video02.mp4').write_bytes(b'garbage')
    (videos / 'notes.txt').write_text('not a video')
    out = tmp_path / 'frames'
    args = [str(videos), '--out', str(out), '--fps', '5', '--size', '20',
            '10', '--margin', '8', '--ext', 'png', '--workers', '2']
    with pytest.warns(UserWarning, match='video02.mp4.*skipped'):
        assert ef.main(args) == 1
    printed = capsys.readouterr()
    assert 'video01.avi: 10 of 50 frames (25 fps video, 5 fps)' in \
        printed.out
    assert '1 of 2 video(s) failed' in printed.err
    assert listing(out / 'video01') == {f'{i}.png' for i in range(0, 50, 5)}
    assert read(out / 'video01' / '45.png').shape == (10, 20, 3)
    assert not osp.exists(out / 'video02' / '.done')

    # Re-run with the good video only: skipped, status 0.
    assert ef.main([str(good), '--out', str(out)]) == 0
    assert 'skipped' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        ef.main([str(good), '--out', str(out), '--margin', 'wide'])
    # Two videos that would share a frame folder.
    other = tmp_path / 'video01.mp4'
    other.write_bytes(b'x')
    assert ef.main([str(good), str(other), '--out', str(out)]) == 2
    assert 'would both write' in capsys.readouterr().err


# ----------------------------------------------------------------------
# Synthetic surgical videos
# ----------------------------------------------------------------------
@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo_surgical')
    paths = make_demo_surgical_videos(str(out), num_videos=2, size=32,
                                      seconds=(8, 9), seed=3)
    return out, paths


def count_frames(path):
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened()
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert capture.get(cv2.CAP_PROP_FPS) == 25
    capture.release()
    return np.stack(frames)


def test_demo_videos(demo):
    out, paths = demo
    assert paths == [str(out / 'videos' / f'video0{i}.avi') for i in (1, 2)]
    assert osp.isfile(out / 'README.txt')
    for i, path in enumerate(paths, 1):
        frames = count_frames(path)
        assert frames.shape[1:] == (32, 32, 3)
        labels = read_phase_annotation(
            str(out / 'phase_annotations' / f'video0{i}-phase.txt'),
            CHOLEC80_PHASES)
        # One label per frame, 8-9 s at 25 fps.
        assert len(labels) == len(frames)
        assert 200 <= len(frames) <= 225
        # All 7 phases in order, each at least a second.
        assert labels.min() == 0 and np.all(np.diff(labels) >= 0)
        assert len(np.bincount(labels)) == 7
        assert min(np.bincount(labels)) >= 25
        rows, presence = read_tool_annotation(
            str(out / 'tool_annotations' / f'video0{i}-tool.txt'))
        assert rows.tolist() == list(range(0, len(frames), 25))
        assert len(rows) == math.ceil(len(frames) / 25)
        # The specimen bag only comes at the end.
        bag = presence[:, 6].astype(bool)
        assert not bag.any() or labels[rows[bag]].min() >= 4
        # Black corners (the endoscope's margin; JPEG rings a little).
        for corner in (np.s_[:, :2, :2], np.s_[:, -2:, -2:]):
            assert frames[corner].mean() < 10
        assert frames[:, 16, 16].mean() > 60


def test_demo_is_deterministic(demo, tmp_path):
    out, _ = demo
    again = tmp_path / 'again'
    make_demo_surgical_videos(str(again), num_videos=2, size=32,
                              seconds=(8, 9), seed=3)
    for name in ('phase_annotations/video02-phase.txt',
                 'tool_annotations/video02-tool.txt'):
        assert (again / name).read_text() == (out / name).read_text()
    np.testing.assert_array_equal(
        count_frames(again / 'videos' / 'video02.avi'),
        count_frames(out / 'videos' / 'video02.avi'))
    other = tmp_path / 'other'
    make_demo_surgical_videos(str(other), num_videos=1, size=32,
                              seconds=(8, 9), seed=4)
    assert (other / 'phase_annotations/video01-phase.txt').read_text() != \
        (out / 'phase_annotations/video01-phase.txt').read_text()
    with pytest.raises(ValueError, match='seconds must be'):
        make_demo_surgical_videos(str(other), seconds=(5, 9))


def test_demo_extract_and_load(demo, tmp_path):
    """The whole chain: videos -> 1 fps frames -> labelled samples."""
    out, paths = demo
    frames = tmp_path / 'frames'
    assert ef.main([str(out / 'videos'), '--out', str(frames), '--size',
                    '16', '16']) == 0
    ds = SurgicalVideoFrames(
        str(out), frame_dir=str(frames), split='all', train_val_videos=[1],
        test_videos=[2], num_val_videos=0, tool_dir='tool_annotations')
    for i, video in enumerate(('video01', 'video02'), 1):
        labels = read_phase_annotation(
            str(out / 'phase_annotations' / f'{video}-phase.txt'),
            CHOLEC80_PHASES)
        rows, presence = read_tool_annotation(
            str(out / 'tool_annotations' / f'{video}-tool.txt'))
        samples = [ds.get_data_info(k) for k in range(len(ds))
                   if ds.get_data_info(k)['video_id'] == video]
        assert [s['frame_index'] for s in samples] == rows.tolist()
        assert [s['gt_label'] for s in samples] == labels[rows].tolist()
        assert [s['tool_label'] for s in samples] == [
            np.flatnonzero(p).tolist() for p in presence
        ]
        assert read(samples[-1]['img_path']).shape == (16, 16, 3)
