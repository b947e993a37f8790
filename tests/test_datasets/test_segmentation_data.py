# Copyright (c) mmmedssl contributors. All rights reserved.
"""Masks in the data: MedImageList(mask_key), LoadMedSegMap (binary, palette
and label-map PNGs, npy label maps), transforms that move image and mask
together, and PackMedInputs' gt_seg_map."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mmmedssl.registry import DATASETS, TRANSFORMS

from ..conftest import REPO_ROOT

HAM_ROOT = osp.join(REPO_ROOT, '..', 'shared', 'data', 'ham10000_200x150')


def _write_list(root, rows, header='image,mask,label,lesion_id,split'):
    with open(osp.join(root, 'labels.csv'), 'w') as f:
        f.write(header + '\n')
        f.writelines(','.join(r) + '\n' for r in rows)


def test_image_list_mask_key(tmp_path):
    root = str(tmp_path)
    os.makedirs(osp.join(root, 'masks'))
    for name in ('a', 'b'):
        open(osp.join(root, f'{name}.png'), 'w').close()
        open(osp.join(root, 'masks', f'{name}_m.png'), 'w').close()
    _write_list(root, [('a.png', 'masks/a_m.png', 'x', 'L1', 'train'),
                       ('b.png', 'masks/b_m.png', 'y', 'L2', 'val')])
    ds = DATASETS.build(
        dict(type='MedImageList', data_root=root, ann_file='labels.csv',
             mask_key='mask', split='train'))
    assert len(ds) == 1
    info = ds.get_data_info(0)
    assert info['seg_map_path'] == osp.join(root, 'masks', 'a_m.png')
    assert info['img_path'] == osp.join(root, 'a.png')
    # A mask prefix of its own.
    ds = DATASETS.build(
        dict(type='MedImageList', data_root=root, ann_file='labels.csv',
             mask_key='mask', data_prefix=dict(img_path='',
                                               seg_map_path='')))
    assert ds.get_data_info(1)['seg_map_path'] == osp.join(
        root, 'masks', 'b_m.png')

    # A missing mask is named.
    os.remove(osp.join(root, 'masks', 'b_m.png'))
    with pytest.raises(FileNotFoundError, match=r'b_m\.png'):
        DATASETS.build(dict(type='MedImageList', data_root=root,
                            ann_file='labels.csv', mask_key='mask'))
    # An empty mask cell names the image; a wrong column is named too.
    _write_list(root, [('a.png', '', 'x', 'L1', 'train')])
    with pytest.raises(ValueError, match="'a.png' has no mask"):
        DATASETS.build(dict(type='MedImageList', data_root=root,
                            ann_file='labels.csv', mask_key='mask'))
    with pytest.raises(KeyError, match="'seg'"):
        DATASETS.build(dict(type='MedImageList', data_root=root,
                            ann_file='labels.csv', mask_key='seg'))
    with pytest.raises(ValueError, match='group_sources'):
        DATASETS.build(dict(type='MedImageList', data_root=root,
                            ann_file='labels.csv', mask_key='mask',
                            group_key='lesion_id', group_sources=True))


def _load(path, img_shape=None, **kwargs):
    results = dict(seg_map_path=str(path), img_path='img.png')
    if img_shape is not None:
        results['ori_shape'] = img_shape
    return TRANSFORMS.build(dict(type='LoadMedSegMap', **kwargs))(results)


def test_load_binary_palette_and_label_masks(tmp_path):
    # A binary 0/255 mask with anti-aliased edges -> {0, 1}.
    grey = np.zeros((6, 8), np.uint8)
    grey[1:4, 2:6] = 255
    grey[4, 2:6] = 100  # edge below the threshold
    grey[0, 2:6] = 200  # edge above it
    cv2.imwrite(str(tmp_path / 'grey.png'), grey)
    out = _load(tmp_path / 'grey.png', (6, 8), binary_threshold=127)
    mask = out['gt_seg_map']
    assert mask.dtype == np.uint8 and mask.shape == (6, 8)
    np.testing.assert_array_equal(mask, (grey > 127).astype(np.uint8))
    assert out['seg_fields'] == ['gt_seg_map']

    # A palette PNG whose palette is inverted (index 0 drawn white), as some
    # HAM10000 masks are: the drawn grey level counts, not the index.
    indices = (255 - grey)
    pal = Image.new('P', (8, 6))
    pal.putdata(list(indices.ravel()))
    pal.putpalette([v for i in range(256) for v in (255 - i, ) * 3])
    pal.save(tmp_path / 'palette.png')
    assert Image.open(tmp_path / 'palette.png').mode == 'P'
    mask = _load(tmp_path / 'palette.png', binary_threshold=127)['gt_seg_map']
    np.testing.assert_array_equal(mask, (grey > 127).astype(np.uint8))

    # A label map keeps its values (palette indices for palette PNGs).
    labels = np.array([[0, 1, 2, 255]] * 3, np.uint8)
    Image.fromarray(labels).save(tmp_path / 'labels.png')
    np.testing.assert_array_equal(
        _load(tmp_path / 'labels.png')['gt_seg_map'], labels)
    pal = Image.fromarray(labels).convert('P')
    pal.putdata(list(labels.ravel()))
    pal.putpalette([v for i in range(256) for v in (255 - i, ) * 3])
    pal.save(tmp_path / 'labels_p.png')
    np.testing.assert_array_equal(
        _load(tmp_path / 'labels_p.png')['gt_seg_map'], labels)

    # 3D label maps from npy, int64 or integer-valued floats.
    vol = np.random.default_rng(0).integers(0, 3, (4, 5, 6))
    np.save(tmp_path / 'vol.npy', vol)
    out = _load(tmp_path / 'vol.npy', (4, 5, 6))
    assert out['gt_seg_map'].dtype == np.uint8
    np.testing.assert_array_equal(out['gt_seg_map'], vol)
    np.save(tmp_path / 'volf.npy', vol.astype(np.float32))
    np.testing.assert_array_equal(
        _load(tmp_path / 'volf.npy')['gt_seg_map'], vol)
    np.save(tmp_path / 'soft.npy', vol * 0.5)
    with pytest.raises(ValueError, match=r'soft\.npy.*non-integer'):
        _load(tmp_path / 'soft.npy')


def test_load_errors_name_the_file(tmp_path):
    cv2.imwrite(str(tmp_path / 'm.png'), np.zeros((6, 8), np.uint8))
    with pytest.raises(ValueError, match=r"m\.png.*\(6, 8\).*img\.png"):
        _load(tmp_path / 'm.png', (6, 9), binary_threshold=127)
    _load(tmp_path / 'm.png', (6, 9), binary_threshold=127,
          check_shape=False)
    with pytest.raises(FileNotFoundError, match=r'nothere\.png'):
        _load(tmp_path / 'nothere.png')
    with pytest.raises(FileNotFoundError, match=r'nothere\.npy'):
        _load(tmp_path / 'nothere.npy')
    (tmp_path / 'bad.png').write_text('not a png')
    with pytest.raises(ValueError, match=r'bad\.png'):
        _load(tmp_path / 'bad.png')
    rgb = np.zeros((3, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / 'rgb.png')
    with pytest.raises(ValueError, match=r'rgb\.png.*not a label map'):
        _load(tmp_path / 'rgb.png')
    with pytest.raises(KeyError, match='seg_map_path'):
        TRANSFORMS.build(dict(type='LoadMedSegMap'))(dict(img_path='x'))


def _paired_2d(h=12, w=16, seed=0):
    """An image whose channels all equal 100 * mask, and the mask."""
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 3, (h, w)).astype(np.uint8)
    img = np.repeat((mask * 100)[..., None], 3, axis=2).astype(np.uint8)
    return dict(img=img, gt_seg_map=mask.copy(), img_shape=(h, w),
                ori_shape=(h, w))


def _consistent(results):
    np.testing.assert_array_equal(results['img'][..., 0],
                                  results['gt_seg_map'] * 100)


def test_2d_flip_resize_and_resized_crop_move_image_and_mask():
    # mmcv's RandomFlip flips both.
    for direction in ('horizontal', 'vertical'):
        results = _paired_2d()
        before = results['gt_seg_map'].copy()
        flip = TRANSFORMS.build(
            dict(type='RandomFlip', prob=1., direction=direction))
        results = flip(results)
        _consistent(results)
        axis = 1 if direction == 'horizontal' else 0
        np.testing.assert_array_equal(results['gt_seg_map'],
                                      np.flip(before, axis))
    # mmcv's Resize: nearest for the mask, labels stay {0, 1, 2}.
    results = TRANSFORMS.build(dict(type='Resize', scale=(37, 29)))(
        _paired_2d())
    assert results['gt_seg_map'].shape == (29, 37)
    assert set(np.unique(results['gt_seg_map'])) <= {0, 1, 2}
    assert results['img'].shape[:2] == (29, 37)
    # The resized crop: one box for both (nearest for the image too here,
    # so they must agree exactly). Its scale is (h, w), as mmpretrain's.
    crop = TRANSFORMS.build(
        dict(type='MedSegRandomResizedCrop', scale=(24, 20),
             crop_ratio_range=(0.3, 0.6), interpolation='nearest'))
    for seed in range(5):
        np.random.seed(seed)
        results = crop(_paired_2d(seed=seed))
        assert results['gt_seg_map'].shape == (24, 20)
        assert results['img'].shape == (24, 20, 3)
        assert results['img_shape'] == (24, 20)
        _consistent(results)
    # With bilinear for the image the mask stays integer-valued.
    crop = TRANSFORMS.build(
        dict(type='MedSegRandomResizedCrop', scale=32))
    results = crop(_paired_2d())
    assert set(np.unique(results['gt_seg_map'])) <= {0, 1, 2}
    bad = _paired_2d()
    bad['gt_seg_map'] = bad['gt_seg_map'][:-1]
    with pytest.raises(ValueError, match='differ in size'):
        crop(bad)


@pytest.mark.parametrize('channels', [None, 2])
def test_3d_crop_and_flip_move_volume_and_mask(channels):
    rng = np.random.default_rng(1)
    mask = rng.integers(0, 3, (10, 9, 8)).astype(np.uint8)
    vol = mask.astype(np.float32) * 10
    if channels:
        vol = np.stack([vol] * channels)
    results = dict(img=vol, gt_seg_map=mask, img_path='v.npy')
    crop = TRANSFORMS.build(dict(type='MedSegRandomCrop',
                                 crop_size=(8, 8, 4)))
    flip = TRANSFORMS.build(dict(type='MedSegRandomFlip', axes=(0, 1, 2),
                                 prob=0.5))
    flipped_any = set()
    for seed in range(20):
        np.random.seed(seed)
        out = flip(crop(dict(results)))
        assert out['gt_seg_map'].shape == (8, 8, 4)
        assert out['img'].shape == ((channels, ) if channels else
                                    ()) + (8, 8, 4)
        volume = out['img'][0] if channels else out['img']
        np.testing.assert_array_equal(volume, out['gt_seg_map'] * 10.)
        flipped_any.update(out['flip_axes'])
    assert flipped_any == {0, 1, 2}
    with pytest.raises(ValueError, match='cannot crop'):
        TRANSFORMS.build(dict(type='MedSegRandomCrop',
                              crop_size=(11, 8, 4)))(dict(results))


def test_pack_puts_the_mask_in_the_sample():
    results = _paired_2d()
    packed = TRANSFORMS.build(dict(type='PackMedInputs'))(results)
    assert packed['inputs'].shape == (3, 12, 16)
    mask = packed['data_samples'].gt_seg_map
    assert mask.dtype == torch.int64 and mask.shape == (12, 16)
    np.testing.assert_array_equal(mask.numpy(), results['gt_seg_map'])
    vol = dict(img=np.zeros((4, 4, 4), np.float32),
               gt_seg_map=np.ones((4, 4, 4), np.uint8))
    packed = TRANSFORMS.build(dict(type='PackMedInputs', spatial_dims=3))(vol)
    assert packed['inputs'].shape == (1, 4, 4, 4)
    assert packed['data_samples'].gt_seg_map.shape == (4, 4, 4)
    with pytest.raises(ValueError, match='spatial axes'):
        TRANSFORMS.build(dict(type='PackMedInputs', spatial_dims=3))(
            _paired_2d())


@pytest.mark.skipif(not osp.isdir(HAM_ROOT), reason='no ../shared/data')
def test_ham10000_masks_load_right():
    """The real HAM10000 masks: both kinds (grey and inverted-palette PNGs)
    give the lesion as 1, and the eval pipeline keeps the mask at 200x150
    while the image is resized."""
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                 'ham10000_seg_64px.py'))
    dataset = dict(cfg.val_dataloader.dataset)
    dataset['data_root'] = HAM_ROOT
    ds = DATASETS.build(dataset)
    sample = ds[0]
    assert sample['inputs'].shape == (3, 64, 64)
    mask = sample['data_samples'].gt_seg_map
    assert mask.shape == (150, 200)
    assert set(mask.unique().tolist()) == {0, 1}
    # ISIC_0024316's mask is a palette PNG with index 0 drawn white: the
    # lesion is the centre, 44 % of the image.
    out = _load(osp.join(HAM_ROOT, 'masks', 'ISIC_0024316_segmentation.png'),
                (150, 200), binary_threshold=127)
    mask = out['gt_seg_map']
    assert mask[75, 100] == 1 and mask[0, 0] == 0
    assert mask.mean() == pytest.approx(0.4416, abs=1e-4)


def test_isic2017_config_pipelines(tmp_path):
    """The ISIC 2017 Part 1 config on a fake official layout: training
    samples are 128x128 with a {0, 1} mask, evaluation keeps the mask at
    the photo's size."""
    from mmengine.config import Config
    root = tmp_path / 'ISIC2017'
    for tag in ('Training', 'Validation'):
        data = root / f'ISIC-2017_{tag}_Data'
        masks = root / f'ISIC-2017_{tag}_Part1_GroundTruth'
        data.mkdir(parents=True)
        masks.mkdir()
        for k in range(2):
            image_id = f'ISIC_{k:07d}'
            cv2.imwrite(str(data / f'{image_id}.jpg'),
                        np.full((40, 60, 3), 100, np.uint8))
            mask = np.zeros((40, 60), np.uint8)
            mask[10:30, 20:40] = 255
            cv2.imwrite(str(masks / f'{image_id}_segmentation.png'), mask)
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                 'isic2017_seg_128px.py'))
    train = DATASETS.build(
        dict(cfg.train_dataloader.dataset, data_root=str(root)))
    sample = train[0]
    assert sample['inputs'].shape == (3, 128, 128)
    assert sample['data_samples'].gt_seg_map.shape == (128, 128)
    assert set(sample['data_samples'].gt_seg_map.unique().tolist()) <= {0, 1}
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=str(root)))
    sample = val[1]
    assert sample['inputs'].shape == (3, 128, 128)
    mask = sample['data_samples'].gt_seg_map
    assert mask.shape == (40, 60) and int(mask.sum()) == 400
