# Copyright (c) mmmedssl contributors. All rights reserved.
"""Frames of laparoscopic cholecystectomy videos (Cholec80, M2CAI16
workflow) for self-supervised pretraining and surgical phase recognition.

The frames are extracted beforehand (``tools/dataset_converters/
extract_frames.py``) into one folder per video, each file named by its frame
index in the original 25 fps video, so that a frame looks up its phase as
``labels[frame_index]`` whatever rate it was extracted at.
"""
import math
import os
import os.path as osp
import warnings
from collections import Counter
from numbers import Integral
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmpretrain.datasets import BaseDataset

from mmmedssl.registry import DATASETS
from .splits import draw_groups
from .utils import (check_label_fraction, check_num_classes, is_int,
                    read_text, with_default_classes)

CHOLEC80_URL = 'http://camma.u-strasbg.fr/datasets'
M2CAI16_URL = 'http://camma.u-strasbg.fr/m2cai2016/'

# Index order of the released annotations and of the published results.
CHOLEC80_PHASES = ('Preparation', 'CalotTriangleDissection',
                   'ClippingCutting', 'GallbladderDissection',
                   'GallbladderPackaging', 'CleaningCoagulation',
                   'GallbladderRetraction')
M2CAI16_PHASES = ('TrocarPlacement', ) + CHOLEC80_PHASES
# The columns of Cholec80's tool annotation files, after ``Frame``.
CHOLEC80_TOOLS = ('Grasper', 'Bipolar', 'Hook', 'Scissors', 'Clipper',
                  'Irrigator', 'SpecimenBag')

VideoList = Optional[Sequence[Union[int, str]]]

_SPLITS = ('train', 'val', 'test', 'train_val', 'all')
_FRAME_EXTS = ('.jpg', '.jpeg', '.png')
# Per protocol: phases, video name formats (train/val, test), default
# numbers of train/val and test videos, default val videos, phase folder(s)
# and phase file template.
_PROTOCOLS = {
    'cholec80':
    dict(
        classes=CHOLEC80_PHASES,
        train_name='video{:02d}',
        test_name='video{:02d}',
        train_val=range(1, 41),
        test=range(41, 81),
        num_val=8,
        phase_dir='phase_annotations',
        phase_file='{video}-phase.txt',
        url=CHOLEC80_URL),
    'm2cai16':
    dict(
        classes=M2CAI16_PHASES,
        train_name='workflow_video_{:02d}',
        test_name='test_workflow_video_{:02d}',
        train_val=range(1, 28),
        test=range(1, 15),
        num_val=4,
        # As distributed: the annotation beside each video.
        phase_dir=('train_dataset', 'test_dataset'),
        phase_file='{video}.txt',
        url=M2CAI16_URL),
}


