# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Tuple

import torch
from mmpretrain.models.backbones import ResNet

from mmmedssl.registry import MODELS


@MODELS.register_module()
class ResNetWithStem(ResNet):
    """mmpretrain's ResNet that also returns the stem's output, for U-Nets.

    A U-Net decoder needs a skip at every scale. Besides the stages selected
    by ``out_indices`` this returns, first, the stem's feature map (after
    conv-norm-ReLU, before the max pool: stride 2). For a 224 px ResNet-18
    the outputs are 64@112, 64@56, 128@28, 256@14 and 512@7 (the encoder
    pyramid of segmentation_models_pytorch's ResNet U-Nets, minus the input).

    Parameters and their names are exactly those of ``ResNet``, so weights
    load into a plain ``ResNet`` (and back) unchanged.

    Grey images (``LoadMedImage(channels=1)``) need ``in_channels=1``; an
    input whose channel count differs from ``in_channels`` is an error that
    says so (rather than a convolution shape error).

    Args:
        with_stem (bool): Return the stem output first. Defaults to True.
        **kwargs: ``ResNet`` arguments (``in_channels`` defaults to 3);
            ``out_indices`` defaults to all four stages.
    """

    def __init__(self, with_stem: bool = True, **kwargs) -> None:
        kwargs.setdefault('out_indices', (0, 1, 2, 3))
        super().__init__(**kwargs)
        self.with_stem = with_stem
        self.in_channels = kwargs.get('in_channels', 3)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__}(in_channels={self.in_channels}): '
                f'expected (N, {self.in_channels}, H, W) inputs, got '
                f'{tuple(x.shape)}; set the backbone\'s in_channels to the '
                'images\' channel count (1 for LoadMedImage(channels=1)).')
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        stem = x
        x = self.maxpool(x)
        outs = [stem] if self.with_stem else []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
