# Copyright (c) mmmedssl contributors. All rights reserved.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size

from mmmedssl.registry import MODELS


def _check_scores(owner: str, pos: torch.Tensor, neg: torch.Tensor) -> None:
    if pos.dim() != 1 or neg.dim() != 2 or neg.shape[0] != pos.shape[0]:
        raise ValueError(
            f'{owner}: expected positive similarities (B,) and negative ones '
            f'(B, K), got {tuple(pos.shape)} and {tuple(neg.shape)}.')


@MODELS.register_module()
class C2LNCELoss(nn.Module):
    """Noise-contrastive estimation with a normalisation constant Z, as in
    CMC / C2L and the released PCRL (``memory_c2l.py`` + ``NCECriterion``).

    With ``o = exp(s / T)`` for the positive and the K memory keys, and
    ``P = o / Z``, ``Pn = 1 / num_data``::

        L = -1/B sum_b [ log(P_0 / (P_0 + K Pn + eps))
                         + sum_j log(K Pn / (P_j + K Pn + eps)) ]

    Z is ``mean(o) * num_data`` on the first call and then fixed (a buffer:
    it is saved in checkpoints; under DDP the ranks' means are averaged so
    every rank uses the same Z). ``num_data`` cancels out of every ratio, so
    it only sets the weight of ``eps``; the released code passed the number
    of batches per epoch.

    Args:
        temperature (float): T. Defaults to 0.2 (PCRL's ``--moco_t``).
        num_data (int): The released ``n_data``. Defaults to 1000.
        eps (float): Defaults to 1e-5, as released.
        loss_weight (float): Defaults to 1.
    """

    def __init__(self,
                 temperature: float = 0.2,
                 num_data: int = 1000,
                 eps: float = 1e-5,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0 or num_data < 1:
            raise ValueError('C2LNCELoss: temperature must be > 0 and '
                             f'num_data >= 1, got {temperature}, {num_data}.')
        self.temperature = temperature
        self.num_data = num_data
        self.eps = eps
        self.loss_weight = loss_weight
        self.register_buffer('norm_constant', torch.tensor(-1.0))

    def forward(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        _check_scores(type(self).__name__, pos, neg)
        pos, neg = pos.float(), neg.float()
        out_pos = torch.exp(pos / self.temperature)
        out_neg = torch.exp(neg / self.temperature)
        if self.norm_constant < 0:
            with torch.no_grad():
                mean = torch.cat([out_pos[:, None], out_neg], 1).mean()
                if get_world_size() > 1:
                    all_reduce(mean, op='mean')
                self.norm_constant.fill_(float(mean) * self.num_data)
        z = self.norm_constant
        k_pn = neg.shape[1] / self.num_data
        p_pos = out_pos / z
        p_neg = out_neg / z
        log_pos = torch.log(p_pos / (p_pos + k_pn + self.eps))
        log_neg = math.log(k_pn) - torch.log(p_neg + k_pn + self.eps)
        loss = -(log_pos.sum() + log_neg.sum()) / pos.shape[0]
        return self.loss_weight * loss


@MODELS.register_module()
class InfoNCELoss(nn.Module):
    """InfoNCE: cross-entropy of the positive among ``[pos, neg] / T`` (the
    MoCo objective), an alternative to ``C2LNCELoss``.

    Args:
        temperature (float): Defaults to 0.2.
        loss_weight (float): Defaults to 1.
    """

    def __init__(self, temperature: float = 0.2,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(
                f'InfoNCELoss: temperature must be > 0, got {temperature}.')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        _check_scores(type(self).__name__, pos, neg)
        logits = torch.cat([pos[:, None], neg], 1).float() / self.temperature
        target = torch.zeros(
            logits.shape[0], dtype=torch.long, device=logits.device)
        return self.loss_weight * F.cross_entropy(logits, target)
