# Copyright (c) mmmedssl contributors. All rights reserved.
# mmpretrain's modules (ResNet, MoCoV2Neck, ContrastiveHead, CrossEntropyLoss, ...)
# resolve through the registry parent; mmmedssl-specific ones go here.
from .resnet_with_stem import ResNetWithStem
from .unet3d_encoder import UNet3DEncoder

__all__ = ['ResNetWithStem', 'UNet3DEncoder']
