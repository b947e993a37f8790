# Copyright (c) mmmedssl contributors. All rights reserved.
import random

import numpy as np
import torch
from mmengine.dist import get_rank


def seed_worker(worker_id: int, rank: int = None) -> None:
    """Seed numpy, ``random`` and torch in a dataloader worker from the seed
    torch gave it.

    torch gives each worker ``base_seed + worker_id`` where ``base_seed`` is
    drawn from the main process' RNG every time an epoch's iterator starts.
    Seeding from it therefore (a) changes the augmentations every epoch, which
    mmengine's default ``worker_init_fn`` does not (it reseeds every epoch with
    the same fixed numbers), and (b) stays reproducible after ``--resume``,
    because the main process' RNG state is saved in checkpoints and restored
    (see ``RNGStateHook``). The rank is mixed in so that ranks differ.

    Use it with ``worker_init_fn=dict(type='mmmedssl.datasets.seed_worker')``
    in a dataloader config.
    """
    if rank is None:
        rank = get_rank()
    sequence = np.random.SeedSequence([torch.initial_seed() % 2**63, rank])
    seed32, seed64 = sequence.generate_state(2, dtype=np.uint32)
    np.random.seed(int(seed32))
    random.seed(int(seed64))
    torch.manual_seed(int(seed32) * 2**32 + int(seed64))
