# Copyright (c) mmmedssl contributors. All rights reserved.
"""Crop-pair sampling of PCRL 3D pretraining on LUNA16 CT scans.

The pieces of ``tools/dataset_converters/luna_crop_pairs.py``, importable
and tested on their own. They follow the released pre-processing (PCRL's
``pytorch/preprocess/luna_pre.py``), re-written:

1. The scan, resampled to 1 mm and scaled to [0, 1] (HU -1000..1000), is
   used in ``(x, y, z)`` voxel order, as the released code does; crop and
   output sizes are ``(x, y, z)`` too.
2. Two crop sizes are drawn from ``crop_sizes`` and two boxes placed
   uniformly at least ``borders`` voxels from the scan's faces (on ``z``
   also leaving room for ``extra_depth`` slices below the box); the pair is
   redrawn until the boxes' 3D IoU exceeds ``min_iou``
   (:func:`draw_box_pairs`, :func:`box_iou`).
3. Each box, with ``extra_depth`` more slices, is resized to
   ``out_size + (0, 0, extra_depth)`` (:func:`resize_volume`, linear with
   skimage-like anti-aliasing) and checked for lung content
   (:func:`lung_content_ok`); when either view fails, back to 2. The extra
   slices are then dropped: each view is ``out_size``.

The lung-content check: for each output voxel ``(i, j, d)``, ``k`` is the
first of the slices ``d, d+1, ..., d + extra_depth - 1`` (of the resized
window) whose value reaches the soft-tissue threshold (-150 HU), or
``extra_depth - 1`` when none does; the depth map is
``1 - k / (extra_depth - 1)``: 1 on tissue, lower when tissue is only
found deeper, 0 where the column is air or lung. A view is rejected when
the map's sum exceeds ``max_tissue_fraction`` (0.15) times the *crop's*
voxel count before resizing (``reference='crop'``, the released formula:
crops larger than the output are therefore rarely rejected, smaller ones
more often) or times the map's voxel count (``reference='output'``, the
same fraction for every crop size).

Differences from the released code, on purpose: short scans are padded
(:func:`pad_for_crops`, both ends, with the air value 0) instead of
crashing in ``np.pad``, along every axis and for the largest crop size
(the released padding only covered 64-slice crops, so 96-slice crops could
still fail, and scans narrower than ``crop + 2 * border`` in ``x``/``y``
had their crops shrunk by 32 voxels); crops lying mostly in padding are
redrawn (``max_pad_fraction``); sampling gives up after ``max_tries``
draws instead of looping forever; draws are vectorised and come from a
``numpy.random.Generator``.
"""
from typing import NamedTuple, Optional, Sequence, Tuple

import numpy as np

Box = Tuple[int, int, int, int, int, int]

#: The released crop sizes, (x, y, z) voxels at 1 mm.
DEFAULT_CROP_SIZES = ((64, 64, 32), (96, 96, 48), (96, 96, 96),
                      (32, 32, 16), (112, 112, 64))
DEFAULT_OUT_SIZE = (64, 64, 32)


class ShortScanError(ValueError):
    """The scan is too small along an axis for any crop size."""


class PairSamplingError(RuntimeError):
    """No acceptable pair was found within the allowed number of draws."""


def box_iou(box1: Sequence[int], box2: Sequence[int]) -> float:
    """3D IoU of two boxes ``(x0, y0, z0, x1, y1, z1)`` (stop excluded)."""
    box1 = np.asarray(box1, dtype=np.float64)
    box2 = np.asarray(box2, dtype=np.float64)
    return float(_iou(box1[:3], box1[3:] - box1[:3], box2[:3],
                      box2[3:] - box2[:3]))


def _iou(start1, size1, start2, size2):
    """IoU of boxes given as ``(..., 3)`` starts and sizes."""
    low = np.maximum(start1, start2)
    high = np.minimum(start1 + size1, start2 + size2)
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    union = np.prod(size1, axis=-1) + np.prod(size2, axis=-1) - inter
    return inter / union


