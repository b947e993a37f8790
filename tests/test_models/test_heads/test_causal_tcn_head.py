# Copyright (c) mmmedssl contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from mmmedssl.registry import MODELS


def build(num_layers=3, **kwargs):
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='CausalTCNHead', in_channels=6, num_classes=4,
             channels=8, num_layers=num_layers, **kwargs))
    return head.eval()


def test_causal_with_the_expected_receptive_field():
    head = build(num_layers=3)  # looks back 2 * (1 + 2 + 4) = 14 frames
    feats = torch.randn(1, 6, 40)
    base = head(feats)
    t0 = 10
    bumped = feats.clone()
    bumped[:, :, t0] += 5
    changed = (head(bumped) - base).abs().amax(dim=1)[0] > 1e-6
    assert not changed[:t0].any()  # the past never sees the future
    assert changed[t0:t0 + 15].all()
    assert not changed[t0 + 15:].any()


def test_loss_terms_match_manual_formulas():
    head = build(loss_smooth=dict(type='TemporalSmoothingLoss',
                                  loss_weight=0.15))
    feats = torch.randn(2, 6, 9)
    labels = torch.randint(0, 4, (2, 9))
    labels[0, :3] = -1  # ignored frames
    losses = head.loss(feats, labels)
    logits = head(feats)
    keep = labels >= 0
    ce = F.cross_entropy(logits.permute(0, 2, 1)[keep], labels[keep])
    log_p = logits.log_softmax(1)
    smooth = ((log_p[:, :, 1:] - log_p[:, :, :-1])**2).clamp(0, 16).mean()
    torch.testing.assert_close(losses['loss_cls'], ce)
    torch.testing.assert_close(losses['loss_smooth'], 0.15 * smooth)
    assert head.predict(feats).shape == (2, 9)
    with pytest.raises(ValueError, match=r'\(N, C, T\)'):
        head(torch.randn(6, 9))


def test_smoothing_gradient_only_through_the_later_frame():
    loss = MODELS.build(dict(type='TemporalSmoothingLoss'))
    logits = torch.randn(1, 3, 2, requires_grad=True)
    loss(logits).backward()
    assert torch.all(logits.grad[:, :, 0] == 0)
    assert logits.grad[:, :, 1].abs().sum() > 0
    # Large differences are capped at 16 per entry.
    far = torch.tensor([[[100., -100.], [-100., 100.]]])
    assert loss(far).item() == pytest.approx(16.)
    assert loss(torch.randn(1, 3, 1)).item() == 0
