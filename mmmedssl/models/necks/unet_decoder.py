# Copyright (c) mmmedssl contributors. All rights reserved.
import warnings
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmmedssl.registry import MODELS


def upsample_conv3x3(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``conv2d(nearest_upsample_x2(x), weight, padding=1)`` for a 3x3
    ``weight``, computed on the low-resolution grid.

    Output pixel (2i + a, 2j + b) of the convolution sees only rows
    {i - 1, i} (a = 0) or {i, i + 1} (a = 1) of ``x``, and likewise columns,
    with the 3x3 taps that fall on the same input pixel summed. So each of
    the four output phases is a 2x2 convolution of ``x``: 16 instead of 36
    multiply-adds per input channel and output pixel, and no upsampled copy
    of ``x`` to store for the backward pass. The phases are interleaved with
    ``pixel_shuffle``. Equal to the direct form up to float rounding.
    """
    height, width = x.shape[2:]
    padded = F.pad(x, (1, 1, 1, 1))
    phases = []
    for a in range(2):
        rows = _merge_taps(weight, dim=2, phase=a)
        for b in range(2):
            kernel = _merge_taps(rows, dim=3, phase=b)
            phases.append(
                F.conv2d(padded[:, :, a:a + height + 1, b:b + width + 1],
                         kernel))
    return F.pixel_shuffle(torch.stack(phases, 2).flatten(1, 2), 2)


def _merge_taps(weight: torch.Tensor, dim: int, phase: int) -> torch.Tensor:
    """The 3 taps along ``dim`` -> the 2 taps a nearest-x2 phase sees."""
    t0, t1, t2 = weight.unbind(dim)
    pair = (t0, t1 + t2) if phase == 0 else (t0 + t1, t2)
    return torch.stack(pair, dim)


def _size_error(x: torch.Tensor, skip: torch.Tensor) -> None:
    raise ValueError(
        f'UNetDecoder: upsampled features {tuple(x.shape[2:])} do not match '
        f'the skip {tuple(skip.shape[2:])}; the input size must be divisible '
        "by the encoder's total stride (32 for ResNets, 2**(levels-1) for "
        'UNet3D).')


class UNetUpBlock(nn.Module):
    """x2 upsampling -> concat skip -> two 3x3 conv-norm-act layers."""

    def __init__(self, in_channels: int, skip_channels: int,
                 out_channels: int, dims: int, upsample: str,
                 norm_cfg: dict, act_cfg: dict,
                 conv_bias: Union[bool, str],
                 fused_upsample: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        # nearest x2 + 3x3 conv computed on the low-resolution grid (2D).
        self.fused_upsample = (fused_upsample and upsample == 'nearest'
                               and dims == 2)
        conv_cfg = dict(type=f'Conv{dims}d')
        if upsample == 'deconv':
            deconv = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d
            self.up = deconv(in_channels, in_channels, 2, stride=2)
        else:
            self.up = None
        with warnings.catch_warnings():
            # A bias before a norm layer is what Models Genesis has.
            warnings.filterwarnings('ignore', 'Unnecessary conv bias')
            self.conv1, self.conv2 = (ConvModule(
                in_ch,
                out_channels,
                3,
                padding=1,
                bias=conv_bias,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
                for in_ch in (in_channels + skip_channels, out_channels))

    def forward(self, x: torch.Tensor,
                skip: Optional[torch.Tensor]) -> torch.Tensor:
        if self.fused_upsample:
            return self.conv2(self._fused_conv1(x, skip))
        if self.up is None:
            x = F.interpolate(x, scale_factor=2, mode='nearest')
        else:
            x = self.up(x)
        if skip is not None:
            if x.shape[2:] != skip.shape[2:]:
                _size_error(x, skip)
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))

    def _fused_conv1(self, x: torch.Tensor,
                     skip: Optional[torch.Tensor]) -> torch.Tensor:
        conv = self.conv1.conv
        weight = conv.weight
        out = upsample_conv3x3(x, weight[:, :self.in_channels])
        if skip is not None:
            if out.shape[2:] != skip.shape[2:]:
                _size_error(out, skip)
            out = out + F.conv2d(skip, weight[:, self.in_channels:],
                                 padding=1)
        if conv.bias is not None:
            out = out + conv.bias.view(1, -1, 1, 1)
        if self.conv1.with_norm:
            out = self.conv1.norm(out)
        if self.conv1.with_activation:
            out = self.conv1.activate(out)
        return out


@MODELS.register_module()
class UNetDecoder(BaseModule):
    """U-Net expanding path for 2D or 3D encoder pyramids, with its output
    convolution.

    Takes the encoder's features shallow to deep (the deepest is the
    bottleneck). Block ``i`` upsamples by 2, concatenates the ``i``-th skip
    counted from the bottleneck (none once the skips are used up) and applies
    two 3x3 conv-norm-act layers with ``decoder_channels[i]`` channels. A
    final ``out_kernel_size`` convolution maps to ``out_channels``.

    Two standard shapes (see ``configs/_base_/models/pcrl_*.py``):

    - PCRL 2D (segmentation_models_pytorch's ResNet U-Net decoder):
      ``in_channels=[64, 64, 128, 256, 512]`` from ``ResNetWithStem``,
      ``decoder_channels=(256, 128, 64, 32, 16)``, nearest upsampling, no
      conv bias, 3x3 output conv, no activation.
    - PCRL 3D (Models Genesis): ``in_channels=[64, 128, 256, 512]`` from
      ``UNet3DEncoder``, ``decoder_channels=(256, 128, 64)``, 2x2x2
      transposed convs, conv bias, 1x1x1 output conv, sigmoid.

    The segmentation downstream reuses it with ``out_channels`` = classes.

    Args:
        in_channels (Sequence[int]): Channels of the encoder features,
            shallow to deep.
        decoder_channels (Sequence[int]): Output channels of each block.
        out_channels (int): Channels of the output map.
        dims (int): 2 or 3 spatial dimensions.
        upsample (str): ``'nearest'`` (interpolation) or ``'deconv'``
            (transposed conv keeping the channel count).
        norm_cfg, act_cfg (dict): Norm and activation of the block convs.
        conv_bias (bool | str): Bias of the block convs; ``'auto'`` (none
            before a norm layer).
        out_kernel_size (int): Kernel of the output conv (3 or 1).
        out_activation (str, optional): None or ``'sigmoid'``.
        fused_upsample (bool): In 2D with nearest upsampling, compute each
            block's first conv on the low-resolution grid
            (:func:`upsample_conv3x3`): the same function, about a third
            fewer operations and less memory. Defaults to True.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 decoder_channels: Sequence[int],
                 out_channels: int,
                 dims: int = 2,
                 upsample: str = 'nearest',
                 norm_cfg: Optional[dict] = None,
                 act_cfg: dict = dict(type='ReLU'),
                 conv_bias: Union[bool, str] = 'auto',
                 out_kernel_size: int = 3,
                 out_activation: Optional[str] = None,
                 fused_upsample: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if dims not in (2, 3):
            raise ValueError(f'UNetDecoder: dims must be 2 or 3, got {dims}.')
        if upsample not in ('nearest', 'deconv'):
            raise ValueError("UNetDecoder: upsample must be 'nearest' or "
                             f"'deconv', got {upsample!r}.")
        if out_activation not in (None, 'sigmoid'):
            raise ValueError("UNetDecoder: out_activation must be None or "
                             f"'sigmoid', got {out_activation!r}.")
        if len(in_channels) < 1 or len(decoder_channels) < 1:
            raise ValueError('UNetDecoder: in_channels and decoder_channels '
                             'must not be empty.')
        if norm_cfg is None:
            norm_cfg = dict(type=f'BN{dims}d' if dims == 3 else 'BN')
        self.in_channels = list(in_channels)
        self.dims = dims
        skips = self.in_channels[-2::-1]  # from the bottleneck upwards
        blocks = []
        channels = self.in_channels[-1]
        for i, out in enumerate(decoder_channels):
            skip = skips[i] if i < len(skips) else 0
            blocks.append(
                UNetUpBlock(channels, skip, out, dims, upsample, norm_cfg,
                            act_cfg, conv_bias, fused_upsample))
            channels = out
        self.blocks = nn.ModuleList(blocks)
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self.out_conv = conv(
            channels,
            out_channels,
            out_kernel_size,
            padding=out_kernel_size // 2)
        self.out_activation = out_activation

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Decode ``feats`` (shallow to deep) into the output map."""
        if len(feats) != len(self.in_channels):
            raise ValueError(
                f'UNetDecoder: expected {len(self.in_channels)} feature maps '
                f'(in_channels={self.in_channels}), got {len(feats)}.')
        x = feats[-1]
        skips = feats[-2::-1]
        for i, block in enumerate(self.blocks):
            x = block(x, skips[i] if i < len(skips) else None)
        x = self.out_conv(x)
        if self.out_activation == 'sigmoid':
            x = torch.sigmoid(x)
        return x
