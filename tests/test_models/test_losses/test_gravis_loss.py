# Copyright (c) mmmedssl contributors. All rights reserved.
import pytest
import torch

from mmmedssl.models.losses import GraVISLoss
from mmmedssl.registry import MODELS


def naive_loss(emb, groups, temperature=0.2, weights=None):
    """The released objective written directly with the N x N x N tensor:
    diff[q, i, j] = s_qj - s_qi; the query is in its own group and in the
    retrieval set; only j == i is left out of the ranks."""
    s = emb @ emb.t()
    n = s.shape[0]
    diff = s[:, None, :] - s[:, :, None]
    sig = 1.0 / (1.0 + torch.exp(torch.clamp(-diff / temperature, -50, 50)))
    not_self = 1.0 - torch.eye(n, dtype=s.dtype)[None]
    same = (groups[:, None] == groups[None, :]).to(s.dtype)
    rank_all = 1.0 + (sig * not_self).sum(-1)
    rank_pos = 1.0 + (sig * not_self * same[:, None, :]).sum(-1)
    if weights is None:
        weights = torch.ones_like(s)
    ap = (weights * same * rank_pos / rank_all).sum(1) / same.sum(1)
    return 1.0 - ap.mean()


def attention_weights(emb, groups, temperature):
    """Per-query loops: softmax of cosine similarity over the other views
    of the query's group, scaled to average 1; weight 1 for the query."""
    cos = torch.nn.functional.normalize(emb, dim=1)
    cos = cos @ cos.t()
    n = emb.shape[0]
    w = torch.zeros(n, n, dtype=emb.dtype)
    for q in range(n):
        others = [i for i in range(n) if groups[i] == groups[q] and i != q]
        w[q, q] = 1.0
        if others:
            logits = torch.stack([cos[q, i] for i in others]) / temperature
            soft = torch.softmax(logits, 0) * len(others)
            for i, value in zip(others, soft):
                w[q, i] = value
    return w.detach()


def image_major(num_sources, num_views):
    return torch.arange(num_sources).repeat_interleave(num_views)


def compare(emb, groups, loss_module, weights=None, atol=1e-5):
    emb64 = emb.detach().double().requires_grad_()
    ref = naive_loss(emb64, groups, loss_module.temperature, weights)
    ref.backward()
    emb32 = emb.detach().float().clone().requires_grad_()
    ours = loss_module(emb32, groups)
    ours.backward()
    assert ours.shape == ()
    assert abs(ours.item() - ref.item()) < atol
    torch.testing.assert_close(emb32.grad.double(), emb64.grad, rtol=0,
                               atol=atol)
    return ours.item()


@pytest.mark.parametrize('num_sources,num_views', [(2, 2), (4, 2), (3, 5),
                                                   (16, 4), (6, 20)])
@pytest.mark.parametrize('scale', [0.3, 1.0, 4.0])
def test_released_objective_matches_naive(num_sources, num_views, scale):
    torch.manual_seed(num_sources * 100 + num_views)
    emb = torch.randn(num_sources * num_views, 16) * scale
    value = compare(emb, image_major(num_sources, num_views), GraVISLoss())
    assert 0.0 < value < 1.0


def test_any_layout_and_group_sizes():
    torch.manual_seed(1)
    groups = torch.tensor([3, 0, 3, 7, 0, 3, 9, 7, 3, 0, 9, 12])  # sizes 4,3,2,2,1
    emb = torch.randn(groups.numel(), 8)
    compare(emb, groups, GraVISLoss(temperature=0.1))
    # Permuting views and their ids together does not change the loss.
    perm = torch.randperm(groups.numel())
    loss = GraVISLoss(temperature=0.1)
    assert loss(emb[perm], groups[perm]).item() == pytest.approx(
        loss(emb, groups).item(), abs=1e-6)


def test_chunking_does_not_change_values_or_gradients():
    torch.manual_seed(2)
    emb = torch.randn(40, 8)
    groups = image_major(8, 5)
    results = []
    for chunk in (1, 37, 2**22):  # one query per chunk ... all at once
        e = emb.clone().requires_grad_()
        value = GraVISLoss(chunk_elements=chunk)(e, groups)
        value.backward()
        results.append((value.item(), e.grad))
    for value, grad in results[1:]:
        assert value == pytest.approx(results[0][0], abs=1e-6)
        torch.testing.assert_close(grad, results[0][1], rtol=0, atol=1e-7)


