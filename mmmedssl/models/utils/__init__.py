# Copyright (c) mmmedssl contributors. All rights reserved.
from .data_preprocessor import MedSelfSupDataPreprocessor
from .ddp_wrapper import MedDistributedDataParallel
from .distributed import (check_same_size, gather_no_grad, gather_with_grad,
                          shuffle_views)
from .memory import KeyMemory
from .views import source_ids, stack_views

__all__ = [
    'KeyMemory', 'MedSelfSupDataPreprocessor', 'MedDistributedDataParallel',
    'check_same_size', 'gather_no_grad', 'gather_with_grad', 'shuffle_views',
    'source_ids', 'stack_views'
]
