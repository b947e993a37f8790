# Copyright (c) mmmedssl contributors. All rights reserved.
"""Pictures of what training sees: the views a config's train pipeline
makes, one row per sample (``tools/visualization/browse_dataset.py``).

The grid helpers here (:func:`to_display`, :func:`render_grid`) also draw the
PCRL reconstruction panels (:mod:`mmmedssl.visualization.pcrl_panels`).

Layout of a grid (all sizes in pixels of the written image)::

    header band: LINE_H per header line (column labels)
    per row:     caption band (LINE_H per caption line), then the cells
    cells:       cell_h x cell_w, GAP between cells and around the grid

A cell is a 2D view, or for a volume its three orthogonal mid slices side
by side (:func:`mid_slices`), enlarged by an integer factor (nearest
neighbour, so every pixel stays a block of one colour) to at least
``MIN_CELL`` pixels high.
"""
import copy
import math
import os
import os.path as osp
import random
from contextlib import contextmanager
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

GAP = 2  # between cells, rows and around the grid
SLICE_GAP = 1  # between the three slices of a volume, before enlarging
LINE_H = 16  # one line of header or caption text
MIN_CELL = 96  # cells are enlarged to at least this height
BACKGROUND = (32, 32, 32)  # RGB
TEXT_COLOUR = (235, 235, 235)  # RGB
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.4

Window = Tuple[float, float]


# -- data -----------------------------------------------------------------
def build_train_dataset(cfg):
    """The dataset of ``cfg.train_dataloader``, built as the Runner builds
    it (mmengine's ``DATASETS`` in the config's default scope, ``mmmedssl``
    when it names none)."""
    from mmengine.registry import DATASETS, DefaultScope

    from mmmedssl.utils import register_all_modules
    loader = cfg.get('train_dataloader')
    where = cfg.filename or 'the config'
    if not isinstance(loader, dict):
        raise KeyError(f'{where}: no `train_dataloader` (a dict with a '
                       '`dataset`); only training configs have views to '
                       'show.')
    if not isinstance(loader.get('dataset'), dict):
        raise KeyError(f'{where}: `train_dataloader.dataset` is missing; '
                       'expected the dataset config of the training data.')
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope') or 'mmmedssl'):
        return DATASETS.build(copy.deepcopy(loader['dataset']))


@contextmanager
def seeded(seed: int):
    """Seed python, numpy and torch for the block, then put the caller's
    RNG states back (drawing pictures leaves a run's randomness alone)."""
    from mmmedssl.engine.hooks import get_rng_state, set_rng_state
    state = get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        set_rng_state(state)


def sample_columns(packed: dict) -> Tuple[List[str], List[torch.Tensor]]:
    """Column labels and tensors of one packed sample (``PackMedInputs``
    output).

    One tensor is one column (``image``); a list of views gives ``view1``
    ... ``viewN``; a PCRL sample (an ``aug_code`` and 4 or 6 tensors) gives
    the ``VIEW_ORDER`` names, with the two transformation targets built
    from the codes as the model builds them when the pipeline only drew the
    codes.
    """
    from mmmedssl.models.selfsup.pcrl import VIEW_ORDER, flip_rot90
    inputs = packed['inputs']
    if isinstance(inputs, torch.Tensor):
        return ['image'], [inputs]
    inputs = list(inputs)
    sample = packed.get('data_samples')
    code = getattr(sample, 'aug_code', None) if sample is not None else None
    if code is None or len(inputs) not in (4, 6):
        return [f'view{i + 1}' for i in range(len(inputs))], inputs
    if len(inputs) == 4:
        codes = torch.as_tensor(np.asarray(code), dtype=torch.float32)
        inputs += [flip_rot90(view[None], codes[i:i + 1])[0]
                   for i, view in enumerate(inputs[:2])]
    return list(VIEW_ORDER), inputs


def caption_lines(meta: dict, index: Optional[int] = None) -> List[str]:
    """The caption of a row: ``#index file name`` and, when the sample has
    one, ``group: <group id>``."""
    path = meta.get('img_path')
    if path:
        name = osp.basename(str(path))
    else:
        name = f'sample {meta.get("sample_idx", "?")}'
    lines = [name if index is None else f'#{index} {name}']
    if meta.get('group_id') is not None:
        lines.append(f'group: {meta["group_id"]}')
    return lines


