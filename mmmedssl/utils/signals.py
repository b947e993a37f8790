# Copyright (c) mmmedssl contributors. All rights reserved.
"""SIGTERM as an exception, so that what a clean exit does still happens."""
import signal


def exit_on_sigterm() -> None:
    """Turn SIGTERM (``kill PID``, a scheduler's time limit, a study being
    stopped) into ``SystemExit(143)``.

    Python's default ends the process on the spot: data loader workers are
    left behind (blocked, holding their memory) and a study's running job
    goes on training without it. Raised as an exception, the loaders shut
    their workers down and callers can stop their children. Main thread
    only (a no-op elsewhere, where signals cannot be handled)."""

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        pass
