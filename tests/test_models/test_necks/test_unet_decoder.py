# Copyright (c) mmmedssl contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from mmmedssl.models.necks import PCRLNeck, UNetDecoder


def _pyramid(channels, sizes, batch=2):
    return [torch.randn(batch, c, *s) for c, s in zip(channels, sizes)]


def test_2d_decoder_shapes_and_last_block_without_skip():
    dec = UNetDecoder(
        in_channels=[4, 4, 8, 16, 32], decoder_channels=(16, 8, 4, 4, 2),
        out_channels=3)
    feats = _pyramid([4, 4, 8, 16, 32], [(32, 32), (16, 16), (8, 8), (4, 4),
                                          (2, 2)])
    out = dec(feats)
    assert out.shape == (2, 3, 64, 64)
    # Blocks see skips of 16, 8, 4, 4 channels, the last none.
    assert [b.conv1.conv.in_channels for b in dec.blocks] == [
        32 + 16, 16 + 8, 8 + 4, 4 + 4, 4]
    assert dec.blocks[0].conv1.conv.bias is None  # 'auto': no bias before BN
    assert dec.out_conv.kernel_size == (3, 3)


def test_2d_decoder_uses_every_skip():
    torch.manual_seed(0)
    dec = UNetDecoder(in_channels=[2, 4, 8], decoder_channels=(4, 2),
                      out_channels=1).eval()
    feats = _pyramid([2, 4, 8], [(8, 8), (4, 4), (2, 2)])
    base = dec(feats)
    for i in range(3):
        changed = [f.clone() for f in feats]
        changed[i] += 1
        assert not torch.allclose(dec(changed), base)


def test_2d_decoder_block_matches_manual_computation():
    torch.manual_seed(0)
    dec = UNetDecoder(in_channels=[3, 5], decoder_channels=(4, ),
                      out_channels=2, norm_cfg=dict(type='BN')).eval()
    skip, x = torch.randn(1, 3, 4, 4), torch.randn(1, 5, 2, 2)
    block = dec.blocks[0]
    up = F.interpolate(x, scale_factor=2, mode='nearest')
    h = torch.cat([up, skip], 1)
    for layer in (block.conv1, block.conv2):
        h = F.relu(layer.bn(layer.conv(h)))
    expected = dec.out_conv(h)
    torch.testing.assert_close(dec([skip, x]), expected)


def test_3d_decoder_deconv_sigmoid():
    dec = UNetDecoder(
        in_channels=[8, 16, 32, 64], decoder_channels=(32, 16, 8),
        out_channels=1, dims=3, upsample='deconv', conv_bias=True,
        out_kernel_size=1, out_activation='sigmoid')
    feats = _pyramid([8, 16, 32, 64], [(16, 16, 8), (8, 8, 4), (4, 4, 2),
                                        (2, 2, 1)])
    out = dec(feats)
    assert out.shape == (2, 1, 16, 16, 8)
    assert out.min() >= 0 and out.max() <= 1
    # Models Genesis: deconv keeps the channels; conv1 sees deconv + skip.
    assert dec.blocks[0].up.out_channels == 64
    assert dec.blocks[0].conv1.conv.in_channels == 64 + 32
    assert dec.blocks[0].conv1.conv.bias is not None


def test_decoder_errors():
    dec = UNetDecoder(in_channels=[2, 4], decoder_channels=(2, ),
                      out_channels=1)
    with pytest.raises(ValueError, match='expected 2 feature maps'):
        dec([torch.randn(1, 4, 2, 2)])
    with pytest.raises(ValueError, match='divisible'):
        dec([torch.randn(1, 2, 5, 5), torch.randn(1, 4, 3, 3)])
    with pytest.raises(ValueError, match='dims'):
        UNetDecoder([2], (2, ), 1, dims=4)
    with pytest.raises(ValueError, match='upsample'):
        UNetDecoder([2], (2, ), 1, upsample='bilinear')
    with pytest.raises(ValueError, match='out_activation'):
        UNetDecoder([2], (2, ), 1, out_activation='tanh')


def test_pcrl_neck_projection_and_gate():
    torch.manual_seed(0)
    neck = PCRLNeck(in_channels=8, hid_channels=4, out_channels=3,
                    code_dim=6, gate_hid_channels=5)
    feat = torch.randn(2, 8, 3, 3)
    proj = neck([feat])[0]
    pooled = feat.mean((2, 3))
    expected = neck.fc1(F.relu(neck.fc0(pooled)))
    torch.testing.assert_close(proj, expected)
    code = torch.tensor([[1., 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, 1]])
    gate = neck.gate(code)
    expected = torch.sigmoid(
        code @ neck.gate_fc0.weight.t() + neck.gate_fc0.bias)
    expected = torch.sigmoid(
        F.relu(code @ neck.gate_fc0.weight.t() + neck.gate_fc0.bias)
        @ neck.gate_fc1.weight.t() + neck.gate_fc1.bias)
    torch.testing.assert_close(gate, expected)
    assert gate.shape == (2, 8) and (gate > 0).all() and (gate < 1).all()
    with pytest.raises(ValueError, match=r'\(B, 6\)'):
        neck.gate(torch.zeros(2, 7))


@pytest.mark.parametrize('channels,size', [((3, 4), (5, 7)), ((8, 2), (1, 1))])
def test_upsample_conv3x3_equals_conv_of_upsampled(channels, size):
    from mmmedssl.models.necks.unet_decoder import upsample_conv3x3
    torch.manual_seed(0)
    x = torch.randn(2, channels[0], *size, dtype=torch.float64,
                    requires_grad=True)
    w = torch.randn(channels[1], channels[0], 3, 3, dtype=torch.float64,
                    requires_grad=True)
    fast = upsample_conv3x3(x, w)
    ref = F.conv2d(F.interpolate(x, scale_factor=2, mode='nearest'), w,
                   padding=1)
    torch.testing.assert_close(fast, ref)
    grad = torch.randn_like(ref)
    gx, gw = torch.autograd.grad(fast, (x, w), grad)
    rx, rw = torch.autograd.grad(ref, (x, w), grad)
    torch.testing.assert_close(gx, rx)
    torch.testing.assert_close(gw, rw)


def test_fused_and_plain_decoders_agree():
    torch.manual_seed(0)
    kwargs = dict(in_channels=[4, 4, 8], decoder_channels=(8, 4, 2),
                  out_channels=3)
    fused = UNetDecoder(**kwargs)
    plain = UNetDecoder(**kwargs, fused_upsample=False)
    plain.load_state_dict(fused.state_dict())
    feats = _pyramid([4, 4, 8], [(16, 16), (8, 8), (4, 4)])
    for f in feats:
        f.requires_grad_()
    out_fused, out_plain = fused(feats), plain(feats)
    torch.testing.assert_close(out_fused, out_plain, rtol=1e-4, atol=1e-5)
    g_fused = torch.autograd.grad(out_fused.square().sum(), feats)
    g_plain = torch.autograd.grad(out_plain.square().sum(), feats)
    for a, b in zip(g_fused, g_plain):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    # BatchNorm running statistics are updated identically.
    torch.testing.assert_close(fused.blocks[0].conv1.bn.running_mean,
                               plain.blocks[0].conv1.bn.running_mean)
