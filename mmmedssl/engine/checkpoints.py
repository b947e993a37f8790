# Copyright (c) mmmedssl contributors. All rights reserved.
import glob
import os.path as osp
import re
from typing import Optional


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume auto`` continues from, or None.

    ``last_checkpoint`` (written by mmengine's CheckpointHook) is trusted
    only when it names an existing file; otherwise the newest
    ``epoch_*.pth`` / ``iter_*.pth`` in ``work_dir`` is used. Checkpoints are
    written atomically (see ``mmmedssl.utils.checkpoint``), so any ``.pth``
    present is complete.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            path = f.read().strip()
        if path and osp.isfile(path):
            return path
    candidates = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(path))
        if match:
            candidates.append((int(match.group(2)), path))
    return max(candidates)[1] if candidates else None
