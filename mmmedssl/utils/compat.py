# Copyright (c) mmmedssl contributors. All rights reserved.
"""Fixes for our pinned stack that do not belong to any one module.

- mmcv 2.2's ``adjust_hue`` computes ``np.uint8(hue_factor * 255)``, which
  numpy 2 refuses for negative factors ("out of bounds for uint8"), so every
  ``ColorJitter`` with ``hue > 0`` crashes about half the time. We replace it
  with an equivalent that wraps the hue shift modulo 256 explicitly.
- mmengine resolves ``_base_ = 'pkg::path'`` config references only for the
  packages it lists in ``MODULE2PACKAGE``; we add ``mmmedssl`` so that other
  projects can inherit our configs by package name (once mmmedssl is
  imported, as every mmmedssl tool does first).
"""
import cv2
import mmcv
import mmcv.image
import mmcv.image.photometric
import numpy as np


def adjust_hue(img: np.ndarray, hue_factor: float, backend=None) -> np.ndarray:
    """Rotate the hue of a BGR image by ``hue_factor`` of a full turn.

    Same result as mmcv's cv2 path (hue on a 0-255 scale, shift truncated
    toward zero and wrapped around), valid on numpy 2.
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    dtype = img.dtype
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    shift = int(hue_factor * 255) % 256
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 256).astype(
        np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


_applied = False


def apply_compat_patches() -> None:
    global _applied
    if _applied:
        return
    for module in (mmcv, mmcv.image, mmcv.image.photometric):
        module.adjust_hue = adjust_hue
    from mmengine.config.utils import MODULE2PACKAGE
    MODULE2PACKAGE.setdefault('mmmedssl', 'mmmedssl')
    _applied = True
