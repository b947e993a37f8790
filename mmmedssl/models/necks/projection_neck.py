# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from mmmedssl.registry import MODELS


@MODELS.register_module()
class ProjectionNeck(BaseModule):
    """Projection MLP: [global pool] -> fc -> [norm] -> ReLU -> fc -> [L2
    normalisation], for 2D and 3D feature maps.

    GraVIS' head (``GraVISNeck``) and PCRL's projection (``PCRLNeck``) are
    this module; MoCo v2's ``MoCoV2Neck`` is the 2D-only, unnormalised case.

    Args:
        in_channels (int): Channels of the backbone's last feature map.
        hid_channels (int): Hidden width.
        out_channels (int): Embedding size.
        with_avg_pool (bool): Average over all spatial axes first (2D or 3D
            feature maps). Defaults to True.
        norm_cfg (dict, optional): Norm layer after the first fc (e.g.
            ``dict(type='BN1d')``). None, the released choice, has none.
        l2_normalize (bool): L2-normalise the embeddings. Defaults to False.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int,
                 out_channels: int,
                 with_avg_pool: bool = True,
                 norm_cfg: Optional[dict] = None,
                 l2_normalize: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.with_avg_pool = with_avg_pool
        self.l2_normalize = l2_normalize
        self.fc0 = nn.Linear(in_channels, hid_channels)
        self.norm = build_norm_layer(norm_cfg, hid_channels)[1] \
            if norm_cfg is not None else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = nn.Linear(hid_channels, out_channels)

    def forward(self, x: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        if len(x) != 1:
            raise ValueError(
                f'{type(self).__name__} takes one feature map, got {len(x)}'
                '; set the backbone out_indices to one stage.')
        x = x[0]
        if self.with_avg_pool:
            x = x.flatten(2).mean(2) if x.dim() > 2 else x
        elif x.dim() > 2:
            x = x.flatten(1)
        x = self.fc1(self.relu(self.norm(self.fc0(x))))
        if self.l2_normalize:
            x = F.normalize(x, dim=1)
        return (x, )
