# Copyright (c) mmmedssl contributors. All rights reserved.
import functools
import logging
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmmedssl.registry import HOOKS
from ..nonfinite import (NonFiniteLossError, NonFiniteStateError,
                         check_finite_state, describe_keys, nonfinite_terms)


class _SkipStep(Exception):
    """Raised inside ``train_step`` to leave out one optimizer step."""

    def __init__(self, log_vars: Dict):
        super().__init__('non-finite loss: step skipped')
        self.log_vars = log_vars


def _all_finite(tensors: List[torch.Tensor]) -> torch.Tensor:
    """One boolean tensor (one device sync when read) for many tensors."""
    flags = [torch.isfinite(t).all() for t in tensors]
    if not flags:
        return torch.tensor(True)
    device = flags[0].device
    return torch.stack([f.to(device) for f in flags]).all()


def _any_rank(bad: torch.Tensor) -> bool:
    """Whether ``bad`` is true on any rank: every rank takes the same
    decision, so no rank steps (or waits in a collective) alone."""
    if get_world_size() > 1:
        bad = bad.to(torch.int32)
        if torch.cuda.is_available():
            bad = bad.cuda()
        all_reduce(bad, op='max')
    return bool(bad.item())


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Stop training at the first NaN or infinite loss, before the
    optimizer step, so that the weights (and every checkpoint written from
    them) stay finite.

    The model's ``parse_losses`` is wrapped at ``before_train``: a
    non-finite loss term raises :class:`NonFiniteLossError`, naming the
    iteration and the terms, before ``backward`` and the optimizer step.
    With ``skip_nonfinite=N`` up to N such steps are left out instead (no
    backward, no step), as long as the model's state is still finite (the
    forward pass may already have written NaN into BatchNorm statistics or
    a MoCo queue); the N+1th stops the run.

    After the optimizer step the weights and buffers are checked every
    ``state_check_interval`` iterations and at the end of every epoch: a
    finite loss can still give infinite weights (a huge learning rate). The
    hook runs before the CheckpointHook (priority ``VERY_HIGH`` against
    ``VERY_LOW``), so a failing check stops the run before the checkpoint
    of that iteration or epoch is written. Under DDP all ranks take the
    same decision.

    Args:
        skip_nonfinite (int): How many steps with a non-finite loss may be
            skipped in the whole run. Defaults to 0: the first stops it.
        state_check_interval (int): Check the weights every this many
            iterations (0: only at epoch ends). Defaults to 1.
    """
    priority = 'VERY_HIGH'

    def __init__(self,
                 skip_nonfinite: int = 0,
                 state_check_interval: int = 1) -> None:
        if not (isinstance(skip_nonfinite, int) and skip_nonfinite >= 0):
            raise ValueError('NonFiniteGuardHook: skip_nonfinite must be an '
                             f'int >= 0, got {skip_nonfinite!r}.')
        if not (isinstance(state_check_interval, int)
                and state_check_interval >= 0):
            raise ValueError('NonFiniteGuardHook: state_check_interval must '
                             f'be an int >= 0, got {state_check_interval!r}.')
        self.skip_nonfinite = skip_nonfinite
        self.state_check_interval = state_check_interval
        self.skipped = 0
        self._originals: Dict = {}

    # -- installing the guard -------------------------------------------
    def before_train(self, runner) -> None:
        self.skipped = 0
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._restore()
        self._originals = {
            'parse_losses': (model, model.__dict__.get('parse_losses')),
            'train_step': (runner.model,
                           runner.model.__dict__.get('train_step')),
        }
        model.parse_losses = self._guard_parse_losses(runner,
                                                      model.parse_losses)
        runner.model.train_step = self._guard_train_step(
            runner, runner.model.train_step)

    def after_train(self, runner) -> None:
        self._restore()

    def _restore(self) -> None:
        # Put back what was there before: nothing (the class's method) or
        # an instance attribute set by someone else.
        for name, (owner, original) in self._originals.items():
            if original is None:
                owner.__dict__.pop(name, None)
            else:
                setattr(owner, name, original)
        self._originals = {}

    def _guard_parse_losses(self, runner, parse_losses):

        @functools.wraps(parse_losses)
        def guarded(losses):
            loss, log_vars = parse_losses(losses)
            terms = {
                k: v
                for k, v in log_vars.items() if isinstance(v, torch.Tensor)
                and v.is_floating_point()
            }
            if not _any_rank(~_all_finite(list(terms.values()))):
                return loss, log_vars
            bad = {
                k: float(terms[k].detach().float().mean())
                for k in nonfinite_terms(terms)
            }
            where = self._where(runner)
            what = (', '.join(f'{k}={v}' for k, v in bad.items())
                    if bad else 'finite here, non-finite on another rank')
            if self.skipped < self.skip_nonfinite:
                self.skipped += 1
                print_log(
                    f'Non-finite loss at {where} ({what}): step skipped '
                    f'({self.skipped} of at most {self.skip_nonfinite}).',
                    logger='current',
                    level=logging.WARNING)
                raise _SkipStep({
                    k: v
                    for k, v in log_vars.items() if k not in bad
                })
            limit = (f'after skipping {self.skipped} step(s), the most '
                     f'skip_nonfinite={self.skip_nonfinite} allows'
                     if self.skip_nonfinite else
                     'set default_hooks.nonfinite.skip_nonfinite=N to skip '
                     'up to N such steps instead')
            raise NonFiniteLossError(
                f'Non-finite loss at {where}: {what}. Training stopped '
                'before the optimizer step, so the weights are still finite '
                'and no checkpoint of this iteration was written. Lower the '
                'learning rate (optim_wrapper.optimizer.lr) or clip '
                'gradients (optim_wrapper.clip_grad); or ' + limit + '.')

        return guarded

    def _guard_train_step(self, runner, train_step):

        @functools.wraps(train_step)
        def guarded(*args, **kwargs):
            try:
                return train_step(*args, **kwargs)
            except _SkipStep as skip:
                # The forward pass ran: make sure it left the state finite.
                self._check_state(
                    runner, f'after the skipped step at {self._where(runner)}')
                runner.message_hub.update_info('train/skipped_nonfinite',
                                               self.skipped)
                return skip.log_vars

        return guarded

    # -- checking the weights ---------------------------------------------
    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self.state_check_interval and self.every_n_train_iters(
                runner, self.state_check_interval):
            self._check_state(
                runner,
                f'after the optimizer step at {self._where(runner)}')

    def after_train_epoch(self, runner) -> None:
        self._check_state(runner,
                          f'at the end of epoch {runner.epoch + 1}')

    def _check_state(self, runner, when: str) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        state = {
            k: v
            for k, v in model.state_dict().items()
            if isinstance(v, torch.Tensor) and v.is_floating_point()
        }
        if not _any_rank(~_all_finite(list(state.values()))):
            return
        bad = check_finite_state(state)
        raise NonFiniteStateError(
            f'Non-finite weights {when}: '
            f'{len(bad)} of {len(state)} tensors hold NaN or inf '
            f'({describe_keys(bad) or "on another rank"}). Training '
            'stopped before writing a checkpoint of them. Lower the '
            'learning rate (optim_wrapper.optimizer.lr) or clip gradients '
            '(optim_wrapper.clip_grad).')

    @staticmethod
    def _where(runner) -> str:
        # runner.iter counts finished iterations; this one is the next.
        where = f'iteration {runner.iter + 1}'
        max_epochs = getattr(runner.train_loop, 'max_epochs', None)
        if max_epochs is not None:
            where += f' (epoch {runner.epoch + 1})'
        return where
