# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Optional

import torch
import torch.nn as nn

from mmmedssl.registry import MODELS
from .projection_neck import ProjectionNeck


@MODELS.register_module()
class PCRLNeck(ProjectionNeck):
    """PCRL's projection ("GO": global pool -> fc -> ReLU -> fc) plus its
    transformation-conditioned gate.

    The gate maps the code of the flips/rotation applied to a view's target
    (6-d in 2D, 7-d in 3D) through ``fc -> ReLU -> fc -> sigmoid`` to one
    weight in (0, 1) per bottleneck channel; the decoder's bottleneck is
    multiplied by it channel-wise, so the decoder knows which transformed
    version of the input it must reconstruct.

    Args:
        in_channels (int): Bottleneck channels (512).
        hid_channels (int): Projection hidden width (128).
        out_channels (int): Embedding size (128).
        code_dim (int): Length of the transformation code (6 or 7).
        gate_hid_channels (int): Gate hidden width (256).
        l2_normalize (bool): L2-normalise the embeddings. Defaults to False
            (the algorithm normalises where the released code does).
    """

    def __init__(self,
                 in_channels: int = 512,
                 hid_channels: int = 128,
                 out_channels: int = 128,
                 code_dim: int = 6,
                 gate_hid_channels: int = 256,
                 l2_normalize: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            in_channels=in_channels,
            hid_channels=hid_channels,
            out_channels=out_channels,
            l2_normalize=l2_normalize,
            init_cfg=init_cfg)
        self.code_dim = code_dim
        self.gate_fc0 = nn.Linear(code_dim, gate_hid_channels)
        self.gate_fc1 = nn.Linear(gate_hid_channels, in_channels)

    def gate(self, code: torch.Tensor) -> torch.Tensor:
        """Channel weights ``(B, in_channels)`` from codes ``(B, code_dim)``.
        """
        if code.dim() != 2 or code.shape[1] != self.code_dim:
            raise ValueError(
                f'PCRLNeck.gate: expected codes shaped (B, {self.code_dim}), '
                f'got {tuple(code.shape)}.')
        return torch.sigmoid(self.gate_fc1(self.relu(self.gate_fc0(code))))
