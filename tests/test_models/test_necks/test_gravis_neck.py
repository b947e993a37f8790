# Copyright (c) mmmedssl contributors. All rights reserved.
import pytest
import torch

from mmmedssl.registry import MODELS


def test_released_head_structure_and_pooling():
    neck = MODELS.build(dict(type='GraVISNeck', in_channels=6,
                             hid_channels=5, out_channels=3))
    x = torch.randn(4, 6, 3, 3)
    out, = neck((x, ))
    pooled = x.mean((2, 3))
    expected = neck.fc1(torch.relu(neck.fc0(pooled)))
    torch.testing.assert_close(out, expected)
    assert neck.fc0.bias is not None and neck.fc1.bias is not None
    # 3D feature maps pool over all spatial axes
    x3 = torch.randn(2, 6, 2, 2, 2)
    torch.testing.assert_close(
        neck((x3, ))[0], neck.fc1(torch.relu(neck.fc0(x3.mean((2, 3, 4))))))


def test_l2_normalisation_and_norm_layer():
    neck = MODELS.build(dict(type='GraVISNeck', in_channels=6,
                             hid_channels=5, out_channels=3,
                             l2_normalize=True, norm_cfg=dict(type='BN1d')))
    assert isinstance(neck.norm, torch.nn.BatchNorm1d)
    out, = neck((torch.randn(4, 6, 2, 2), ))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(4))


def test_one_feature_map_only():
    neck = MODELS.build(dict(type='GraVISNeck', in_channels=6,
                             hid_channels=5, out_channels=3))
    with pytest.raises(ValueError, match='one feature map'):
        neck((torch.randn(1, 6, 2, 2), torch.randn(1, 6, 2, 2)))
