# Copyright (c) mmmedssl contributors. All rights reserved.
"""Extract frames of surgical videos (Cholec80, M2CAI16) for
``SurgicalVideoFrames``.

    python tools/dataset_converters/extract_frames.py data/cholec80/videos \\
        --out data/cholec80/frames --fps 1 --size 250 250 --workers 2

Each video ``<name>.<ext>`` gives ``<out>/<name>/<frame_index>.jpg``, where
``frame_index`` counts the frames of the video at its native rate (25 fps
for Cholec80 and M2CAI16), so that a frame finds its phase as
``labels[frame_index]`` in the per-frame annotations whatever rate it was
extracted at. Frames ``round(k * native_fps / fps)``, k = 0, 1, ..., are
kept (rounded half up): 0, 25, 50, ... at 1 fps from 25 fps; ``--fps 0``
keeps every frame. The video is read once, sequentially (``grab()`` skips a
frame without converting it, ``retrieve()`` decodes a kept one).

Each kept frame is cropped to the endoscope's field of view (``--margin
auto``: the bounding box of the rows and columns whose mean grey value
exceeds ``--threshold``, per frame; ``none``: no crop; N: N pixels on each
side), resized to ``--size W H`` with ``cv2.INTER_AREA`` and written. A
``.done`` marker is written into a video's folder once all its frames are:
a re-run skips finished videos (``--overwrite`` redoes them) and redoes
interrupted ones from scratch. An unreadable video is reported and skipped,
and the exit status is then non-zero.
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
import time
import warnings
from multiprocessing import get_context
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv', '.mpg')
IMAGE_EXTS = ('jpg', 'png')
DONE = '.done'


class VideoReadError(OSError):
    """A video that OpenCV cannot open or decode."""


def parse_margin(value: Union[None, int, str]) -> Union[None, int, str]:
    """``'auto'``, None (no crop, from ``'none'``) or a number of pixels."""
    if value is None or value == 'auto':
        return value
    if isinstance(value, str):
        if value.lower() == 'none':
            return None
        if not value.strip().isdigit():
            raise ValueError(f'margin must be "auto", "none" or a number of '
                             f'pixels >= 0, got {value!r}.')
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f'margin must be "auto", "none" or a number of '
                         f'pixels >= 0, got {value!r}.')
    return value


def kept_indices(num_frames: int, native_fps: float, fps: float) -> list:
    """The frame indices kept out of ``num_frames`` (for checks and tests):
    ``round(k * native_fps / fps)`` rounded half up, every frame for
    ``fps=0``."""
    if not fps:
        return list(range(num_frames))
    step = native_fps / fps
    count = math.ceil(num_frames / step) + 1
    return [i for i in (math.floor(k * step + 0.5) for k in range(count))
            if i < num_frames]


def crop_margin(frame: np.ndarray, margin: Union[None, int, str],
                threshold: float = 10.) -> np.ndarray:
    """Crop the black border around the endoscope's field of view.

    ``'auto'`` keeps the bounding box of the rows and columns whose mean
    grey value exceeds ``threshold`` (the whole frame when none does, e.g.
    a black frame); an int crops that many pixels on each side; None keeps
    the frame."""
    if margin is None or margin == 0:
        return frame
    if margin == 'auto':
        grey = frame if frame.ndim == 2 else cv2.cvtColor(
            frame, cv2.COLOR_BGR2GRAY)
        rows = np.flatnonzero(grey.mean(axis=1) > threshold)
        cols = np.flatnonzero(grey.mean(axis=0) > threshold)
        if not len(rows) or not len(cols):
            return frame
        return frame[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    height, width = frame.shape[:2]
    if 2 * margin >= min(height, width):
        raise ValueError(f'margin {margin} px on each side leaves nothing '
                         f'of a {width}x{height} frame.')
    return frame[margin:height - margin, margin:width - margin]


def _native_fps(capture, video_path: str,
                native_fps: Optional[float]) -> float:
    if native_fps is not None:
        if not native_fps > 0:
            raise ValueError(f'native_fps must be > 0, got {native_fps!r}.')
        return float(native_fps)
    value = capture.get(cv2.CAP_PROP_FPS)
    # Broken headers report 0, NaN or absurd rates.
    if not (math.isfinite(value) and 0 < value <= 1000):
        raise VideoReadError(
            f'{video_path}: the video reports no usable frame rate '
            f'(CAP_PROP_FPS = {value}); give it with --native-fps '
            '(native_fps=), 25 for Cholec80 and M2CAI16.')
    return float(value)


def _clear_frames(out_dir: str) -> None:
    """Remove the frames and marker of an earlier (partial) run."""
    for name in os.listdir(out_dir):
        stem, ext = osp.splitext(name)
        if name == DONE or (stem.isdigit() and ext[1:] in IMAGE_EXTS) or \
                name.endswith('.tmp'):
            os.remove(osp.join(out_dir, name))


def _write(path: str, image: np.ndarray, params: list) -> None:
    ok, data = cv2.imencode(osp.splitext(path)[1], image, params)
    if not ok:
        raise OSError(f'{path}: OpenCV could not encode the frame.')
    # Written aside then renamed, so no truncated image is left behind.
    with open(path + '.tmp', 'wb') as f:
        f.write(data.tobytes())
    os.replace(path + '.tmp', path)


def extract_frames(video_path: str,
                   out_dir: str,
                   fps: float = 1.0,
                   size: Optional[Tuple[int, int]] = (250, 250),
                   margin: Union[None, int, str] = 'auto',
                   ext: str = 'jpg',
                   quality: int = 95,
                   native_fps: Optional[float] = None,
                   overwrite: bool = False,
                   threshold: float = 10.) -> int:
    """Extract the frames of one video into ``out_dir``.

    Args:
        video_path (str): The video file.
        out_dir (str): The video's frame folder, created if needed; the
            frames are ``<out_dir>/<frame_index>.<ext>``. Frame files
            (``<int>.jpg``/``.png``) left there by an earlier run are
            removed first.
        fps (float): Frames per second to keep: indices
            ``round(k * native_fps / fps)``; 0 keeps every frame. At most
            ``native_fps``. Defaults to 1.0.
        size (tuple[int, int], optional): Output ``(width, height)``; None
            keeps the (cropped) size. Defaults to ``(250, 250)``.
        margin (str | int, optional): ``'auto'`` crops the black border per
            frame (see :func:`crop_margin`), None or ``'none'`` does not
            crop, an int crops that many pixels on each side. Defaults to
            ``'auto'``.
        ext (str): ``'jpg'`` or ``'png'``. Defaults to ``'jpg'``.
        quality (int): JPEG quality. Defaults to 95.
        native_fps (float, optional): The video's frame rate; None reads it
            from the file (``CAP_PROP_FPS``).
        overwrite (bool): Redo a video whose folder has the ``.done``
            marker. Defaults to False.
        threshold (float): Mean grey value above which a row or column is
            inside the field of view (``margin='auto'``). Defaults to 10.

    Returns:
        int: The number of frames written; 0 when the video was already
        done and skipped.

    Raises:
        FileNotFoundError: ``video_path`` does not exist.
        VideoReadError: OpenCV cannot open or decode the video, or it has
            no usable frame rate and ``native_fps`` is not given.
    """
    ext = ext.lower().lstrip('.')
    if ext not in IMAGE_EXTS:
        raise ValueError(f'ext must be one of {IMAGE_EXTS}, got {ext!r}.')
    margin = parse_margin(margin)
    if not fps >= 0:
        raise ValueError(f'fps must be >= 0 (0: every frame), got {fps!r}.')
    if size is not None:
        size = tuple(int(s) for s in size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f'size must be (width, height) > 0, got {size}.')
    if not osp.isfile(video_path):
        raise FileNotFoundError(f'{video_path}: no such video file.')
    if osp.isfile(osp.join(out_dir, DONE)) and not overwrite:
        return 0

    capture = cv2.VideoCapture(video_path)
    try:
        if not capture.isOpened():
            raise VideoReadError(
                f'{video_path}: OpenCV cannot open the video (unsupported '
                'or damaged file, or OpenCV built without FFmpeg).')
        rate = _native_fps(capture, video_path, native_fps)
        if fps > rate:
            raise ValueError(f'{video_path}: fps {fps} exceeds the video\'s '
                             f'{rate} fps.')
        step = rate / fps if fps else 1.
        os.makedirs(out_dir, exist_ok=True)
        _clear_frames(out_dir)
        params = ([cv2.IMWRITE_JPEG_QUALITY, int(quality)]
                  if ext == 'jpg' else [])
        index = written = 0
        target = 0  # the next frame index to keep
        while capture.grab():
            if index == target:
                ok, frame = capture.retrieve()
                if not ok:
                    raise VideoReadError(
                        f'{video_path}: frame {index} cannot be decoded.')
                frame = crop_margin(frame, margin, threshold)
                if size is not None and frame.shape[1::-1] != size:
                    frame = cv2.resize(frame, size,
                                       interpolation=cv2.INTER_AREA)
                _write(osp.join(out_dir, f'{index}.{ext}'), frame, params)
                written += 1
                target = math.floor(written * step + 0.5)
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise VideoReadError(f'{video_path}: no frame could be read.')
    with open(osp.join(out_dir, DONE), 'w') as f:
        json.dump(
            dict(video=osp.abspath(video_path), frames_read=index,
                 frames_written=written, native_fps=rate, fps=fps,
                 size=size, margin=margin, ext=ext), f)
    return written


def list_videos(inputs: Sequence[str]) -> List[str]:
    """The videos given: files as they are, folders' video files sorted
    (not recursive). Two videos with one name (stem) are an error, as they
    would share a frame folder."""
    videos = []
    for path in inputs:
        if osp.isdir(path):
            found = sorted(
                osp.join(path, n) for n in os.listdir(path)
                if osp.splitext(n)[1].lower() in VIDEO_EXTS)
            if not found:
                warnings.warn(f'extract_frames: no video '
                              f'({", ".join(VIDEO_EXTS)}) in {path}.')
            videos.extend(found)
        elif osp.isfile(path):
            if osp.splitext(path)[1].lower() not in VIDEO_EXTS:
                raise ValueError(f'{path}: not a video file; expected one of '
                                 f'{", ".join(VIDEO_EXTS)}.')
            videos.append(path)
        else:
            raise FileNotFoundError(f'{path}: no such file or folder.')
    seen = {}
    for video in videos:
        stem = osp.splitext(osp.basename(video))[0]
        if stem in seen and osp.abspath(seen[stem]) != osp.abspath(video):
            raise ValueError(f'{seen[stem]} and {video} would both write to '
                             f'the frame folder {stem}/.')
        seen[stem] = video
    return list(dict.fromkeys(videos))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('inputs', nargs='+', metavar='VIDEO_OR_DIR',
                        help='video files, or folders of videos')
    parser.add_argument('--out', required=True, metavar='ROOT',
                        help='output root: ROOT/<video name>/<index>.<ext>')
    parser.add_argument('--fps', type=float, default=1.0,
                        help='frames per second to keep, 0 for all '
                        '(default: 1)')
    parser.add_argument('--size', type=int, nargs=2, default=(250, 250),
                        metavar=('W', 'H'),
                        help='output width and height (default: 250 250)')
    parser.add_argument('--margin', default='auto',
                        help='auto (crop the black border), none, or N '
                        'pixels on each side (default: auto)')
    parser.add_argument('--threshold', type=float, default=10.,
                        help='mean grey value of the field of view for '
                        '--margin auto (default: 10)')
    parser.add_argument('--ext', default='jpg', choices=IMAGE_EXTS)
    parser.add_argument('--quality', type=int, default=95,
                        help='JPEG quality (default: 95)')
    parser.add_argument('--native-fps', type=float, default=None,
                        help='the videos\' frame rate when the files do not '
                        'give it (Cholec80, M2CAI16: 25)')
    parser.add_argument('--workers', type=int, default=1,
                        help='videos processed in parallel (default: 1)')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo videos already done (.done marker)')
    args = parser.parse_args(argv)
    try:
        args.margin = parse_margin(args.margin)
    except ValueError as err:
        parser.error(f'--margin: {err}')
    if args.workers < 1:
        parser.error('--workers must be >= 1.')
    return args


def _process(job) -> Tuple[str, str, str]:
    """``(video, status, message)`` with status ``done``, ``skipped`` or
    ``failed``; never raises, so that one bad video does not stop a pool."""
    video, args, single_thread = job
    if single_thread:
        cv2.setNumThreads(1)  # the pool already uses the cores
    out_dir = osp.join(args.out, osp.splitext(osp.basename(video))[0])
    if osp.isfile(osp.join(out_dir, DONE)) and not args.overwrite:
        return video, 'skipped', (f'{video}: skipped, {out_dir}/{DONE} '
                                  'exists (--overwrite redoes it)')
    start = time.time()
    try:
        written = extract_frames(
            video, out_dir, fps=args.fps, size=args.size, margin=args.margin,
            ext=args.ext, quality=args.quality, native_fps=args.native_fps,
            overwrite=args.overwrite, threshold=args.threshold)
    except (OSError, ValueError) as err:
        return video, 'failed', str(err)
    with open(osp.join(out_dir, DONE)) as f:
        done = json.load(f)
    rate = 'all frames' if not args.fps else f'{args.fps:g} fps'
    return video, 'done', (
        f'{video}: {written} of {done["frames_read"]} frames '
        f'({done["native_fps"]:g} fps video, {rate}) -> {out_dir} '
        f'in {time.time() - start:.1f} s')


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        videos = list_videos(args.inputs)
    except (OSError, ValueError) as err:
        print(f'extract_frames: {err}', file=sys.stderr)
        return 2
    jobs = [(v, args, args.workers > 1) for v in videos]
    if args.workers > 1 and len(videos) > 1:
        # Spawned, not forked: a fork of a process whose OpenCV or torch
        # threads hold locks (a notebook, a test runner) can hang forever.
        with get_context('spawn').Pool(min(args.workers,
                                           len(videos))) as pool:
            results = pool.imap(_process, jobs)
            failed = _report(results)
    else:
        failed = _report(map(_process, jobs))
    if failed:
        print(f'extract_frames: {len(failed)} of {len(videos)} video(s) '
              f'failed: {", ".join(failed)}', file=sys.stderr)
        return 1
    return 0


def _report(results) -> List[str]:
    """Print each video's line as it finishes; return the failed ones."""
    failed = []
    for video, status, message in results:
        if status == 'failed':
            warnings.warn(f'extract_frames: {message}; skipped.')
            failed.append(video)
        else:
            print(message, flush=True)
    return failed


if __name__ == '__main__':
    sys.exit(main())
