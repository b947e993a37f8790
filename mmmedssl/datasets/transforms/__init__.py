# Copyright (c) mmmedssl contributors. All rights reserved.
from .augment import (MedColorJitter, MedCutout, MedGaussianBlur,
                      MedRandomGrayscale, MedRandomRotation)
from .formatting import PackMedInputs, to_channel_first_tensor
from .loading import LoadSourceImages
from .medical_image import LoadMedImage, apply_window
from .pcrl import PCRLViews, RandomFlipRot90
from .segmentation import (LoadMedSegMap, MedSegRandomCrop, MedSegRandomFlip,
                           MedSegRandomResizedCrop)
from .volume import HUWindow, LoadVolume, read_volume, resample_volume
from .volume_augment import InOutPainting, LocalPixelShuffle, TorchIOTransform
from .wrappers import MedMultiView

__all__ = [
    'MedColorJitter', 'MedCutout', 'MedGaussianBlur', 'MedRandomGrayscale',
    'MedRandomRotation',
    'LoadSourceImages', 'MedMultiView', 'PackMedInputs', 'PCRLViews',
    'RandomFlipRot90',
    'to_channel_first_tensor'
]
__all__ += [
    'HUWindow', 'LoadVolume', 'read_volume', 'resample_volume',
    'InOutPainting', 'LocalPixelShuffle', 'TorchIOTransform'
]
__all__ += ['LoadMedImage', 'apply_window']
__all__ += [
    'LoadMedSegMap', 'MedSegRandomCrop', 'MedSegRandomFlip',
    'MedSegRandomResizedCrop'
]
