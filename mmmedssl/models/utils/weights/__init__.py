# Copyright (c) mmmedssl contributors. All rights reserved.
"""Initialise a backbone from a local file of a public generic model:
where the files come from (``catalogue``), how their keys map to
mmpretrain's ``ResNet`` (``converters``), safe reading and shape-checked
loading (``loading``) and the ``Pretrained`` initializer
(``pretrained_init``)."""
from .catalogue import PRETRAINED_DIR, PUBLIC_WEIGHTS, missing_file_message
from .converters import (ConvertedWeights, convert_auto, convert_mmmedssl,
                         convert_mmpretrain, convert_moco,
                         convert_torchvision_resnet, detect_converter,
                         get_converter)
from .loading import group_keys, load_converted_weights, load_weights_file
from .pretrained_init import ConvertedPretrainedInit

__all__ = [
    'PRETRAINED_DIR', 'PUBLIC_WEIGHTS', 'missing_file_message',
    'ConvertedWeights', 'convert_auto', 'convert_mmmedssl',
    'convert_mmpretrain', 'convert_moco', 'convert_torchvision_resnet',
    'detect_converter', 'get_converter', 'group_keys',
    'load_converted_weights', 'load_weights_file', 'ConvertedPretrainedInit'
]
