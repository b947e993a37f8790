# Copyright (c) mmmedssl contributors. All rights reserved.
from .model import init_model
from .runner import build_runner, sanitize_dataloaders, set_default_work_dir

__all__ = [
    'build_runner', 'init_model', 'sanitize_dataloaders',
    'set_default_work_dir'
]
