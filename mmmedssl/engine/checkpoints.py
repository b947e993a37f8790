# Copyright (c) mmmedssl contributors. All rights reserved.
import glob
import logging
import os.path as osp
import re
from typing import List, Optional

from mmengine.logging import print_log

from mmmedssl.utils.checkpoint import checkpoint_problem

_NUMBERED = re.compile(r'(epoch|iter)_(\d+)\.pth')


def _pointer_target(work_dir: str) -> Optional[str]:
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        return f.read().strip() or None


def _numbered_checkpoints(work_dir: str) -> List[str]:
    """``epoch_*.pth`` / ``iter_*.pth`` in ``work_dir``, newest first."""
    found = []
    for path in glob.glob(osp.join(glob.escape(work_dir), '*.pth')):
        match = _NUMBERED.fullmatch(osp.basename(path))
        if match:
            found.append((int(match.group(2)), path))
    return [path for _, path in sorted(found, reverse=True)]


def find_resume_checkpoint(work_dir: str,
                           check: bool = True) -> Optional[str]:
    """The checkpoint ``--resume auto`` continues from, or None.

    The candidates are the file ``last_checkpoint`` names (written by the
    CheckpointHook after each save), then the ``epoch_*.pth`` /
    ``iter_*.pth`` in ``work_dir``, newest first. With ``check`` (the
    default) the first one that mmmedssl's safe loader can load is returned
    (see :func:`mmmedssl.utils.checkpoint.checkpoint_problem`: archive CRCs
    plus a CPU load); every candidate skipped on the way is logged with the
    reason, so an empty, truncated or damaged file never stops a resume
    while an older good checkpoint lies beside it.
    """
    target = _pointer_target(work_dir)
    candidates = _numbered_checkpoints(work_dir)
    if target is not None:
        if osp.isfile(target):
            candidates = [target] + [
                path for path in candidates
                if osp.abspath(path) != osp.abspath(target)
            ]
        else:
            print_log(
                f'{osp.join(work_dir, "last_checkpoint")} names {target}, '
                'which does not exist; looking for the newest checkpoint '
                f'in {work_dir} instead.',
                logger='current',
                level=logging.WARNING)
    for path in candidates:
        problem = checkpoint_problem(path) if check else None
        if problem is None:
            return path
        print_log(
            f'Skipping checkpoint {path}: it cannot be loaded ({problem}).',
            logger='current',
            level=logging.WARNING)
    return None


def resolve_checkpoint(path: str) -> str:
    """The checkpoint file that ``path`` stands for.

    - a checkpoint file: itself;
    - a ``last_checkpoint`` pointer (written by mmengine's CheckpointHook):
      the file it names, which must exist;
    - a work dir: the checkpoint ``--resume`` would continue from (its
      ``last_checkpoint``, else its newest ``epoch_*.pth`` /
      ``iter_*.pth``).

    Raises:
        FileNotFoundError: naming ``path`` and what was looked for.
    """
    path = str(path)
    if osp.isdir(path):
        found = find_resume_checkpoint(path)
        if found is None:
            raise FileNotFoundError(
                f'{path} is a directory without a checkpoint (no '
                'last_checkpoint, no epoch_*.pth or iter_*.pth): train '
                'first, or name a checkpoint file.')
        return found
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Checkpoint {path} does not exist: train first, or name a '
            'checkpoint file, a last_checkpoint file or a work dir.')
    if osp.basename(path) == 'last_checkpoint':
        with open(path) as f:
            target = f.read().strip()
        if not osp.isfile(target):
            newest = find_resume_checkpoint(osp.dirname(path) or '.')
            hint = f'; the newest checkpoint there is {newest}' \
                if newest and newest != target else ''
            raise FileNotFoundError(
                f'{path} points to {target!r}, which does not exist{hint}.')
        return target
    return path
