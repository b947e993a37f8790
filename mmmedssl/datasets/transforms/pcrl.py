# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import List, Optional

import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmmedssl.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomFlipRot90(BaseTransform):
    """Flip and rotate by k*90 degrees at random, writing the result to a
    separate key and the choices as a binary code: PCRL's transformation
    targets.

    2D (``spatial_dims=2``, images ``(H, W)`` or ``(H, W, C)``): a flip of H
    (vertical) and of W (horizontal), each with ``flip_prob``, then a
    rotation by ``k * 90`` degrees in the (H, W) plane, k uniform in 0..3.
    Code: ``[flip_H, flip_W, onehot(k)]`` (6 values).

    3D (``spatial_dims=3``, volumes ``(D, H, W)`` or ``(C, D, H, W)``): flips
    of each spatial axis, then the rotation in the plane of the first two
    spatial axes (the released LUNA crops are 64 x 64 x 32 and rotate in
    the 64 x 64 plane). Code: ``[flip_0, flip_1, flip_2, onehot(k)]`` (7).

    The rotated plane must be square for odd k, or the target would not
    have the input's shape.

    With ``make_target=False`` only the code is drawn: ``PCRL`` then applies
    it to the normalised input batch (``flip_rot90``), which is the same
    target (flips and rotations commute with per-channel normalisation and
    the released code transforms the normalised input) without carrying
    two more images through collation and normalisation.

    Args:
        spatial_dims (int): 2 or 3.
        flip_prob (float): Probability of each flip. Defaults to 0.5.
        target_key (str): Where the transformed copy goes. Defaults to
            ``'transform_target'``; ``img`` is left unchanged.
        code_key (str): Where the code goes (float32). Defaults to
            ``'aug_code'``.
        make_target (bool): Write the transformed copy. Defaults to True.
    """

    def __init__(self,
                 spatial_dims: int = 2,
                 flip_prob: float = 0.5,
                 target_key: str = 'transform_target',
                 code_key: str = 'aug_code',
                 make_target: bool = True) -> None:
        if spatial_dims not in (2, 3):
            raise ValueError('RandomFlipRot90: spatial_dims must be 2 or 3, '
                             f'got {spatial_dims}.')
        if not 0 <= flip_prob <= 1:
            raise ValueError('RandomFlipRot90: flip_prob must be in [0, 1], '
                             f'got {flip_prob}.')
        self.spatial_dims = spatial_dims
        self.flip_prob = flip_prob
        self.target_key = target_key
        self.code_key = code_key
        self.make_target = make_target

    @property
    def code_dim(self) -> int:
        return self.spatial_dims + 4

    def _spatial_axes(self, img: np.ndarray) -> List[int]:
        if self.spatial_dims == 2:
            if img.ndim not in (2, 3):
                raise ValueError('RandomFlipRot90(spatial_dims=2) expects an '
                                 '(H, W) or (H, W, C) image, got shape '
                                 f'{img.shape}.')
            return [0, 1]
        if img.ndim not in (3, 4):
            raise ValueError('RandomFlipRot90(spatial_dims=3) expects a '
                             '(D, H, W) or (C, D, H, W) volume, got shape '
                             f'{img.shape}.')
        first = img.ndim - 3
        return [first, first + 1, first + 2]

    def transform(self, results: dict) -> dict:
        img = results['img']
        axes = self._spatial_axes(img)
        code = np.zeros(self.code_dim, dtype=np.float32)
        out = img
        for i, axis in enumerate(axes):
            if np.random.rand() < self.flip_prob:
                out = np.flip(out, axis=axis)  # a view: no copy
                code[i] = 1
        k = int(np.random.randint(4))
        plane = (axes[0], axes[1])
        if k % 2 and img.shape[plane[0]] != img.shape[plane[1]]:
            raise ValueError(
                'RandomFlipRot90: a 90-degree rotation needs a square plane; '
                f'the image is {img.shape} (axes {plane}). Crop it square '
                'first.')
        if self.make_target:
            out = np.rot90(out, k=k, axes=plane)
        code[len(axes) + k] = 1
        if self.make_target:
            results[self.target_key] = np.ascontiguousarray(out)
        results[self.code_key] = code
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(spatial_dims={self.spatial_dims}, '
                f'flip_prob={self.flip_prob}, '
                f'target_key={self.target_key!r}, '
                f'code_key={self.code_key!r}, '
                f'make_target={self.make_target})')


