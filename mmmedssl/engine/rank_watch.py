# Copyright (c) mmmedssl contributors. All rights reserved.
"""Naming the rank that stopped a distributed run.

A collective (DDP's gradient all-reduce, a barrier, gathering validation
results) waits for every rank up to the process group's timeout; when it
expires gloo and nccl only say that a wait timed out, and with the default
of 30 minutes the job sits silent for that long. Here:

- the timeout defaults to :data:`DEFAULT_DIST_TIMEOUT_S` (5 minutes);
  ``env_cfg.dist_cfg.timeout`` in the config (seconds) or the
  ``MMMEDSSL_DIST_TIMEOUT`` environment variable change it;
- every rank beats in the job's rendezvous store from a thread
  (:class:`RankHeartbeat`), with its iteration. The same thread warns when
  another rank's beat stops (a stopped or frozen process: its threads stop
  too), and after a timeout :meth:`RankHeartbeat.diagnose` names the ranks
  whose beat stopped or whose iteration lags (a hung main thread).
"""
import os
import threading
import time
from datetime import timedelta
from typing import Callable, Dict, Optional, Tuple

from mmengine.logging import print_log

DEFAULT_DIST_TIMEOUT_S = 300
TIMEOUT_ENV = 'MMMEDSSL_DIST_TIMEOUT'
# Seconds between beats; tests shorten it.
HEARTBEAT_ENV = 'MMMEDSSL_HEARTBEAT_S'
_KEY = 'mmmedssl_heartbeat/{}'


class DistributedTimeoutError(RuntimeError):
    """A collective timed out; the message names the ranks to look at."""


def dist_timeout(configured=None) -> float:
    """The collective timeout in seconds: the config's
    ``env_cfg.dist_cfg.timeout`` if set, else ``MMMEDSSL_DIST_TIMEOUT``,
    else :data:`DEFAULT_DIST_TIMEOUT_S`."""
    source, value = 'env_cfg.dist_cfg.timeout', configured
    if value is None:
        source, value = TIMEOUT_ENV, os.environ.get(TIMEOUT_ENV)
    if value is None:
        return DEFAULT_DIST_TIMEOUT_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1
    if not seconds > 0:
        raise ValueError(f'{source} must be a positive number of seconds, '
                         f'got {value!r}.')
    return seconds


def is_collective_timeout(err: BaseException) -> bool:
    """Whether ``err`` is a process group's wait that timed out (not, say,
    a data loader worker's timeout)."""
    import torch.distributed as dist
    text = str(err).lower()
    if not isinstance(err, RuntimeError) or not (
            'timed out' in text or 'timeout' in text):
        return False
    backend_error = getattr(dist, 'DistBackendError', ())
    return isinstance(err, backend_error) or any(
        word in text for word in ('gloo', 'nccl', 'collective', 'barrier',
                                  'allreduce', 'all_reduce', 'processgroup',
                                  'watchdog'))


def _store_client(timeout_s: float):
    """A client of the job's rendezvous store (torchrun's agent or rank 0
    hosts it at MASTER_ADDR:MASTER_PORT), or None."""
    import torch.distributed as dist
    try:
        return dist.TCPStore(os.environ['MASTER_ADDR'],
                             int(os.environ['MASTER_PORT']), is_master=False,
                             timeout=timedelta(seconds=timeout_s))
    except Exception:  # no store to reach: run without the watch
        return None


