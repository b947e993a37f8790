# Copyright (c) mmmedssl contributors. All rights reserved.
import copy

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmmedssl.models.utils import fold_batch_norms
from mmmedssl.registry import MODELS


def randomise_bn(module):
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


def count_bn(module):
    return sum(
        isinstance(m, nn.modules.batchnorm._BatchNorm)
        for m in module.modules())


@pytest.mark.parametrize('depth,deep_stem', [(18, False), (50, False),
                                             (50, True)])
def test_folded_resnet_computes_the_same_function(depth, deep_stem):
    torch.manual_seed(0)
    net = MODELS.build(
        dict(
            type='ResNetV1c' if deep_stem else 'ResNet',
            depth=depth,
            stem_channels=8,
            base_channels=4,
            out_indices=[1, 3]))
    randomise_bn(net)
    net.eval()
    folded = copy.deepcopy(net)
    n_bn = count_bn(net)
    assert fold_batch_norms(folded) == n_bn
    assert count_bn(folded) == 0
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(net(x), folded(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_conv_module_and_sequential_3d():
    torch.manual_seed(0)
    block = nn.Sequential(
        ConvModule(2, 4, 3, padding=1, conv_cfg=dict(type='Conv3d'),
                   norm_cfg=dict(type='BN3d')),
        nn.Conv3d(4, 4, 1), nn.BatchNorm3d(4), nn.ReLU(),
        # Not foldable: the norm comes first here.
        ConvModule(4, 4, 1, conv_cfg=dict(type='Conv3d'),
                   norm_cfg=dict(type='BN3d'), order=('norm', 'conv', 'act')))
    randomise_bn(block)
    block.eval()
    folded = copy.deepcopy(block)
    assert fold_batch_norms(folded) == 2
    assert isinstance(folded[2], nn.Identity)
    assert isinstance(folded[4].norm, nn.BatchNorm3d)
    x = torch.randn(2, 2, 4, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(block(x), folded(x), rtol=1e-4, atol=1e-5)


def test_fold_needs_eval_mode():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match='eval mode'):
        fold_batch_norms(net)