# -- tensors to pixels ----------------------------------------------------
def choose_window(tensors: Sequence[torch.Tensor],
                  clip_range: Optional[Window] = None) -> Window:
    """The value range shown from black to white.

    The data preprocessor's ``clip_range`` when it has one (e.g. a CT HU
    window); else ``(0, 1)`` when every tensor is floating point within
    ``[0, 1]`` (volumes scaled offline, sigmoid outputs); else ``(0, 255)``
    (photos: uint8, or float after photometric transforms) when the values
    lie within it; else the tensors' own minimum and maximum.
    """
    if clip_range is not None:
        return float(clip_range[0]), float(clip_range[1])
    low = min(float(t.min()) for t in tensors)
    high = max(float(t.max()) for t in tensors)
    if all(t.is_floating_point() for t in tensors) and low >= 0 and \
            high <= 1:
        return 0., 1.
    if low >= 0 and high <= 255:
        return 0., 255.
    return low, (high if high > low else low + 1)


def mid_slices(volume: torch.Tensor) -> List[torch.Tensor]:
    """The three orthogonal slices through the middle of a ``(C, X, Y, Z)``
    volume: across the first, second and third spatial axis, shaped
    ``(C, Y, Z)``, ``(C, X, Z)`` and ``(C, X, Y)``."""
    if volume.dim() != 4:
        raise ValueError(f'mid_slices: expected a (C, D, H, W) volume, got '
                         f'shape {tuple(volume.shape)}.')
    return [volume.select(axis, volume.shape[axis] // 2)
            for axis in (1, 2, 3)]


def to_display(tensor: torch.Tensor, window: Window,
               channel_order: str = 'bgr') -> np.ndarray:
    """A ``(C, H, W)`` image or ``(C, D, H, W)`` volume as an ``H x W x 3``
    uint8 RGB picture, ``window`` mapped to 0..255.

    3 channels are colour, in ``channel_order`` (``'bgr'``: the order of
    images loaded with OpenCV/mmcv; ``'rgb'``: after a preprocessor's
    ``bgr_to_rgb``); any other number of channels shows the first one in
    grey. A volume shows its three mid slices left to right, top-aligned,
    ``SLICE_GAP`` apart.
    """
    if channel_order not in ('bgr', 'rgb'):
        raise ValueError("to_display: channel_order must be 'bgr' or 'rgb', "
                         f'got {channel_order!r}.')
    tensor = tensor.detach().cpu()
    if tensor.dim() == 4:
        slices = [to_display(s, window, channel_order)
                  for s in mid_slices(tensor)]
        height = max(s.shape[0] for s in slices)
        width = sum(s.shape[1] for s in slices) + SLICE_GAP * 2
        out = np.empty((height, width, 3), np.uint8)
        out[:] = BACKGROUND
        x = 0
        for s in slices:
            out[:s.shape[0], x:x + s.shape[1]] = s
            x += s.shape[1] + SLICE_GAP
        return out
    if tensor.dim() != 3:
        raise ValueError('to_display: expected (C, H, W) or (C, D, H, W), '
                         f'got shape {tuple(tensor.shape)}.')
    low, high = window
    # (x - low) * (255 / (high - low)) keeps 0..255 values exact.
    values = (tensor.double() - low) * (255. / (high - low))
    values = values.round().clamp(0, 255).to(torch.uint8).numpy()
    if values.shape[0] == 3:
        image = values.transpose(1, 2, 0)
        if channel_order == 'bgr':
            image = image[..., ::-1]
    else:
        image = np.repeat(values[0][..., None], 3, axis=2)
    return np.ascontiguousarray(image)


# -- layout ---------------------------------------------------------------
def _text_width(text: str) -> int:
    return cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)[0][0]


def _fit(text: str, width: int) -> str:
    """``text``, shortened in the middle (``..``) to fit ``width``."""
    if _text_width(text) <= width:
        return text
    keep = len(text)
    while keep > 2:
        keep -= 1
        head = (keep + 1) // 2
        short = text[:head] + '..' + text[len(text) - (keep - head):]
        if _text_width(short) <= width:
            return short
    return text[:1]


def _put_text(canvas: np.ndarray, text: str, x: int, y: int,
              width: int) -> None:
    # y is the top of the line; cv2 places text by its baseline.
    cv2.putText(canvas, _fit(text, width), (x + 2, y + LINE_H - 4), _FONT,
                _FONT_SCALE, TEXT_COLOUR, 1, cv2.LINE_AA)


def cell_scale(cell_h: int) -> int:
    """The integer factor that brings a cell to ``MIN_CELL`` pixels high."""
    return max(1, math.ceil(MIN_CELL / max(cell_h, 1)))


