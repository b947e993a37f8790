# Copyright (c) mmmedssl contributors. All rights reserved.
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmmedssl.registry import MODELS


def tiny_pcrl(dims=2, **kwargs):
    if dims == 2:
        backbone = dict(type='ResNetWithStem', depth=18, stem_channels=4,
                        base_channels=4, norm_cfg=dict(type='BN'))
        channels = [4, 4, 8, 16, 32]
        decoder = dict(type='UNetDecoder', in_channels=channels,
                       decoder_channels=(16, 8, 4, 4, 2), out_channels=3)
        code_dim = 6
    else:
        backbone = dict(type='UNet3DEncoder', base_channels=2)
        channels = [4, 8, 16, 32]
        decoder = dict(type='UNetDecoder', in_channels=channels,
                       decoder_channels=(16, 8, 4), out_channels=1, dims=3,
                       upsample='deconv', conv_bias=True, out_kernel_size=1,
                       out_activation='sigmoid')
        code_dim = 7
    cfg = dict(
        type='PCRL',
        backbone=backbone,
        neck=dict(type='PCRLNeck', in_channels=channels[-1], hid_channels=8,
                  out_channels=8, code_dim=code_dim, gate_hid_channels=6),
        decoder=decoder,
        head=dict(type='PCRLHead', memory_size=16, feat_dim=8,
                  contrast_loss=dict(type='C2LNCELoss', num_data=4)))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def make_batch(dims=2, batch=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = (3, 32, 32) if dims == 2 else (1, 16, 16, 8)
    inputs = [torch.randn(batch, *shape, generator=gen) for _ in range(6)]
    code_dim = 6 if dims == 2 else 7
    samples = []
    for i in range(batch):
        code = np.zeros((2, code_dim), np.float32)
        code[0, i % 2] = 1
        code[0, code_dim - 4 + i % 4] = 1
        code[1, code_dim - 4 + (i + 1) % 4] = 1
        samples.append(DataSample(metainfo=dict(sample_idx=i)))
        samples[-1].set_field(code, 'aug_code')
    return inputs, samples


TERMS = {'loss_contrast', 'loss_recon', 'nce_plain', 'nce_mixup',
         'nce_mixed_key', 'mse_ordinary', 'mse_mixup', 'mse_hybrid',
         'mse_mixup_hybrid'}


@pytest.mark.parametrize('dims', [2, 3])
def test_loss_terms_and_gradients(dims):
    torch.manual_seed(0)
    model = tiny_pcrl(dims)
    inputs, samples = make_batch(dims)
    losses = model(inputs, samples, mode='loss')
    # embed_std: the collapse scalar (no 'loss' in the name: not summed).
    assert set(losses) == TERMS | {'embed_std'}
    assert all(torch.isfinite(v) for v in losses.values())
    nce = [losses[k] for k in ('nce_plain', 'nce_mixup', 'nce_mixed_key')]
    mse = [losses[k] for k in ('mse_ordinary', 'mse_mixup', 'mse_hybrid',
                               'mse_mixup_hybrid')]
    torch.testing.assert_close(losses['loss_contrast'],
                               torch.stack(nce).mean())
    torch.testing.assert_close(losses['loss_recon'], torch.stack(mse).mean())
    # Only the weighted totals carry gradients (terms are for logging).
    assert not any(losses[k].requires_grad for k in TERMS
                   if not k.startswith('loss'))
    (losses['loss_contrast'] + losses['loss_recon']).backward()
    for name, p in model.named_parameters():
        if name.startswith('momentum_encoder'):
            assert p.grad is None
        else:
            assert p.grad is not None, name
    # Three pushes of 4 keys each.
    assert int(model.head.memory.ptr) == 12


def test_weights_scale_the_totals():
    inputs, samples = make_batch()
    torch.manual_seed(0)
    base = tiny_pcrl()(inputs, samples, mode='loss')
    torch.manual_seed(0)
    weighted = tiny_pcrl(head=dict(
        type='PCRLHead', memory_size=16, feat_dim=8, contrast_weight=0.5,
        recon_weight=3., contrast_loss=dict(type='C2LNCELoss',
                                            num_data=4)))(inputs, samples,
                                                          mode='loss')
    torch.testing.assert_close(weighted['loss_contrast'],
                               0.5 * base['loss_contrast'])
    torch.testing.assert_close(weighted['loss_recon'],
                               3. * base['loss_recon'])


def test_info_nce_option():
    torch.manual_seed(0)
    model = tiny_pcrl(head=dict(type='PCRLHead', memory_size=16, feat_dim=8,
                                contrast_loss=dict(type='InfoNCELoss')))
    losses = model(*make_batch(), mode='loss')
    # InfoNCE over 1 + 16 candidates is at most log(17) + 2 / T.
    assert 0 < float(losses['nce_plain']) < np.log(17) + 2 / 0.2


def _record_calls(model, monkeypatch):
    """Make draws deterministic and record decoder and head inputs."""
    weights = iter([0.8, 0.7, 0.6])  # alpha1, lambda, alpha2
    monkeypatch.setattr(model, '_draw_weight', lambda: next(weights))
    perm = torch.tensor([2, 0, 3, 1])
    monkeypatch.setattr(torch, 'randperm', lambda n, **kw: perm)
    decoder_inputs, head_inputs = [], {}
    original = model.decoder.forward

    def decoder(feats):
        decoder_inputs.append([f.detach().clone() for f in feats])
        return original(feats)

    monkeypatch.setattr(model.decoder, 'forward', decoder)
    head_loss = model.head.loss

    def loss(contrast_pairs, recon_pairs):
        head_inputs.update(contrast=contrast_pairs, recon=recon_pairs)
        return head_loss(contrast_pairs, recon_pairs)

    monkeypatch.setattr(model.head, 'loss', loss)
    return perm, decoder_inputs, head_inputs


def test_targets_gating_and_hybrid_inputs(monkeypatch):
    torch.manual_seed(0)
    model = tiny_pcrl()
    inputs, samples = make_batch()
    x1, x2, g1, g2, m1, m2 = inputs
    codes = torch.as_tensor(np.stack([s.aug_code for s in samples]))
    # Momentum encoder after its first update = a copy of the student.
    model.momentum_encoder.update_parameters(
        torch.nn.Sequential(model.backbone, model.neck))
    with torch.no_grad():
        feats_s = model.backbone(x1)
        feats_t = model.backbone(x2)
        key = model.neck([feats_t[-1]])[0]
        gate1 = model.neck.gate(codes[:, 0])[:, :, None, None]
        gate2 = model.neck.gate(codes[:, 1])[:, :, None, None]
    perm, decoded, head = _record_calls(model, monkeypatch)
    model(inputs, samples, mode='loss')

    def mix(t):
        return 0.7 * t + 0.3 * t[perm]

    assert len(decoded) == 4
    ordinary, hybrid, mixed, mixed_hybrid = decoded
    # Ordinary: student features, bottleneck gated by g(a1).
    for a, b in zip(ordinary[:-1], feats_s[:-1]):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(ordinary[-1], feats_s[-1] * gate1)
    # Hybrid: alpha1-blend at every scale, gated bottlenecks.
    for a, s, t in zip(hybrid[:-1], feats_s[:-1], feats_t[:-1]):
        torch.testing.assert_close(a, 0.8 * s + 0.2 * t)
    torch.testing.assert_close(
        hybrid[-1], 0.8 * feats_s[-1] * gate1 + 0.2 * feats_t[-1] * gate2)
    # Mixup branches: no gating; features of the mixed inputs.
    with torch.no_grad():
        feats_ms = model.backbone(mix(x1))
        feats_mt = model.backbone(mix(x2))
    for a, b in zip(mixed, feats_ms):
        torch.testing.assert_close(a, b)
    for a, s, t in zip(mixed_hybrid, feats_ms, feats_mt):
        torch.testing.assert_close(a, 0.6 * s + 0.4 * t)
    # Reconstruction targets.
    recon = head['recon']
    torch.testing.assert_close(recon['ordinary'][1], m1)
    torch.testing.assert_close(recon['hybrid'][1], 0.8 * m1 + 0.2 * m2)
    torch.testing.assert_close(recon['mixup'][1], mix(g1))
    torch.testing.assert_close(recon['mixup_hybrid'][1],
                               0.6 * mix(g1) + 0.4 * mix(g2))
    # Keys: plain, of the mixed input, and the mix of the raw keys.
    contrast = head['contrast']
    torch.testing.assert_close(contrast['plain'][1], F.normalize(key, dim=1))
    torch.testing.assert_close(contrast['mixed_key'][1],
                               F.normalize(mix(key), dim=1))
    with torch.no_grad():
        key_mix = model.neck([feats_mt[-1]])[0]
    torch.testing.assert_close(contrast['mixup'][1],
                               F.normalize(key_mix, dim=1))
    assert contrast['mixup'][0] is contrast['mixed_key'][0]


def test_momentum_update_arithmetic():
    torch.manual_seed(0)
    model = tiny_pcrl(momentum=0.25)
    inputs, samples = make_batch()
    student = torch.nn.Sequential(model.backbone, model.neck)
    model(inputs, samples, mode='loss')  # first update: a copy
    ema = model.momentum_encoder.module
    for p, q in zip(ema.parameters(), student.parameters()):
        torch.testing.assert_close(p, q)
    old = [p.detach().clone() for p in ema.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    model(inputs, samples, mode='loss')
    for p, q, o in zip(ema.parameters(), student.parameters(), old):
        torch.testing.assert_close(p, 0.75 * o + 0.25 * q)


def test_draws_are_in_upper_half_and_reproducible():
    model = tiny_pcrl(mix_beta=0.5)
    torch.manual_seed(3)
    a = [model._draw_weight() for _ in range(200)]
    torch.manual_seed(3)
    b = [model._draw_weight() for _ in range(200)]
    assert a == b
    assert min(a) >= 0.5 and max(a) <= 1.0
    with pytest.raises(ValueError, match='mix_beta'):
        tiny_pcrl(mix_beta=0)


def test_input_errors():
    model = tiny_pcrl()
    inputs, samples = make_batch()
    with pytest.raises(ValueError, match='6 tensors'):
        model(inputs[:2], samples, mode='loss')
    bare = [DataSample() for _ in samples]
    with pytest.raises(KeyError, match='aug_code'):
        model(inputs, bare, mode='loss')


def test_predict_gives_pooled_encoder_features():
    model = tiny_pcrl()
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    out = model(x, None, mode='predict')
    expected = model.backbone(x)[-1].mean((2, 3))
    torch.testing.assert_close(torch.stack([s.feature for s in out]),
                               expected)


def test_bf16_autocast_keeps_losses_in_fp32():
    torch.manual_seed(0)
    model = tiny_pcrl()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model(*make_batch(), mode='loss')
    assert all(v.dtype == torch.float32 for v in losses.values())
    assert all(torch.isfinite(v) for v in losses.values())
    (losses['loss_contrast'] + losses['loss_recon']).backward()


def test_four_inputs_build_the_targets_from_the_codes():
    """Without targets in the data, PCRL builds them with flip_rot90: the
    losses equal those of a batch carrying the same targets."""
    from mmmedssl.models.selfsup.pcrl import flip_rot90
    inputs, samples = make_batch()
    codes = torch.as_tensor(np.stack([s.aug_code for s in samples]))
    full = inputs[:4] + [flip_rot90(inputs[0], codes[:, 0]),
                         flip_rot90(inputs[1], codes[:, 1])]
    torch.manual_seed(0)
    model = tiny_pcrl()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    with_targets = model(full, samples, mode='loss')
    model.load_state_dict(state)
    torch.manual_seed(1)
    built = model(inputs[:4], samples, mode='loss')
    for key in with_targets:
        torch.testing.assert_close(built[key], with_targets[key])
    # rot90 by k=1 of a 2x2 image, after a horizontal flip
    img = torch.tensor([[[[1., 2.], [3., 4.]]]])
    code = torch.tensor([[0., 1., 0., 1., 0., 0.]])
    flipped = torch.tensor([[2., 1.], [4., 3.]])
    torch.testing.assert_close(flip_rot90(img, code)[0, 0],
                               torch.rot90(flipped, 1, (0, 1)))
    with pytest.raises(ValueError, match='codes shaped'):
        flip_rot90(img, torch.zeros(1, 7))
