# Copyright (c) mmmedssl contributors. All rights reserved.
"""The Models Genesis / PCRL 3D U-Net encoder in plain PyTorch.

No public library has this network (MONAI's ``BasicUNet`` keeps one width
per level, the Models Genesis encoder goes ``in -> c -> 2c``), so a
``UNet3DEncoder`` is exported (``--to plain``) as the state dict of
:class:`PlainUNet3DEncoder`. The file imports nothing but ``torch``: copy it
into a project that does not install mmmedssl.
"""
from collections import OrderedDict
from typing import Optional, Tuple

import torch
import torch.nn as nn

NORMS = ('batch', 'group', 'instance', 'instance_affine', None)


def _norm(kind: Optional[str], channels: int, num_groups: int) -> nn.Module:
    if kind == 'batch':
        return nn.BatchNorm3d(channels)
    if kind == 'group':
        return nn.GroupNorm(num_groups, channels)
    return nn.InstanceNorm3d(channels, affine=kind == 'instance_affine')


class PlainUNet3DEncoder(nn.Module):
    """Level ``i`` is ``[max pool (i > 0)] conv-norm-ReLU x2`` with
    ``base_channels * 2**i`` then ``base_channels * 2**(i+1)`` channels
    (3x3x3 convs, padding 1); ``forward`` returns every level's output,
    shallow to deep.

    Keys: ``levels.<i>.<j>.conv.{weight,bias}`` and
    ``levels.<i>.<j>.norm.*`` (``j`` = 0, 1), the same as mmmedssl's
    ``UNet3DEncoder`` with its norm layer (``bn``/``gn``/``in``) named
    ``norm``.

    Args:
        in_channels (int): Input channels. Defaults to 1.
        base_channels (int): Width of the first conv. Defaults to 32.
        num_levels (int): Levels (poolings + 1). Defaults to 4.
        norm (str, optional): ``'batch'``, ``'group'``, ``'instance'``
            (no affine parameters, as mmcv's ``IN3d``), ``'instance_affine'``
            or None. Defaults to ``'batch'``.
        num_groups (int): Groups of ``'group'`` norm. Defaults to 8.
        conv_bias (bool): Convs carry a bias. Defaults to True.
    """

    def __init__(self,
                 in_channels: int = 1,
                 base_channels: int = 32,
                 num_levels: int = 4,
                 norm: Optional[str] = 'batch',
                 num_groups: int = 8,
                 conv_bias: bool = True) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f'PlainUNet3DEncoder: norm must be one of '
                             f'{NORMS}, got {norm!r}.')
        self.pool = nn.MaxPool3d(2)
        self.levels = nn.ModuleList()
        channels = in_channels
        for i in range(num_levels):
            mid = base_channels * 2**i
            out = base_channels * 2**(i + 1)
            self.levels.append(
                nn.Sequential(
                    self._conv(channels, mid, norm, num_groups, conv_bias),
                    self._conv(mid, out, norm, num_groups, conv_bias)))
            channels = out

    @staticmethod
    def _conv(in_ch: int, out_ch: int, norm: Optional[str], num_groups: int,
              bias: bool) -> nn.Sequential:
        layers = [('conv', nn.Conv3d(in_ch, out_ch, 3, padding=1,
                                     bias=bias))]
        if norm is not None:
            layers.append(('norm', _norm(norm, out_ch, num_groups)))
        layers.append(('act', nn.ReLU(inplace=True)))
        return nn.Sequential(OrderedDict(layers))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        for i, level in enumerate(self.levels):
            x = level(x if i == 0 else self.pool(x))
            outs.append(x)
        return tuple(outs)
