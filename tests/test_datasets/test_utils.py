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


def test_is_int():
    from mmmedssl.datasets.utils import is_int
    assert is_int('7') and is_int('007')
    assert not is_int('-1') and not is_int(' 7') and not is_int('7.0')
    assert not is_int('') and not is_int('٣') and not is_int(7)
    assert is_int('-1', signed=True) and is_int('+3', signed=True)
    assert not is_int('-', signed=True)


def test_check_label_fraction():
    import pytest

    from mmmedssl.datasets.utils import check_label_fraction
    check_label_fraction('D', 1.0, False, 'label_key')
    check_label_fraction('D', 0.1, True, 'label_key')
    for fraction in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match=r'D: label_fraction must be in'):
            check_label_fraction('D', fraction, True, 'label_key')
    with pytest.raises(ValueError, match='D: label_fraction < 1 .* needs '
                       'label_key'):
        check_label_fraction('D', 0.5, False, 'label_key')


def test_check_group_ids_and_classes():
    import pytest

    from mmmedssl.datasets.utils import (check_group_ids, check_num_classes,
                                         with_default_classes)
    check_group_ids(['L1', 'L2'], ['a.png', 'b.png'], 'ann.csv', 'lesion_id',
                    'with group_sources=True')
    with pytest.raises(ValueError, match="ann.csv: empty 'lesion_id' "
                       r"\(group_key\) for image 'b.png'; with x every"):
        check_group_ids(['L1', ' '], ['a.png', 'b.png'], 'ann.csv',
                        'lesion_id', 'with x')
    check_num_classes('D', ('a', 'b'), ('x', 'y'))
    with pytest.raises(ValueError, match="D: 1 classes given \\(\\['a'\\]\\)"
                       ", expected 2 in the order of \\['x', 'y'\\]"):
        check_num_classes('D', ('a', ), ('x', 'y'))
    assert with_default_classes(None, None, ['x']) == dict(classes=('x', ))
    assert with_default_classes(dict(other=1), ['a'], ['x']) == dict(other=1)
    assert with_default_classes(dict(classes=['a']), None, ['x']) == dict(
        classes=['a'])
