# Copyright (c) mmmedssl contributors. All rights reserved.
"""Safe checkpoint loading and atomic checkpoint writing.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7
checkpoints contain a few non-tensor objects (the message hub's
``HistoryBuffer``, numpy scalars and arrays) that the weights-only unpickler
refuses. Instead of turning ``weights_only`` off (which lets a crafted file run
arbitrary code), we keep it on and allowlist exactly the globals that
mmengine/mmmedssl checkpoints contain.

A file that needs anything else is refused with :class:`UnsafeCheckpointError`,
which names the offending globals. Files you trust (for example an old
checkpoint that pickled a whole model) can be loaded by setting the environment
variable ``MMMEDSSL_TRUST_CHECKPOINTS=1`` or inside
``with trusted_checkpoints():``.

Writing goes through a temporary file in the same folder followed by
``os.replace``: a run killed while saving never leaves a half-written
checkpoint behind.
"""
import contextlib
import io
import os
import os.path as osp
import pickle
import tempfile
import threading
from typing import Iterator, List, Union

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

TRUST_ENV = 'MMMEDSSL_TRUST_CHECKPOINTS'


def _numpy_globals() -> list:
    """numpy objects that mmengine checkpoints pickle (seed, history, meta)."""
    from numpy._core import multiarray
    dtype_classes = [
        type(np.dtype(name)) for name in (
            'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
            'uint32', 'uint64', 'float16', 'float32', 'float64')
    ]
    return [
        np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
        *dtype_classes
    ]


# HistoryBuffer pickles its statistics methods as
# getattr(HistoryBuffer, 'mean'); a general getattr would open attribute
# access on every allowed class, so only these lookups are served.
_HISTORY_BUFFER_METHODS = ('min', 'max', 'mean', 'current')


def _history_buffer_getattr(obj, name, *default):
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(obj, name)
    raise UnsafeCheckpointError(
        f'getattr({obj!r}, {name!r}) is not allowed while loading a '
        'checkpoint: only HistoryBuffer statistics methods are.')


def safe_checkpoint_globals() -> List:
    """Everything besides tensors and builtin containers that mmmedssl
    checkpoints may contain; all of it is data, none of it runs code."""
    return [
        HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'),
        *_numpy_globals()
    ]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint references globals outside the allowlist."""


_trust_state = threading.local()


def _trusted() -> bool:
    if getattr(_trust_state, 'depth', 0) > 0:
        return True
    return os.environ.get(TRUST_ENV, '').lower() in ('1', 'true', 'yes')


@contextlib.contextmanager
def trusted_checkpoints() -> Iterator[None]:
    """Load checkpoints with full unpickling inside this block.

    Only for files whose origin you trust: unpickling can run code.
    """
    _trust_state.depth = getattr(_trust_state, 'depth', 0) + 1
    try:
        yield
    finally:
        _trust_state.depth -= 1


def safe_load(filename: str, map_location=None):
    """``torch.load`` with ``weights_only=True`` and mmmedssl's allowlist.

    Raises:
        FileNotFoundError: if ``filename`` does not exist.
        UnsafeCheckpointError: if the file needs a global outside the
            allowlist; nothing from the file has been executed then.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file {filename} can not be found.')
    if _trusted():
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(safe_checkpoint_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        offending = _unsafe_globals(filename)
        names = ', '.join(offending) if offending else '(see below)'
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {filename}: it references '
            f'global(s) {names}, which are not in mmmedssl\'s allowlist of '
            'checkpoint contents. Unpickling them could run arbitrary code. '
            'If you trust where this file comes from, load it with '
            f'{TRUST_ENV}=1 in the environment (or the --trust-checkpoint '
            'flag of tools/train.py and tools/test.py, or '
            '`with mmmedssl.utils.trusted_checkpoints():`). '
            f'torch said: {err}') from None


def _unsafe_globals(filename: str) -> List[str]:
    """Names of the globals outside the allowlist; reads without executing."""
    allowed = set()
    for obj in safe_checkpoint_globals():
        if isinstance(obj, tuple):
            allowed.add(obj[1])
        else:
            allowed.add(f'{obj.__module__}.{obj.__qualname__}')
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: the error message says enough
        return []
    return [name for name in found if name not in allowed]


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        atomic_write(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), filepath)


def atomic_write(data: bytes, filepath: Union[str, os.PathLike]) -> None:
    """Write ``data`` to ``filepath`` so that readers see the old file or
    the complete new one, never a partial file."""
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    # The suffix is not '.pth' so that a leftover never looks like a
    # checkpoint to mmengine's find_latest_checkpoint.
    fd, tmp_path = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        raise


def atomic_torch_save(obj, filepath: Union[str, os.PathLike]) -> None:
    """``torch.save`` through :func:`atomic_write`."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(buffer.getvalue(), filepath)


_installed = False


def install_checkpoint_io() -> None:
    """Route mmengine's local checkpoint loading and file writing through
    the safe loader and the atomic backend. Idempotent; called when
    ``mmmedssl`` is imported."""
    global _installed
    if _installed:
        return
    CheckpointLoader.register_scheme(
        prefixes='', loader=safe_load, force=True)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    _installed = True
