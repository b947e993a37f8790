# Copyright (c) mmmedssl contributors. All rights reserved.
# mmpretrain's modules (ResNet, MoCoV2Neck, ContrastiveHead, CrossEntropyLoss, ...)
# resolve through the registry parent; mmmedssl-specific ones go here.
from .causal_tcn_head import CausalTCNHead
from .distill_contrastive_head import DistillContrastiveHead
from .gravis_head import GraVISHead
from .pcrl_head import PCRLHead

__all__ = [
    'CausalTCNHead', 'DistillContrastiveHead', 'GraVISHead', 'PCRLHead'
]