def _overlap_fraction(start, size, region_start, region_stop):
    """Fraction of each box ``(..., 3)`` inside the region."""
    low = np.maximum(start, region_start)
    high = np.minimum(start + size, region_stop)
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    return inter / np.prod(size, axis=-1)


def _check_triples(name: str, values) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 3 or array.shape[0] == 0 or \
            not np.issubdtype(array.dtype, np.integer) or array.min() < 1:
        raise ValueError(f'{name} must be (x, y, z) triples of positive '
                         f'integers, got {values!r}.')
    return array.astype(np.int64)


def required_shape(crop_sizes: Sequence[Sequence[int]],
                   borders: Sequence[int],
                   extra_depth: int = 3) -> Tuple[int, int, int]:
    """The smallest ``(x, y, z)`` shape in which every crop size fits with
    its borders (and ``extra_depth`` slices on z), as the released start
    ranges ``[border, size - crop - extra - 1 - border]`` require."""
    largest = _check_triples('crop_sizes', crop_sizes).max(axis=0)
    extra = np.array([0, 0, extra_depth])
    need = largest + extra + 1 + 2 * np.asarray(borders, dtype=np.int64)
    return tuple(int(n) for n in need)


def pad_for_crops(volume: np.ndarray,
                  crop_sizes: Sequence[Sequence[int]],
                  borders: Sequence[int],
                  extra_depth: int = 3,
                  pad_value: float = 0.) -> Tuple[np.ndarray, tuple]:
    """Pad a short ``(x, y, z)`` volume so that every crop size fits.

    Each too short axis is padded at both ends (half each, the odd voxel
    after) with ``pad_value`` (0 = -1000 HU, air, on scaled scans). The
    released code padded ``z`` only and with a flat list that ``np.pad``
    rejects, so it crashed on scans shorter than about 98 mm.

    Raises:
        ShortScanError: The volume is smaller along some axis than the
            smallest crop size: every crop would be partly padding, and no
            padding can help.

    Returns:
        tuple: ``(padded, pads)`` with ``pads`` the ``((before, after),) *
        3`` voxels added (all zero when nothing was padded; then ``padded``
        is ``volume`` itself).
    """
    sizes = _check_triples('crop_sizes', crop_sizes)
    smallest = sizes.min(axis=0)
    for axis, name in enumerate('xyz'):
        if volume.shape[axis] < smallest[axis]:
            raise ShortScanError(
                f'the scan has {volume.shape[axis]} voxels along {name}, '
                f'fewer than the smallest crop ({smallest[axis]}); padding '
                'cannot make a crop of real data.')
    need = required_shape(sizes, borders, extra_depth)
    pads = []
    for axis in range(3):
        missing = max(0, need[axis] - volume.shape[axis])
        pads.append((missing // 2, missing - missing // 2))
    pads = tuple(pads)
    if any(before or after for before, after in pads):
        volume = np.pad(volume, pads, mode='constant',
                        constant_values=pad_value)
    return volume, pads


def draw_box_pairs(rng: np.random.Generator, shape: Sequence[int],
                   crop_sizes: Sequence[Sequence[int]],
                   borders: Sequence[int], extra_depth: int,
                   num: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draw ``num`` candidate pairs as the released loop does.

    Both views draw a crop size uniformly from ``crop_sizes`` and a start
    uniformly in ``[border, shape - size - extra - 1 - border]`` per axis
    (``extra`` is ``extra_depth`` on z, 0 on x and y).

    Returns:
        tuple: ``(starts, sizes)``, each ``(num, 2, 3)`` int64.
    """
    sizes_table = _check_triples('crop_sizes', crop_sizes)
    shape = np.asarray(shape, dtype=np.int64)
    borders = np.asarray(borders, dtype=np.int64)
    extra = np.array([0, 0, extra_depth], dtype=np.int64)
    sizes = sizes_table[rng.integers(0, len(sizes_table), size=(num, 2))]
    high = shape - sizes - extra - 1 - borders
    if (high < borders).any():
        raise ShortScanError(
            f'a crop of {sizes[np.nonzero(high < borders)[0][0]].tolist()} '
            f'does not fit a volume of {shape.tolist()} with borders '
            f'{borders.tolist()}; pad it first (pad_for_crops).')
    starts = rng.integers(np.broadcast_to(borders, high.shape), high,
                          endpoint=True)
    return starts, sizes


def resize_volume(array: np.ndarray, out_shape: Sequence[int],
                  order: int = 1, anti_aliasing: bool = True) -> np.ndarray:
    """Resize a 3D array to ``out_shape`` (what skimage's ``resize`` does
    in the released code, re-written with scipy).

    Voxel centres are aligned (``grid_mode``), edges are extended, and
    when shrinking an axis by ``f`` the array is first smoothed with a
    Gaussian of sigma ``(f - 1) / 2`` (skimage's anti-aliasing). An array
    of the right shape is returned as it is.

    Returns:
        np.ndarray: float32.
    """
    from scipy import ndimage

    out_shape = tuple(int(n) for n in out_shape)
    array = np.asarray(array, dtype=np.float32)
    if array.shape == out_shape:
        return array
    factors = [o / i for o, i in zip(out_shape, array.shape)]
    if anti_aliasing:
        sigma = [max(0., (1. / f - 1.) / 2.) for f in factors]
        if any(sigma):
            array = ndimage.gaussian_filter(array, sigma, mode='mirror')
    out = ndimage.zoom(array, factors, order=order, mode='nearest',
                       grid_mode=True)
    if out.shape != out_shape:  # zoom rounds the output shape
        raise RuntimeError(f'resize_volume: got {out.shape}, expected '
                           f'{out_shape}.')
    return out.astype(np.float32, copy=False)


def depth_map(window: np.ndarray, extra_depth: int = 3,
              tissue_threshold: float = 0.425) -> np.ndarray:
    """The released lung-content depth map of a resized window.

    Args:
        window (np.ndarray): ``(X, Y, Z + extra_depth)``.
        extra_depth (int): Slices looked at below each voxel (>= 2).
        tissue_threshold (float): Soft tissue level in the window's units
            (0.425 = -150 HU on the [-1000, 1000] -> [0, 1] scale).

    Returns:
        np.ndarray: ``(X, Y, Z)``, ``1 - k / (extra_depth - 1)`` with ``k``
        the first of ``extra_depth`` slices at or below the voxel that
        reaches the threshold (``extra_depth - 1`` when none does).
    """
    if extra_depth < 2:
        raise ValueError(f'depth_map: extra_depth must be >= 2, got '
                         f'{extra_depth}.')
    depth = window.shape[-1] - extra_depth
    if depth < 1:
        raise ValueError(f'depth_map: a window of {window.shape[-1]} slices '
                         f'has none left after {extra_depth} extra slices.')
    hits = np.stack([window[..., k:k + depth] >= tissue_threshold
                     for k in range(extra_depth)], axis=-1)
    first = np.where(hits.any(axis=-1), hits.argmax(axis=-1),
                     extra_depth - 1)
    return 1. - first / (extra_depth - 1)


def lung_content_ok(window: np.ndarray, crop_size: Sequence[int],
                    extra_depth: int = 3, tissue_threshold: float = 0.425,
                    max_tissue_fraction: float = 0.15,
                    reference: str = 'crop') -> bool:
    """Whether a resized window passes the lung-content check: its
    :func:`depth_map` sums to at most ``max_tissue_fraction`` times the
    crop's voxel count (``reference='crop'``, released) or the map's
    (``reference='output'``). See the module docstring."""
    dmap = depth_map(window, extra_depth, tissue_threshold)
    if reference == 'crop':
        count = float(np.prod(crop_size))
    elif reference == 'output':
        count = float(dmap.size)
    else:
        raise ValueError(f'lung_content_ok: reference must be "crop" or '
                         f'"output", got {reference!r}.')
    return float(dmap.sum()) <= max_tissue_fraction * count


class CropPair(NamedTuple):
    """A sampled pair: ``crops`` ``(2, *out_size)`` float32, ``boxes`` two
    ``(x0, y0, z0, x1, y1, z1)`` (without the extra slices), their
    ``iou`` and the number of candidate draws it took."""
    crops: np.ndarray
    boxes: Tuple[Box, Box]
    iou: float
    tries: int


def sample_crop_pair(volume: np.ndarray,
                     rng: np.random.Generator,
                     crop_sizes: Sequence[Sequence[int]] = DEFAULT_CROP_SIZES,
                     out_size: Sequence[int] = DEFAULT_OUT_SIZE,
                     min_iou: float = 0.25,
                     borders: Sequence[int] = (70, 70, 15),
                     extra_depth: int = 3,
                     tissue_threshold: float = 0.425,
                     max_tissue_fraction: float = 0.15,
                     reference: str = 'crop',
                     valid_region: Optional[Tuple[Sequence[int],
                                                  Sequence[int]]] = None,
                     max_pad_fraction: float = 0.5,
                     max_tries: int = 200000,
                     batch: int = 4096) -> CropPair:
    """Sample one crop pair of a scan (see the module docstring).

    Args:
        volume (np.ndarray): ``(x, y, z)`` scan scaled to [0, 1], padded
            with :func:`pad_for_crops` if short.
        rng (np.random.Generator): The random source.
        crop_sizes: ``(x, y, z)`` crop sizes drawn uniformly.
        out_size: ``(x, y, z)`` size of each saved view.
        min_iou (float): The boxes' IoU must exceed it.
        borders: ``(x, y, z)`` voxels kept free at the scan's faces.
        extra_depth (int): Slices below the box used by the lung check.
        tissue_threshold (float): Soft tissue level of the lung check.
        max_tissue_fraction (float): Lung check threshold (0.15).
        reference (str): ``'crop'`` (released) or ``'output'``; see
            :func:`lung_content_ok`.
        valid_region (tuple, optional): ``(start, stop)`` of the real data
            in a padded volume; boxes with more than ``max_pad_fraction``
            of their voxels outside it are redrawn. None: all real.
        max_pad_fraction (float): See ``valid_region``.
        max_tries (int): Candidate pairs to draw before giving up.
        batch (int): Candidates drawn at once (speed only: candidates are
            examined in draw order, as the sequential loop would).

    Raises:
        PairSamplingError: No acceptable pair within ``max_tries`` draws.
    """
    out_size = tuple(int(n) for n in out_size)
    window_size = out_size[:2] + (out_size[2] + extra_depth, )
    tries = 0
    while tries < max_tries:
        num = min(batch, max_tries - tries)
        starts, sizes = draw_box_pairs(rng, volume.shape, crop_sizes,
                                       borders, extra_depth, num)
        ious = _iou(starts[:, 0], sizes[:, 0], starts[:, 1], sizes[:, 1])
        good = ious > min_iou
        if valid_region is not None:
            region_start = np.asarray(valid_region[0])
            region_stop = np.asarray(valid_region[1])
            real = _overlap_fraction(starts, sizes, region_start,
                                     region_stop)
            good &= (real >= 1. - max_pad_fraction).all(axis=1)
        for index in np.flatnonzero(good):
            crops, ok = [], True
            for view in range(2):
                (x0, y0, z0), (sx, sy, sz) = starts[index, view], \
                    sizes[index, view]
                window = volume[x0:x0 + sx, y0:y0 + sy,
                                z0:z0 + sz + extra_depth]
                window = resize_volume(window, window_size)
                if not lung_content_ok(window, (sx, sy, sz), extra_depth,
                                       tissue_threshold,
                                       max_tissue_fraction, reference):
                    ok = False
                    break
                crops.append(window[..., :out_size[2]])
            if ok:
                boxes = tuple(
                    tuple(int(v) for v in np.concatenate(
                        [starts[index, view],
                         starts[index, view] + sizes[index, view]]))
                    for view in range(2))
                return CropPair(np.stack(crops).astype(np.float32), boxes,
                                float(ious[index]), tries + int(index) + 1)
        tries += num
    raise PairSamplingError(
        f'no crop pair with IoU > {min_iou} passing the lung-content check '
        f'in {max_tries} draws (volume {tuple(volume.shape)}, crop sizes '
        f'{[tuple(c) for c in crop_sizes]}).')
