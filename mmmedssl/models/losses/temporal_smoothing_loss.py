# Copyright (c) mmmedssl contributors. All rights reserved.
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmedssl.registry import MODELS


@MODELS.register_module()
class TemporalSmoothingLoss(nn.Module):
    """Truncated MSE between consecutive frames' log-probabilities (MS-TCN's
    smoothing loss): ``mean(clamp((log p_t - sg(log p_{t-1}))^2, 0, tau^2))``
    over classes and frames, with ``sg`` the stop-gradient.

    Args:
        clamp (float): ``tau^2``, the cap on each squared difference.
            Defaults to 16 (tau = 4), as MS-TCN and the released
            DistillingSelf TCN.
        loss_weight (float): Defaults to 1 (the released DistillingSelf TCN;
            MS-TCN uses 0.15).
    """

    def __init__(self, clamp: float = 16., loss_weight: float = 1.) -> None:
        super().__init__()
        self.clamp = clamp
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits``: (N, num_classes, T) for N sequences of T frames."""
        if logits.dim() != 3:
            raise ValueError('TemporalSmoothingLoss expects logits (N, C, T), '
                             f'got {tuple(logits.shape)}.')
        if logits.shape[2] < 2:
            return logits.sum() * 0.
        log_p = F.log_softmax(logits.float(), dim=1)
        sq = (log_p[:, :, 1:] - log_p[:, :, :-1].detach())**2
        return self.loss_weight * sq.clamp(0, self.clamp).mean()
