# Copyright (c) mmmedssl contributors. All rights reserved.
from .export import export_checkpoint
from .model import init_model
from .runner import (build_runner, run_test, sanitize_dataloaders,
                     set_default_work_dir)

__all__ = [
    'build_runner', 'export_checkpoint', 'init_model', 'run_test',
    'sanitize_dataloaders', 'set_default_work_dir'
]
