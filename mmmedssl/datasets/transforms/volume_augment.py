# Copyright (c) mmmedssl contributors. All rights reserved.
"""Augmentations of 3D volumes for Models Genesis / PCRL pretraining.

All transforms take ``results['img']`` as a float array shaped
``(D, H, W)`` or channel-first ``(C, D, H, W)`` and return an array of the
same shape (float32 unless the input was another float type). Randomness
comes from numpy's global RNG (seeded per dataloader worker by
``seed_worker``), except ``TorchIOTransform`` which uses torch's.
"""
import numbers
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmmedssl.registry import TRANSFORMS

from .augment import _check_prob

# The key under which PCRL's view wrapper passes one dict shared by all
# views of a sample.
SHARED_STATE_KEY = 'view_shared_state'


def _as_volume(owner: str, img) -> np.ndarray:
    """The image as a float array of 3 or 4 dimensions."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f'{owner}: results["img"] must be a numpy array, '
                        f'got {type(img).__name__}.')
    if img.ndim not in (3, 4):
        raise ValueError(f'{owner}: expected a (D, H, W) or (C, D, H, W) '
                         f'volume, got shape {img.shape}.')
    if not np.issubdtype(img.dtype, np.floating):
        img = img.astype(np.float32)
    return img


def _randint(low: int, high: int) -> int:
    """A uniform integer in ``[low, high]``, both included (Python's
    ``random.randint``, which the released code uses)."""
    return int(np.random.randint(low, high + 1))


@TRANSFORMS.register_module()
class TorchIOTransform(BaseTransform):
    """Apply a ``torchio.transforms`` transform to ``results['img']``.

    ``dict(type='TorchIOTransform', transform='RandomAffine', degrees=10)``
    builds ``torchio.transforms.RandomAffine(degrees=10)``. PCRL uses
    ``RandomFlip``, ``RandomAffine`` and ``RandomBlur`` with their defaults.

    The array is given to torchio as a 4D ``(C, ., ., .)`` float32 tensor
    (a channel axis is added to a ``(D, H, W)`` volume and removed again).
    torchio then treats the three spatial axes in the order they come, with
    an identity affine (1 mm voxels): its first spatial axis is the array's
    first spatial axis. That only matters for per-axis operations (e.g.
    ``RandomFlip(axes=0)``, torchio's default, flips the first spatial
    axis; anisotropic scales, blur sigmas or spacing-dependent ops). The
    released PCRL code feeds its ``(1, x, y, z)`` crops the same way, so
    with crop pairs saved in that layout the behaviour matches.

    torchio draws its parameters with torch's RNG.

    Required Keys:

    - img

    Modified Keys:

    - img (float32), img_shape (the spatial shape afterwards)

    Args:
        transform (str): Name of a class in ``torchio.transforms``.
        **kwargs: Its arguments.
    """

    def __init__(self, transform: str, **kwargs) -> None:
        import torchio

        if not isinstance(transform, str):
            raise TypeError('TorchIOTransform: `transform` must be the name '
                            'of a torchio.transforms class, got '
                            f'{transform!r}.')
        cls = getattr(torchio.transforms, transform, None)
        if not isinstance(cls, type) or not issubclass(
                cls, torchio.transforms.Transform):
            available = sorted(
                name for name in dir(torchio.transforms)
                if isinstance(getattr(torchio.transforms, name), type)
                and issubclass(getattr(torchio.transforms, name),
                               torchio.transforms.Transform)
                and not name.startswith('_'))
            raise ValueError(
                f'TorchIOTransform: unknown transform {transform!r}; '
                f'torchio {torchio.__version__} has {available}.')
        self.name = transform
        self.kwargs = kwargs
        self.transform_op = cls(**kwargs)

    def transform(self, results: dict) -> dict:
        import torch

        owner = f'TorchIOTransform({self.name})'
        img = _as_volume(owner, results['img'])
        squeeze = img.ndim == 3
        tensor = torch.from_numpy(
            np.ascontiguousarray(img[None] if squeeze else img,
                                 dtype=np.float32))
        out = self.transform_op(tensor)
        out = np.asarray(out.numpy() if isinstance(out, torch.Tensor) else
                         out, dtype=np.float32)
        if squeeze:
            out = out[0]
        results['img'] = out
        results['img_shape'] = out.shape[-3:]
        return results

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())
        return (f'{type(self).__name__}(transform={self.name!r}'
                + (f', {args}' if args else '') + ')')


def local_pixel_shuffle(img: np.ndarray, num_blocks: int = 10000,
                        max_block_fraction: float = 0.1) -> np.ndarray:
    """Models Genesis local pixel shuffling, vectorised.

    ``num_blocks`` boxes are drawn as in the released code: along each
    spatial axis of length ``n`` a size uniform in
    ``[1, max(1, int(n * max_block_fraction))]`` and a start uniform over
    the positions where it fits. The voxels of each box, read from the
    *original* image, are permuted at random and written to the output;
    where boxes overlap the later box wins, as in the sequential loop. All
    channels of a voxel move together.

    Instead of a Python loop over the boxes (see :func:`shuffle_boxes`):
    boxes of one shape (at most ``6 * 6 * 3`` shapes on a 64 x 64 x 32
    crop) are handled together, as a ``(boxes, voxels)`` table of flat
    indices whose rows are shuffled at once; ``np.maximum.at`` finds the
    last box covering each voxel; one fancy assignment writes everything.

    Args:
        img (np.ndarray): ``(D, H, W)`` or ``(C, D, H, W)`` float array.
        num_blocks (int): Number of boxes. Defaults to 10000.
        max_block_fraction (float): Largest box side, as a fraction of
            each axis. Defaults to 0.1.

    Returns:
        np.ndarray: A new array; ``img`` is left unchanged.
    """
    squeeze = img.ndim == 3
    vol = img[None] if squeeze else img
    dims = np.asarray(vol.shape[1:], dtype=np.int64)
    flat = np.ascontiguousarray(vol).reshape(vol.shape[0], -1)
    if num_blocks > 0:
        max_sizes = np.maximum(1, (dims * max_block_fraction).astype(
            np.int64))
        sizes = np.random.randint(1, max_sizes + 1, size=(num_blocks, 3))
        starts = np.random.randint(0, dims - sizes + 1)
        # Row shuffles need a Generator; seeding it from the global RNG
        # keeps np.random.seed() reproducibility.
        rng = np.random.default_rng(np.random.randint(2**63))
        flat = shuffle_boxes(flat, tuple(dims), starts, sizes, rng)
    else:
        flat = flat.copy()
    out = flat.reshape(vol.shape)
    return out[0] if squeeze else out


def shuffle_boxes(flat: np.ndarray, dims: Tuple[int, int, int],
                  starts: np.ndarray, sizes: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Shuffle the voxels of given boxes, as :func:`local_pixel_shuffle`.

    Args:
        flat (np.ndarray): ``(C, D * H * W)`` voxels.
        dims (tuple[int]): ``(D, H, W)``.
        starts (np.ndarray): ``(N, 3)`` box corners.
        sizes (np.ndarray): ``(N, 3)`` box sizes (>= 1, inside the volume).
        rng (np.random.Generator): Draws the permutations.

    Returns:
        np.ndarray: A new ``(C, D * H * W)`` array: box ``n``'s voxels are
        a random permutation of its voxels in ``flat``; a voxel in several
        boxes takes its value from the last of them.
    """
    dims = np.asarray(dims, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    out = flat.copy()
    corner = (starts[:, 0] * dims[1] + starts[:, 1]) * dims[2] + starts[:, 2]
    # Boxes of one shape form a (boxes, voxels) table shuffled row-wise.
    top = sizes.max(axis=0) + 1
    shape_id = (sizes[:, 0] * top[1] + sizes[:, 1]) * top[2] + sizes[:, 2]
    order = np.argsort(shape_id, kind='stable')
    groups = np.split(order, np.flatnonzero(np.diff(shape_id[order])) + 1)
    targets, sources, owners = [], [], []
    for group in groups:
        sx, sy, sz = sizes[group[0]]
        offsets = ((np.arange(sx)[:, None, None] * dims[1]
                    + np.arange(sy)[:, None]) * dims[2]
                   + np.arange(sz)).ravel()
        target = corner[group][:, None] + offsets
        targets.append(target.ravel())
        sources.append(rng.permuted(target, axis=1).ravel())
        owners.append(np.repeat(group, offsets.size))
    target = np.concatenate(targets)
    source = np.concatenate(sources)
    owner = np.concatenate(owners)
    # The last box (highest index) covering a voxel decides its value.
    last = np.full(flat.shape[1], -1, dtype=np.int64)
    np.maximum.at(last, target, owner)
    keep = last[target] == owner
    out[:, target[keep]] = flat[:, source[keep]]
    return out


@TRANSFORMS.register_module()
class LocalPixelShuffle(BaseTransform):
    """Models Genesis local pixel shuffling: with probability ``prob``,
    shuffle the voxels inside many small random boxes.

    See :func:`local_pixel_shuffle` for the box distribution; it is the
    released one (PCRL / Models Genesis: 10,000 boxes, each side at most a
    tenth of the axis) without its Python loop: on a 64 x 64 x 32 crop it
    runs several times faster than the loop.

    Required Keys:

    - img

    Modified Keys:

    - img

    Args:
        prob (float): Probability to apply. Defaults to 0.5.
        num_blocks (int): Number of boxes. Defaults to 10000.
        max_block_fraction (float): Largest box side as a fraction of each
            spatial axis (at least one voxel). Defaults to 0.1.
    """

    def __init__(self, prob: float = 0.5, num_blocks: int = 10000,
                 max_block_fraction: float = 0.1) -> None:
        name = type(self).__name__
        self.prob = _check_prob(name, prob)
        if not isinstance(num_blocks, numbers.Integral) or num_blocks < 0:
            raise ValueError(f'{name}: `num_blocks` must be an integer >= 0, '
                             f'got {num_blocks!r}.')
        if not 0 < max_block_fraction <= 1:
            raise ValueError(f'{name}: `max_block_fraction` must be in '
                             f'(0, 1], got {max_block_fraction!r}.')
        self.num_blocks = int(num_blocks)
        self.max_block_fraction = float(max_block_fraction)

    @cache_randomness
    def _do(self) -> bool:
        return np.random.rand() < self.prob

    def transform(self, results: dict) -> dict:
        img = _as_volume(type(self).__name__, results['img'])
        if self._do():
            img = local_pixel_shuffle(img, self.num_blocks,
                                      self.max_block_fraction)
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, num_blocks='
                f'{self.num_blocks}, max_block_fraction='
                f'{self.max_block_fraction})')


