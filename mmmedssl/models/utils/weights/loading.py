# Copyright (c) mmmedssl contributors. All rights reserved.
"""Read a local weights file safely and load it, converted, into a module
with every tensor's shape checked.

Files are read only through :func:`mmmedssl.utils.safe_load` (weights-only
unpickling with an allowlist), and nothing is ever downloaded.
"""
import logging
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import (Callable, Dict, List, Mapping, NamedTuple, Optional,
                    Tuple, Union)

import torch.nn as nn
from mmengine.logging import print_log

from mmmedssl.utils.checkpoint import safe_load
from .catalogue import missing_file_message
from .converters import (ConvertedWeights, detect_converter, first_keys,
                         get_converter)


def load_weights_file(filename: Union[str, os.PathLike], map_location='cpu'):
    """Read a local weights file with :func:`mmmedssl.utils.safe_load`.

    Raises:
        FileNotFoundError: if the file does not exist (or is a URL); the
            message says where the known public files come from.
        UnsafeCheckpointError: if the file needs globals outside the
            allowlist.
    """
    filename = osp.expanduser(str(filename))
    if '://' in filename or not osp.isfile(filename):
        raise FileNotFoundError(missing_file_message(filename))
    return safe_load(filename, map_location=map_location)


def group_keys(keys: List[str]) -> str:
    """``'fc (2), module.encoder_k (320)'``: dropped keys by sub-module."""
    counts: Dict[str, int] = OrderedDict()
    for key in keys:
        parts = key.split('.')
        # 'module.' (DataParallel) alone says nothing: keep the next name.
        depth = 2 if parts[0] == 'module' and len(parts) > 1 else 1
        head = '.'.join(parts[:depth])
        counts[head] = counts.get(head, 0) + 1
    return ', '.join(f'{k} ({n})' for k, n in counts.items()) or 'nothing'


