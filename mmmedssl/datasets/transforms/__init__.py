# Copyright (c) mmmedssl contributors. All rights reserved.
from .formatting import PackMedInputs, to_channel_first_tensor
from .loading import LoadSourceImages
from .wrappers import MedMultiView

__all__ = [
    'LoadSourceImages', 'MedMultiView', 'PackMedInputs',
    'to_channel_first_tensor'
]