def _content_lines(path: str, what: str):
    """``(lineno, tokens)`` of the non-blank lines of a text file."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{what} file {path} does not exist (relative paths start from '
            f'{os.getcwd()}).')
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        tokens = line.split()
        if tokens:
            yield lineno, tokens


def read_phase_annotation(path: str, classes: Sequence[str]) -> np.ndarray:
    """Read a per-frame phase annotation (Cholec80 ``videoXX-phase.txt``,
    M2CAI16 ``workflow_video_XX.txt``).

    Each line holds a frame index and a phase, separated by a tab or spaces
    (``0\\tPreparation``); the phase is a name of ``classes`` or an integer
    index into it. A first line that starts with a letter is a header
    (``Frame\\tPhase``) and skipped. Lines may come in any order.

    Args:
        path (str): The annotation file.
        classes (Sequence[str]): The phase names, in index order.

    Returns:
        np.ndarray: int64 array of length ``max frame index + 1``: the phase
        index of each frame index, -1 for frame indices the file does not
        list.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: A malformed line, an unknown phase, a repeated frame
            index or no annotated frame; the message names the file and
            line.
    """
    index = {name: i for i, name in enumerate(classes)}
    frames: Dict[int, Tuple[int, int]] = {}  # frame -> (phase, lineno)
    first = True
    for lineno, tokens in _content_lines(path, 'Phase annotation'):
        if first and tokens[0][0].isalpha():
            first = False
            continue  # header
        first = False
        if len(tokens) != 2 or not is_int(tokens[0]):
            raise ValueError(
                f'{path}: line {lineno}: malformed line {" ".join(tokens)!r}'
                '; expected "<frame index> <phase>" separated by a tab or '
                'spaces, with a frame index >= 0.')
        frame, phase = int(tokens[0]), tokens[1]
        if phase in index:
            label = index[phase]
        elif is_int(phase) and 0 <= int(phase) < len(classes):
            label = int(phase)
        else:
            raise ValueError(
                f'{path}: line {lineno}: unknown phase {phase!r} for frame '
                f'{frame}; expected one of {list(classes)} or an index '
                f'0..{len(classes) - 1}.')
        if frame in frames:
            raise ValueError(
                f'{path}: line {lineno}: frame {frame} is already annotated '
                f'on line {frames[frame][1]}.')
        frames[frame] = (label, lineno)
    if not frames:
        raise ValueError(f'{path}: no annotated frame; expected lines like '
                         f'"0\\t{classes[0]}".')
    labels = np.full(max(frames) + 1, -1, dtype=np.int64)
    for frame, (label, _) in frames.items():
        labels[frame] = label
    return labels


def read_tool_annotation(
        path: str,
        tools: Sequence[str] = CHOLEC80_TOOLS) -> Tuple[np.ndarray,
                                                        np.ndarray]:
    """Read a tool presence annotation (Cholec80 ``videoXX-tool.txt``).

    The first line must be the header ``Frame`` followed by the tool names
    (``Frame\\tGrasper\\tBipolar\\t...``), then one row per annotated frame
    (one per second in Cholec80: frames 0, 25, 50...) with a 0/1 presence
    value per tool, separated by tabs or spaces.

    Args:
        path (str): The annotation file.
        tools (Sequence[str]): The expected tool columns, in order.
            Defaults to ``CHOLEC80_TOOLS``.

    Returns:
        tuple: ``frame_indices`` (int64, ``(n, )``, increasing) and
        ``presence`` (uint8, ``(n, len(tools))``).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: A header that does not match ``tools``, a malformed row,
            a repeated frame index or no row; the message names the file.
    """
    expected = ['Frame', *tools]
    rows: Dict[int, Tuple[List[int], int]] = {}
    header = None
    for lineno, tokens in _content_lines(path, 'Tool annotation'):
        if header is None:
            header = tokens
            if tokens != expected:
                raise ValueError(
                    f'{path}: line {lineno}: header {tokens} does not match '
                    f'the expected tool columns {expected}.')
            continue
        values = tokens[1:]
        if (len(tokens) != len(expected) or not is_int(tokens[0])
                or any(v not in ('0', '1') for v in values)):
            raise ValueError(
                f'{path}: line {lineno}: malformed row {" ".join(tokens)!r}'
                f'; expected a frame index >= 0 and {len(tools)} values '
                f'0/1 for {list(tools)}.')
        frame = int(tokens[0])
        if frame in rows:
            raise ValueError(
                f'{path}: line {lineno}: frame {frame} is already annotated '
                f'on line {rows[frame][1]}.')
        rows[frame] = ([int(v) for v in values], lineno)
    if header is None:
        raise ValueError(f'{path}: empty file; expected the header '
                         f'{" ".join(expected)!r} and one row per frame.')
    if not rows:
        raise ValueError(f'{path}: no row after the header.')
    frames = sorted(rows)
    presence = np.array([rows[f][0] for f in frames], dtype=np.uint8)
    return np.array(frames, dtype=np.int64), presence


def _video_names(protocol: str, videos: VideoList, kind: str,
                 arg: str) -> List[str]:
    """Names of ``videos`` (ints are formatted as the protocol names the
    ``kind`` videos, strings kept); duplicates are an error."""
    spec = _PROTOCOLS[protocol]
    fmt = spec['test_name' if kind == 'test' else 'train_name']
    if isinstance(videos, (str, Integral)):
        raise TypeError(f'SurgicalVideoFrames: {arg} must be a list of '
                        f'video ids or names, got {videos!r}.')
    names = []
    for video in videos:
        if isinstance(video, Integral) and not isinstance(video, bool):
            names.append(fmt.format(int(video)))
        elif isinstance(video, str) and video.strip():
            names.append(video.strip())
        else:
            raise TypeError(f'SurgicalVideoFrames: {arg}: {video!r} is '
                            'neither a video number nor a video name.')
    repeated = [n for n, c in Counter(names).items() if c > 1]
    if repeated:
        raise ValueError(f'SurgicalVideoFrames: {arg} lists {repeated} more '
                         'than once.')
    return names


def surgical_video_splits(protocol: str = 'cholec80',
                          train_val_videos: VideoList = None,
                          test_videos: VideoList = None,
                          val_videos: VideoList = None,
                          num_val_videos: Optional[int] = None
                          ) -> Dict[str, List[str]]:
    """The videos of each split, as :class:`SurgicalVideoFrames` uses them.

    Returns:
        dict: ``{'train', 'val', 'train_val', 'test', 'all'}`` to lists of
        video names, in list order (``all`` is ``train_val`` then
        ``test``). ``val`` defaults to the last ``num_val_videos`` of
        ``train_val`` and ``train`` is ``train_val`` without ``val``; the
        test videos are never in ``train_val``.
    """
    if protocol not in _PROTOCOLS:
        raise ValueError(f'SurgicalVideoFrames: protocol must be one of '
                         f'{list(_PROTOCOLS)}, got {protocol!r}.')
    spec = _PROTOCOLS[protocol]
    train_val = _video_names(
        protocol, spec['train_val'] if train_val_videos is None else
        train_val_videos, 'train', 'train_val_videos')
    test = _video_names(protocol, spec['test'] if test_videos is None else
                        test_videos, 'test', 'test_videos')
    shared = [v for v in test if v in train_val]
    if shared:
        raise ValueError(
            f'SurgicalVideoFrames: {shared} are in both train_val_videos and '
            'test_videos; test videos must never be used for training or '
            'model selection.')
    if val_videos is None:
        num_val = spec['num_val'] if num_val_videos is None else \
            num_val_videos
        if (not isinstance(num_val, Integral) or isinstance(num_val, bool)
                or not (num_val == 0 or 0 < num_val < len(train_val))):
            raise ValueError(
                'SurgicalVideoFrames: num_val_videos must be an integer in '
                f'[0, {len(train_val)}) (the train_val videos, at least one '
                f'left for train), got {num_val!r}.')
        val = train_val[len(train_val) - num_val:]
    else:
        val = _video_names(protocol, val_videos, 'train', 'val_videos')
        outside = [v for v in val if v not in train_val]
        if outside:
            raise ValueError(
                f'SurgicalVideoFrames: val_videos {outside} are not in '
                f'train_val_videos; val is carved from the training videos '
                f'({train_val[0]} ... {train_val[-1]}).' if train_val else
                f'SurgicalVideoFrames: val_videos {outside} given but '
                'train_val_videos is empty.')
    train = [v for v in train_val if v not in val]
    return dict(train=train, val=val, train_val=train_val, test=test,
                all=train_val + test)


@DATASETS.register_module()
class SurgicalVideoFrames(BaseDataset):
    """Frames of the Cholec80 or M2CAI16 workflow videos, with their
    surgical phase (and Cholec80 tool presence).

    Expected layout (Cholec80; M2CAI16 keeps ``workflow_video_XX.txt``
    beside the videos in ``train_dataset/`` and ``test_dataset/``)::

        data_root/
            frames/                        (frame_dir)
                video01/
                    0.jpg                  (frame index at 25 fps: the
                    25.jpg                  file name, no padding)
                    ...
                video02/
            phase_annotations/             (phase_dir)
                video01-phase.txt          (Frame<TAB>Phase, every frame)
            tool_annotations/              (tool_dir)
                video01-tool.txt           (Frame<TAB>Grasper..., 1 fps)

    Each sample carries ``img_path``, ``video_id`` (the folder name,
    ``'video01'``), ``frame_index`` (int) and ``group_id`` (the video, so
    that kNN evaluation and grouped splits keep a video's frames together);
    with labels ``gt_label``, the phase index of ``frame_index`` in the
    video's annotation, and with ``tool_dir`` ``tool_label``, the indices of
    the tools present (see ``tool_dir``). Samples come video by video in
    list order, frames by increasing index.

    Splits (``split``): ``'test'`` is ``test_videos``; ``'train_val'`` is
    ``train_val_videos``, ``'val'`` is ``val_videos`` (by default the last
    ``num_val_videos`` of ``train_val_videos``) and ``'train'`` the other
    train_val videos; ``'all'`` is train_val then test. The test videos are
    never in train/val, so model selection does not see them.

    Args:
        data_root (str): The dataset folder (configs use
            ``'data/cholec80'`` / ``'data/m2cai16'``).
        protocol (str): ``'cholec80'`` (7 phases, videos ``video01`` ...
            ``video80``, 1-40 train / 41-80 test) or ``'m2cai16'`` (8
            phases, ``workflow_video_01`` ... ``_27`` train,
            ``test_workflow_video_01`` ... ``_14`` test). Defaults to
            ``'cholec80'``.
        split (str): ``'train'``, ``'val'``, ``'test'``, ``'train_val'`` or
            ``'all'``. Defaults to ``'train'``.
        frame_dir (str): The folder of the per-video frame folders, relative
            to ``data_root``. Frames are ``<frame_index>.jpg`` (or
            ``.jpeg``/``.png``); other files (``.done``) are ignored.
            Defaults to ``'frames'``.
        phase_dir (str | Sequence[str], optional): Folder(s), relative to
            ``data_root``, searched in order for each video's phase file.
            None: ``'phase_annotations'`` (cholec80) or ``('train_dataset',
            'test_dataset')`` (m2cai16); give one folder to keep all
            annotations together.
        phase_file (str, optional): The phase file name, with ``{video}``
            for the video name. None: ``'{video}-phase.txt'`` (cholec80) or
            ``'{video}.txt'`` (m2cai16).
        tool_dir (str, optional): Folder of the tool files (Cholec80:
            ``'tool_annotations'``). When given (and ``with_label``), a
            frame whose index has a row in the tool file gets
            ``tool_label``, the list of the present tools' indices in
            ``CHOLEC80_TOOLS`` order (``[]`` when none); frames without a
            row (at 1 fps, indices that are not multiples of 25) get no
            ``tool_label`` key. Defaults to None.
        tool_file (str): The tool file name, with ``{video}``. Defaults to
            ``'{video}-tool.txt'``.
        with_label (bool): Read the phase annotations and set ``gt_label``.
            False reads no annotation file at all (self-supervised
            pretraining; ``tool_dir`` is then ignored). Defaults to True.
        fps (float, optional): The frame rate to sample: frames on disk
            whose index is a multiple of ``native_fps / fps`` are kept, which
            must be an integer >= 1. Frames extracted more sparsely are all
            kept (1 fps frames with ``fps=5``). None keeps every frame on
            disk. Defaults to 1.0.
        native_fps (float): The frame rate of the videos, which the frame
            indices count in. Defaults to 25.0.
        train_val_videos (Sequence[int | str], optional): The training
            videos; ints are formatted to the protocol's names (cholec80
            ``3 -> 'video03'``, m2cai16 ``3 -> 'workflow_video_03'``),
            strings are folder names. None: the official training videos.
        test_videos (Sequence[int | str], optional): The test videos (m2cai16
            ints give ``'test_workflow_video_XX'``). None: the official test
            videos.
        val_videos (Sequence[int | str], optional): The validation videos,
            a subset of ``train_val_videos``. None: the last
            ``num_val_videos`` of ``train_val_videos``.
        num_val_videos (int, optional): See ``val_videos``. None: 8 for
            cholec80 (``video33`` ... ``video40``), 4 for m2cai16.
        skip_missing_videos (bool): A video of the split without a frame
            folder (or with no frame in it) is an error listing all such
            videos; True warns and skips them. Defaults to False.
        label_fraction (float): Keep the frames of about this fraction of
            the split's videos (``round(label_fraction * #videos)``, at
            least one; whole videos, so no video is split), drawn with
            ``fraction_seed`` by ``draw_groups(videos, label_fraction,
            fraction_seed)``: low-label phase recognition. The kept videos
            replace ``videos``, in list order. The draw depends only on the
            seed and the split's videos (missing ones included), not on the
            frames on disk. Needs ``with_label``. Defaults to 1 (every
            video).
        fraction_seed (int): Defaults to 0.
        **kwargs: ``pipeline``, ``classes`` (renames the phases; the number
            must match), ``metainfo``, ``test_mode``, ``lazy_init``,
            ``indices``... as in mmpretrain's ``BaseDataset``.
            ``ann_file`` and ``data_prefix`` are not used.

    With labels, frames whose index lies past the end of the video's phase
    annotation (or is not listed in it) are dropped, with one warning per
    video giving their number.
    """

    # The phases of the default protocol ('cholec80').
    METAINFO = dict(classes=CHOLEC80_PHASES)

    def __init__(self,
                 data_root: str,
                 protocol: str = 'cholec80',
                 split: str = 'train',
                 frame_dir: str = 'frames',
                 phase_dir: Union[None, str, Sequence[str]] = None,
                 phase_file: Optional[str] = None,
                 tool_dir: Optional[str] = None,
                 tool_file: str = '{video}-tool.txt',
                 with_label: bool = True,
                 fps: Optional[float] = 1.0,
                 native_fps: float = 25.0,
                 train_val_videos: VideoList = None,
                 test_videos: VideoList = None,
                 val_videos: VideoList = None,
                 num_val_videos: Optional[int] = None,
                 skip_missing_videos: bool = False,
                 label_fraction: float = 1.0,
                 fraction_seed: int = 0,
                 **kwargs) -> None:
        if protocol not in _PROTOCOLS:
            raise ValueError(f'SurgicalVideoFrames: protocol must be one of '
                             f'{list(_PROTOCOLS)}, got {protocol!r}.')
        if split not in _SPLITS:
            raise ValueError(f'SurgicalVideoFrames: split must be one of '
                             f'{list(_SPLITS)}, got {split!r}.')
        if not data_root:
            raise ValueError(
                'SurgicalVideoFrames: data_root is required (the folder '
                'holding frames/ and the annotations, e.g. data/cholec80).')
        for name, template in (('phase_file', phase_file),
                               ('tool_file', tool_file)):
            if template is not None and '{video}' not in template:
                raise ValueError(
                    f'SurgicalVideoFrames: {name} must contain "{{video}}", '
                    f'got {template!r}.')
        check_label_fraction('SurgicalVideoFrames', label_fraction,
                             with_label, 'with_label=True')
        spec = _PROTOCOLS[protocol]
        self.protocol = protocol
        self.split = split
        self.frame_dir = frame_dir
        if phase_dir is None:
            phase_dir = spec['phase_dir']
        self.phase_dirs = ((phase_dir, ) if isinstance(phase_dir, str) else
                           tuple(phase_dir))
        self.phase_file = phase_file or spec['phase_file']
        self.tool_dir = tool_dir
        self.tool_file = tool_file
        self.with_label = with_label
        self.native_fps = float(native_fps)
        self.fps = None if fps is None else float(fps)
        self.step = self._frame_step()
        self.skip_missing_videos = skip_missing_videos
        self.splits = surgical_video_splits(protocol, train_val_videos,
                                            test_videos, val_videos,
                                            num_val_videos)
        self.videos = self.splits[split]
        if not self.videos:
            raise ValueError(
                f'SurgicalVideoFrames(protocol={protocol!r}): split '
                f'{split!r} has no video (check train_val_videos, '
                'val_videos and num_val_videos).')
        self.label_fraction = label_fraction
        self.fraction_seed = fraction_seed
        if label_fraction < 1:
            kept = set(draw_groups(self.videos, label_fraction,
                                   fraction_seed))
            self.videos = [v for v in self.videos if v in kept]
        self.missing_videos: List[str] = []

        if spec['classes'] != self.METAINFO['classes']:
            kwargs['metainfo'] = with_default_classes(
                kwargs.get('metainfo'), kwargs.get('classes'),
                spec['classes'])
        super().__init__(ann_file='', data_root=data_root, **kwargs)
        check_num_classes(f'SurgicalVideoFrames(protocol={protocol!r})',
                          self.CLASSES, spec['classes'])

    def _frame_step(self) -> Optional[int]:
        """Keep frame indices that are multiples of this (None: all)."""
        if not (self.native_fps > 0 and math.isfinite(self.native_fps)):
            raise ValueError('SurgicalVideoFrames: native_fps must be > 0, '
                             f'got {self.native_fps!r}.')
        if self.fps is None:
            return None
        ratio = self.native_fps / self.fps if self.fps > 0 else 0
        step = round(ratio)
        if step < 1 or abs(ratio - step) > 1e-6:
            raise ValueError(
                f'SurgicalVideoFrames: native_fps / fps = {self.native_fps}'
                f' / {self.fps} must be an integer >= 1 (e.g. fps=1 or 5 '
                'for 25 fps videos); fps=None keeps every frame on disk.')
        return step

    # ------------------------------------------------------------------
    # Files
    # ------------------------------------------------------------------
    def _path(self, path: str) -> str:
        return path if osp.isabs(path) else osp.join(self.data_root, path)

    def _list_frames(self, video: str) -> Optional[List[Tuple[int, str]]]:
        """``(frame_index, path)`` of the video's kept frames, by index;
        None when the folder is missing or holds no frame."""
        folder = osp.join(self._path(self.frame_dir), video)
        if not osp.isdir(folder):
            return None
        frames: Dict[int, str] = {}
        for entry in os.scandir(folder):
            stem, ext = osp.splitext(entry.name)
            if (entry.name.startswith('.') or ext.lower() not in _FRAME_EXTS
                    or not entry.is_file()):
                continue  # markers, hidden files, sub-folders
            if not is_int(stem):
                raise ValueError(
                    f'SurgicalVideoFrames: {entry.path}: frame files must be '
                    'named by their frame index in the original video '
                    '(0.jpg, 25.jpg, ...), as extract_frames.py writes '
                    'them.')
            index = int(stem)
            if index in frames:
                raise ValueError(
                    f'SurgicalVideoFrames: {folder} holds two files for '
                    f'frame {index}: {osp.basename(frames[index])} and '
                    f'{entry.name}.')
            frames[index] = entry.path
        if not frames:
            return None
        return [(i, frames[i]) for i in sorted(frames)
                if self.step is None or i % self.step == 0]

    def _phase_path(self, video: str) -> str:
        name = self.phase_file.format(video=video)
        candidates = [osp.join(self._path(d), name) for d in self.phase_dirs]
        for path in candidates:
            if osp.isfile(path):
                return path
        raise FileNotFoundError(
            f'SurgicalVideoFrames: no phase annotation for video {video}: '
            f'{" and ".join(candidates)} do(es) not exist (phase_dir='
            f'{self.phase_dirs}, phase_file={self.phase_file!r}; relative '
            f'paths start from {os.getcwd()}). Use with_label=False for '
            'unlabelled pretraining.')

    def _tools_of(self, video: str) -> Dict[int, List[int]]:
        path = osp.join(
            self._path(self.tool_dir), self.tool_file.format(video=video))
        frames, presence = read_tool_annotation(path, CHOLEC80_TOOLS)
        return {
            int(f): np.flatnonzero(row).tolist()
            for f, row in zip(frames, presence)
        }

    # ------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        listed = {}
        missing = []
        for video in self.videos:
            frames = self._list_frames(video)
            if frames is None:
                missing.append(video)
            else:
                listed[video] = frames
        if missing:
            where = self._path(self.frame_dir)
            message = (
                f'SurgicalVideoFrames(split={self.split!r}): '
                f'{len(missing)} of the {len(self.videos)} video(s) have no '
                f'frame folder (or an empty one) in {where}: {missing}. '
                'Extract them with tools/dataset_converters/'
                'extract_frames.py, or change the video lists')
            if not self.skip_missing_videos:
                raise FileNotFoundError(
                    message + ' (skip_missing_videos=True skips them).')
            warnings.warn(message + '; skipped.')
        self.missing_videos = missing

        data_list = []
        for video, frames in listed.items():
            labels = tools = None
            if self.with_label:
                phase_path = self._phase_path(video)
                # The files use the official names, whatever ``classes``
                # renames them to.
                labels = read_phase_annotation(
                    phase_path, _PROTOCOLS[self.protocol]['classes'])
                if self.tool_dir is not None:
                    tools = self._tools_of(video)
            dropped = 0
            for index, path in frames:
                info = dict(img_path=path, video_id=video, frame_index=index,
                            group_id=video)
                if labels is not None:
                    if index >= len(labels) or labels[index] < 0:
                        dropped += 1
                        continue
                    info['gt_label'] = int(labels[index])
                if tools is not None and index in tools:
                    info['tool_label'] = list(tools[index])
                data_list.append(info)
            if dropped:
                warnings.warn(
                    f'SurgicalVideoFrames: video {video}: {dropped} of '
                    f'{len(frames)} frame(s) have no phase in {phase_path} '
                    f'(which annotates frames 0..{len(labels) - 1}); '
                    'dropped.')
        if not data_list:
            raise ValueError(
                f'SurgicalVideoFrames(split={self.split!r}): no frame in '
                f'{self._path(self.frame_dir)} for the videos {self.videos}'
                f' at fps={self.fps}.')
        return data_list

    # ------------------------------------------------------------------
    def extra_repr(self) -> List[str]:
        videos = self.videos
        shown = ', '.join(videos if len(videos) <= 6 else
                          videos[:3] + ['...'] + videos[-2:])
        if self.step is None:
            rate = 'every frame on disk'
        else:
            rate = (f'{self.fps:g} (frame indices that are multiples of '
                    f'{self.step} at {self.native_fps:g} fps)')
        body = [
            f'Data root: \t{self.data_root}',
            f'Protocol: \t{self.protocol}',
            f'Split: \t{self.split}',
            f'Videos: \t{len(videos)} ({shown})',
            f'Frames per second: \t{rate}',
            f'Frame folder: \t{self._path(self.frame_dir)}',
        ]
        if self.with_label:
            body.append('Phase annotations: \t' + ', '.join(
                osp.join(self._path(d), self.phase_file)
                for d in self.phase_dirs))
            if self.tool_dir is not None:
                body.append('Tool annotations: \t' + osp.join(
                    self._path(self.tool_dir), self.tool_file))
        if self.missing_videos:
            body.append(f'Skipped videos (missing): \t{self.missing_videos}')
        return body
