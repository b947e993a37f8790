# Copyright (c) mmmedssl contributors. All rights reserved.
"""Loading segmentation masks and transforms that move an image (or volume)
and its mask together.

Masks travel as ``results['gt_seg_map']``, an integer array with the image's
spatial shape (``(H, W)`` or ``(D, H, W)``), the key mmcv's own transforms
use: mmcv's ``Resize`` (nearest neighbour for the mask) and ``RandomFlip``
(registered in mmpretrain, hence here) already move it with the image, so
this module adds only what they lack: a loader that understands binary
masks, a random resized crop, and n-dimensional crops and flips for volumes.
``PackMedInputs`` puts the mask into the data sample.
"""
import os.path as osp
from typing import Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpretrain.datasets.transforms import RandomResizedCrop

from mmmedssl.registry import TRANSFORMS

from .augment import _check_prob
from .volume import _read_or_explain, volume_suffix


def _read_image_mask(path: str, binary: bool) -> np.ndarray:
    """A 2D mask from an image file (PNG, BMP, TIFF...) as an array.

    Binary masks are read as the displayed grey level (palette applied), so a
    palette PNG whose palette is inverted (index 0 drawn white) reads right;
    label maps keep the stored values (palette indices for mode ``'P'``, the
    convention of VOC-style label PNGs).
    """
    from PIL import Image
    try:
        with Image.open(path) as image:
            image.load()
            if binary:
                if image.mode not in ('L', 'I', 'I;16', 'F', '1'):
                    image = image.convert('L')
                return np.array(image)
            if image.mode in ('RGB', 'RGBA', 'LA'):
                array = np.array(image)[..., :3 if image.mode != 'LA' else 1]
                if not (array == array[..., :1]).all():
                    raise ValueError(
                        f'a colour ({image.mode}) image is not a label map; '
                        'save labels as a greyscale or palette PNG')
                return array[..., 0]
            return np.array(image)
    except FileNotFoundError:
        raise
    except Exception as e:  # PIL raises many types
        raise ValueError(f'LoadMedSegMap: cannot read mask {path!r}: '
                         f'{type(e).__name__}: {e}') from e


