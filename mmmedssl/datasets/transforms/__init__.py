# Copyright (c) mmmedssl contributors. All rights reserved.
from .formatting import PackMedInputs, to_channel_first_tensor
from .wrappers import MedMultiView

__all__ = ['MedMultiView', 'PackMedInputs', 'to_channel_first_tensor']
