# Copyright (c) mmmedssl contributors. All rights reserved.
# mmpretrain's modules (ResNet, MoCoV2Neck, ContrastiveHead, CrossEntropyLoss, ...)
# resolve through the registry parent; mmmedssl-specific ones go here.
from .gravis_neck import GraVISNeck
from .pcrl_neck import PCRLNeck
from .projection_neck import ProjectionNeck
from .unet_decoder import UNetDecoder

__all__ = ['GraVISNeck', 'PCRLNeck', 'ProjectionNeck', 'UNetDecoder']
