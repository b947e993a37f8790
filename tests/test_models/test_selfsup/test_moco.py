# Copyright (c) mmmedssl contributors. All rights reserved.
import torch
from mmpretrain.structures import DataSample

from mmmedssl.registry import MODELS


def _tiny_moco(in_channels=3, **kwargs):
    return MODELS.build(
        dict(
            type='MedMoCo',
            queue_len=8,
            feat_dim=4,
            momentum=0.01,
            backbone=dict(type='ResNet', depth=18, in_channels=in_channels,
                          stem_channels=4, base_channels=4),
            neck=dict(type='MoCoV2Neck', in_channels=32, hid_channels=8,
                      out_channels=4),
            head=dict(type='ContrastiveHead',
                      loss=dict(type='CrossEntropyLoss'), temperature=0.2),
            **kwargs))


def test_loss_queue_and_momentum_update():
    torch.manual_seed(0)
    model = _tiny_moco(
        data_preprocessor=dict(mean=[0.5], std=[0.25]), in_channels=1)
    model.train()
    batch = model.data_preprocessor(
        dict(inputs=[torch.rand(2, 1, 32, 32) for _ in range(2)],
             data_samples=[DataSample(), DataSample()]))
    losses = model(**batch, mode='loss')
    assert set(losses) == {'loss'} and losses['loss'].item() > 0
    assert int(model.queue_ptr) == 2
    assert model.queue.shape == (4, 8)
    torch.testing.assert_close(model.queue.norm(dim=0), torch.ones(8))
    # After the first update the key encoder equals the query encoder.
    for p_k, p_q in zip(model.encoder_k.module[0].parameters(),
                        model.backbone.parameters()):
        assert torch.equal(p_k, p_q)


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