def render_grid(rows: Sequence[Sequence[np.ndarray]],
                captions: Sequence[Sequence[str]],
                header: Sequence[Sequence[str]] = (),
                scale: Optional[int] = None) -> np.ndarray:
    """Lay out pictures (``H x W x 3`` uint8 RGB) as a grid.

    Args:
        rows: The pictures of each row, left to right; each is placed at the
            top left of its cell (cells are as large as the largest
            picture).
        captions: Text lines above each row.
        header: Text lines above each column (e.g. ``['input1']``).
        scale: Integer enlargement; None: :func:`cell_scale`.

    Returns:
        np.ndarray: ``(header_h + rows * (caption_h + cell_h + GAP),
        GAP + cols * (cell_w + GAP), 3)`` uint8 RGB, where ``header_h`` and
        ``caption_h`` are ``LINE_H`` times the most lines of any column
        header / caption and ``cell_h``, ``cell_w`` the largest picture
        times ``scale``.
    """
    if len(captions) != len(rows):
        raise ValueError(f'render_grid: {len(rows)} rows but '
                         f'{len(captions)} captions.')
    pictures = [p for row in rows for p in row]
    if not pictures:
        raise ValueError('render_grid: nothing to draw.')
    native_h = max(p.shape[0] for p in pictures)
    scale = scale or cell_scale(native_h)
    cell_h = native_h * scale
    cell_w = max(p.shape[1] for p in pictures) * scale
    cols = max(len(row) for row in rows)
    header_h = LINE_H * max((len(h) for h in header), default=0)
    caption_h = LINE_H * max((len(c) for c in captions), default=0)
    row_h = caption_h + cell_h + GAP
    width = GAP + cols * (cell_w + GAP)
    canvas = np.empty((header_h + len(rows) * row_h, width, 3), np.uint8)
    canvas[:] = BACKGROUND
    for col, lines in enumerate(header):
        for i, line in enumerate(lines):
            _put_text(canvas, line, GAP + col * (cell_w + GAP), i * LINE_H,
                      cell_w)
    for r, (row, lines) in enumerate(zip(rows, captions)):
        top = header_h + r * row_h
        for i, line in enumerate(lines):
            _put_text(canvas, line, GAP, top + i * LINE_H, width - 2 * GAP)
        for col, picture in enumerate(row):
            big = picture.repeat(scale, axis=0).repeat(scale, axis=1)
            y, x = top + caption_h, GAP + col * (cell_w + GAP)
            canvas[y:y + big.shape[0], x:x + big.shape[1]] = big
    return canvas


def save_png(path: str, rgb: np.ndarray) -> str:
    """Write an RGB picture as PNG (OpenCV writes BGR); returns ``path``."""
    folder = osp.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f'could not write the PNG {path!r}.')
    return path


# -- the training views of a config ---------------------------------------
def render_training_views(cfg, num_samples: int = 4, seed: int = 0,
                          indices: Optional[Sequence[int]] = None,
                          scale: Optional[int] = None) -> np.ndarray:
    """Run the train pipeline of ``cfg`` on ``num_samples`` samples and lay
    out the views it makes: one row per sample (captioned with its file
    name and group), one column per view/tensor.

    The samples are drawn at random with ``seed`` (or given as
    ``indices``), and the pipeline's random transforms run under the same
    seed, so a seed gives the same picture; the caller's RNG states are
    restored afterwards.

    Values are shown as the pipeline packs them: mmmedssl pipelines leave
    raw intensities (0..255 for photos, uint8 or float; [0, 1] for the
    offline-scaled volumes) and the model's data preprocessor normalises
    them, so nothing is undone here; see :func:`choose_window` for the
    range shown. Colour images are loaded as BGR (OpenCV) and shown as RGB.
    """
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}.')
    dataset = build_train_dataset(cfg)
    if len(dataset) == 0:
        raise ValueError(f'{cfg.filename}: the train dataset is empty.')
    preprocessor = (cfg.get('model') or {}).get('data_preprocessor') or {}
    with seeded(seed):
        if indices is None:
            order = np.random.permutation(len(dataset))
            indices = order[:min(num_samples, len(dataset))].tolist()
        samples = []
        for index in indices:
            packed = dataset[int(index)]
            labels, tensors = sample_columns(packed)
            meta = packed['data_samples'].metainfo
            samples.append((int(index), labels, tensors, meta))
    window = choose_window([t for s in samples for t in s[2]],
                           preprocessor.get('clip_range'))
    widest = max(samples, key=lambda s: len(s[1]))
    rows = [[to_display(t, window) for t in s[2]] for s in samples]
    captions = [caption_lines(s[3], s[0]) for s in samples]
    return render_grid(rows, captions, [[label] for label in widest[1]],
                       scale)
