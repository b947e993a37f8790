# Copyright (c) mmmedssl contributors. All rights reserved.
import random

import numpy as np
import torch
from mmengine.hooks import Hook

from mmmedssl.registry import HOOKS


def get_rng_state() -> dict:
    """States of every global RNG that training consumes."""
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(_as_python_state(state['python']))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        cuda_states = state['cuda']
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def _as_python_state(state):
    # Checkpoints may store lists where random.setstate needs tuples.
    version, internal, gauss = state
    return version, tuple(internal), gauss


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make ``--resume`` exact: save and restore the global RNG states.

    mmengine reseeds every RNG with the configured seed when it resumes, so
    a resumed run draws different augmentations, batch shuffles and
    dataloader worker seeds from an uninterrupted one. This hook stores the
    python, numpy, torch (and CUDA) RNG states of the moment a checkpoint is
    saved and restores them when training starts from that checkpoint.

    Validation also consumes randomness (a dataloader iterator draws a seed
    from torch's RNG), and an interrupted run skips the validation that
    followed its last checkpoint, so validation runs on a copy: the training
    RNG states are put back when it ends.

    Each rank stores its own state; a run resumed with a different number of
    processes falls back to mmengine's reseeding with a warning.
    """
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._resumed_state = None
        self._state_before_val = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        from mmengine.dist import all_gather_object, get_world_size
        state = get_rng_state()
        if get_world_size() > 1:
            checkpoint['rng_state'] = all_gather_object(state)
        else:
            checkpoint['rng_state'] = [state]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Only resuming restores the states; loading weights with
        # `load_from` starts a new run. Runner.resume reseeds after this
        # call, so the states are applied in before_train.
        if not runner._resume or 'rng_state' not in checkpoint:
            return
        from mmengine.dist import get_rank, get_world_size
        states = checkpoint['rng_state']
        if len(states) != get_world_size():
            runner.logger.warning(
                f'RNGStateHook: the checkpoint holds RNG states of '
                f'{len(states)} process(es) but this run has '
                f'{get_world_size()}; randomness is reseeded instead, so the '
                'resumed run will not match an uninterrupted one exactly.')
            return
        self._resumed_state = states[get_rank()]

    def before_train(self, runner) -> None:
        if self._resumed_state is not None:
            set_rng_state(self._resumed_state)
            self._resumed_state = None

    def before_val(self, runner) -> None:
        self._state_before_val = get_rng_state()

    def after_val(self, runner) -> None:
        if self._state_before_val is not None:
            set_rng_state(self._state_before_val)
            self._state_before_val = None
