# Copyright (c) mmmedssl contributors. All rights reserved.
"""The GraVIS view transforms against independent references (torchvision
functional ops on PIL images, numpy geometry) and the new base configs."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import default_collate
from PIL import Image, ImageFilter

from mmmedssl.datasets.transforms import (MedColorJitter, MedCutout,
                                          MedGaussianBlur, MedRandomGrayscale,
                                          MedRandomRotation, PackMedInputs)
from mmmedssl.datasets.transforms import augment as A
from mmmedssl.models.utils.data_preprocessor import \
    MedSelfSupDataPreprocessor

from ...conftest import REPO_ROOT

IMAGENET = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
NEW = ('MedColorJitter', 'MedCutout', 'MedGaussianBlur',
       'MedRandomGrayscale', 'MedRandomRotation')


def photo(seed=0, h=48, w=64):
    """A smooth, colourful BGR uint8 image (like an upsampled photo)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def to_pil(bgr):
    return Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))


def from_pil(pil):
    return np.asarray(pil)[..., ::-1]


def diff(a, b):
    return np.abs(a.astype(int) - b.astype(int))


def test_registered_without_shadowing_mmpretrain():
    from mmpretrain.registry import TRANSFORMS as MMPRETRAIN

    from mmmedssl.registry import TRANSFORMS
    for name in NEW:
        assert TRANSFORMS.get(name) is getattr(A, name)
        assert name not in MMPRETRAIN.module_dict


# ----------------------------------------------------------------------
# Colour: torchvision's functional ops on the same image as reference
# ----------------------------------------------------------------------
def test_brightness_and_contrast_match_torchvision():
    F = pytest.importorskip('torchvision.transforms.functional')
    for seed in range(3):
        img = photo(seed)
        for factor in (0.6, 0.93, 1.0, 1.37):
            ref = from_pil(F.adjust_brightness(to_pil(img), factor))
            assert diff(A.adjust_brightness(img, factor), ref).max() == 0
            # Tolerance 1: the mean grey level comes from OpenCV's luma.
            ref = from_pil(F.adjust_contrast(to_pil(img), factor))
            assert diff(A.adjust_contrast(img, factor), ref).max() <= 1


def test_saturation_and_hue_match_torchvision():
    F = pytest.importorskip('torchvision.transforms.functional')
    for seed in range(3):
        img = photo(seed)
        for factor in (0.6, 1.0, 1.4):
            ref = from_pil(F.adjust_saturation(to_pil(img), factor))
            assert diff(A.adjust_saturation(img, factor), ref).max() <= 1
        for factor in (-0.1, -0.04, 0.03, 0.1):
            # Approximate: OpenCV's 256-step HSV instead of PIL's 255-step.
            d = diff(A.adjust_hue(img, factor),
                     from_pil(F.adjust_hue(to_pil(img), factor)))
            assert d.mean() < 1.5 and d.max() <= 16, (factor, d.mean())


def test_colour_ops_respect_bgr_order():
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 2] = 255  # BGR
    grey = A.adjust_saturation(red, 0.)
    assert (grey == 76).all()  # 0.299 * 255, not 0.114 * 255
    assert (A.adjust_saturation(red[..., ::-1], 0., 'rgb') == 76).all()
    green = A.adjust_hue(red, 1 / 3)  # red + 120 degrees = green
    assert green[..., 1].min() >= 250 and green[..., [0, 2]].max() <= 8
    np.testing.assert_array_equal(A.adjust_hue(red, 0.), red)
    gray_in = np.full((4, 4), 100, np.uint8)  # grey images: no-op
    assert A.adjust_hue(gray_in, 0.2) is gray_in


def test_color_jitter_applies_all_four_in_drawn_order():
    F = pytest.importorskip('torchvision.transforms.functional')
    img = photo(1)
    jitter = MedColorJitter(brightness=(1.3, 1.3), contrast=(0.7, 0.7),
                            saturation=(1.4, 1.4), hue=(0.05, 0.05))
    np.random.seed(5)
    order = np.random.permutation(4)
    np.random.seed(5)
    out = jitter(dict(img=img))['img']
    ref = to_pil(img)
    ops = [(F.adjust_brightness, 1.3), (F.adjust_contrast, 0.7),
           (F.adjust_saturation, 1.4), (F.adjust_hue, 0.05)]
    for k in order:
        ref = ops[k][0](ref, ops[k][1])
    d = diff(out, from_pil(ref))
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert d.mean() < 1.5 and d.max() <= 16
    # Off by default, and a no-op then.
    np.testing.assert_array_equal(MedColorJitter()(dict(img=img))['img'],
                                  img)


