# Copyright (c) mmmedssl contributors. All rights reserved.
from .data_preprocessor import MedSelfSupDataPreprocessor
from .ddp_wrapper import MedDistributedDataParallel
from .distributed import (check_same_size, gather_no_grad, gather_with_grad,
                          shuffle_views)
from .fold_bn import fold_batch_norms
from .memory import KeyMemory
from .views import source_ids, stack_views
from .weight_converters import (ConvertedPretrainedInit, ConvertedWeights,
                                detect_converter, load_converted_weights)

__all__ = [
    'ConvertedPretrainedInit', 'ConvertedWeights', 'KeyMemory',
    'MedSelfSupDataPreprocessor', 'MedDistributedDataParallel',
    'check_same_size', 'detect_converter', 'fold_batch_norms',
    'gather_no_grad',
    'gather_with_grad', 'load_converted_weights', 'shuffle_views',
    'source_ids', 'stack_views'
]
