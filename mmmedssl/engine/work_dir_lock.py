# Copyright (c) mmmedssl contributors. All rights reserved.
"""One training run per work dir: a lock file naming the owner.

Two runs in one work dir would overwrite each other's checkpoints and
``last_checkpoint`` and interleave their logs. The lock is a file created
with ``O_EXCL`` (atomic, also on NFS v3+) that holds the owner's pid, host
and start time; it is removed when training ends, also on an exception. A
lock left by a process that was killed (SIGKILL, OOM) is taken over with a
warning when its owner is on this host and no longer alive; a lock from
another host cannot be checked and must be removed by hand.
"""
import json
import os
import os.path as osp
import socket
import sys
import time
import warnings
from typing import Optional

LOCK_FILE = '.mmmedssl_train.lock'


class WorkDirBusyError(RuntimeError):
    """Another training run holds the work dir."""


def _process_start_time(pid: int) -> Optional[str]:
    """The start time of ``pid`` in clock ticks since boot (Linux), to tell
    a live owner from a new process that reuses its pid."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            # The command name (field 2) may hold spaces: split after it.
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _pid_alive(pid: int, start_time: Optional[str]) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    now = _process_start_time(pid)
    return start_time is None or now is None or now == start_time


class WorkDirLock:
    """The lock of one work dir; see the module docstring.

    Args:
        work_dir (str): The directory to lock (created if missing).
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_FILE)
        self.held = False

    def _owner_info(self) -> dict:
        pid = os.getpid()
        return dict(
            pid=pid,
            host=socket.gethostname(),
            start_time=_process_start_time(pid),
            started=time.strftime('%Y-%m-%d %H:%M:%S'),
            command=' '.join(sys.argv))

    def _read(self) -> Optional[dict]:
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable or half written: treat as a live owner

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                         0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, 'w') as f:
            json.dump(self._owner_info(), f)
        return True

    def acquire(self) -> None:
        """Take the lock or raise :class:`WorkDirBusyError`."""
        if self.held:
            return
        os.makedirs(self.work_dir, exist_ok=True)
        for _ in range(3):
            if self._create():
                self.held = True
                return
            owner = self._read()
            if owner is None:
                continue  # released meanwhile: try again
            if self._is_stale(owner):
                if owner.get('pid') != os.getpid():
                    warnings.warn(
                        f'{self.path}: taking over the lock of a run that is '
                        f'gone (pid {owner.get("pid")} on this host, started '
                        f'{owner.get("started")}, is no longer alive).')
                # Remove only the file that was judged stale.
                if self._read() == owner:
                    try:
                        os.remove(self.path)
                    except FileNotFoundError:
                        pass
                continue
            raise WorkDirBusyError(self._busy_message(owner))
        raise WorkDirBusyError(self._busy_message(self._read() or {}))

    def _is_stale(self, owner: dict) -> bool:
        if owner.get('host') != socket.gethostname():
            return False
        pid = owner.get('pid')
        if not isinstance(pid, int):
            return False
        if pid == os.getpid():
            # Left by this process, whose start time is the same: ours.
            return owner.get('start_time') == _process_start_time(pid)
        return not _pid_alive(pid, owner.get('start_time'))

    def _busy_message(self, owner: dict) -> str:
        return (f'Work dir {self.work_dir} is in use by another training run '
                f'(pid {owner.get("pid", "?")} on host '
                f'{owner.get("host", "?")}, started '
                f'{owner.get("started", "?")}: {owner.get("command", "?")}). '
                'Two runs in one work dir would overwrite each other\'s '
                'checkpoints; use another --work-dir. If that run is gone '
                f'(e.g. killed on another host), delete {self.path}.')

    def release(self) -> None:
        """Remove the lock if this object holds it."""
        if not self.held:
            return
        self.held = False
        owner = self._read()
        if owner and owner.get('pid') == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