def test_color_jitter_factor_ranges_and_errors():
    jitter = MedColorJitter(brightness=0.4, contrast=1.5, hue=0.1)
    assert jitter.brightness == (0.6, 1.4)
    assert jitter.contrast == (0., 2.5)  # clipped at 0 as in torchvision
    assert jitter.saturation is None and jitter.hue == (-0.1, 0.1)
    assert 'MedColorJitter(brightness=(0.6, 1.4)' in repr(jitter)
    with pytest.raises(ValueError, match='`brightness` must be >= 0'):
        MedColorJitter(brightness=-0.1)
    with pytest.raises(ValueError, match=r'`hue` range .* <= 0.5'):
        MedColorJitter(hue=0.6)
    with pytest.raises(ValueError, match='min <= max'):
        MedColorJitter(saturation=(1.2, 0.8))
    with pytest.raises(TypeError, match='number or a \\(min, max\\) pair'):
        MedColorJitter(contrast='strong')
    with pytest.raises(ValueError, match='channel_order'):
        MedColorJitter(channel_order='hsv')
    with pytest.raises(TypeError, match='expected a uint8 numpy image'):
        MedColorJitter(brightness=0.4)(dict(img=np.zeros((4, 4, 3))))


def test_grayscale_equal_channels_close_to_pil():
    img = photo(2)
    out = MedRandomGrayscale(prob=1.)(dict(img=img))['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all()
    assert (out[..., 1] == out[..., 2]).all()
    pil_l = np.asarray(to_pil(img).convert('L'))
    assert diff(out[..., 0], pil_l).max() <= 1
    rgb = MedRandomGrayscale(prob=1., channel_order='rgb')(
        dict(img=img[..., ::-1].copy()))['img']
    np.testing.assert_array_equal(rgb, out)
    np.testing.assert_array_equal(
        MedRandomGrayscale(prob=0.)(dict(img=img))['img'], img)
    assert repr(MedRandomGrayscale(0.2)) == (
        "MedRandomGrayscale(prob=0.2, channel_order='bgr')")
    with pytest.raises(ValueError, match=r'`prob` must be a number in'):
        MedRandomGrayscale(prob=1.5)


# ----------------------------------------------------------------------
# Blur
# ----------------------------------------------------------------------
def test_blur_close_to_pil_and_argument_errors():
    img = photo(3)
    for sigma in (1.0, 1.5, 2.0):
        out = MedGaussianBlur(sigma=sigma, prob=1.)(dict(img=img))['img']
        ref = np.asarray(
            Image.fromarray(img).filter(ImageFilter.GaussianBlur(sigma)))
        assert out.shape == img.shape and out.dtype == np.uint8
        # A true Gaussian against PIL's three-box approximation: under a
        # level on average, and far closer to it than the unblurred image.
        assert diff(out, ref).mean() < 1.0, sigma
        assert 3 * diff(out, ref).mean() < diff(img, ref).mean(), sigma
    flat = np.full((9, 9, 3), 77, np.uint8)  # edges replicated: no darkening
    np.testing.assert_array_equal(
        MedGaussianBlur(2., prob=1.)(dict(img=flat))['img'], flat)
    np.testing.assert_array_equal(
        MedGaussianBlur(prob=0.)(dict(img=img))['img'], img)
    assert repr(MedGaussianBlur()) == (
        'MedGaussianBlur(sigma=(0.1, 2.0), prob=0.5)')
    with pytest.raises(ValueError, match='0 < min <= max'):
        MedGaussianBlur(sigma=(0., 1.))
    with pytest.raises(TypeError, match='`sigma` must be a number'):
        MedGaussianBlur(sigma=(1, 2, 3))


# ----------------------------------------------------------------------
# Rotation
# ----------------------------------------------------------------------
def test_rotation_known_angle_moves_pixels_counter_clockwise():
    img = np.zeros((7, 7, 3), np.uint8)
    img[1, 5] = (10, 20, 30)  # row 1, column 5: upper right
    out = MedRandomRotation(degrees=(90, 90))(dict(img=img))
    assert out['rotate_angle'] == 90
    # 90 degrees counter-clockwise about the centre (3, 3): upper left.
    np.testing.assert_array_equal(out['img'], np.rot90(img))
    assert tuple(out['img'][1, 1]) == (10, 20, 30)


def test_rotation_matches_torchvision_geometry():
    F = pytest.importorskip('torchvision.transforms.functional')
    from torchvision.transforms import InterpolationMode
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    for angle in (-10., 3.3, 7.5):
        out = MedRandomRotation(degrees=(angle, angle))(dict(img=img))['img']
        ref = from_pil(
            F.rotate(to_pil(img), angle, InterpolationMode.NEAREST, fill=0))
        assert out.shape == img.shape and out.dtype == np.uint8
        # Equal but for ties of the nearest-neighbour rounding.
        assert (out == ref).all(-1).mean() > 0.99, angle


def test_rotation_range_fill_and_errors():
    img = np.full((20, 20, 3), 255, np.uint8)
    np.random.seed(0)
    rot = MedRandomRotation(degrees=10, fill=(1, 2, 3))
    angles = [rot(dict(img=img))['rotate_angle'] for _ in range(50)]
    assert -10 <= min(angles) < -5 and 5 < max(angles) <= 10
    out = MedRandomRotation(degrees=(10, 10), fill=(1, 2, 3))(
        dict(img=img))['img']
    assert tuple(out[0, 0]) == (1, 2, 3) and tuple(out[10, 10]) == (255, ) * 3
    grey = MedRandomRotation(degrees=5)(dict(img=img[..., 0]))['img']
    assert grey.shape == (20, 20)
    assert repr(MedRandomRotation(10)).startswith(
        "MedRandomRotation(degrees=(-10.0, 10.0), interpolation='nearest'")
    with pytest.raises(ValueError, match='`degrees` must be >= 0'):
        MedRandomRotation(degrees=-1)
    with pytest.raises(ValueError, match='`interpolation` must be one of'):
        MedRandomRotation(degrees=5, interpolation='lanczos')
    with pytest.raises(TypeError, match='`fill` must be a number'):
        MedRandomRotation(degrees=5, fill='black')


# ----------------------------------------------------------------------
# Cutout
# ----------------------------------------------------------------------
def expected_holes(seed, num_holes, size, h, w):
    """The released Cutout's boxes for the same numpy draws."""
    np.random.seed(seed)
    boxes = []
    for _ in range(num_holes):
        y, x = np.random.randint(h), np.random.randint(w)
        boxes.append((np.clip(x - size // 2, 0, w), np.clip(y - size // 2, 0,
                                                            h),
                      np.clip(x + size // 2, 0, w), np.clip(y + size // 2, 0,
                                                            h)))
    return boxes


def test_cutout_places_clipped_holes_like_the_release():
    img = np.full((20, 24, 3), 200, np.uint8)
    cutout = MedCutout(num_holes=3, size=10)
    for seed in range(5):
        boxes = expected_holes(seed, 3, 10, 20, 24)
        np.random.seed(seed)
        out = cutout(dict(img=img))
        assert out['cutout_holes'].tolist() == [list(b) for b in boxes]
        mask = np.zeros((20, 24), bool)
        for x1, y1, x2, y2 in boxes:
            assert 0 <= x1 <= x2 <= 24 and 0 <= y1 <= y2 <= 20
            assert x2 - x1 <= 10 and y2 - y1 <= 10
            mask[y1:y2, x1:x2] = True
        zero = (out['img'] == 0).all(-1)
        np.testing.assert_array_equal(zero, mask)
        assert zero.sum() <= 3 * 10 * 10
        assert out['img'].dtype == np.uint8
    assert (img == 200).all()  # the input is not modified
    # Near a border a hole is clipped, i.e. smaller than size x size.
    sizes = [(b[2] - b[0]) * (b[3] - b[1])
             for s in range(5) for b in expected_holes(s, 3, 10, 20, 24)]
    assert min(sizes) < 100


def test_cutout_holes_are_exactly_zero_after_normalisation():
    img = photo(4, 32, 32)
    cutout = MedCutout(num_holes=3, size=12, bgr_to_rgb=True,
                       **dict(mean=IMAGENET['mean']))
    np.random.seed(1)
    out = cutout(dict(img=img))
    assert out['img'].dtype == np.float32 and out['img'].shape == img.shape
    packed = PackMedInputs()(dict(img=[out['img']]))
    batch = default_collate([packed])
    pre = MedSelfSupDataPreprocessor(bgr_to_rgb=True, **IMAGENET)
    normed = pre(batch)['inputs'][0][0]
    mask = np.zeros((32, 32), bool)
    for x1, y1, x2, y2 in out['cutout_holes']:
        mask[y1:y2, x1:x2] = True
    assert mask.any() and (~mask).any()
    assert (normed[:, torch.from_numpy(mask)] == 0).all()
    # Elsewhere the same values as normalising the uint8 image.
    plain = pre(default_collate([PackMedInputs()(dict(img=[img]))]))
    keep = torch.from_numpy(~mask)
    assert torch.equal(normed[:, keep], plain['inputs'][0][0][:, keep])
    assert (plain['inputs'][0][0][:, torch.from_numpy(mask)] != 0).any()


def test_cutout_argument_errors_and_repr():
    assert repr(MedCutout()) == (
        'MedCutout(num_holes=3, size=32, mean=None, bgr_to_rgb=False)')
    with pytest.raises(ValueError, match='`num_holes` must be an integer'):
        MedCutout(num_holes=0)
    with pytest.raises(ValueError, match='`size` must be an integer'):
        MedCutout(size=2.5)
    with pytest.raises(TypeError, match='`mean` must be a list'):
        MedCutout(mean='imagenet')
    with pytest.raises(ValueError, match='bgr_to_rgb needs 3 mean values'):
        MedCutout(mean=[0.5], bgr_to_rgb=True)
    with pytest.raises(ValueError, match='3 mean values for an image with 1'):
        MedCutout(mean=[1., 2., 3.])(dict(img=np.zeros((8, 8), np.uint8)))


# ----------------------------------------------------------------------
# The base configs' training pipelines
# ----------------------------------------------------------------------
@pytest.mark.parametrize('name, crop, views, hole', [
    ('ham10000_gravis', 224, 20, 32),
    ('isic2017_gravis', 224, 20, 32),
    ('demo_derm_gravis', 32, 4, 4),
])
def test_base_config_train_pipeline(tmp_path, name, crop, views, hole):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', f'{name}.py'))
    assert (cfg.crop_size, cfg.num_views, cfg.cutout_size) == (crop, views,
                                                               hole)
    loader = cfg.train_dataloader
    assert loader.drop_last and loader.batch_size == 16
    assert loader.worker_init_fn == dict(type='mmmedssl.datasets.seed_worker')
    path = str(tmp_path / 'lesion.png')
    cv2.imwrite(path, photo(5, 150, 200))
    np.random.seed(0)
    out = Compose(cfg.train_pipeline)(dict(img_path=path))
    inputs = out['inputs']
    assert len(inputs) == views
    assert all(v.shape == (3, crop, crop) for v in inputs)
    assert all(v.dtype == torch.float32 for v in inputs)
    assert len(out['data_samples'].view_metas) == views
    # The holes are exactly 0 after the model's normalisation.
    pre = MedSelfSupDataPreprocessor(bgr_to_rgb=True, **IMAGENET)
    normed = pre(default_collate([out]))['inputs']
    # (at least a clipped 2 x 2 hole in 3 channels; no pixel value equals
    # the non-integer mean otherwise)
    assert all((v == 0).sum(dim=(1, 2, 3)).min() >= 12 for v in normed)


def test_color_jitter_skips_saturation_and_hue_exactly_for_grey_images():
    """X-rays are loaded as 3 equal channels: saturation and hue would not
    change them, so skipping those steps gives the same output."""
    from mmmedssl.datasets.transforms.augment import (adjust_hue,
                                                      adjust_saturation)
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (16, 16, 1), np.uint8), 3, axis=2)
    np.testing.assert_array_equal(adjust_saturation(grey, 1.7), grey)
    np.testing.assert_array_equal(adjust_hue(grey, 0.4), grey)
    jitter = MedColorJitter(brightness=0, contrast=0, saturation=0.9,
                            hue=0.5)
    np.testing.assert_array_equal(jitter(dict(img=grey.copy()))['img'], grey)
    colour = grey.copy()
    colour[..., 2] = 255 - colour[..., 2]
    np.random.seed(0)
    assert not np.array_equal(jitter(dict(img=colour.copy()))['img'], colour)
