# Copyright (c) mmmedssl contributors. All rights reserved.
# mmpretrain's modules (ResNet, MoCoV2Neck, ContrastiveHead, CrossEntropyLoss, ...)
# resolve through the registry parent; mmmedssl-specific ones go here.
from .dice_loss import SoftDiceLoss, soft_dice_loss
from .distill_kl_loss import DistillKLLoss
from .gravis_loss import GraVISLoss
from .nce_loss import C2LNCELoss, InfoNCELoss
from .temporal_smoothing_loss import TemporalSmoothingLoss

__all__ = [
    'C2LNCELoss', 'DistillKLLoss', 'GraVISLoss', 'InfoNCELoss',
    'SoftDiceLoss', 'TemporalSmoothingLoss', 'soft_dice_loss'
]
