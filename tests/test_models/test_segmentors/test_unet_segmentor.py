# Copyright (c) mmmedssl contributors. All rights reserved.
"""MedUNetSegmentor: output shapes in 2D and 3D, the three modes, the loss
going down on a tiny batch, a frozen encoder, and a pretrained encoder
loading bit-identically from a self-supervised checkpoint."""
import copy

import pytest
import torch
from mmpretrain.structures import DataSample

from mmmedssl.registry import MODELS

BACKBONE_2D = dict(type='ResNetWithStem', depth=18, stem_channels=8,
                   base_channels=8)
DECODER_2D = dict(type='UNetDecoder', in_channels=[8, 8, 16, 32, 64],
                  decoder_channels=(16, 8, 8, 4, 4), out_channels=2)
BACKBONE_3D = dict(type='UNet3DEncoder', in_channels=1, base_channels=2,
                   num_levels=3)
DECODER_3D = dict(type='UNetDecoder', in_channels=[4, 8, 16],
                  decoder_channels=(8, 4), out_channels=3, dims=3,
                  upsample='deconv', norm_cfg=dict(type='BN3d'),
                  conv_bias=True, out_kernel_size=1)


def segmentor(dims=2, **kwargs):
    cfg = dict(type='MedUNetSegmentor',
               backbone=copy.deepcopy(BACKBONE_2D if dims == 2 else
                                      BACKBONE_3D),
               decoder=copy.deepcopy(DECODER_2D if dims == 2 else
                                     DECODER_3D))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(masks):
    out = []
    for mask in masks:
        sample = DataSample()
        sample.set_field(mask.long(), 'gt_seg_map')
        out.append(sample)
    return out