@TRANSFORMS.register_module()
class PCRLViews(BaseTransform):
    """PCRL's two views, their clean copies and transformation targets.

    For each of the two views: ``spatial_transforms`` (2D: a random resized
    crop) give the clean target; ``input_transforms`` (photometric
    augmentation, Cutout; 3D: the Models Genesis transforms) give the
    network input; ``target_transform`` (``RandomFlipRot90``) flips/rotates
    the input into the transformation target and records its code.

    Output: ``results['img']`` is the list ``[input1, input2, clean1, clean2,
    target1, target2]`` (the order ``PCRL`` expects), or ``[input1, input2,
    clean1, clean2]`` when the target transform only draws the codes
    (``RandomFlipRot90(make_target=False)``, our configs: the model builds
    the targets); ``results['aug_code']`` holds the two codes,
    ``(2, code_dim)`` float32. Pack with
    ``PackMedInputs(algorithm_keys=['aug_code'])``.

    Both views' pipelines see the same dict under
    ``results['view_shared_state']``, so a transform can make a choice once
    per sample (``InOutPainting`` picks in- or out-painting for both views).

    Args:
        spatial_transforms (list[dict]): Applied first, per view.
        input_transforms (list[dict]): Applied to the clean view, per view.
        target_transform (dict): Writes ``transform_target`` and
            ``aug_code``; defaults to ``RandomFlipRot90`` in 2D.
        views_from (str): ``'copy'``: both views start from ``img`` (2D:
            two crops of one image). ``'pair'``: view i starts from
            ``img[i]`` (3D: the two crops of an offline crop-pair file,
            shaped ``(2, ...)``).
    """

    def __init__(self,
                 spatial_transforms: Optional[List[dict]] = None,
                 input_transforms: Optional[List[dict]] = None,
                 target_transform: dict = dict(type='RandomFlipRot90'),
                 views_from: str = 'copy') -> None:
        if views_from not in ('copy', 'pair'):
            raise ValueError("PCRLViews: views_from must be 'copy' or "
                             f"'pair', got {views_from!r}.")
        self.spatial = Compose(list(spatial_transforms or []))
        self.inputs = Compose(list(input_transforms or []))
        self.target = TRANSFORMS.build(target_transform)
        self.target_key = getattr(self.target, 'target_key',
                                  'transform_target')
        self.code_key = getattr(self.target, 'code_key', 'aug_code')
        self.views_from = views_from

    def _start(self, results: dict, index: int) -> np.ndarray:
        img = results['img']
        if self.views_from == 'copy':
            return img.copy()
        if not isinstance(img, np.ndarray) or img.shape[0] != 2:
            shape = getattr(img, 'shape', type(img).__name__)
            raise ValueError(
                "PCRLViews(views_from='pair') needs `img` shaped (2, ...) "
                f"(a crop pair), got {shape} from "
                f"{results.get('img_path', 'the sample')}.")
        return np.array(img[index])  # a copy: transforms may work in place

    def transform(self, results: dict) -> Optional[dict]:
        shared = {}
        base = {k: v for k, v in results.items() if k != 'img'}
        inputs, cleans, targets, codes = [], [], [], []
        for index in range(2):
            view = dict(base)
            view['img'] = self._start(results, index)
            if self.views_from == 'pair':
                view['img_shape'] = view['img'].shape
            view['view_shared_state'] = shared
            view = self.spatial(view)
            if view is None:
                return None
            clean = view['img'].copy()
            view = self.inputs(view)
            if view is None:
                return None
            view = self.target(view)
            cleans.append(clean)
            inputs.append(view['img'])
            if self.target_key in view:
                targets.append(view[self.target_key])
            codes.append(view[self.code_key])
        results['img'] = inputs + cleans + targets
        results['img_shape'] = (inputs[0].shape[:2] if self.views_from
                                == 'copy' else inputs[0].shape)
        results['aug_code'] = np.stack(codes).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(spatial={self.spatial}, '
                f'inputs={self.inputs}, target={self.target}, '
                f'views_from={self.views_from!r})')
