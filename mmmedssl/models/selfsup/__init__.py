# Copyright (c) mmmedssl contributors. All rights reserved.
from .base import BaseMedSelfSupervisor
from .gravis import GraVIS
from .moco import MedMoCo
from .pcrl import PCRL

__all__ = ['BaseMedSelfSupervisor', 'GraVIS', 'MedMoCo', 'PCRL']
