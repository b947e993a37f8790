# Copyright (c) mmmedssl contributors. All rights reserved.
import cv2
import mmcv
import numpy as np
import pytest

from mmmedssl.utils.compat import adjust_hue


@pytest.mark.parametrize('factor', [-0.5, -0.07, 0.0, 0.1, 0.5])
def test_adjust_hue_rotates_hue_on_numpy2(factor):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    out = mmcv.adjust_hue(img, factor)  # patched: no OverflowError
    assert out.shape == img.shape and out.dtype == img.dtype
    # Independent expectation: hue channel (0-255 scale) shifted mod 256.
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL).astype(int)
    hsv[..., 0] = (hsv[..., 0] + int(factor * 255)) % 256
    expected = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR_FULL)
    np.testing.assert_array_equal(out, expected)
    assert mmcv.adjust_hue is adjust_hue


def test_adjust_hue_range_check():
    with pytest.raises(ValueError, match='not in'):
        adjust_hue(np.zeros((2, 2, 3), np.uint8), 0.6)
