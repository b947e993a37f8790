# Copyright (c) mmmedssl contributors. All rights reserved.
from .unet_segmentor import MedUNetSegmentor

__all__ = ['MedUNetSegmentor']
