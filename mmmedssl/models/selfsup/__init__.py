# Copyright (c) mmmedssl contributors. All rights reserved.
from .base import BaseMedSelfSupervisor
from .gravis import GraVIS
from .moco import MedMoCo

__all__ = ['BaseMedSelfSupervisor', 'GraVIS', 'MedMoCo']
