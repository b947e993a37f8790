# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmedssl.registry import MODELS


class _CausalResidualLayer(nn.Module):
    """Dilated causal conv (kernel 3) -> ReLU -> 1x1 conv -> dropout, added
    to the input. Left padding only, so frame t sees frames <= t."""

    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.pad = 2 * dilation
        self.conv = nn.Conv1d(channels, channels, 3, dilation=dilation)
        self.proj = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv(F.pad(x, (self.pad, 0))))
        return x + self.dropout(self.proj(out))


@MODELS.register_module()
class CausalTCNHead(BaseModule):
    """A causal temporal convolutional network over per-frame features of a
    video, for online surgical phase recognition (the DistillingSelf
    downstream model; a single causal stage of MS-TCN).

    Channel dropout on the input features, a 1x1 conv to ``channels``,
    ``num_layers`` causal residual layers with dilations 1, 2, 4, ..., and a
    1x1 conv to ``num_classes``. Trained with cross-entropy per frame plus a
    temporal smoothing loss.

    Args:
        in_channels (int): Feature size per frame (2048 for ResNet-50).
        num_classes (int): 7 for Cholec80, 8 for M2CAI16.
        channels (int): Defaults to 64.
        num_layers (int): Defaults to 12 (receptive field 2^13 - 1 frames).
        dropout (float): Dropout of the input channels and in each layer.
            Defaults to 0.5.
        loss_cls (dict): Defaults to ``CrossEntropyLoss``.
        loss_smooth (dict, optional): Defaults to ``TemporalSmoothingLoss``
            with weight 1 (as released); None disables it.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 channels: int = 64,
                 num_layers: int = 12,
                 dropout: float = 0.5,
                 loss_cls: dict = dict(type='CrossEntropyLoss'),
                 loss_smooth: dict = dict(type='TemporalSmoothingLoss'),
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.num_classes = num_classes
        self.input_dropout = nn.Dropout1d(dropout)
        self.input_proj = nn.Conv1d(in_channels, channels, 1)
        self.layers = nn.ModuleList(
            _CausalResidualLayer(channels, 2**i, dropout)
            for i in range(num_layers))
        self.classifier = nn.Conv1d(channels, num_classes, 1)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_smooth = MODELS.build(loss_smooth) if loss_smooth else None

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``feats`` (N, C, T) -> logits (N, num_classes, T)."""
        if feats.dim() != 3:
            raise ValueError('CausalTCNHead expects features (N, C, T), got '
                             f'{tuple(feats.shape)}.')
        x = self.input_proj(self.input_dropout(feats))
        for layer in self.layers:
            x = layer(x)
        return self.classifier(x)

    def loss(self, feats: torch.Tensor,
             labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``labels`` (N, T) phase indices; -1 marks frames to ignore."""
        logits = self(feats)
        flat = logits.permute(0, 2, 1).reshape(-1, self.num_classes)
        target = labels.reshape(-1)
        keep = target >= 0
        losses = dict(loss_cls=self.loss_cls(flat[keep], target[keep]))
        if self.loss_smooth is not None:
            losses['loss_smooth'] = self.loss_smooth(logits)
        return losses

    @torch.no_grad()
    def predict(self, feats: torch.Tensor) -> torch.Tensor:
        """Per-frame phase indices (N, T)."""
        return self(feats).argmax(dim=1)
