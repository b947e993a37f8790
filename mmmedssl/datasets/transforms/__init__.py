# Copyright (c) mmmedssl contributors. All rights reserved.
from .augment import (MedColorJitter, MedCutout, MedGaussianBlur,
                      MedRandomGrayscale, MedRandomRotation)
from .formatting import PackMedInputs, to_channel_first_tensor
from .loading import LoadSourceImages
from .wrappers import MedMultiView

__all__ = [
    'MedColorJitter', 'MedCutout', 'MedGaussianBlur', 'MedRandomGrayscale',
    'MedRandomRotation',
    'LoadSourceImages', 'MedMultiView', 'PackMedInputs',
    'to_channel_first_tensor'
]
