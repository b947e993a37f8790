# Copyright (c) mmmedssl contributors. All rights reserved.
import random

import numpy as np
import torch

from mmmedssl.engine import find_resume_checkpoint
from mmmedssl.engine.hooks import get_rng_state, set_rng_state


def _draw():
    return (random.random(), float(np.random.rand()), float(torch.rand(1)))


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    from mmmedssl.utils import atomic_torch_save, safe_load
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    _draw()
    state = get_rng_state()
    expected = [_draw() for _ in range(3)]
    atomic_torch_save({'rng_state': [state]}, tmp_path / 'c.pth')
    _draw()  # move on
    set_rng_state(safe_load(str(tmp_path / 'c.pth'))['rng_state'][0])
    assert [_draw() for _ in range(3)] == expected


def test_find_resume_checkpoint(tmp_path):
    assert find_resume_checkpoint(str(tmp_path)) is None
    for name in ('epoch_2.pth', 'epoch_10.pth', 'best.pth'):
        torch.save({}, str(tmp_path / name))  # loadable: resume checks
    (tmp_path / '.epoch_11.pth.abc.tmp').write_bytes(b'partial')
    assert find_resume_checkpoint(str(tmp_path)).endswith('epoch_10.pth')
    # A valid pointer wins; an empty or dangling one is ignored.
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(tmp_path / 'epoch_2.pth'))
    assert find_resume_checkpoint(str(tmp_path)).endswith('epoch_2.pth')
    pointer.write_text('')
    assert find_resume_checkpoint(str(tmp_path)).endswith('epoch_10.pth')
    pointer.write_text(str(tmp_path / 'gone.pth'))
    assert find_resume_checkpoint(str(tmp_path)).endswith('epoch_10.pth')
