# Copyright (c) mmmedssl contributors. All rights reserved.
from .model import init_model
from .runner import build_runner

__all__ = ['build_runner', 'init_model']