def test_no_grad_gives_the_same_value():
    emb = torch.randn(12, 4)
    groups = image_major(4, 3)
    loss = GraVISLoss()
    with torch.no_grad():
        value = loss(emb, groups)
    assert value.item() == pytest.approx(loss(emb, groups).item(), abs=1e-7)


@pytest.mark.parametrize('num_sources,num_views', [(3, 4), (8, 5), (4, 20)])
@pytest.mark.parametrize('att_temperature', [0.1, 0.5])
def test_hardness_attention_matches_naive(num_sources, num_views,
                                          att_temperature):
    torch.manual_seed(3)
    emb = torch.randn(num_sources * num_views, 8)
    groups = image_major(num_sources, num_views)
    weights = attention_weights(emb.double(), groups, att_temperature)
    loss = GraVISLoss(hardness_attention='similarity',
                      attention_temperature=att_temperature)
    compare(emb, groups, loss, weights=weights)


def test_hardness_attention_favours_similar_views():
    # Query 0 has one homogeneous view that looks like it (1) and one that
    # does not (2): the similar one must carry more weight.
    from mmmedssl.models.losses.gravis_loss import (
        _positive_index, hardness_attention_weights)
    emb = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0],
                        [-0.9, 0.2], [0.2, -1.0]])
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    _, pos_idx, valid = _positive_index(groups)
    w = hardness_attention_weights(emb @ emb.t(), pos_idx, valid, 0.5)
    row = dict(zip(pos_idx[0].tolist(), w[0].tolist()))
    assert row[0] == 1.0
    assert row[1] > 1.0 > row[2]
    assert row[1] + row[2] == pytest.approx(2.0)
    # A very high temperature is the unweighted objective.
    uniform = hardness_attention_weights(emb @ emb.t(), pos_idx, valid, 1e6)
    torch.testing.assert_close(uniform, torch.ones_like(uniform))


def test_singleton_groups():
    # A source with one view only ranks itself: AP = 1 / (1 + #above).
    emb = torch.randn(5, 3)
    groups = torch.tensor([0, 1, 1, 2, 2])
    compare(emb, groups, GraVISLoss())
    compare(emb, groups, GraVISLoss(hardness_attention='similarity'),
            weights=attention_weights(emb.double(), groups, 0.5))


def test_loss_decreases_when_groups_separate():
    groups = image_major(4, 5)
    centres = torch.eye(4, 8)[groups]
    torch.manual_seed(0)
    noise = torch.randn(20, 8)
    loss = GraVISLoss()
    tight = loss(torch.nn.functional.normalize(centres + 0.05 * noise), groups)
    loose = loss(torch.nn.functional.normalize(centres + 2.0 * noise), groups)
    assert tight < loose


def test_large_batch_runs_in_bounded_memory():
    # 64 sources x 20 views: the naive form would need N^3 = 2.1e9 floats.
    torch.manual_seed(4)
    emb = torch.nn.functional.normalize(torch.randn(1280, 32), dim=1)
    emb.requires_grad_()
    groups = image_major(64, 20)
    value = GraVISLoss(chunk_elements=2**20)(emb, groups)
    value.backward()
    assert 0.0 < value.item() < 1.0
    assert emb.grad.shape == emb.shape and torch.isfinite(emb.grad).all()
    # Same result with 8x larger chunks.
    e2 = emb.detach().clone().requires_grad_()
    GraVISLoss(chunk_elements=2**23)(e2, groups).backward()
    torch.testing.assert_close(emb.grad, e2.grad, rtol=0, atol=1e-8)


def test_registered_and_errors():
    loss = MODELS.build(dict(type='GraVISLoss', temperature=0.5))
    assert isinstance(loss, GraVISLoss) and loss.temperature == 0.5
    with pytest.raises(ValueError, match='temperature must be > 0'):
        GraVISLoss(temperature=0)
    with pytest.raises(ValueError, match='hardness_attention'):
        GraVISLoss(hardness_attention='yes')
    with pytest.raises(ValueError, match='one group id per embedding'):
        GraVISLoss()(torch.randn(6, 3), torch.arange(5))
    with pytest.raises(ValueError, match=r'\(N, d\)'):
        GraVISLoss()(torch.randn(6), torch.arange(6))
