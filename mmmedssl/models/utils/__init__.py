# Copyright (c) mmmedssl contributors. All rights reserved.
from .data_preprocessor import MedSelfSupDataPreprocessor
from .ddp_wrapper import MedDistributedDataParallel
from .distributed import (check_same_size, gather_no_grad, gather_with_grad,
                          shuffle_views)
from .fold_bn import fold_batch_norms
from .frozen_teacher import FrozenTeacher
from .memory import KeyMemory
from .views import require_views, source_ids, stack_views
from .weights import (PRETRAINED_DIR, PUBLIC_WEIGHTS, ConvertedPretrainedInit,
                      ConvertedWeights, convert_auto, convert_mmmedssl,
                      convert_mmpretrain, convert_moco,
                      convert_torchvision_resnet, detect_converter,
                      get_converter, group_keys, load_converted_weights,
                      load_weights_file)

__all__ = [
    'ConvertedPretrainedInit', 'ConvertedWeights', 'FrozenTeacher',
    'KeyMemory',
    'MedSelfSupDataPreprocessor', 'MedDistributedDataParallel',
    'check_same_size', 'detect_converter', 'fold_batch_norms',
    'gather_no_grad',
    'gather_with_grad', 'load_converted_weights', 'shuffle_views',
    'require_views', 'source_ids', 'stack_views', 'PRETRAINED_DIR', 'PUBLIC_WEIGHTS',
    'convert_auto', 'convert_mmmedssl', 'convert_mmpretrain', 'convert_moco',
    'convert_torchvision_resnet', 'get_converter', 'group_keys',
    'load_weights_file'
]
