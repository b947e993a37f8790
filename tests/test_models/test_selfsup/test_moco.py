# Copyright (c) mmmedssl contributors. All rights reserved.
import math

import pytest
import torch
from mmpretrain.structures import DataSample

from mmmedssl.registry import MODELS


def _moco_kwargs(in_channels=3):
    return dict(
        queue_len=8,
        feat_dim=4,
        momentum=0.01,
        backbone=dict(type='ResNet', depth=18, in_channels=in_channels,
                      stem_channels=4, base_channels=4),
        neck=dict(type='MoCoV2Neck', in_channels=32, hid_channels=8,
                  out_channels=4),
        head=dict(type='ContrastiveHead',
                  loss=dict(type='CrossEntropyLoss'), temperature=0.2))


def _tiny_moco(in_channels=3, **kwargs):
    return MODELS.build(
        dict(type='MedMoCo', **_moco_kwargs(in_channels), **kwargs))


def test_loss_queue_and_momentum_update():
    torch.manual_seed(0)
    model = _tiny_moco(
        data_preprocessor=dict(mean=[0.5], std=[0.25]), in_channels=1)
    model.train()
    batch = model.data_preprocessor(
        dict(inputs=[torch.rand(2, 1, 32, 32) for _ in range(2)],
             data_samples=[DataSample(), DataSample()]))
    losses = model(**batch, mode='loss')
    # The collapse scalars (no 'loss' in their names: not summed).
    assert set(losses) == {'loss', 'embed_std', 'contrast_vs_chance'}
    assert losses['loss'].item() > 0
    assert not losses['embed_std'].requires_grad
    # InfoNCE over the 8 queued keys and the positive: ln(9) at chance.
    torch.testing.assert_close(losses['contrast_vs_chance'],
                               losses['loss'].detach() / math.log(9))
    assert int(model.queue.ptr) == 2
    assert model.queue.keys.shape == (8, 4)
    torch.testing.assert_close(model.queue.keys.norm(dim=1), torch.ones(8))
    # After the first update the key encoder equals the query encoder.
    for p_k, p_q in zip(model.momentum_encoder.module[0].parameters(),
                        model.backbone.parameters()):
        assert torch.equal(p_k, p_q)


def test_one_view_is_an_error_naming_the_pipeline_setting():
    model = _tiny_moco(in_channels=1)
    model.train()
    one_view = [torch.rand(2, 1, 32, 32)]
    with pytest.raises(ValueError, match=r'MoCo .* the batch has 1: .*'
                       r'MedMultiView.*num_views=2'):
        model(one_view, [DataSample(), DataSample()], mode='loss')
    assert int(model.queue.ptr) == 0  # nothing pushed


def test_tensor_and_predict_modes():
    model = _tiny_moco().eval()
    x = torch.rand(3, 3, 32, 32)
    feats = model(x, mode='tensor')
    assert feats[-1].shape == (3, 32, 1, 1)
    samples = model(x, [DataSample() for _ in range(3)], mode='predict')
    assert len(samples) == 3
    expected = feats[-1].flatten(1)
    for sample, row in zip(samples, expected):
        torch.testing.assert_close(sample.feature, row)
    # Without data samples predict creates them; a list of views uses view 0.
    samples = model([x, torch.zeros_like(x)], mode='predict')
    torch.testing.assert_close(samples[1].feature, expected[1])


def test_same_queue_losses_and_updates_as_mmpretrain_moco():
    """MedMoCo against mmpretrain's MoCo (the independent reference): same
    initial queue for a seed, then equal losses, queues and weights over
    SGD steps on the same inputs."""
    from mmpretrain.models.selfsup import MoCo
    torch.manual_seed(0)
    reference = MoCo(**_moco_kwargs())
    torch.manual_seed(0)
    ours = _tiny_moco()
    assert torch.equal(ours.queue.keys, reference.queue.t())
    # Its checkpoints use mmpretrain's names, which load as old mmmedssl ones.
    ours.load_state_dict(reference.state_dict(), strict=True)

    models = (reference, ours)
    optims = [torch.optim.SGD(m.parameters(), lr=0.5, momentum=0.9)
              for m in models]
    gen = torch.Generator().manual_seed(1)
    for step in range(3):
        views = [torch.randn(2, 3, 32, 32, generator=gen) for _ in range(2)]
        losses = []
        for model, optim in zip(models, optims):
            torch.manual_seed(step)  # the same batch shuffle
            loss = model.loss(list(views), None)['loss']
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(loss)
        assert torch.equal(losses[1], losses[0])
        assert torch.equal(ours.queue.keys, reference.queue.t())
        assert int(ours.queue.ptr) == int(reference.queue_ptr)
    key_weights = dict(reference.encoder_k.named_parameters())
    for name, value in ours.momentum_encoder.named_parameters():
        assert torch.equal(value, key_weights[name]), name
