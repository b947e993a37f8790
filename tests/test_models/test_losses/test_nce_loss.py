# Copyright (c) mmmedssl contributors. All rights reserved.
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmedssl.models.losses import C2LNCELoss, InfoNCELoss


def released_nce(pos, neg, z, num_data, t=0.2, eps=1e-5):
    """The released MemoryC2L output + NCECriterion in float64 numpy."""
    out = np.exp(np.concatenate([pos[:, None], neg], 1) / t) / z
    m = neg.shape[1]
    pn = 1. / num_data
    log_d1 = np.log(out[:, 0] / (out[:, 0] + m * pn + eps))
    log_d0 = np.log(m * pn / (out[:, 1:] + m * pn + eps))
    return -(log_d1.sum() + log_d0.sum()) / pos.shape[0]


def _scores(seed, batch=4, k=32, dim=8):
    gen = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(batch, dim, generator=gen), dim=1)
    key = F.normalize(torch.randn(batch, dim, generator=gen), dim=1)
    memory = F.normalize(torch.randn(k, dim, generator=gen), dim=1)
    return (q * key).sum(1), q @ memory.t()


def test_c2l_nce_matches_released_formula_and_fixes_z():
    loss = C2LNCELoss(temperature=0.2, num_data=50)
    pos, neg = _scores(0)
    first = loss(pos, neg)
    # Z = mean(exp(s / T)) * n_data of the first call.
    all_scores = torch.cat([pos[:, None], neg], 1).double().numpy()
    z = np.exp(all_scores / 0.2).mean() * 50
    assert float(loss.norm_constant) == pytest.approx(z, rel=1e-6)
    assert float(first) == pytest.approx(
        released_nce(pos.double().numpy(), neg.double().numpy(), z, 50),
        rel=1e-5)
    # Later calls keep that Z.
    pos2, neg2 = _scores(1)
    second = loss(pos2, neg2)
    assert float(loss.norm_constant) == pytest.approx(z, rel=1e-6)
    assert float(second) == pytest.approx(
        released_nce(pos2.double().numpy(), neg2.double().numpy(), z, 50),
        rel=1e-5)
    # Z is a buffer: saved and restored with the model.
    restored = C2LNCELoss(num_data=50)
    restored.load_state_dict(loss.state_dict())
    assert float(restored(pos2, neg2)) == pytest.approx(float(second))


def test_c2l_nce_gradient_and_num_data_cancels():
    pos, neg = _scores(2)
    pos.requires_grad_()
    a = C2LNCELoss(num_data=10, eps=0.)(pos, neg)
    b = C2LNCELoss(num_data=10000, eps=0.)(pos, neg)
    assert float(a) == pytest.approx(float(b), rel=1e-5)
    a.backward()
    # A better positive lowers the loss.
    assert (pos.grad < 0).all()


def test_c2l_nce_errors():
    with pytest.raises(ValueError, match='temperature'):
        C2LNCELoss(temperature=0)
    with pytest.raises(ValueError, match=r'\(B,\)'):
        C2LNCELoss()(torch.zeros(2, 1), torch.zeros(2, 3))


def test_info_nce_is_cross_entropy_of_the_positive():
    pos, neg = _scores(3)
    loss = InfoNCELoss(temperature=0.5)(pos, neg)
    logits = torch.cat([pos[:, None], neg], 1) / 0.5
    expected = (torch.logsumexp(logits, 1) - logits[:, 0]).mean()
    torch.testing.assert_close(loss, expected)
