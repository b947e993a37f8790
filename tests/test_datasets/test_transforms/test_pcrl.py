# Copyright (c) mmmedssl contributors. All rights reserved.
"""PCRL's ``RandomFlipRot90`` and ``PCRLViews`` against independent numpy
reconstructions, small test transforms with known effects and the 2D base
config's training pipeline."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform, Compose
from mmengine.config import Config
from mmengine.dataset import default_collate

from mmmedssl.datasets.transforms import (PackMedInputs, PCRLViews,
                                          RandomFlipRot90)
from mmmedssl.registry import TRANSFORMS

from ...conftest import REPO_ROOT

ADD = 7.5  # what _PCRLTestAdd adds
LOG = []  # what the recording test transforms saw, cleared per test


# ----------------------------------------------------------------------
# Test transforms with known, checkable effects
# ----------------------------------------------------------------------
@TRANSFORMS.register_module(name='_PCRLTestAdd', force=True)
class _PCRLTestAdd(BaseTransform):
    """input = float32(clean) + value (consumes no randomness)."""

    def __init__(self, value=ADD):
        self.value = value

    def transform(self, results):
        results['img'] = results['img'].astype(np.float32) + self.value
        return results


@TRANSFORMS.register_module(name='_PCRLTestInvert', force=True)
class _PCRLTestInvert(BaseTransform):
    """input = 255 - clean, uint8."""

    def transform(self, results):
        results['img'] = 255 - results['img']
        return results


@TRANSFORMS.register_module(name='_PCRLTestInplaceAdd', force=True)
class _PCRLTestInplaceAdd(BaseTransform):
    """Adds 1 in place: must not leak into the clean copy."""

    def transform(self, results):
        results['img'] += 1
        return results


@TRANSFORMS.register_module(name='_PCRLTestCrop', force=True)
class _PCRLTestCrop(BaseTransform):
    """A random ``size`` x ``size`` crop whose offsets are logged."""

    def __init__(self, size):
        self.size = size

    def transform(self, results):
        img = results['img']
        y = np.random.randint(img.shape[0] - self.size + 1)
        x = np.random.randint(img.shape[1] - self.size + 1)
        LOG.append(('crop', y, x))
        results['img'] = img[y:y + self.size, x:x + self.size]
        results['img_shape'] = (self.size, self.size)
        return results


@TRANSFORMS.register_module(name='_PCRLTestRecordShared', force=True)
class _PCRLTestRecordShared(BaseTransform):
    """Logs the shared-state dict it sees and counts its calls in it."""

    def transform(self, results):
        shared = results['view_shared_state']
        LOG.append(('shared', id(shared), shared))
        shared['calls'] = shared.get('calls', 0) + 1
        return results


@TRANSFORMS.register_module(name='_PCRLTestRecordImg', force=True)
class _PCRLTestRecordImg(BaseTransform):
    """Logs a copy of the image it sees and the keys of the view dict."""

    def transform(self, results):
        LOG.append(('img', results['img'].copy(), sorted(results)))
        return results


@TRANSFORMS.register_module(name='_PCRLTestNone', force=True)
class _PCRLTestNone(BaseTransform):

    def transform(self, results):
        LOG.append(('none', ))
        return None


@pytest.fixture(autouse=True)
def _clear_log():
    LOG.clear()
    yield
    LOG.clear()


# ----------------------------------------------------------------------
# Helpers: independent reconstructions
# ----------------------------------------------------------------------
def reconstruct(img, code, spatial_dims):
    """Flip each spatial axis whose bit is set, then rot90 by
    k = argmax(onehot) in the plane of the first two spatial axes."""
    axes = [0, 1] if spatial_dims == 2 else [
        img.ndim - 3, img.ndim - 2, img.ndim - 1
    ]
    out = img
    for i, axis in enumerate(axes):
        if code[i]:
            out = np.flip(out, axis=axis)
    k = int(np.argmax(code[len(axes):]))
    return np.rot90(out, k=k, axes=(axes[0], axes[1]))


def check_code(code, spatial_dims):
    n = spatial_dims
    assert code.dtype == np.float32
    assert code.shape == (n + 4, )
    assert set(np.unique(code[:n]).tolist()) <= {0.0, 1.0}
    onehot = code[n:]
    assert set(np.unique(onehot).tolist()) <= {0.0, 1.0}
    assert onehot.sum() == 1


def image(seed=0, h=8, w=8, c=3, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    shape = (h, w) if c is None else (h, w, c)
    if dtype == np.uint8:
        return rng.integers(0, 256, shape).astype(np.uint8)
    return rng.standard_normal(shape).astype(dtype)


def force(monkeypatch, flips, k):
    """Make RandomFlipRot90 draw the given flips (bools) and k."""
    draws = iter([0.0 if f else 0.99 for f in flips])
    monkeypatch.setattr(np.random, 'rand', lambda: next(draws))
    monkeypatch.setattr(np.random, 'randint', lambda *a, **kw: k)


# ----------------------------------------------------------------------
# RandomFlipRot90, 2D
# ----------------------------------------------------------------------
@pytest.mark.parametrize('kind', ['hwc_uint8', 'hw_uint8', 'hwc_float',
                                  'hw_float'])
def test_flip_rot90_2d_matches_reconstruction(kind):
    c = 3 if kind.startswith('hwc') else None
    dtype = np.uint8 if kind.endswith('uint8') else np.float32
    t = RandomFlipRot90(spatial_dims=2)
    seen_k, seen_flips = set(), set()
    for seed in range(40):
        img = image(seed, 8, 8, c, dtype)
        before = img.copy()
        np.random.seed(seed)
        out = t(dict(img=img))
        assert out['img'] is img  # img is left as it was
        np.testing.assert_array_equal(img, before)
        code = out['aug_code']
        check_code(code, 2)
        target = out['transform_target']
        assert target.dtype == dtype
        assert target.shape == img.shape
        assert target.flags['C_CONTIGUOUS']
        np.testing.assert_array_equal(target, reconstruct(img, code, 2))
        seen_k.add(int(np.argmax(code[2:])))
        seen_flips.add((int(code[0]), int(code[1])))
    assert seen_k == {0, 1, 2, 3}
    assert seen_flips == {(0, 0), (0, 1), (1, 0), (1, 1)}


@pytest.mark.parametrize('flips, k, expected', [
    ((False, False), 0, [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
    ((False, False), 1, [[3, 6, 9], [2, 5, 8], [1, 4, 7]]),
    ((False, False), 2, [[9, 8, 7], [6, 5, 4], [3, 2, 1]]),
    ((False, False), 3, [[7, 4, 1], [8, 5, 2], [9, 6, 3]]),
    ((True, False), 0, [[7, 8, 9], [4, 5, 6], [1, 2, 3]]),
    ((False, True), 0, [[3, 2, 1], [6, 5, 4], [9, 8, 7]]),
    # flip H first, then rotate by 90 degrees
    ((True, False), 1, [[9, 6, 3], [8, 5, 2], [7, 4, 1]]),
    ((True, True), 3, [[3, 6, 9], [2, 5, 8], [1, 4, 7]]),
])
def test_flip_rot90_2d_literal_values(monkeypatch, flips, k, expected):
    img = np.arange(1, 10, dtype=np.uint8).reshape(3, 3)
    force(monkeypatch, flips, k)
    out = RandomFlipRot90()(dict(img=img))
    np.testing.assert_array_equal(out['transform_target'],
                                  np.array(expected, np.uint8))
    code = [float(f) for f in flips] + [float(i == k) for i in range(4)]
    np.testing.assert_array_equal(out['aug_code'],
                                  np.array(code, np.float32))
    np.testing.assert_array_equal(img, np.arange(1, 10).reshape(3, 3))


def test_flip_rot90_2d_frequencies():
    img = np.arange(4, dtype=np.uint8).reshape(2, 2)
    n = 2000
    t = RandomFlipRot90(spatial_dims=2)
    np.random.seed(123)
    codes = np.stack([t(dict(img=img))['aug_code'] for _ in range(n)])
    assert codes.shape == (n, 6)
    ks = np.bincount(codes[:, 2:].argmax(1), minlength=4)
    # each k ~ Binomial(2000, 1/4): mean 500, sd ~19
    assert ks.sum() == n
    assert all(abs(c - n / 4) < 100 for c in ks), ks
    for i in range(2):  # each flip ~ Binomial(2000, 1/2): sd ~22
        assert abs(codes[:, i].sum() - n / 2) < 110, codes[:, i].sum()
    # the two flips are drawn independently
    both = (codes[:, 0] * codes[:, 1]).sum()
    assert abs(both - n / 4) < 100

    t = RandomFlipRot90(spatial_dims=2, flip_prob=0.2)
    codes = np.stack([t(dict(img=img))['aug_code'] for _ in range(n)])
    for i in range(2):  # mean 400, sd ~18
        assert abs(codes[:, i].sum() - 0.2 * n) < 90, codes[:, i].sum()


def test_flip_prob_zero_and_one():
    img = image(1, 6, 6, 3)
    np.random.seed(0)
    t = RandomFlipRot90(flip_prob=0)
    ks = set()
    for _ in range(200):
        out = t(dict(img=img))
        assert out['aug_code'][0] == 0 and out['aug_code'][1] == 0
        k = int(np.argmax(out['aug_code'][2:]))
        ks.add(k)
        np.testing.assert_array_equal(out['transform_target'],
                                      np.rot90(img, k, axes=(0, 1)))
    assert ks == {0, 1, 2, 3}
    t = RandomFlipRot90(flip_prob=1)
    for _ in range(50):
        code = t(dict(img=img))['aug_code']
        assert code[0] == 1 and code[1] == 1


def test_flip_prob_zero_even_when_rand_draws_zero(monkeypatch):
    # np.random.rand() is in [0, 1): a draw of exactly 0 must not flip
    img = image(1, 4, 4, None)
    monkeypatch.setattr(np.random, 'rand', lambda: 0.0)
    monkeypatch.setattr(np.random, 'randint', lambda *a, **kw: 0)
    out = RandomFlipRot90(flip_prob=0)(dict(img=img))
    np.testing.assert_array_equal(out['aug_code'],
                                  np.array([0, 0, 1, 0, 0, 0], np.float32))
    np.testing.assert_array_equal(out['transform_target'], img)


def test_flip_rot90_custom_keys_and_repr():
    img = image(2, 4, 4, None)
    np.random.seed(3)
    t = RandomFlipRot90(target_key='tt', code_key='cc')
    out = t(dict(img=img))
    assert 'transform_target' not in out and 'aug_code' not in out
    np.testing.assert_array_equal(out['tt'], reconstruct(img, out['cc'], 2))
    assert t.code_dim == 6 and RandomFlipRot90(spatial_dims=3).code_dim == 7
    assert repr(t) == ("RandomFlipRot90(spatial_dims=2, flip_prob=0.5, "
                       "target_key='tt', code_key='cc', make_target=True)")
    assert TRANSFORMS.get('RandomFlipRot90') is RandomFlipRot90


def test_non_square_plane(monkeypatch):
    img = image(0, 4, 6, 3)
    for k in (1, 3):
        force(monkeypatch, (False, False), k)
        with pytest.raises(ValueError, match='square') as err:
            RandomFlipRot90()(dict(img=img))
        assert '(4, 6, 3)' in str(err.value)
    # even k keeps the shape: allowed
    for k in (0, 2):
        force(monkeypatch, (True, False), k)
        out = RandomFlipRot90()(dict(img=img))
        assert out['transform_target'].shape == (4, 6, 3)
        np.testing.assert_array_equal(out['transform_target'],
                                      np.rot90(img[::-1], k, axes=(0, 1)))


def test_non_square_plane_with_real_randomness():
    img = image(0, 4, 6, None)
    t = RandomFlipRot90()
    np.random.seed(0)
    raised = ok = 0
    for _ in range(60):
        try:
            out = t(dict(img=img))
        except ValueError as e:
            assert 'square' in str(e)
            raised += 1
        else:
            assert np.argmax(out['aug_code'][2:]) in (0, 2)
            ok += 1
    assert raised > 0 and ok > 0


def test_flip_rot90_argument_errors():
    for dims in (1, 4, '2'):
        with pytest.raises(ValueError, match='spatial_dims must be 2 or 3'):
            RandomFlipRot90(spatial_dims=dims)
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match='flip_prob must be in'):
            RandomFlipRot90(flip_prob=p)
    with pytest.raises(ValueError, match=r'\(H, W\) or \(H, W, C\)'):
        RandomFlipRot90()(dict(img=np.zeros((2, 4, 4, 3), np.uint8)))
    with pytest.raises(ValueError, match=r'got shape \(4,\)'):
        RandomFlipRot90()(dict(img=np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match=r'\(D, H, W\) or \(C, D, H, W\)'):
        RandomFlipRot90(spatial_dims=3)(dict(img=np.zeros((4, 4))))
    with pytest.raises(ValueError, match=r'got shape \(1, 1, 4, 4, 4\)'):
        RandomFlipRot90(spatial_dims=3)(dict(img=np.zeros((1, 1, 4, 4, 4))))


# ----------------------------------------------------------------------
# RandomFlipRot90, 3D
# ----------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(6, 6, 4), (2, 6, 6, 4), (5, 5, 5)])
def test_flip_rot90_3d_matches_reconstruction(shape):
    rng = np.random.default_rng(0)
    vol = rng.standard_normal(shape).astype(np.float32)
    before = vol.copy()
    t = RandomFlipRot90(spatial_dims=3)
    seen_k, seen_flips = set(), set()
    for seed in range(60):
        np.random.seed(seed)
        out = t(dict(img=vol))
        code = out['aug_code']
        check_code(code, 3)
        target = out['transform_target']
        assert target.shape == shape and target.flags['C_CONTIGUOUS']
        np.testing.assert_array_equal(target, reconstruct(vol, code, 3))
        seen_k.add(int(np.argmax(code[3:])))
        seen_flips.add(tuple(int(c) for c in code[:3]))
    np.testing.assert_array_equal(vol, before)
    assert seen_k == {0, 1, 2, 3}
    assert len(seen_flips) == 8


def test_flip_rot90_3d_channel_axis_untouched(monkeypatch):
    # channel c holds the value c everywhere plus a position code; flips
    # and rotations must keep every channel's values within that channel
    c, d, h, w = 3, 4, 4, 5
    vol = (np.arange(c)[:, None, None, None] * 1000 +
           np.arange(d * h * w).reshape(1, d, h, w)).astype(np.float32)
    force(monkeypatch, (True, True, True), 1)
    out = RandomFlipRot90(spatial_dims=3)(dict(img=vol))
    target = out['transform_target']
    np.testing.assert_array_equal(out['aug_code'],
                                  np.array([1, 1, 1, 0, 1, 0, 0], np.float32))
    for ch in range(c):
        # by hand: flip D, H, W, then rotate (D, H) by 90 degrees
        ref = np.rot90(vol[ch, ::-1, ::-1, ::-1], 1, axes=(0, 1))
        np.testing.assert_array_equal(target[ch], ref)
        assert (target[ch] // 1000 == ch).all()
    # the third spatial axis (W, 5) is never rotated, so it may differ
    assert target.shape == vol.shape


def test_flip_rot90_3d_rotation_plane(monkeypatch):
    # (D, H, W) = (3, 3, 2): only the (D, H) plane is square, so odd k works
    vol = np.arange(18, dtype=np.float32).reshape(3, 3, 2)
    force(monkeypatch, (False, False, False), 1)
    target = RandomFlipRot90(spatial_dims=3)(dict(img=vol))[
        'transform_target']
    for w in range(2):
        # rot90 k=1 on a 3x3: out[i, j] = in[j, 2 - i]
        for i in range(3):
            for j in range(3):
                assert target[i, j, w] == vol[j, 2 - i, w]
    # (D, H, W) = (2, 3, 3): the rotated (D, H) plane is not square
    force(monkeypatch, (False, False, False), 3)
    with pytest.raises(ValueError, match=r'square.*\(2, 3, 3\)'):
        RandomFlipRot90(spatial_dims=3)(dict(img=np.zeros((2, 3, 3))))


# ----------------------------------------------------------------------
# PCRLViews, 2D ('copy')
# ----------------------------------------------------------------------
def _views_2d(**kwargs):
    cfg = dict(
        spatial_transforms=[dict(type='_PCRLTestCrop', size=6)],
        input_transforms=[dict(type='_PCRLTestAdd')])
    cfg.update(kwargs)
    return PCRLViews(**cfg)


def test_pcrl_views_2d_layout_and_relations():
    img = image(0, 16, 16, 3)
    before = img.copy()
    views = _views_2d()
    np.random.seed(0)
    results = dict(img=img, img_path='x.png', sample_idx=4,
                   ori_shape=(16, 16), img_shape=(16, 16))
    out = views(results)
    assert out is results
    assert out['img_path'] == 'x.png' and out['sample_idx'] == 4
    np.testing.assert_array_equal(img, before)  # the source is copied
    arrays = out['img']
    assert isinstance(arrays, list) and len(arrays) == 6
    in1, in2, clean1, clean2, tgt1, tgt2 = arrays
    crops = [entry[1:] for entry in LOG]
    assert len(crops) == 2
    assert crops[0] != crops[1]  # the two views come from different crops
    for (y, x), clean, inp, tgt, code in zip(crops, (clean1, clean2),
                                            (in1, in2), (tgt1, tgt2),
                                            out['aug_code']):
        assert clean.dtype == np.uint8 and clean.shape == (6, 6, 3)
        np.testing.assert_array_equal(clean, img[y:y + 6, x:x + 6])
        assert inp.dtype == np.float32 and inp.shape == (6, 6, 3)
        np.testing.assert_array_equal(inp, clean.astype(np.float32) + ADD)
        check_code(code, 2)
        assert tgt.dtype == np.float32 and tgt.flags['C_CONTIGUOUS']
        np.testing.assert_array_equal(tgt, reconstruct(inp, code, 2))
    assert not np.array_equal(clean1, clean2)
    aug = out['aug_code']
    assert aug.shape == (2, 6) and aug.dtype == np.float32
    # the target transform's own keys are not left behind
    assert 'transform_target' not in out
    assert 'view_shared_state' not in out


def test_pcrl_views_2d_with_mmpretrain_crop_replayed():
    """Replaying the random draws in the same order (crop, flips + k, crop,
    flips + k) with the same seed gives the same views."""
    img = image(3, 24, 32, 3)
    views = PCRLViews(
        spatial_transforms=[dict(type='RandomResizedCrop', scale=8)],
        input_transforms=[dict(type='_PCRLTestInvert')])
    for seed in (0, 1, 2):
        np.random.seed(seed)
        out = views(dict(img=img, img_shape=img.shape[:2]))
        np.random.seed(seed)
        crop = TRANSFORMS.build(dict(type='RandomResizedCrop', scale=8))
        flip = RandomFlipRot90()
        for i in range(2):
            clean = crop(dict(img=img.copy()))['img']
            inp = 255 - clean
            ref = flip(dict(img=inp))
            np.testing.assert_array_equal(out['img'][2 + i], clean)
            np.testing.assert_array_equal(out['img'][i], inp)
            np.testing.assert_array_equal(out['img'][4 + i],
                                          ref['transform_target'])
            np.testing.assert_array_equal(out['aug_code'][i],
                                          ref['aug_code'])
            assert out['img'][i].shape == (8, 8, 3)
        assert not np.array_equal(out['img'][2], out['img'][3])


def test_pcrl_views_no_spatial_transforms_and_inplace_inputs():
    img = image(5, 6, 6, None)
    before = img.copy()
    np.random.seed(0)
    out = PCRLViews(input_transforms=[dict(type='_PCRLTestInplaceAdd')])(
        dict(img=img))
    in1, in2, clean1, clean2, tgt1, tgt2 = out['img']
    # the clean copies are taken before the input transforms ran
    np.testing.assert_array_equal(clean1, before)
    np.testing.assert_array_equal(clean2, before)
    np.testing.assert_array_equal(in1, before + 1)
    np.testing.assert_array_equal(in2, before + 1)
    np.testing.assert_array_equal(img, before)
    for inp, tgt, code in zip((in1, in2), (tgt1, tgt2), out['aug_code']):
        np.testing.assert_array_equal(tgt, reconstruct(inp, code, 2))


def test_pcrl_views_input_transforms_see_the_clean_view():
    img = image(6, 12, 12, 3)
    np.random.seed(1)
    out = PCRLViews(
        spatial_transforms=[dict(type='_PCRLTestCrop', size=4)],
        input_transforms=[dict(type='_PCRLTestRecordImg'),
                          dict(type='_PCRLTestAdd')])(
                              dict(img=img, group_id='g'))
    seen = [entry for entry in LOG if entry[0] == 'img']
    assert len(seen) == 2
    for i, (_, seen_img, keys) in enumerate(seen):
        np.testing.assert_array_equal(seen_img, out['img'][2 + i])
        assert 'group_id' in keys and 'view_shared_state' in keys


def test_pcrl_views_shared_state_is_one_dict_per_sample():
    views = PCRLViews(
        spatial_transforms=[dict(type='_PCRLTestRecordShared')],
        input_transforms=[dict(type='_PCRLTestRecordShared')])
    img = image(0, 4, 4, 3)
    out = views(dict(img=img))
    assert [e[0] for e in LOG] == ['shared'] * 4
    assert len({e[1] for e in LOG}) == 1
    shared = LOG[0][2]
    assert all(e[2] is shared for e in LOG)
    assert shared == {'calls': 4}
    assert 'view_shared_state' not in out
    # a new sample gets a new, empty dict
    LOG.clear()
    views(dict(img=img))
    assert LOG[0][2] is not shared and LOG[0][2]['calls'] == 4


@pytest.mark.parametrize('where', ['spatial', 'input'])
def test_pcrl_views_none_propagates(where):
    none = [dict(type='_PCRLTestNone')]
    views = PCRLViews(**{f'{where}_transforms': none})
    assert views(dict(img=image(0, 4, 4, 3))) is None
    assert LOG == [('none', )]  # stops at the first view


def test_pcrl_views_custom_target_keys():
    views = PCRLViews(
        input_transforms=[dict(type='_PCRLTestAdd')],
        target_transform=dict(type='RandomFlipRot90', target_key='tt',
                              code_key='cc'))
    img = image(1, 5, 5, 3)
    np.random.seed(4)
    out = views(dict(img=img))
    assert 'tt' not in out and 'cc' not in out
    assert out['aug_code'].shape == (2, 6)
    for i in range(2):
        np.testing.assert_array_equal(
            out['img'][4 + i], reconstruct(out['img'][i],
                                           out['aug_code'][i], 2))


def test_pcrl_views_argument_errors_and_repr():
    with pytest.raises(ValueError, match="views_from must be 'copy' or "
                       "'pair', got 'both'"):
        PCRLViews(views_from='both')
    views = PCRLViews(spatial_transforms=[dict(type='_PCRLTestCrop',
                                               size=2)])
    assert views.views_from == 'copy'
    text = repr(views)
    assert text.startswith('PCRLViews(') and "views_from='copy'" in text
    assert 'RandomFlipRot90(spatial_dims=2' in text
    assert TRANSFORMS.get('PCRLViews') is PCRLViews
    assert TRANSFORMS.get('PackMedInputs') is PackMedInputs


# ----------------------------------------------------------------------
# PCRLViews, 3D ('pair')
# ----------------------------------------------------------------------
def test_pcrl_views_3d_pair():
    rng = np.random.default_rng(0)
    pair = rng.random((2, 6, 6, 4)).astype(np.float32)
    before = pair.copy()
    views = PCRLViews(
        views_from='pair',
        input_transforms=[dict(type='_PCRLTestRecordImg'),
                          dict(type='_PCRLTestAdd')],
        target_transform=dict(type='RandomFlipRot90', spatial_dims=3))
    np.random.seed(0)
    out = views(dict(img=pair, img_path='p.npy', img_shape=pair.shape))
    np.testing.assert_array_equal(pair, before)
    assert len(out['img']) == 6
    in1, in2, clean1, clean2, tgt1, tgt2 = out['img']
    for i, (clean, inp, tgt, code) in enumerate(
            zip((clean1, clean2), (in1, in2), (tgt1, tgt2),
                out['aug_code'])):
        np.testing.assert_array_equal(clean, pair[i])
        np.testing.assert_array_equal(inp, pair[i] + np.float32(ADD))
        check_code(code, 3)
        assert tgt.shape == (6, 6, 4)
        np.testing.assert_array_equal(tgt, reconstruct(inp, code, 3))
        # each view's pipeline sees its own crop's shape
        np.testing.assert_array_equal(LOG[i][1], pair[i])
        assert clean.flags['C_CONTIGUOUS']
    assert out['aug_code'].shape == (2, 7)
    assert out['aug_code'].dtype == np.float32


def test_pcrl_views_3d_pair_with_channels():
    pair = np.random.default_rng(1).random((2, 2, 4, 4, 3))
    np.random.seed(2)
    out = PCRLViews(
        views_from='pair',
        target_transform=dict(type='RandomFlipRot90', spatial_dims=3))(
            dict(img=pair))
    for i in range(2):
        np.testing.assert_array_equal(out['img'][2 + i], pair[i])
        np.testing.assert_array_equal(out['img'][i], pair[i])
        np.testing.assert_array_equal(
            out['img'][4 + i], reconstruct(pair[i], out['aug_code'][i], 3))


def test_pcrl_views_pair_shape_errors():
    views = PCRLViews(
        views_from='pair',
        target_transform=dict(type='RandomFlipRot90', spatial_dims=3))
    with pytest.raises(ValueError,
                       match=r"needs `img` shaped \(2, \.\.\.\).*"
                       r'got \(3, 4, 4, 4\) from bad\.npy'):
        views(dict(img=np.zeros((3, 4, 4, 4)), img_path='bad.npy'))
    with pytest.raises(ValueError, match=r'got \(4, 4, 4\) from the sample'):
        views(dict(img=np.zeros((4, 4, 4))))
    with pytest.raises(ValueError, match='got list'):
        views(dict(img=[np.zeros((4, 4, 4))] * 2))


# ----------------------------------------------------------------------
# End to end: PackMedInputs and default_collate
# ----------------------------------------------------------------------
def test_pack_and_collate_2d():
    pipeline = Compose([
        dict(type='PCRLViews',
             spatial_transforms=[dict(type='RandomResizedCrop', scale=8)],
             input_transforms=[dict(type='_PCRLTestAdd')]),
        dict(type='PackMedInputs', algorithm_keys=['aug_code']),
    ])
    np.random.seed(0)
    samples = []
    for seed in range(3):
        img = image(seed, 20, 20, 3)
        packed = pipeline(dict(img=img, img_path=f'{seed}.png',
                               sample_idx=seed, img_shape=(20, 20)))
        inputs = packed['inputs']
        assert isinstance(inputs, list) and len(inputs) == 6
        for j, tensor in enumerate(inputs):
            assert tuple(tensor.shape) == (3, 8, 8)
            assert tensor.dtype == (torch.uint8 if j in (2, 3) else
                                    torch.float32)
        aug = packed['data_samples'].aug_code
        assert isinstance(aug, np.ndarray) and aug.shape == (2, 6)
        # the packed target is the reconstruction of the packed input
        for i in range(2):
            inp = inputs[i].permute(1, 2, 0).numpy()
            np.testing.assert_array_equal(
                inputs[4 + i].permute(1, 2, 0).numpy(),
                reconstruct(inp, aug[i], 2))
            np.testing.assert_array_equal(
                inp, inputs[2 + i].permute(1, 2, 0).numpy() + np.float32(ADD))
        assert packed['data_samples'].sample_idx == seed
        samples.append(packed)
    batch = default_collate(samples)
    assert len(batch['inputs']) == 6
    for j, tensor in enumerate(batch['inputs']):
        assert tuple(tensor.shape) == (3, 3, 8, 8)
        for b in range(3):
            assert torch.equal(tensor[b], samples[b]['inputs'][j])
    assert len(batch['data_samples']) == 3
    codes = np.stack([ds.aug_code for ds in batch['data_samples']])
    assert codes.shape == (3, 2, 6)


def test_pack_and_collate_3d():
    pipeline = Compose([
        dict(type='PCRLViews',
             views_from='pair',
             input_transforms=[dict(type='_PCRLTestAdd')],
             target_transform=dict(type='RandomFlipRot90', spatial_dims=3)),
        dict(type='PackMedInputs', spatial_dims=3,
             algorithm_keys=['aug_code']),
    ])
    rng = np.random.default_rng(0)
    np.random.seed(0)
    samples, pairs = [], []
    for _ in range(3):
        pair = rng.random((2, 6, 6, 4)).astype(np.float32)
        pairs.append(pair)
        packed = pipeline(dict(img=pair))
        inputs = packed['inputs']
        assert len(inputs) == 6
        assert all(tuple(t.shape) == (1, 6, 6, 4) for t in inputs)
        assert all(t.dtype == torch.float32 for t in inputs)
        aug = packed['data_samples'].aug_code
        assert aug.shape == (2, 7) and aug.dtype == np.float32
        for i in range(2):
            np.testing.assert_array_equal(inputs[2 + i][0].numpy(), pair[i])
            np.testing.assert_array_equal(
                inputs[4 + i][0].numpy(),
                reconstruct(inputs[i][0].numpy(), aug[i], 3))
        samples.append(packed)
    batch = default_collate(samples)
    assert len(batch['inputs']) == 6
    for j, tensor in enumerate(batch['inputs']):
        assert tuple(tensor.shape) == (3, 1, 6, 6, 4)
    for b in range(3):
        for i in range(2):
            np.testing.assert_array_equal(batch['inputs'][2 + i][b, 0].numpy(),
                                          pairs[b][i])


# ----------------------------------------------------------------------
# The 2D base config
# ----------------------------------------------------------------------
def test_kermany_cxr_pcrl_train_pipeline():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                 'kermany_cxr_pcrl.py'))
    assert cfg.crop_size == 64
    pipeline = cfg.train_pipeline
    assert pipeline[0]['type'] == 'LoadImageFromFile'
    assert [t['type'] for t in pipeline[1:]] == ['PCRLViews', 'PackMedInputs']
    small = np.random.default_rng(0).integers(0, 256, (7, 7, 3), np.uint8)
    img = cv2.resize(small, (224, 224), interpolation=cv2.INTER_CUBIC)
    base = dict(img_path='synthetic.png', ori_shape=(224, 224),
                img_shape=(224, 224), sample_idx=0)

    np.random.seed(0)
    views = Compose(pipeline[1:2])
    for _ in range(2):
        out = views(dict(base, img=img.copy()))
        arrays = out['img']
        # The config only draws the codes; PCRL builds the targets.
        assert len(arrays) == 4
        assert all(a.shape == (64, 64, 3) for a in arrays)
        assert [a.dtype for a in arrays] == [np.float32] * 2 + [np.uint8] * 2
        assert not np.array_equal(arrays[2], arrays[3])
        assert out['aug_code'].shape == (2, 6)

    packed = Compose(pipeline[1:])(dict(base, img=img.copy()))
    assert len(packed['inputs']) == 4
    assert all(tuple(t.shape) == (3, 64, 64) for t in packed['inputs'])
    assert packed['data_samples'].aug_code.shape == (2, 6)
    batch = default_collate([packed, packed])
    assert all(tuple(t.shape) == (2, 3, 64, 64) for t in batch['inputs'])


@pytest.mark.parametrize('shape,dims', [((6, 6, 3), 2), ((4, 4, 5), 3),
                                        ((2, 4, 4, 3), 3)])
def test_codes_only_and_model_side_targets_match(shape, dims):
    """make_target=False draws the same codes; PCRL's flip_rot90 applied to
    the channel-first tensor gives the target the transform would make."""
    import torch

    from mmmedssl.models.selfsup.pcrl import flip_rot90
    rng = np.random.default_rng(0)
    img = rng.random(shape).astype(np.float32)
    full = RandomFlipRot90(spatial_dims=dims)
    codes_only = RandomFlipRot90(spatial_dims=dims, make_target=False)
    for seed in range(24):
        np.random.seed(seed)
        a = full(dict(img=img))
        np.random.seed(seed)
        b = codes_only(dict(img=img))
        assert 'transform_target' not in b
        np.testing.assert_array_equal(a['aug_code'], b['aug_code'])
        if dims == 2:
            tensor = torch.from_numpy(img).permute(2, 0, 1)[None]
            expected = torch.from_numpy(a['transform_target']).permute(2, 0,
                                                                       1)
        else:
            tensor = torch.from_numpy(img if img.ndim == 4 else img[None])[
                None]
            target = a['transform_target']
            expected = torch.from_numpy(
                target if target.ndim == 4 else target[None])
        built = flip_rot90(tensor, torch.from_numpy(b['aug_code'])[None])[0]
        torch.testing.assert_close(built, expected)
