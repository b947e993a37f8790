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

Writing goes through a temporary file in the same folder (named
``.<target>.<8 random characters>.tmp``), fsynced, renamed over the target
with ``os.replace`` and the folder fsynced: a run killed while saving never
leaves a half-written checkpoint behind, only possibly such a temporary file,
which :func:`remove_stale_temp_files` clears at the start of the next run.
Written files get the permissions of the umask (``0o666 & ~umask``), like a
plain ``open(..., 'w')``, not ``mkstemp``'s 0600.

Errors about a checkpoint name its file: a truncated or damaged file raises
:class:`CheckpointLoadError` instead of torch's bare ``EOFError`` or
``PytorchStreamReader failed ...``; :func:`checkpoint_problem` says why a
file cannot be loaded without raising.
"""
import contextlib
import io
import os
import os.path as osp
import pickle
import re
import tempfile
import threading
import zipfile
from typing import Iterator, List, Optional, Union

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


class CheckpointLoadError(RuntimeError):
    """A checkpoint file could not be read (empty, truncated, damaged or
    not a checkpoint); the message names the file and what is wrong."""


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
        CheckpointLoadError: if the file cannot be read (empty, truncated,
            damaged); the message names the file.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file {filename} can not be found.')
    try:
        if _trusted():
            return torch.load(
                filename, map_location=map_location, weights_only=False)
        with torch.serialization.safe_globals(safe_checkpoint_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # The weights-only unpickler reports a refused global and a broken
        # pickle alike: a damaged file is the first thing to rule out.
        damage = _damage(filename)
        if damage is not None:
            raise _load_error(filename, damage, err) from None
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
    except (EOFError, RuntimeError, ValueError, zipfile.BadZipFile,
            OSError) as err:
        # torch's own messages ('Ran out of input', 'PytorchStreamReader
        # failed reading zip archive') do not say which file they mean.
        raise _load_error(filename, _damage(filename), err) from None


def _load_error(filename: str, damage: Optional[str],
                err: BaseException) -> CheckpointLoadError:
    what = f'it is damaged: {damage}' if damage else 'loading failed'
    said = f'{type(err).__name__}: {err}' if str(err) else type(err).__name__
    return CheckpointLoadError(
        f'Could not load checkpoint {filename}: {what} (torch said: {said})')


def _damage(filename: str) -> Optional[str]:
    """What is wrong with the file as a torch zip archive, or None when
    its archive is intact (or it is a legacy, non-zip torch file)."""
    try:
        size = osp.getsize(filename)
        if size == 0:
            return 'the file is empty (0 bytes)'
        if not zipfile.is_zipfile(filename):
            with open(filename, 'rb') as f:
                head = f.read(2)
            if head[:1] == b'\x80':  # a legacy (pre-zip) torch pickle
                return None
            return (f'not a complete zip archive ({size} bytes): truncated '
                    '(a save that was killed?) or not a PyTorch checkpoint')
        with zipfile.ZipFile(filename) as archive:
            bad = archive.testzip()
        if bad is not None:
            return f'archive member {bad} fails its CRC check'
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        return f'unreadable archive ({type(err).__name__}: {err})'
    except OSError:  # unreadable (permissions, I/O): not known to be damaged
        return None
    return None


def checkpoint_problem(filename: str) -> Optional[str]:
    """Why ``filename`` cannot be loaded by :func:`safe_load`, or None.

    Checks the zip archive's CRCs (which ``torch.load`` does not) and loads
    the file on the CPU. A file refused only because it needs
    ``--trust-checkpoint`` counts as loadable: it is intact, and loading it
    for real explains the opt-in.
    """
    filename = str(filename)
    if not osp.isfile(filename):
        return f'{filename} does not exist'
    damage = _damage(filename)
    if damage is not None:
        return f'{filename} is damaged: {damage}'
    try:
        safe_load(filename, map_location='cpu')
    except UnsafeCheckpointError:
        return None
    except (CheckpointLoadError, FileNotFoundError) as err:
        return str(err)
    return None


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


# mkstemp's names: the prefix, 8 characters from this alphabet, the suffix.
_TEMP_NAME = re.compile(r'\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp')


def _temp_prefix(filepath: str) -> str:
    return f'.{osp.basename(filepath)}.'


def _umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    with contextlib.suppress(OSError, ValueError):
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable; not all filesystems allow it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(data: bytes, filepath: Union[str, os.PathLike]) -> None:
    """Write ``data`` to ``filepath`` so that readers see the old file or
    the complete new one, never a partial file; once this returns, the new
    file survives a crash of the machine too (file and folder fsynced)."""
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    # The suffix is not '.pth' so that a leftover never looks like a
    # checkpoint to mmengine's find_latest_checkpoint.
    fd, tmp_path = tempfile.mkstemp(
        dir=folder, prefix=_temp_prefix(filepath), suffix='.tmp')
    try:
        # mkstemp creates 0600; a checkpoint should be as readable as any
        # other file the user writes.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        raise
    _fsync_dir(folder)


def stale_temp_files(folder: str) -> List[str]:
    """The temporary files :func:`atomic_write` left in ``folder`` when a
    process was killed while writing (names ``.<target>.XXXXXXXX.tmp``)."""
    if not osp.isdir(folder):
        return []
    return sorted(
        osp.join(folder, name) for name in os.listdir(folder)
        if _TEMP_NAME.fullmatch(name)
        and osp.isfile(osp.join(folder, name)))


def remove_stale_temp_files(folder: str) -> List[str]:
    """Remove :func:`stale_temp_files` of ``folder``; returns what was
    removed. Only call it where no other process is writing: a temporary
    file of a save in progress matches too."""
    removed = []
    for path in stale_temp_files(folder):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
            removed.append(path)
    return removed


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
