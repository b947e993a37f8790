# Copyright (c) mmmedssl contributors. All rights reserved.
import math

import pytest
import torch

from mmmedssl.models.utils import KeyMemory


def test_uniform_init_range_and_normal_init():
    torch.manual_seed(0)
    mem = KeyMemory(1000, 12, 'uniform')
    bound = 1 / math.sqrt(12 / 3)
    assert mem.keys.abs().max() <= bound
    assert mem.keys.abs().max() > 0.9 * bound
    state = torch.get_rng_state()
    normal = KeyMemory(10, 4, 'normal')
    torch.testing.assert_close(normal.keys.norm(dim=1), torch.ones(10))
    # MoCo's draw: a (dim, size) queue normalised along dim, transposed.
    torch.set_rng_state(state)
    moco = torch.nn.functional.normalize(torch.randn(4, 10), dim=0)
    assert torch.equal(normal.keys, moco.t())
    with pytest.raises(ValueError, match='init'):
        KeyMemory(4, 2, 'zeros')


def test_push_is_fifo_and_wraps():
    mem = KeyMemory(5, 2)
    mem.push(torch.tensor([[1., 1], [2, 2], [3, 3]]))
    assert int(mem.ptr) == 3
    mem.push(torch.tensor([[4., 4], [5, 5], [6, 6]]))  # wraps inside a batch
    assert int(mem.ptr) == 1
    assert mem.keys[:, 0].tolist() == [6, 2, 3, 4, 5]
    mem.push(torch.arange(14.).view(7, 2))  # larger than the memory
    assert sorted(mem.keys[:, 0].tolist()) == [4, 6, 8, 10, 12]
    assert 'ptr' in mem.state_dict()


def test_similarities_survive_a_later_push():
    mem = KeyMemory(4, 3)
    q = torch.randn(2, 3, requires_grad=True)
    sims = mem.similarities(q)
    torch.testing.assert_close(sims, q @ mem.keys.t())
    mem.push(torch.randn(4, 3))
    sims.sum().backward()  # would fail if the memory was saved in place
    assert q.grad is not None
