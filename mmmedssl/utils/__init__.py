# Copyright (c) mmmedssl contributors. All rights reserved.
from .checkpoint import (UnsafeCheckpointError, atomic_torch_save,
                         atomic_write, install_checkpoint_io, safe_load,
                         trusted_checkpoints)
from .setup_env import register_all_modules

__all__ = [
    'UnsafeCheckpointError', 'atomic_torch_save', 'atomic_write',
    'install_checkpoint_io', 'safe_load', 'trusted_checkpoints',
    'register_all_modules'
]
