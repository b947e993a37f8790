# Copyright (c) mmmedssl contributors. All rights reserved.
from .data_preprocessor import MedSelfSupDataPreprocessor
from .ddp_wrapper import MedDistributedDataParallel

__all__ = ['MedSelfSupDataPreprocessor', 'MedDistributedDataParallel']
