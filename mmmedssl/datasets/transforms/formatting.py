# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.structures import DataSample

from mmmedssl.registry import TRANSFORMS


# A 2D image is H x W x C; a first axis this small with a larger last axis
# is a channel-first (C, H, W) array, which 2D transforms (cv2/mmcv) would
# read as C rows of W channels.
_MAX_CHANNEL_FIRST = 4


def looks_channel_first(shape) -> bool:
    """Whether a 3-axis 2D image shape looks like ``(C, H, W)`` with a
    small ``C`` (<= 4) rather than ``(H, W, C)``."""
    return (len(shape) == 3 and shape[0] <= _MAX_CHANNEL_FIRST
            and shape[2] > _MAX_CHANNEL_FIRST)


def check_channel_last(owner: str, img) -> None:
    """Raise a ValueError naming ``owner`` unless ``img`` (a numpy 2D image)
    is ``(H, W)`` or ``(H, W, C)``; tensors and other types pass."""
    if not isinstance(img, np.ndarray):
        return
    if img.ndim not in (2, 3):
        raise ValueError(
            f'{owner}: expected a 2D image, (H, W) or (H, W, C), got shape '
            f'{img.shape}. Volumes belong in 3D pipelines (spatial_dims=3).')
    if looks_channel_first(img.shape):
        raise ValueError(
            f'{owner}: a 2D image of shape {img.shape} looks channel-first '
            '(C, H, W); 2D transforms read the first axis as the height and '
            'the last as the channels, which would silently give '
            f'{img.shape[2]} channels. Load 2D files with LoadMedImage '
            '(H x W x C), not LoadVolume.')


def to_channel_first_tensor(img, spatial_dims: int) -> torch.Tensor:
    """Convert one image or volume to a ``(C, *spatial)`` tensor.

    - 2D arrays: ``(H, W)`` -> ``(1, H, W)``; ``(H, W, C)`` -> ``(C, H, W)``
      (the layout of cv2/mmcv images); a 2D array that looks channel-first
      (``(C, H, W)``, ``C <= 4 < W``) is an error, see
      :func:`check_channel_last`.
    - 3D arrays: ``(D, H, W)`` -> ``(1, D, H, W)``; ``(C, D, H, W)`` kept.
    - Tensors are taken as channel-first already; a missing channel axis is
      added.
    """
    if isinstance(img, torch.Tensor):
        tensor = img
        if tensor.dim() == spatial_dims:
            tensor = tensor.unsqueeze(0)
    elif isinstance(img, np.ndarray):
        if spatial_dims == 2:
            check_channel_last(f'PackMedInputs(spatial_dims={spatial_dims})',
                               img)
        if img.ndim == spatial_dims:
            img = img[None]
        elif spatial_dims == 2 and img.ndim == 3:
            img = img.transpose(2, 0, 1)
        tensor = torch.from_numpy(np.ascontiguousarray(img))
    else:
        raise TypeError('PackMedInputs: expected a numpy array or a tensor, '
                        f'got {type(img).__name__}.')
    if tensor.dim() != spatial_dims + 1:
        raise ValueError(
            f'PackMedInputs(spatial_dims={spatial_dims}): got an image of '
            f'shape {tuple(tensor.shape)}; expected '
            + ('(H, W) or (H, W, C)' if spatial_dims == 2 else
               '(D, H, W) or (C, D, H, W)') + '.')
    return tensor


@TRANSFORMS.register_module()
class PackMedInputs(BaseTransform):
    """Pack an image, a volume or a list of views into ``inputs`` and a
    ``DataSample``.

    Unlike mmpretrain's ``PackInputs``, a 3D array is read as a volume when
    ``spatial_dims=3`` instead of as an ``H, W, C`` image.

    A segmentation mask (``results['gt_seg_map']``, from ``LoadMedSegMap``)
    becomes the sample's ``gt_seg_map``: an int64 tensor of the mask's
    spatial shape (``(H, W)`` or ``(D, H, W)``).

    Args:
        input_key (str): Key of the image(s). Defaults to ``'img'``.
        spatial_dims (int): 2 for images, 3 for volumes.
        algorithm_keys (Sequence[str]): Keys stored as data fields of the
            sample (e.g. targets an algorithm needs).
        meta_keys (Sequence[str]): Keys stored as metainfo when present.
            ``group_id`` (lesion/patient/video) and ``view_metas`` travel
            this way.
    """

    def __init__(self,
                 input_key: str = 'img',
                 spatial_dims: int = 2,
                 algorithm_keys: Sequence[str] = (),
                 meta_keys: Sequence[str] = ('sample_idx', 'img_path',
                                             'ori_shape', 'img_shape',
                                             'group_id', 'view_metas',
                                             'seg_map_path')):
        if spatial_dims not in (2, 3):
            raise ValueError('PackMedInputs: spatial_dims must be 2 or 3, '
                             f'got {spatial_dims}.')
        self.input_key = input_key
        self.spatial_dims = spatial_dims
        self.algorithm_keys = tuple(algorithm_keys)
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        if self.input_key not in results:
            raise KeyError(f'PackMedInputs: no {self.input_key!r} in the '
                           f'results; keys are {sorted(results)}.')
        img = results[self.input_key]
        if isinstance(img, (list, tuple)):
            inputs = [to_channel_first_tensor(v, self.spatial_dims)
                      for v in img]
        else:
            inputs = to_channel_first_tensor(img, self.spatial_dims)

        sample = DataSample()
        if 'gt_label' in results:
            sample.set_gt_label(results['gt_label'])
        if results.get('gt_seg_map') is not None:
            mask = results['gt_seg_map']
            if mask.ndim != self.spatial_dims:
                raise ValueError(
                    f'PackMedInputs(spatial_dims={self.spatial_dims}): mask '
                    f'{results.get("seg_map_path")!r} has shape '
                    f'{tuple(mask.shape)}, expected {self.spatial_dims} '
                    'spatial axes.')
            mask = torch.as_tensor(np.ascontiguousarray(mask))
            sample.set_field(mask.long(), 'gt_seg_map')
        for key in self.algorithm_keys:
            if key in results:
                sample.set_field(results[key], key)
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_key={self.input_key!r}, '
                f'spatial_dims={self.spatial_dims}, '
                f'algorithm_keys={self.algorithm_keys}, '
                f'meta_keys={self.meta_keys})')
