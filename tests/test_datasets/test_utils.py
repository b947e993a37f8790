# Copyright (c) mmmedssl contributors. All rights reserved.
import random

import numpy as np
import torch

from mmmedssl.datasets import seed_worker


def _seeded_draws(initial_seed, rank):
    torch.manual_seed(initial_seed)  # what torch does in a worker
    seed_worker(0, rank=rank)
    return (float(np.random.rand()), random.random(), float(torch.rand(1)))


def test_seed_worker_follows_torch_seed_and_rank():
    a = _seeded_draws(123, rank=0)
    assert _seeded_draws(123, rank=0) == a  # reproducible
    assert _seeded_draws(124, rank=0) != a  # a new epoch's seed differs
    assert _seeded_draws(123, rank=1) != a  # ranks differ