class RankHeartbeat:
    """Beat this rank's iteration into the rendezvous store every
    ``interval`` seconds and watch the other ranks' beats.

    Args:
        rank (int): This process's rank.
        world_size (int): The number of ranks.
        progress (callable): Returns this rank's current iteration.
        interval (float, optional): Seconds between beats; defaults to
            ``MMMEDSSL_HEARTBEAT_S`` or 5.
        warn_after (float, optional): Warn once when another rank has not
            beaten for this long; defaults to 6 beats (at least 30 s).
    """

    def __init__(self, rank: int, world_size: int,
                 progress: Callable[[], int],
                 interval: Optional[float] = None,
                 warn_after: Optional[float] = None) -> None:
        self.rank, self.world_size = rank, world_size
        self.progress = progress
        self.interval = float(interval or os.environ.get(HEARTBEAT_ENV, 5))
        self.warn_after = warn_after or max(6 * self.interval, 30.)
        self._store = None
        self._stop = threading.Event()
        self._thread = None
        self._beats = 0
        # rank -> (beat value, local time it last changed)
        self._seen: Dict[int, Tuple[str, float]] = {}
        self._warned = set()

    def start(self) -> 'RankHeartbeat':
        self._store = _store_client(max(4 * self.interval, 10.))
        if self._store is None:
            return self
        self._beat()
        self._thread = threading.Thread(
            target=self._run, name='mmmedssl-heartbeat', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self.interval + 1)

    def _beat(self) -> None:
        self._beats += 1
        self._store.set(_KEY.format(self.rank),
                        f'{self._beats} {self.progress()}')

    def _read(self) -> Dict[int, Optional[str]]:
        beats = {}
        for rank in range(self.world_size):
            key = _KEY.format(rank)
            beats[rank] = (self._store.get(key).decode()
                           if self._store.check([key]) else None)
        return beats

    def _update(self) -> None:
        now = time.monotonic()
        for rank, value in self._read().items():
            if rank not in self._seen or self._seen[rank][0] != value:
                self._seen[rank] = (value, now)
                self._warned.discard(rank)

    def _silent(self) -> Dict[int, Tuple[float, Optional[int]]]:
        """Other ranks without a new beat for ``warn_after`` seconds:
        ``{rank: (seconds, last iteration or None)}``."""
        now = time.monotonic()
        return {rank: (now - since, _iteration(value))
                for rank, (value, since) in self._seen.items()
                if rank != self.rank and now - since >= self.warn_after}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._beat()
                self._update()
            except Exception:  # the store went away: the job is ending
                return
            for rank, (seconds, it) in self._silent().items():
                if rank not in self._warned:
                    self._warned.add(rank)
                    print_log(
                        f'rank {rank} has not answered for {seconds:.0f} s '
                        f'(last seen at iteration {it}); rank {self.rank} '
                        'is waiting for it. Its process may be stopped, '
                        'swapping or hung.', logger='current',
                        level=30)

    def diagnose(self, err: BaseException, timeout_s: float) -> str:
        """A message for a timed-out collective: which ranks stopped
        beating, which lag behind this one."""
        lines = [f'rank {self.rank} waited {timeout_s:.0f} s in a '
                 f'collective at iteration {self.progress()}: {err}'.strip()]
        if self._store is None:
            return lines[0] + ' (no heartbeat store: ranks not named)'
        try:  # two reads, some beats apart: who is still beating?
            first = self._read()  # the thread keeps beating meanwhile
            time.sleep(2 * self.interval + 0.5)
            second = self._read()
        except Exception as store_err:
            return lines[0] + f' (heartbeat store unreachable: {store_err})'
        mine, now = self.progress(), time.monotonic()
        stopped, behind = [], []
        for rank in range(self.world_size):
            if rank == self.rank:
                continue
            it = _iteration(second[rank])
            if second[rank] is None or first[rank] == second[rank]:
                since = self._seen.get(rank, (None, None))[1]
                silent = (f'silent for {now - since:.0f} s, '
                          if since is not None else 'never beat, ')
                stopped.append(f'rank {rank} ({silent}last beat at '
                               f'iteration {it})')
            elif it is not None and it < mine:
                behind.append(f'rank {rank} (at iteration {it})')
        if stopped:
            lines.append('Stopped answering (no heartbeat: a stopped, '
                         'frozen or dead process): ' + ', '.join(stopped) +
                         '.')
        if behind:
            lines.append('Alive but behind (a hung main thread, e.g. a '
                         'data loader or file system that blocks): ' +
                         ', '.join(behind) + '.')
        if not stopped and not behind:
            lines.append('Every rank still beats and none lags: the '
                         'collective itself or the network stalled.')
        lines.append(f'The timeout is env_cfg.dist_cfg.timeout or '
                     f'{TIMEOUT_ENV} (seconds; default '
                     f'{DEFAULT_DIST_TIMEOUT_S}).')
        return '\n'.join(lines)


def _iteration(value: Optional[str]) -> Optional[int]:
    return None if value is None else int(value.split()[1])
