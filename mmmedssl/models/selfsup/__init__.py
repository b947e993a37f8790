# Copyright (c) mmmedssl contributors. All rights reserved.
from .base import BaseMedSelfSupervisor
from .distillingself import DistillingSelf, DistillingSelfTeacher
from .gravis import GraVIS
from .moco import MedMoCo
from .pcrl import PCRL

__all__ = [
    'BaseMedSelfSupervisor', 'DistillingSelf', 'DistillingSelfTeacher',
    'GraVIS', 'MedMoCo', 'PCRL'
]
