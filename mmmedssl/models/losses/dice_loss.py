# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmedssl.registry import MODELS


def soft_dice_loss(logits: torch.Tensor,
                   target: torch.Tensor,
                   smooth: float = 1.0,
                   ignore_index: Optional[int] = 255,
                   include_background: bool = False,
                   batch_dice: bool = True) -> torch.Tensor:
    """Multi-class soft Dice loss of softmax probabilities.

    For each class ``c`` with probabilities ``p`` and one-hot target ``t``
    over the valid pixels (``target != ignore_index``)::

        dice_c = (2 * sum(p * t) + smooth) / (sum(p) + sum(t) + smooth)

    and the loss is ``1 - mean_c dice_c``. A class absent from both the
    target and the prediction has ``dice_c = 1`` (thanks to ``smooth``).

    Args:
        logits (Tensor): ``(N, C, *spatial)`` scores before softmax.
        target (Tensor): ``(N, *spatial)`` class indices.
        smooth (float): Added to numerator and denominator. Defaults to 1.
        ignore_index (int, optional): Target value of pixels left out.
        include_background (bool): Count class 0 too. Defaults to False
            (for binary masks the loss is then the Dice of the foreground).
        batch_dice (bool): Sum over the whole batch before the ratio (one
            Dice per class, more stable with small or empty masks) instead
            of one Dice per sample averaged over the batch. Defaults to True.
    """
    if logits.dim() < 3 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(
            f'soft_dice_loss: logits {tuple(logits.shape)} and target '
            f'{tuple(target.shape)} do not match ((N, C, *S) and (N, *S)).')
    num_classes = logits.shape[1]
    probs = logits.softmax(dim=1)
    target = target.long()
    if ignore_index is not None:
        valid = target != ignore_index
        target = target.masked_fill(~valid, 0)
    else:
        valid = torch.ones_like(target, dtype=torch.bool)
    if target.numel() and (target.min() < 0 or target.max() >= num_classes):
        raise ValueError(
            f'soft_dice_loss: target values must be in [0, {num_classes}) '
            f'or ignore_index={ignore_index}, got '
            f'[{int(target.min())}, {int(target.max())}].')
    onehot = F.one_hot(target, num_classes).movedim(-1, 1).to(probs.dtype)
    valid = valid.unsqueeze(1).to(probs.dtype)
    probs = probs * valid
    onehot = onehot * valid
    dims = (0, ) if batch_dice else ()
    dims = dims + tuple(range(2, logits.dim()))
    inter = (probs * onehot).sum(dims)
    denom = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + smooth) / (denom + smooth)  # (C,) or (N, C)
    if not include_background and num_classes > 1:
        dice = dice[..., 1:]
    return 1 - dice.mean()


@MODELS.register_module()
class SoftDiceLoss(nn.Module):
    """:func:`soft_dice_loss` as a module, times ``loss_weight``.

    Args:
        loss_weight (float): Defaults to 1.
        smooth, ignore_index, include_background, batch_dice: see
            :func:`soft_dice_loss`.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 smooth: float = 1.0,
                 ignore_index: Optional[int] = 255,
                 include_background: bool = False,
                 batch_dice: bool = True) -> None:
        super().__init__()
        if smooth < 0:
            raise ValueError(f'SoftDiceLoss: smooth must be >= 0, got '
                             f'{smooth}.')
        self.loss_weight = loss_weight
        self.smooth = smooth
        self.ignore_index = ignore_index
        self.include_background = include_background
        self.batch_dice = batch_dice

    def forward(self, logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * soft_dice_loss(
            logits, target, self.smooth, self.ignore_index,
            self.include_background, self.batch_dice)
