# Copyright (c) mmmedssl contributors. All rights reserved.
"""Finding NaN and infinite values in losses and model states.

:func:`check_finite_state` names the weights and buffers that are not
finite (``NonFiniteGuardHook`` checks the model before any checkpoint of it
is written); :func:`nonfinite_terms` the loss terms, before the optimizer
step.
"""
from typing import List, Mapping

import torch


class NonFiniteLossError(RuntimeError):
    """A training loss was NaN or infinite."""


class NonFiniteStateError(RuntimeError):
    """Weights or buffers of the model were NaN or infinite."""


def _is_finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        if not (value.is_floating_point() or value.is_complex()):
            return True
        return bool(torch.isfinite(value).all())
    if isinstance(value, float):
        return value == value and value not in (float('inf'), float('-inf'))
    return True


def check_finite_state(state_dict: Mapping, prefix: str = '') -> List[str]:
    """The keys of ``state_dict`` whose floating-point tensors hold a NaN
    or an infinite value, in order; ``[]`` when all are finite.

    Nested dicts (a whole checkpoint: ``state_dict``, ``ema_state_dict``,
    ``optimizer``...) are searched too, their keys joined with dots.
    Integer tensors and other values are never reported.
    """
    bad = []
    for key, value in state_dict.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            bad.extend(check_finite_state(value, name + '.'))
        elif isinstance(value, (list, tuple)):
            bad.extend(
                check_finite_state(dict(enumerate(value)), name + '.'))
        elif not _is_finite(value):
            bad.append(name)
    return bad


def nonfinite_terms(log_vars: Mapping) -> List[str]:
    """The names of the loss terms in ``log_vars`` (the second result of
    ``BaseModel.parse_losses``) that are NaN or infinite."""
    return [name for name, value in log_vars.items() if not _is_finite(value)]


def describe_keys(keys: List[str], limit: int = 10) -> str:
    """``'a, b, c ... (25 in all)'``: a readable excerpt of many keys."""
    shown = ', '.join(keys[:limit])
    return shown + (f' ... ({len(keys)} in all)' if len(keys) > limit else '')
