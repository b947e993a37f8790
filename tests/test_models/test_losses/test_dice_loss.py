# Copyright (c) mmmedssl contributors. All rights reserved.
"""The soft Dice loss on hand-computed probabilities."""
import math

import pytest
import torch

from mmmedssl.models.losses import SoftDiceLoss, soft_dice_loss


def _logits(fg_probs):
    """(1, 2, 1, n) logits whose softmax gives these foreground probs."""
    p = torch.tensor(fg_probs, dtype=torch.float64)
    return torch.stack([torch.log(1 - p), torch.log(p)])[None, :, None]


def test_by_hand():
    logits = _logits([0.8, 0.2])
    target = torch.tensor([[[1, 0]]])
    # Foreground: 2 * 0.8 / (0.8 + 0.2 + 1) = 0.8 -> loss 0.2.
    assert soft_dice_loss(logits, target, smooth=0.).item() == \
        pytest.approx(0.2)
    # smooth = 1: (1.6 + 1) / (2 + 1).
    assert soft_dice_loss(logits, target).item() == pytest.approx(1 - 2.6 / 3)
    # With the background: its Dice is 2 * 0.8 / 2 = 0.8 too.
    assert soft_dice_loss(logits, target, smooth=0.,
                          include_background=True).item() == \
        pytest.approx(0.2)
    # An ignored pixel changes nothing, whatever its probabilities.
    logits3 = _logits([0.8, 0.2, 0.9])
    target3 = torch.tensor([[[1, 0, 255]]])
    assert soft_dice_loss(logits3, target3, smooth=0.).item() == \
        pytest.approx(0.2)
    # Per-sample Dice: sample 1 as above (0.8), sample 2 perfect-ish.
    logits2 = torch.cat([_logits([0.8, 0.2]), _logits([1 - 1e-9, 1e-9])])
    target2 = torch.tensor([[[1, 0]], [[1, 0]]])
    assert soft_dice_loss(logits2, target2, smooth=0.,
                          batch_dice=False).item() == pytest.approx(0.1)
    # Batch Dice: 2 * 1.8 / (2 + 2) = 0.9 -> 0.1 too here; differs below.
    logits2 = torch.cat([_logits([0.8, 0.2]), _logits([0.5, 0.5])])
    target2 = torch.tensor([[[1, 0]], [[0, 0]]])
    # Batch: 2 * 0.8 / (0.8 + 0.2 + 0.5 + 0.5 + 1) = 1.6 / 3.
    assert soft_dice_loss(logits2, target2, smooth=0.).item() == \
        pytest.approx(1 - 1.6 / 3)
    # Per sample: 0.8 and 0 (no target, probability 1 predicted) -> 0.6.
    assert soft_dice_loss(logits2, target2, smooth=0.,
                          batch_dice=False).item() == pytest.approx(0.6)


def test_module_gradients_and_errors():
    loss = SoftDiceLoss(loss_weight=2.)
    logits = torch.randn(2, 3, 4, 4, 4, requires_grad=True)
    target = torch.randint(0, 3, (2, 4, 4, 4))
    value = loss(logits, target)
    value.backward()
    assert 0 < value.item() < 2 and logits.grad.abs().sum() > 0
    assert not math.isnan(value.item())
    with pytest.raises(ValueError, match='do not match'):
        loss(logits, target[:, 0])
    with pytest.raises(ValueError, match=r'\[0, 3\)'):
        loss(logits, target + 3)
    with pytest.raises(ValueError, match='smooth'):
        SoftDiceLoss(smooth=-1)
