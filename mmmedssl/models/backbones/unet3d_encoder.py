# Copyright (c) mmmedssl contributors. All rights reserved.
import warnings
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmmedssl.registry import MODELS


@MODELS.register_module()
class UNet3DEncoder(BaseModule):
    """The contracting path of the Models Genesis 3D U-Net.

    Level ``i`` (0-based) is two 3x3x3 conv-norm-act layers with
    ``base_channels * 2**i`` then ``base_channels * 2**(i+1)`` channels,
    preceded by a 2x max pool for ``i > 0``: with the defaults
    1 -> 32 -> 64, 64 -> 64 -> 128, 128 -> 128 -> 256, 256 -> 256 -> 512.
    Every level's output is returned, shallow to deep; a 64x64x32 crop gives
    64@(64,64,32), 128@/2, 256@/4 and 512@(8,8,4).

    Args:
        in_channels (int): Input channels (1 for CT).
        base_channels (int): Width of the first conv. Defaults to 32.
        num_levels (int): Levels (poolings + 1). Defaults to 4.
        norm_cfg (dict): Norm after each conv: ``BN3d`` (released default),
            ``GN`` (``num_groups=8``) or ``IN3d``.
        act_cfg (dict): Activation. Defaults to ReLU.
        conv_bias (bool): Convs carry a bias, as in the released model even
            before BatchNorm. Defaults to True.
        out_indices (Sequence[int], optional): Levels to return; all by
            default.
    """

    def __init__(self,
                 in_channels: int = 1,
                 base_channels: int = 32,
                 num_levels: int = 4,
                 norm_cfg: dict = dict(type='BN3d'),
                 act_cfg: dict = dict(type='ReLU'),
                 conv_bias: bool = True,
                 out_indices: Optional[Sequence[int]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if num_levels < 1:
            raise ValueError(f'UNet3DEncoder: num_levels must be >= 1, got '
                             f'{num_levels}.')
        self.out_indices = tuple(range(num_levels)) if out_indices is None \
            else tuple(out_indices)
        bad = [i for i in self.out_indices if not 0 <= i < num_levels]
        if bad:
            raise ValueError(f'UNet3DEncoder: out_indices {bad} are outside '
                             f'0..{num_levels - 1}.')
        self.pool = nn.MaxPool3d(2)
        self.levels = nn.ModuleList()
        channels = in_channels
        for i in range(num_levels):
            mid = base_channels * 2**i
            out = base_channels * 2**(i + 1)
            self.levels.append(
                nn.Sequential(
                    self._conv(channels, mid, norm_cfg, act_cfg, conv_bias),
                    self._conv(mid, out, norm_cfg, act_cfg, conv_bias)))
            channels = out
        self.out_channels = [base_channels * 2**(i + 1)
                             for i in range(num_levels)]

    @staticmethod
    def _conv(in_ch: int, out_ch: int, norm_cfg: dict, act_cfg: dict,
              bias: bool) -> ConvModule:
        with warnings.catch_warnings():
            # mmcv warns about a bias before a norm layer; the released model
            # has one (kept for parameter parity).
            warnings.filterwarnings('ignore', 'Unnecessary conv bias')
            return ConvModule(
                in_ch,
                out_ch,
                3,
                padding=1,
                bias=bias,
                conv_cfg=dict(type='Conv3d'),
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        for i, level in enumerate(self.levels):
            x = level(x if i == 0 else self.pool(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
