# Copyright (c) mmmedssl contributors. All rights reserved.
"""HU windowing and the Models Genesis / PCRL volume augmentations."""
import numpy as np
import pytest
import torch

from mmmedssl.datasets.transforms import (HUWindow, InOutPainting,
                                          LocalPixelShuffle,
                                          TorchIOTransform)
from mmmedssl.datasets.transforms import volume_augment as VA
from mmmedssl.registry import TRANSFORMS

pytest.importorskip('torchio')


def unique_volume(shape=(16, 16, 12)):
    """Every voxel a distinct value, so a value tells where it came from."""
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def test_registered_without_shadowing_mmpretrain():
    from mmpretrain.registry import TRANSFORMS as MMPRETRAIN
    for name in ('LoadVolume', 'HUWindow', 'TorchIOTransform',
                 'LocalPixelShuffle', 'InOutPainting'):
        assert TRANSFORMS.get(name) is not None
        assert name not in MMPRETRAIN.module_dict


# ----------------------------------------------------------------------
# HUWindow
# ----------------------------------------------------------------------
def test_hu_window_values():
    hu = np.array([[-3000, -1000, -500], [0, 400, 1000], [1200, 3000, 250]],
                  dtype=np.int16)[None]
    out = HUWindow()(dict(img=hu))['img']
    assert out.dtype == np.float32 and out.shape == hu.shape
    np.testing.assert_allclose(
        out[0], [[0., 0., 0.25], [0.5, 0.7, 1.], [1., 1., 0.625]])

    clipped = HUWindow(-100, 300, scale=False)(dict(img=hu))['img']
    np.testing.assert_array_equal(
        clipped[0], [[-100, -100, -100], [0, 300, 300], [300, 300, 250]])
    assert clipped.dtype == np.float32
    narrow = HUWindow(-160, 240)(dict(img=hu))['img']
    assert narrow[0, 1, 0] == pytest.approx(0.4)  # (0 + 160) / 400
    with pytest.raises(ValueError, match='HUWindow: low'):
        HUWindow(100, 100)


# ----------------------------------------------------------------------
# TorchIOTransform
# ----------------------------------------------------------------------
@pytest.mark.parametrize('name', ['RandomFlip', 'RandomAffine', 'RandomBlur'])
@pytest.mark.parametrize('shape', [(12, 10, 8), (2, 12, 10, 8)])
def test_torchio_keeps_shape_and_dtype(name, shape):
    torch.manual_seed(0)
    img = np.random.default_rng(0).random(shape).astype(np.float32)
    results = TRANSFORMS.build(dict(type='TorchIOTransform',
                                    transform=name))(dict(img=img.copy()))
    assert results['img'].shape == shape
    assert results['img'].dtype == np.float32
    assert results['img_shape'] == shape[-3:]


def test_torchio_applies_the_transform_on_the_first_spatial_axis():
    img = unique_volume((4, 3, 2))
    flip = TorchIOTransform('RandomFlip', axes=(0, ), flip_probability=1.)
    np.testing.assert_array_equal(flip(dict(img=img))['img'], img[::-1])
    with_channel = flip(dict(img=img[None].copy()))['img']
    np.testing.assert_array_equal(with_channel, img[None, ::-1])
    assert 'RandomFlip' in repr(flip) and 'flip_probability=1.0' in repr(flip)


def test_torchio_unknown_name():
    with pytest.raises(ValueError, match=r"unknown transform 'RandomFlop'.*"
                       r"RandomFlip"):
        TorchIOTransform('RandomFlop')
    with pytest.raises(ValueError, match='unknown transform'):
        TorchIOTransform('Subject')  # in torchio, but not a transform


