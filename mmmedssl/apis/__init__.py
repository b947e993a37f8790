# Copyright (c) mmmedssl contributors. All rights reserved.
from .model import init_model

__all__ = ['init_model']
