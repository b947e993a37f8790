# Copyright (c) mmmedssl contributors. All rights reserved.
from .model import init_model
from .runner import (build_runner, run_test, sanitize_dataloaders,
                     set_default_work_dir)

__all__ = [
    'build_runner', 'init_model', 'run_test', 'sanitize_dataloaders',
    'set_default_work_dir'
]
