# Copyright (c) mmmedssl contributors. All rights reserved.
from .checkpoint_hook import CrashSafeCheckpointHook
from .export_backbone_hook import ExportBackboneHook
from .nonfinite_hook import NonFiniteGuardHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state
from .sync_buffers_hook import SyncFloatBuffersHook
from .train_budget_hook import TrainBudgetHook

__all__ = [
    'CrashSafeCheckpointHook', 'ExportBackboneHook', 'NonFiniteGuardHook',
    'RNGStateHook',
    'SyncFloatBuffersHook', 'TrainBudgetHook', 'get_rng_state', 'set_rng_state'
]