def _box(dim: int, size: int, margin: int) -> Tuple[int, int]:
    """``(start, stop)`` of a box of ``size`` placed uniformly at least
    ``margin`` voxels from both ends; the margin shrinks on short axes
    where it does not fit (the released code would fail there)."""
    size = min(max(size, 1), dim)
    margin = min(margin, (dim - size) // 2)
    start = _randint(margin, dim - size - margin)
    return start, start + size


def in_painting(img: np.ndarray, max_boxes: int = 5, box_prob: float = 0.95,
                margin: int = 3) -> np.ndarray:
    """Fill up to ``max_boxes`` boxes with uniform noise in [0, 1).

    The released ``image_in_painting``: while fewer than ``max_boxes``
    boxes were drawn and a uniform draw is below ``box_prob``, draw a box
    whose side along each axis of length ``n`` is uniform in
    ``[n // 6, n // 3]``, placed uniformly at least ``margin`` voxels from
    the borders, and fill it with noise (the same noise in every channel).
    Later boxes overwrite earlier ones.

    Returns:
        np.ndarray: A new array of ``img``'s shape and dtype.
    """
    out = np.array(img, copy=True)
    dims = out.shape[-3:]
    for _ in range(max_boxes):
        if not np.random.rand() < box_prob:
            break
        slices = tuple(
            slice(*_box(n, _randint(n // 6, n // 3), margin)) for n in dims)
        shape = tuple(s.stop - s.start for s in slices)
        out[(Ellipsis, ) + slices] = np.random.rand(*shape)
    return out


def out_painting(img: np.ndarray, max_boxes: int = 5, box_prob: float = 0.95,
                 margin: int = 3) -> np.ndarray:
    """Replace everything with uniform noise in [0, 1) except a few boxes.

    The released ``image_out_painting``: the whole volume becomes noise
    (independent per channel), then the original is copied back inside one
    box and inside up to ``max_boxes - 1`` more, each drawn while a uniform
    draw is below ``box_prob``. A box's side along an axis of length ``n``
    is ``n - u`` with ``u`` uniform in ``[3n // 7, 4n // 7]`` (so about 3/7
    to 4/7 of the axis), placed uniformly at least ``margin`` voxels from
    the borders.

    Returns:
        np.ndarray: A new array of ``img``'s shape and dtype.
    """
    dims = img.shape[-3:]
    out = np.random.rand(*img.shape).astype(img.dtype, copy=False)

    def keep_box():
        slices = (Ellipsis, ) + tuple(
            slice(*_box(n, n - _randint(3 * n // 7, 4 * n // 7), margin))
            for n in dims)
        out[slices] = img[slices]

    keep_box()
    for _ in range(max_boxes - 1):
        if not np.random.rand() < box_prob:
            break
        keep_box()
    return out


@TRANSFORMS.register_module()
class InOutPainting(BaseTransform):
    """Models Genesis / PCRL in-painting or out-painting.

    With probability ``prob`` the volume is painted: in-painted (noise in
    up to ``max_inpaint_boxes`` boxes of 1/6 to 1/3 of each axis, see
    :func:`in_painting`) with probability ``inpaint_prob``, out-painted
    (noise everywhere but up to ``max_outpaint_boxes`` boxes of about 3/7
    to 4/7 of each axis, see :func:`out_painting`) otherwise. PCRL uses
    ``prob=0.9`` and ``inpaint_prob=0.2``.

    Shared branch: PCRL draws the branch (none / in / out) once per sample
    and paints both views the same way, with independent boxes. When
    ``results['view_shared_state']`` holds a dict (PCRL's view wrapper puts
    the same dict in every view of a sample), the first view stores its
    branch there under ``shared_key`` and the next views reuse it; without
    that key every call draws its own branch.

    Required Keys:

    - img

    Modified Keys:

    - img

    Added Keys:

    - paint_mode: ``'none'``, ``'inpaint'`` or ``'outpaint'``.

    Args:
        prob (float): Probability to paint at all. Defaults to 0.9.
        inpaint_prob (float): Probability of in-painting when painting.
            Defaults to 0.2.
        max_inpaint_boxes (int): Defaults to 5.
        max_outpaint_boxes (int): Boxes kept by out-painting, the first one
            always. Defaults to 5.
        box_prob (float): Probability to draw each box after the first.
            Defaults to 0.95.
        margin (int): Smallest distance of a box from the borders, in
            voxels (less on axes too short for it). Defaults to 3.
        shared_key (str): Key of the branch in the shared state. Defaults
            to ``'in_out_painting'``.
    """

    MODES = ('none', 'inpaint', 'outpaint')

    def __init__(self,
                 prob: float = 0.9,
                 inpaint_prob: float = 0.2,
                 max_inpaint_boxes: int = 5,
                 max_outpaint_boxes: int = 5,
                 box_prob: float = 0.95,
                 margin: int = 3,
                 shared_key: str = 'in_out_painting') -> None:
        name = type(self).__name__
        self.prob = _check_prob(name, prob)
        self.inpaint_prob = _check_prob(name, inpaint_prob, 'inpaint_prob')
        self.box_prob = _check_prob(name, box_prob, 'box_prob')
        for key, value, low in (('max_inpaint_boxes', max_inpaint_boxes, 0),
                                ('max_outpaint_boxes', max_outpaint_boxes, 1),
                                ('margin', margin, 0)):
            if not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f'{name}: `{key}` must be an integer >= '
                                 f'{low}, got {value!r}.')
        self.max_inpaint_boxes = int(max_inpaint_boxes)
        self.max_outpaint_boxes = int(max_outpaint_boxes)
        self.margin = int(margin)
        self.shared_key = shared_key

    @cache_randomness
    def _draw_mode(self) -> str:
        if not np.random.rand() < self.prob:
            return 'none'
        return 'inpaint' if np.random.rand() < self.inpaint_prob \
            else 'outpaint'

    def _mode(self, results: dict) -> str:
        state = results.get(SHARED_STATE_KEY)
        if state is None:
            return self._draw_mode()
        if not isinstance(state, dict):
            raise TypeError(
                f'{type(self).__name__}: results["{SHARED_STATE_KEY}"] must '
                f'be a dict shared by the views, got {type(state).__name__}.')
        if self.shared_key not in state:
            state[self.shared_key] = self._draw_mode()
        mode = state[self.shared_key]
        if mode not in self.MODES:
            raise ValueError(
                f'{type(self).__name__}: shared state '
                f'"{self.shared_key}" is {mode!r}, expected one of '
                f'{self.MODES}.')
        return mode

    def transform(self, results: dict) -> dict:
        img = _as_volume(type(self).__name__, results['img'])
        mode = self._mode(results)
        if mode == 'inpaint':
            img = in_painting(img, self.max_inpaint_boxes, self.box_prob,
                              self.margin)
        elif mode == 'outpaint':
            img = out_painting(img, self.max_outpaint_boxes, self.box_prob,
                               self.margin)
        results['img'] = img
        results['paint_mode'] = mode
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, inpaint_prob='
                f'{self.inpaint_prob}, max_inpaint_boxes='
                f'{self.max_inpaint_boxes}, max_outpaint_boxes='
                f'{self.max_outpaint_boxes}, box_prob={self.box_prob}, '
                f'margin={self.margin}, shared_key={self.shared_key!r})')
