# Copyright (c) mmmedssl contributors. All rights reserved.
from .checkpoint_hook import CrashSafeCheckpointHook
from .collapse_monitor_hook import CollapseMonitorHook
from .export_backbone_hook import ExportBackboneHook
from .logger_hook import ProgressLoggerHook
from .nonfinite_hook import NonFiniteGuardHook
from .pcrl_recon_vis_hook import PCRLReconVisHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state
from .sync_buffers_hook import SyncFloatBuffersHook
from .train_budget_hook import TrainBudgetHook

__all__ = [
    'CollapseMonitorHook', 'ProgressLoggerHook',
    'CrashSafeCheckpointHook', 'ExportBackboneHook', 'NonFiniteGuardHook',
    'PCRLReconVisHook', 'RNGStateHook',
    'SyncFloatBuffersHook', 'TrainBudgetHook', 'get_rng_state', 'set_rng_state'
]
