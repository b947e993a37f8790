# Copyright (c) mmmedssl contributors. All rights reserved.
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state
from .sync_buffers_hook import SyncFloatBuffersHook
from .train_budget_hook import TrainBudgetHook

__all__ = [
    'RNGStateHook', 'SyncFloatBuffersHook', 'TrainBudgetHook',
    'get_rng_state', 'set_rng_state'
]
