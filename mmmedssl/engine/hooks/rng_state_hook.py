# Copyright (c) mmmedssl contributors. All rights reserved.
import random

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook

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
        self._states = None  # per-rank states of the coming checkpoint
        self._iter_interval = None

    def _capture(self) -> None:
        # Checkpoints are written by rank 0 only, so every rank hands its
        # state over here, where all ranks run (before CheckpointHook, whose
        # priority is VERY_LOW).
        state = get_rng_state()
        self._states = (all_gather_object(state)
                        if get_world_size() > 1 else [state])

    def after_train_epoch(self, runner) -> None:
        self._capture()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self._iter_interval and (
                (runner.iter + 1) % self._iter_interval == 0
                or runner.iter + 1 == runner.max_iters):
            self._capture()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = self._states
        if states is None and get_world_size() == 1:
            states = [get_rng_state()]
        if states is not None:
            checkpoint['rng_state'] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Only resuming restores the states; loading weights with
        # `load_from` starts a new run. Runner.resume reseeds after this
        # call, so the states are applied in before_train.
        if not runner._resume or 'rng_state' not in checkpoint:
            return
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
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                self._iter_interval = hook.interval
        if self._resumed_state is not None:
            set_rng_state(self._resumed_state)
            self._resumed_state = None

    def before_val(self, runner) -> None:
        self._state_before_val = get_rng_state()

    def after_val(self, runner) -> None:
        if self._state_before_val is not None:
            set_rng_state(self._state_before_val)
            self._state_before_val = None
