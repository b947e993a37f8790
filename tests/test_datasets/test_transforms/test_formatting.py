# Copyright (c) mmmedssl contributors. All rights reserved.
import numpy as np
import pytest
import torch

from mmmedssl.datasets.transforms import PackMedInputs


def test_2d_hwc_and_grey_images():
    img = np.random.randint(0, 255, (5, 7, 3), dtype=np.uint8)
    out = PackMedInputs()(dict(img=img, gt_label=2, group_id='L7',
                               img_path='x.png'))
    assert out['inputs'].shape == (3, 5, 7)
    assert torch.equal(out['inputs'][1], torch.from_numpy(img[..., 1]))
    sample = out['data_samples']
    assert int(sample.gt_label) == 2
    assert sample.group_id == 'L7' and sample.img_path == 'x.png'
    grey = PackMedInputs()(dict(img=img[..., 0]))['inputs']
    assert grey.shape == (1, 5, 7)


def test_3d_volumes_keep_their_axes():
    vol = np.random.rand(8, 16, 12).astype(np.float32)  # (D, H, W)
    out = PackMedInputs(spatial_dims=3)(dict(img=vol))['inputs']
    assert out.shape == (1, 8, 16, 12)
    assert torch.equal(out[0], torch.from_numpy(vol))
    multi = np.random.rand(2, 8, 16, 12).astype(np.float32)  # (C, D, H, W)
    assert PackMedInputs(spatial_dims=3)(
        dict(img=multi))['inputs'].shape == (2, 8, 16, 12)


def test_views_metadata_and_algorithm_keys():
    views = [np.zeros((4, 4, 3), np.uint8), torch.ones(3, 4, 4)]
    metas = [dict(flip=True), dict(flip=False)]
    out = PackMedInputs(algorithm_keys=('target', ))(
        dict(img=views, view_metas=metas, target=torch.arange(3)))
    assert [v.shape for v in out['inputs']] == [(3, 4, 4), (3, 4, 4)]
    assert out['data_samples'].view_metas == metas
    assert torch.equal(out['data_samples'].target, torch.arange(3))


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match=r'spatial_dims=3.*\(2, 3, 4, 5, 6\)'):
        PackMedInputs(spatial_dims=3)(dict(img=np.zeros((2, 3, 4, 5, 6))))
    with pytest.raises(KeyError, match="no 'img'"):
        PackMedInputs()(dict(image=np.zeros((2, 2))))