def blob_batch(n=2, size=32, dims=2, seed=0):
    """Bright squares on noise; the mask is the square."""
    g = torch.Generator().manual_seed(seed)
    shape = (size, ) * dims
    inputs = torch.rand((n, 1 if dims == 3 else 3) + shape, generator=g)
    masks = torch.zeros((n, ) + shape, dtype=torch.long)
    for i in range(n):
        lo = int(torch.randint(0, size // 2, (1, ), generator=g))
        sl = (i, ) + (slice(lo, lo + size // 3), ) * dims
        masks[sl] = 1
    inputs = inputs + 2 * masks.unsqueeze(1).float()
    return inputs, masks


def test_2d_modes_and_shapes():
    model = segmentor()
    inputs, masks = blob_batch()
    logits = model(inputs, mode='tensor')
    assert logits.shape == (2, 2, 32, 32)
    losses = model(inputs, samples(masks), mode='loss')
    assert set(losses) == {'loss_ce', 'loss_dice'}
    assert all(v.requires_grad and v.item() > 0 for v in losses.values())
    model.eval()
    # A mask of another size (evaluation at the mask's resolution): the
    # prediction is resized to it.
    data = samples([torch.zeros(40, 50), torch.zeros(32, 32)])
    out = model(inputs, data, mode='predict')
    assert out[0].pred_seg_map.shape == (40, 50)
    assert out[0].seg_scores.shape == (2, 40, 50)
    assert out[1].pred_seg_map.shape == (32, 32)
    torch.testing.assert_close(out[1].seg_scores.sum(0),
                               torch.ones(32, 32))
    assert out[1].pred_seg_map.dtype == torch.int64
    torch.testing.assert_close(out[1].seg_scores.argmax(0),
                               out[1].pred_seg_map)
    # Without data samples, one per input at the input size.
    out = model(inputs, mode='predict')
    assert len(out) == 2 and out[0].pred_seg_map.shape == (32, 32)
    model = segmentor(predict_scores=False).eval()
    assert 'seg_scores' not in model(inputs, mode='predict')[0]


def test_3d_modes_and_shapes():
    model = segmentor(dims=3)
    inputs, masks = blob_batch(n=2, size=16, dims=3)
    masks[0, 0, 0, 0] = 2
    assert model(inputs, mode='tensor').shape == (2, 3, 16, 16, 16)
    losses = model(inputs, samples(masks), mode='loss')
    assert set(losses) == {'loss_ce', 'loss_dice'}
    model.eval()
    out = model(inputs, samples([torch.zeros(16, 16, 8), masks[1]]),
                mode='predict')
    assert out[0].pred_seg_map.shape == (16, 16, 8)
    assert out[1].seg_scores.shape == (3, 16, 16, 16)


def test_errors():
    model = segmentor()
    inputs, masks = blob_batch()
    with pytest.raises(KeyError, match='gt_seg_map'):
        model(inputs, [DataSample(), DataSample()], mode='loss')
    with pytest.raises(ValueError, match='does not match the input size'):
        model(inputs, samples(masks[:, :16]), mode='loss')
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(inputs, mode='features')
    with pytest.raises(ValueError, match='expected inputs shaped'):
        model(inputs[0], mode='tensor')
    with pytest.raises(ValueError, match='>= 2'):
        segmentor(decoder=dict(DECODER_2D, out_channels=1))
    with pytest.raises(ValueError, match='logits'):
        segmentor(decoder=dict(DECODER_2D, out_activation='sigmoid'))
    with pytest.raises(ValueError, match='class_weight'):
        segmentor(class_weight=[1., 2., 3.])


@pytest.mark.parametrize('dims', [2, 3])
def test_loss_decreases_on_a_tiny_batch(dims):
    torch.manual_seed(0)
    model = segmentor(dims=dims, class_weight=[1., 1.] if dims == 2 else None)
    inputs, masks = blob_batch(n=2, size=32 if dims == 2 else 16, dims=dims)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(12):
        losses = model(inputs, samples(masks), mode='loss')
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[-1] < 0.85 * history[0], history


def test_frozen_backbone_learns_only_the_decoder():
    model = segmentor(freeze_backbone=True)
    model.train()
    assert not model.backbone.training and model.decoder.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    before = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    inputs, masks = blob_batch()
    sum(model(inputs, samples(masks), mode='loss').values()).backward()
    optimizer.step()
    after = model.state_dict()
    for key in before:
        same = torch.equal(before[key], after[key])
        # Backbone weights and BatchNorm statistics stay put.
        if key.startswith('backbone.'):
            assert same, key
    assert not torch.equal(before['decoder.out_conv.weight'],
                           after['decoder.out_conv.weight'])


def test_pretrained_encoder_loads_bit_identically(tmp_path):
    """A checkpoint laid out like a MedMoCo/PCRL one (backbone.*, neck.*,
    momentum copies, a decoder of another width) initialises the encoder
    exactly; the decoder keeps its own init."""
    torch.manual_seed(1)
    pretrained = MODELS.build(dict(BACKBONE_2D, type='ResNet',
                                   out_indices=[3]))
    for module in pretrained.modules():  # non-default BN statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_()
            module.running_var.uniform_(0.5, 2)
    state = {f'backbone.{k}': v for k, v in pretrained.state_dict().items()}
    state.update({f'momentum_encoder.module.0.{k}': v + 1
                  for k, v in pretrained.state_dict().items()})
    state['neck.mlp.0.weight'] = torch.randn(16, 64)
    state['decoder.out_conv.weight'] = torch.randn(3, 4, 3, 3)
    checkpoint = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=state), checkpoint)

    model = segmentor(backbone=dict(
        BACKBONE_2D, init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                                   prefix='backbone.')))
    decoder_before = copy.deepcopy(model.decoder.state_dict())
    model.init_weights()
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(pretrained.state_dict())
    for key, value in pretrained.state_dict().items():
        assert torch.equal(loaded[key], value), key
    # The decoder is not touched by the backbone's init_cfg.
    for key, value in model.decoder.state_dict().items():
        assert torch.equal(value, decoder_before[key]), key