@TRANSFORMS.register_module()
class LoadMedSegMap(BaseTransform):
    """Load a segmentation mask or label map from ``results['seg_map_path']``.

    - 2D: image files (PNG, BMP, TIFF, ...) through PIL. With
      ``binary_threshold`` (binary lesion masks, 0/255 with anti-aliased
      edges as in HAM10000 or ISIC) the grey level shown is thresholded:
      ``> binary_threshold`` becomes 1, the rest 0; palette PNGs are
      converted to grey first (HAM10000 has some whose palette is inverted,
      so their raw indices would be wrong). Without it the stored values are
      the labels (palette indices for palette PNGs).
    - 3D: ``.npy``, NIfTI, MetaImage/NRRD files or DICOM folders through
      :func:`read_volume`, in the same axis order as ``LoadVolume`` gives
      the image (``.npy`` arrays as saved).

    The labels must be non-negative integers (255 is the usual "ignore"
    value). They are stored as uint8 when they fit, else int32 (cv2, used by
    mmcv's ``Resize``, cannot resize int64).

    Required Keys:

    - seg_map_path
    - ori_shape (optional): the image's spatial shape as loaded; the mask
      must have it.

    Added Keys:

    - gt_seg_map
    - seg_fields: ``['gt_seg_map']`` (mmseg's convention)

    Args:
        binary_threshold (float, optional): Threshold of binary masks (127
            for 0/255 masks). None keeps the stored values as labels.
        check_shape (bool): Raise when the mask's shape differs from
            ``ori_shape``. Defaults to True.
    """

    def __init__(self,
                 binary_threshold: Optional[float] = None,
                 check_shape: bool = True) -> None:
        self.binary_threshold = binary_threshold
        self.check_shape = check_shape

    def transform(self, results: dict) -> dict:
        path = results.get('seg_map_path')
        if path is None:
            raise KeyError(
                'LoadMedSegMap: no "seg_map_path" in the results (keys: '
                f'{sorted(results)}); give the dataset a mask column, e.g. '
                "MedImageList(mask_key='mask'), or ISIC2017(with_mask=True).")
        path = str(path)
        binary = self.binary_threshold is not None
        if volume_suffix(path) is not None or osp.isdir(path):
            mask, _ = _read_or_explain('LoadMedSegMap', path)
        else:
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'LoadMedSegMap: mask {path!r} does not exist (image '
                    f'{results.get("img_path")!r}).')
            mask = _read_image_mask(path, binary)
        mask = np.asarray(mask)
        if binary:
            mask = mask > self.binary_threshold
        elif mask.dtype.kind == 'f':
            if not np.array_equal(mask, np.round(mask)):
                raise ValueError(
                    f'LoadMedSegMap: mask {path!r} has non-integer values; '
                    'a label map holds class indices (give binary_threshold '
                    'for a soft or 0/255 binary mask).')
        elif mask.dtype.kind not in 'iub':
            raise ValueError(f'LoadMedSegMap: mask {path!r} has dtype '
                             f'{mask.dtype}, expected integer labels.')
        if mask.size and mask.min() < 0:
            raise ValueError(f'LoadMedSegMap: mask {path!r} has negative '
                             'labels.')
        dtype = np.uint8 if (not mask.size or mask.max() <= 255) else np.int32
        mask = mask.astype(dtype)

        expected = results.get('ori_shape')
        if self.check_shape and expected is not None and tuple(
                mask.shape) != tuple(expected):
            raise ValueError(
                f'LoadMedSegMap: mask {path!r} has shape {mask.shape} but '
                f'its image {results.get("img_path")!r} has spatial shape '
                f'{tuple(expected)}; mask and image must match pixel for '
                'pixel.')
        results['gt_seg_map'] = mask
        results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in results['seg_fields']:
            results['seg_fields'].append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(binary_threshold='
                f'{self.binary_threshold}, check_shape={self.check_shape})')


def _spatial(results: dict, owner: str) -> Tuple[int, ...]:
    """The spatial shape of the mask, checked against the image's."""
    img = results['img']
    mask = results.get('gt_seg_map')
    if mask is None:
        raise KeyError(f'{owner}: no "gt_seg_map" in the results; put '
                       'LoadMedSegMap before it.')
    shape = tuple(mask.shape)
    # 2D images are (H, W[, C]); volumes (D, H, W) or (C, D, H, W).
    img_spatial = tuple(img.shape[-3:]) if len(shape) == 3 else tuple(
        img.shape[:2])
    if img_spatial != shape:
        raise ValueError(
            f'{owner}: image {tuple(img.shape)} and mask {shape} differ in '
            f'size ({results.get("seg_map_path")!r}); transform them '
            'together from the start.')
    return shape


def _img_slices(img: np.ndarray, spatial: Sequence[slice],
                dims: int) -> tuple:
    """Index of ``img`` for spatial slices: 2D images are ``(H, W[, C])``,
    volumes ``(D, H, W)`` or channel-first ``(C, D, H, W)``."""
    spatial = tuple(spatial)
    if dims == 3 and img.ndim == 4:
        return (slice(None), ) + spatial
    return spatial


@TRANSFORMS.register_module()
class MedSegRandomResizedCrop(RandomResizedCrop):
    """mmpretrain's ``RandomResizedCrop`` for an image and its mask: one
    crop box for both, the image resized with ``interpolation``, the mask
    with nearest neighbour (labels stay labels).

    Required Keys: img, gt_seg_map. Modified Keys: img, img_shape,
    gt_seg_map. Arguments as in ``RandomResizedCrop``.
    """

    def transform(self, results: dict) -> dict:
        _spatial(results, type(self).__name__)
        img = results['img']
        offset_h, offset_w, target_h, target_w = self.rand_crop_params(img)
        box = np.array([
            offset_w, offset_h, offset_w + target_w - 1,
            offset_h + target_h - 1
        ])
        size = tuple(self.scale[::-1])
        img = mmcv.imresize(
            mmcv.imcrop(img, bboxes=box),
            size,
            interpolation=self.interpolation,
            backend=self.backend)
        mask = mmcv.imresize(
            mmcv.imcrop(results['gt_seg_map'], bboxes=box),
            size,
            interpolation='nearest',
            backend=self.backend)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['gt_seg_map'] = mask
        return results


