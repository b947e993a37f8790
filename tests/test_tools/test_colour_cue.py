# Copyright (c) mmmedssl contributors. All rights reserved.
"""The colour statistics of tools/benchmarks/colour_cue.py
(mmmedssl.downstream.colour) and the colour changes it measures invariance
to."""
import numpy as np
import pytest

from mmmedssl.downstream import colour


@pytest.fixture(scope='module')
def tool():
    return colour


def test_colour_stats_by_hand(tool):
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 2] = 255  # BGR: pure red
    img[:2, :, 1] = 255  # top half yellow
    stats = tool.colour_stats(img)
    assert stats.shape == (12, )
    # RGB means and stds: R always 1, G half 1 half 0, B 0.
    np.testing.assert_allclose(stats[:3], [1, 0.5, 0], atol=1e-6)
    np.testing.assert_allclose(stats[3:6], [0, 0.5, 0], atol=1e-6)
    # HSV: red hue 0, yellow 30 (of 180) -> mean 15 / 180; S = V = 1.
    np.testing.assert_allclose(stats[6:9], [15 / 180, 1, 1], atol=1e-6)


def test_hue_rotation_and_grey(tool):
    import cv2
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 2] = 255  # red
    rotated = tool.hue_rotated(img, 120)
    # Red rotated by 120 degrees is green.
    np.testing.assert_array_equal(rotated[0, 0], [0, 255, 0])
    g = tool.grey(img)
    assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    assert g[0, 0, 0] == cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[0, 0]
