# Copyright (c) mmmedssl contributors. All rights reserved.
from .image_list import MedImageList
from .transforms import *  # noqa: F401,F403
from .utils import seed_worker

__all__ = ['MedImageList', 'seed_worker']