def load_converted_weights(module: nn.Module,
                           checkpoint,
                           converter: Union[str, Callable] = 'auto',
                           prefix: Optional[str] = None,
                           strict: bool = False,
                           map_location='cpu',
                           logger='current',
                           min_match: float = 0.
                           ) -> Tuple[List[str], List[str]]:
    """Load a public checkpoint into ``module`` through a converter.

    Args:
        module (nn.Module): Usually an mmpretrain ``ResNet``.
        checkpoint (str | os.PathLike | dict): A local file, or an already
            loaded checkpoint.
        converter (str | callable): A name registered in
            ``WEIGHT_CONVERTERS`` or a callable
            ``(checkpoint, prefix=None) -> ConvertedWeights``.
            Defaults to ``'auto'``.
        prefix (str, optional): Passed to the converter. Defaults to None
            (the converter's default).
        strict (bool): Raise if any key is missing or unexpected.
            Defaults to False.
        map_location: As in ``torch.load``. Defaults to ``'cpu'``.
        logger: As in ``print_log``. Defaults to ``'current'``.
        min_match (float): Raise unless at least this share of the
            module's tensors is in the converted weights. Defaults to 0
            (the ``Pretrained`` initializer asks for 1: all of them).

    Returns:
        tuple[list[str], list[str]]: The missing keys (of ``module``, not in
        the converted weights) and the unexpected keys (converted but not
        in ``module``). Keys the converter dropped are neither.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the file is not plain data.
        ValueError: a tensor's shape differs from the module's.
        RuntimeError: ``strict`` and keys are missing or unexpected, or
            fewer than ``min_match`` of the module's tensors are loaded.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        source = str(checkpoint)
        checkpoint = load_weights_file(source, map_location)
    elif isinstance(checkpoint, Mapping):
        source = '<loaded checkpoint>'
    else:
        raise TypeError('checkpoint must be a file path or a loaded dict, '
                        f'got {type(checkpoint).__name__}.')

    if converter == 'auto':
        # Resolved here rather than by the 'auto' converter so that the log
        # names the layout that was detected.
        name = detect_converter(checkpoint, prefix)
        convert, label = get_converter(name), f'auto -> {name}'
    else:
        convert = get_converter(converter)
        label = converter if isinstance(converter, str) else getattr(
            converter, '__name__', repr(converter))
    converted = convert(checkpoint, prefix=prefix)
    if not isinstance(converted, ConvertedWeights):
        raise TypeError(f'Weight converter {label} returned '
                        f'{type(converted).__name__}, expected '
                        'ConvertedWeights(state_dict, dropped).')
    state_dict, dropped = converted
    what = f'{source} (converter {label})'

    own = module.state_dict()
    mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                  for k, v in state_dict.items()
                  if k in own and v.shape != own[k].shape]
    if mismatched:
        rows = '\n'.join(f'  {k}: file {f}, model {m}'
                         for k, f, m in mismatched[:20])
        more = (f'\n  ... {len(mismatched)} in all'
                if len(mismatched) > 20 else '')
        raise ValueError(
            f'{what} does not fit {type(module).__name__}: shape mismatch '
            f'(key: file shape, model shape):\n{rows}{more}')

    # Old checkpoints lack BatchNorm's num_batches_tracked; torch fills it
    # in itself, so it is not reported.
    missing = [
        k for k in own
        if k not in state_dict and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        problems = [
            f'{len(keys)} {kind} key(s) {first_keys(keys)}'
            for kind, keys in (('missing', missing), ('unexpected',
                                                      unexpected)) if keys
        ]
        print_log(
            f'Loading {what} into {type(module).__name__}: '
            f'{"; ".join(problems)}.',
            logger=logger,
            level=logging.WARNING)
        if strict:
            raise RuntimeError(
                f'strict loading of {what} into {type(module).__name__} '
                f'failed: missing keys {first_keys(missing)}, unexpected '
                f'keys {first_keys(unexpected)}.')

    total = len(_counted(own))
    check_min_match(
        LoadReport(total, total - len(missing), missing, unexpected, []),
        min_match, f'Loading {what} into {type(module).__name__}',
        'min_match')
    module.load_state_dict(state_dict, strict=False)
    print_log(
        f'Loaded {len(state_dict) - len(unexpected)} tensors into '
        f'{type(module).__name__} from {what}; dropped {len(dropped)} '
        f'keys: {group_keys(dropped)}.',
        logger=logger,
        level=logging.INFO)
    return missing, unexpected


class LoadReport(NamedTuple):
    """What loading a state dict into a module did, tensor by tensor.

    ``total`` counts the module's tensors (BatchNorm's
    ``num_batches_tracked`` left out: old files lack it and torch fills it
    in); ``matched`` those that were loaded.
    """
    total: int
    matched: int
    missing: List[str]
    unexpected: List[str]
    shape_mismatched: List[str]

    @property
    def share(self) -> float:
        return self.matched / self.total if self.total else 1.

    def summary(self) -> str:
        parts = [f'{self.matched} of {self.total} tensors matched']
        for kind, keys in (('missing', self.missing),
                           ('shape-mismatched', self.shape_mismatched),
                           ('unexpected', self.unexpected)):
            if keys:
                parts.append(f'{len(keys)} {kind} {first_keys(keys)}')
        return '; '.join(parts)


def _counted(keys) -> List[str]:
    return [k for k in keys if not k.endswith('num_batches_tracked')]


def load_state_dict_with_report(module: nn.Module,
                                state_dict: Mapping) -> LoadReport:
    """Load ``state_dict`` into ``module`` non-strictly, as mmengine's
    ``load_state_dict`` does (each sub-module's ``_load_from_state_dict``
    sees its part, so renaming of legacy keys still works), and return
    what matched instead of only logging a warning."""
    missing, unexpected, errors = [], [], []
    metadata = getattr(state_dict, '_metadata', None)
    state_dict = OrderedDict(state_dict)
    if metadata is not None:
        state_dict._metadata = metadata

    def load(mod, local_state, prefix=''):
        local_metadata = {} if metadata is None else metadata.get(
            prefix[:-1], {})
        mod._load_from_state_dict(local_state, prefix, local_metadata, True,
                                  missing, unexpected, errors)
        for name, child in mod._modules.items():
            if child is not None:
                child_prefix = f'{prefix}{name}.'
                load(child, {
                    k: v
                    for k, v in local_state.items()
                    if k.startswith(child_prefix)
                }, child_prefix)

    load(module, state_dict)
    # torch reports shape mismatches only as messages, one per key.
    mismatched = [
        m.group(1) for m in (re.match(r'size mismatch for (\S+?):', e)
                             for e in errors) if m
    ]
    others = [e for e in errors if not e.startswith('size mismatch for')]
    if others:
        raise RuntimeError('Loading the state dict into '
                           f'{type(module).__name__} failed: '
                           + '; '.join(others))
    total = len(_counted(module.state_dict()))
    missing = _counted(missing)
    return LoadReport(total, total - len(missing) - len(mismatched), missing,
                      unexpected, mismatched)


def check_min_match(report: LoadReport, min_match: float, what: str,
                    option: str) -> None:
    """Raise unless at least ``min_match`` (a share, 0 to 1) of the
    module's tensors were loaded; ``option`` names the setting that lowers
    the bar."""
    if not 0 <= min_match <= 1:
        raise ValueError(f'{option} must be a share between 0 and 1, got '
                         f'{min_match!r}.')
    if report.share + 1e-12 < min_match:
        raise RuntimeError(
            f'{what}: only {report.matched} of {report.total} tensors '
            f'({report.share:.0%}) match, {option}={min_match} requires '
            f'{min_match:.0%}. {report.summary()}. Is this a checkpoint of '
            f'another architecture? Set {option} lower (0 accepts any '
            'file) to load a partial match on purpose.')