# ----------------------------------------------------------------------
# LocalPixelShuffle
# ----------------------------------------------------------------------
def test_pixel_shuffle_probability_and_shape():
    # Sides up to a tenth of each axis: 3, 3, 2 voxels here (on 16 voxels
    # they would be 1: a no-op, as in the released code).
    img = unique_volume((32, 32, 20))
    assert LocalPixelShuffle(prob=0.)(dict(img=img))['img'] is img
    np.random.seed(0)
    out = LocalPixelShuffle(prob=1.)(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.float32
    assert (out != img).sum() > img.size // 4
    assert (VA.local_pixel_shuffle(unique_volume((16, 16, 12)))
            == unique_volume((16, 16, 12))).all()
    # Channel-first: channels move together.
    both = np.stack([img, -img])
    out = LocalPixelShuffle(prob=1.)(dict(img=both))['img']
    assert out.shape == both.shape
    np.testing.assert_array_equal(out[1], -out[0])
    with pytest.raises(ValueError, match='prob'):
        LocalPixelShuffle(prob=1.5)


def test_pixel_shuffle_is_a_local_permutation():
    img = unique_volume((20, 20, 10))
    # One box: a permutation of the box, the rest unchanged.
    np.random.seed(3)
    out = VA.local_pixel_shuffle(img, num_blocks=1, max_block_fraction=0.5)
    np.testing.assert_array_equal(np.sort(out, axis=None), img.ravel())
    changed = np.argwhere(out != img)
    assert len(changed) > 0
    assert (changed.max(0) - changed.min(0) < [10, 10, 5]).all()

    # Many boxes: each value comes from at most (max side - 1) voxels away
    # along each axis (sides <= 2, 2, 1 here), from the original image.
    np.random.seed(4)
    out = VA.local_pixel_shuffle(img, num_blocks=2000)
    src = np.stack(np.unravel_index(out.astype(np.int64).ravel(),
                                    img.shape), -1)
    dst = np.stack(np.unravel_index(np.arange(img.size), img.shape), -1)
    assert (np.abs(src - dst) <= [1, 1, 0]).all()
    assert (src != dst).any(axis=1).mean() > 0.3


def test_shuffle_boxes_last_box_wins():
    """Against a sequential reference: the value of a voxel comes from the
    last box that covers it, and a box's output is a permutation of its
    original voxels where no later box overlaps it."""
    dims = (9, 8, 7)
    img = unique_volume(dims)
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 4, size=(60, 3))
    starts = rng.integers(0, np.array(dims) - sizes + 1)
    out = VA.shuffle_boxes(img.reshape(1, -1), dims, starts, sizes,
                           np.random.default_rng(1)).reshape(dims)
    last = np.full(dims, -1)
    for n, (s, z) in enumerate(zip(starts, sizes)):
        last[s[0]:s[0] + z[0], s[1]:s[1] + z[1], s[2]:s[2] + z[2]] = n
    np.testing.assert_array_equal(out[last < 0], img[last < 0])
    for n, (s, z) in enumerate(zip(starts, sizes)):
        box = (slice(s[0], s[0] + z[0]), slice(s[1], s[1] + z[1]),
               slice(s[2], s[2] + z[2]))
        mine = last[box] == n
        # Values written by box n are values of box n in the original.
        assert np.isin(out[box][mine], img[box]).all()
        if mine.all():
            np.testing.assert_array_equal(np.sort(out[box], axis=None),
                                          np.sort(img[box], axis=None))
    covered = last >= 0
    assert (out[covered] != img[covered]).mean() > 0.5

    # A small box drawn after a big one that contains it: the small box's
    # voxels take values from the small box only.
    img = unique_volume((6, 6, 6))
    for seed in range(5):
        out = VA.shuffle_boxes(img.reshape(1, -1), (6, 6, 6),
                               [[0, 0, 0], [0, 0, 0]],
                               [[6, 6, 6], [2, 2, 2]],
                               np.random.default_rng(seed)).reshape(6, 6, 6)
        np.testing.assert_array_equal(np.sort(out[:2, :2, :2], axis=None),
                                      np.sort(img[:2, :2, :2], axis=None))


def test_pixel_shuffle_is_seedable():
    img = unique_volume((32, 32, 20))
    np.random.seed(7)
    a = VA.local_pixel_shuffle(img)
    np.random.seed(7)
    b = VA.local_pixel_shuffle(img)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, VA.local_pixel_shuffle(img))


# ----------------------------------------------------------------------
# In-/out-painting
# ----------------------------------------------------------------------
def bounding_box(mask):
    idx = np.argwhere(mask)
    return idx.min(0), idx.max(0) + 1


def test_in_painting_changes_only_boxes_of_the_released_sizes():
    img = np.full((64, 64, 32), 5., np.float32)  # outside noise's [0, 1)
    for seed in range(20):
        np.random.seed(seed)
        out = VA.in_painting(img, max_boxes=1, box_prob=1.)
        painted = out != 5.
        low, high = bounding_box(painted)
        size = high - low
        # One box: n // 6 <= side <= n // 3, >= 3 voxels from the borders.
        assert ((size >= [10, 10, 5]) & (size <= [21, 21, 10])).all()
        assert (low >= 3).all() and (high <= [61, 61, 29]).all()
        assert painted.sum() == np.prod(size)  # a full box
        assert (out[painted] >= 0).all() and (out[painted] < 1).all()
    # Up to max_boxes boxes, none with box_prob 0; the input is untouched.
    np.random.seed(0)
    assert (VA.in_painting(img, box_prob=0.) == 5.).all()
    assert (img == 5.).all()


