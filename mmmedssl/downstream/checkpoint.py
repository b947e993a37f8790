# Copyright (c) mmmedssl contributors. All rights reserved.
"""What a user may name as "the checkpoint": a file, a ``last_checkpoint``
pointer or a work dir."""
import os.path as osp

from mmmedssl.engine import find_resume_checkpoint


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
