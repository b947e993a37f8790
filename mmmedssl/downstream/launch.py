# Copyright (c) mmmedssl contributors. All rights reserved.
"""Training and testing in child processes through the command-line tools
(``tools/train.py``, ``tools/test.py``), as a user would run them: each job
gets a fresh process (its own loggers, registries and memory) and a crash
in one job does not take the study down."""
import os.path as osp
import subprocess
import sys
from typing import List, Optional

import mmmedssl

PACKAGE_DIR = osp.dirname(osp.abspath(mmmedssl.__file__))


def tool_script(name: str) -> str:
    """Path of ``tools/<name>``: the installed package's copy
    (``mmmedssl/.mim/tools``, as mim uses) or the source tree's."""
    for root in (osp.join(PACKAGE_DIR, '.mim', 'tools'),
                 osp.join(osp.dirname(PACKAGE_DIR), 'tools')):
        path = osp.join(root, name)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'tools/{name} not found beside the mmmedssl package '
        f'({PACKAGE_DIR}); reinstall it (pip install -e .) so that its '
        'tools are available.')


def run_tool(name: str, args: List[str], log_path: str,
             dry_run: bool = False, cwd: Optional[str] = None) -> None:
    """Run ``tools/<name> ARGS`` with this interpreter, appending its output
    to ``log_path``; raises RuntimeError naming the log when it fails."""
    cmd = [sys.executable, tool_script(name), *args]
    print(f'  $ {" ".join(["tools/" + name, *args])}', flush=True)
    if dry_run:
        return
    with open(log_path, 'a') as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            returncode = proc.wait()
        except BaseException:
            # Ctrl-C or SIGTERM (mmmedssl.utils.signals) stops the job too: an
            # orphan would go on training into the work dir the next run
            # resumes from.
            stop_process(proc)
            raise
    if returncode != 0:
        raise RuntimeError(f'tools/{name} failed (exit {returncode}); '
                           f'see {log_path}')


def stop_process(proc: subprocess.Popen, grace_s: float = 60.) -> None:
    """SIGTERM ``proc``, then SIGKILL if it has not exited after
    ``grace_s`` seconds (saved checkpoints stay; ``--resume`` goes on from
    them)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