def test_out_painting_keeps_only_inside_boxes():
    img = np.full((2, 64, 64, 32), 5., np.float32)
    for seed in range(20):
        np.random.seed(seed)
        out = VA.out_painting(img, max_boxes=1, box_prob=1.)
        kept = out[0] == 5.
        low, high = bounding_box(kept)
        size = high - low
        # n - randint(3n // 7, 4n // 7): 28..37 of 64, 14..19 of 32.
        assert ((size >= [28, 28, 14]) & (size <= [37, 37, 19])).all()
        assert (low >= 3).all() and (high <= [61, 61, 29]).all()
        assert kept.sum() == np.prod(size)
        assert (out[1] == 5.)[kept].all()
        noise = out[:, ~kept]
        assert (noise >= 0).all() and (noise < 1).all()
        # Out-painting noise is drawn per channel.
        assert (noise[0] != noise[1]).any()
    # With more boxes the kept part is the union of boxes.
    np.random.seed(1)
    out = VA.out_painting(img[0], max_boxes=5, box_prob=1.)
    assert (out == 5.).sum() > np.prod([28, 28, 14])


def test_painting_on_small_volumes_keeps_the_shape():
    for shape in [(8, 8, 4), (2, 6, 5, 3)]:
        img = np.zeros(shape, np.float32)
        for seed in range(10):
            np.random.seed(seed)
            out = InOutPainting(prob=1., inpaint_prob=seed % 2)(
                dict(img=img))['img']
            assert out.shape == shape and out.dtype == np.float32


def test_painting_modes_and_probabilities():
    img = np.full((32, 32, 16), 5., np.float32)
    results = InOutPainting(prob=0.)(dict(img=img))
    assert results['paint_mode'] == 'none' and results['img'] is img
    np.random.seed(0)
    out = InOutPainting(prob=1., inpaint_prob=1.)(dict(img=img))
    assert out['paint_mode'] == 'inpaint'
    assert (out['img'] == 5.).mean() > 0.5  # mostly kept
    out = InOutPainting(prob=1., inpaint_prob=0.)(dict(img=img))
    assert out['paint_mode'] == 'outpaint'
    assert (out['img'] == 5.).mean() < 0.9
    # Frequencies: prob 0.9 to paint, then 0.2 in-painting.
    np.random.seed(1)
    t = InOutPainting()
    modes = [t._draw_mode() for _ in range(4000)]
    assert modes.count('none') / 4000 == pytest.approx(0.1, abs=0.02)
    assert modes.count('inpaint') / 4000 == pytest.approx(0.18, abs=0.02)
    with pytest.raises(ValueError, match='inpaint_prob'):
        InOutPainting(inpaint_prob=-0.1)


def test_painting_branch_is_shared_across_views_boxes_are_not():
    t = InOutPainting(prob=0.9, inpaint_prob=0.5)
    img = np.full((32, 32, 16), 5., np.float32)
    seen = set()
    for seed in range(40):
        np.random.seed(seed)
        shared = {}
        views = [t(dict(img=img, view_shared_state=shared))
                 for _ in range(2)]
        modes = [v['paint_mode'] for v in views]
        assert modes[0] == modes[1] == shared['in_out_painting']
        seen.add(modes[0])
        if modes[0] != 'none':
            # Independent boxes: the two views differ.
            assert not np.array_equal(views[0]['img'] == 5.,
                                      views[1]['img'] == 5.)
    assert seen == {'none', 'inpaint', 'outpaint'}

    # Without the shared state the views draw their own branch.
    np.random.seed(0)
    pairs = [tuple(t(dict(img=img))['paint_mode'] for _ in range(2))
             for _ in range(60)]
    assert any(a != b for a, b in pairs)
    # A branch set by an earlier view is reused as it is.
    out = t(dict(img=img, view_shared_state={'in_out_painting': 'none'}))
    assert out['paint_mode'] == 'none' and (out['img'] == 5.).all()
    with pytest.raises(ValueError, match='expected one of'):
        t(dict(img=img, view_shared_state={'in_out_painting': 'paint'}))
    with pytest.raises(TypeError, match='view_shared_state'):
        t(dict(img=img, view_shared_state=['not', 'a', 'dict']))


def test_volume_transforms_reject_bad_shapes():
    for t in (LocalPixelShuffle(prob=1.), InOutPainting(prob=1.),
              TorchIOTransform('RandomBlur')):
        with pytest.raises(ValueError, match=r'\(D, H, W\)'):
            t(dict(img=np.zeros((4, 4), np.float32)))