@TRANSFORMS.register_module()
class MedSegRandomCrop(BaseTransform):
    """Crop a random window of ``crop_size`` from an image or volume and
    its mask (the same window).

    Works in 2D (``(H, W[, C])`` images) and 3D (``(D, H, W)`` or
    ``(C, D, H, W)`` volumes); ``crop_size`` has one entry per spatial axis
    of the mask. Inputs smaller than ``crop_size`` are an error.

    Required Keys: img, gt_seg_map. Modified Keys: img, img_shape,
    gt_seg_map.
    """

    def __init__(self, crop_size: Sequence[int]) -> None:
        self.crop_size = tuple(int(s) for s in crop_size)
        if len(self.crop_size) not in (2, 3) or min(self.crop_size) < 1:
            raise ValueError('MedSegRandomCrop: crop_size must be 2 or 3 '
                             f'positive sizes, got {crop_size}.')

    @cache_randomness
    def _starts(self, shape: Tuple[int, ...]) -> Tuple[int, ...]:
        return tuple(
            int(np.random.randint(0, n - c + 1))
            for n, c in zip(shape, self.crop_size))

    def transform(self, results: dict) -> dict:
        shape = _spatial(results, 'MedSegRandomCrop')
        if len(shape) != len(self.crop_size) or any(
                n < c for n, c in zip(shape, self.crop_size)):
            raise ValueError(
                f'MedSegRandomCrop: cannot crop {self.crop_size} from '
                f'{shape} ({results.get("img_path")!r}).')
        starts = self._starts(shape)
        window = [slice(s, s + c) for s, c in zip(starts, self.crop_size)]
        img = results['img']
        results['img'] = np.ascontiguousarray(
            img[_img_slices(img, window, len(shape))])
        results['gt_seg_map'] = np.ascontiguousarray(
            results['gt_seg_map'][tuple(window)])
        results['img_shape'] = self.crop_size
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class MedSegRandomFlip(BaseTransform):
    """Flip an image or volume and its mask along each of ``axes``
    independently with probability ``prob``.

    ``axes`` index the spatial axes of the mask (``(0, 1)`` = H, W in 2D;
    ``(0, 1, 2)`` = the three axes of a volume). For 2D images mmcv's
    ``RandomFlip`` does the same; this one also handles volumes.

    Required Keys: img, gt_seg_map. Modified Keys: img, gt_seg_map.
    Added Keys: flip_axes (the axes flipped).
    """

    def __init__(self, axes: Sequence[int] = (0, 1, 2),
                 prob: float = 0.5) -> None:
        self.axes = tuple(int(a) for a in axes)
        self.prob = _check_prob('MedSegRandomFlip', prob)

    @cache_randomness
    def _draw(self) -> Tuple[int, ...]:
        return tuple(a for a in self.axes if np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        shape = _spatial(results, 'MedSegRandomFlip')
        bad = [a for a in self.axes if not 0 <= a < len(shape)]
        if bad:
            raise ValueError(f'MedSegRandomFlip: axes {bad} outside the '
                             f'{len(shape)} spatial axes.')
        flipped = self._draw()
        img = results['img']
        offset = 1 if (len(shape) == 3 and img.ndim == 4) else 0
        if flipped:
            results['img'] = np.ascontiguousarray(
                np.flip(img, [a + offset for a in flipped]))
            results['gt_seg_map'] = np.ascontiguousarray(
                np.flip(results['gt_seg_map'], flipped))
        results['flip_axes'] = flipped
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(axes={self.axes}, prob={self.prob})'


__all__ = [
    'LoadMedSegMap', 'MedSegRandomCrop', 'MedSegRandomFlip',
    'MedSegRandomResizedCrop'
]
