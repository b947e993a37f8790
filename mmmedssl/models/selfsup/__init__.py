# Copyright (c) mmmedssl contributors. All rights reserved.
from .base import BaseMedSelfSupervisor
from .moco import MedMoCo

__all__ = ['BaseMedSelfSupervisor', 'MedMoCo']
