# Copyright (c) mmmedssl contributors. All rights reserved.
from .checkpoints import find_resume_checkpoint
from .hooks import *  # noqa: F401,F403
from .launch import prepare_launcher, shutdown_distributed

__all__ = [
    'find_resume_checkpoint', 'prepare_launcher', 'shutdown_distributed'
]
