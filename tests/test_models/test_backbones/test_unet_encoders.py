# Copyright (c) mmmedssl contributors. All rights reserved.
import pytest
import torch
from mmengine.config import Config
from mmpretrain.models.backbones import ResNet

from mmmedssl.models.backbones import ResNetWithStem, UNet3DEncoder
from mmmedssl.registry import MODELS
from tests.conftest import REPO_ROOT


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_resnet_with_stem_matches_resnet():
    torch.manual_seed(0)
    ours = ResNetWithStem(depth=18)
    plain = ResNet(depth=18, out_indices=(0, 1, 2, 3))
    ours.eval()  # mmpretrain's ResNet.train() returns None
    plain.eval()
    # Same parameter names: weights move between the two unchanged.
    assert list(ours.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 64, 64)
    feats = ours(x)
    ref = plain(x)
    assert [tuple(f.shape) for f in feats] == [(2, 64, 32, 32),
                                               (2, 64, 16, 16),
                                               (2, 128, 8, 8),
                                               (2, 256, 4, 4),
                                               (2, 512, 2, 2)]
    for a, b in zip(feats[1:], ref):
        torch.testing.assert_close(a, b)
    stem = plain.relu(plain.norm1(plain.conv1(x)))
    torch.testing.assert_close(feats[0], stem)
    assert len(ResNetWithStem(depth=18, with_stem=False)(x)) == 4


def test_unet3d_encoder_shapes_and_channels():
    enc = UNet3DEncoder(base_channels=4)
    feats = enc(torch.randn(2, 1, 16, 16, 8))
    assert [tuple(f.shape) for f in feats] == [(2, 8, 16, 16, 8),
                                               (2, 16, 8, 8, 4),
                                               (2, 32, 4, 4, 2),
                                               (2, 64, 2, 2, 1)]
    assert enc.out_channels == [8, 16, 32, 64]
    assert len(UNet3DEncoder(base_channels=4, out_indices=[3])(
        torch.randn(2, 1, 8, 8, 8))) == 1
    gn = UNet3DEncoder(base_channels=8, norm_cfg=dict(type='GN',
                                                      num_groups=8))
    assert isinstance(gn.levels[0][0].norm, torch.nn.GroupNorm)
    with pytest.raises(ValueError, match='out_indices'):
        UNet3DEncoder(out_indices=[4])


# Parameter counts of the released models (Luchixiang/PCRL at 197bf91,
# pytorch/models/pcrl_model.py and pcrl_model_3d.py, instantiated with
# student=True; segmentation_models_pytorch 0.2.1): the student encoder +
# decoder (+ segmentation head) + fc1/fc2 + aug_fc1/aug_fc2.
RELEASED_2D = dict(total=14_544_051, encoder=11_176_512,
                   decoder=3_151_552 + 435, projection_and_gate=82_176 +
                   133_376)
RELEASED_3D = dict(total=19_289_473, encoder=7_027_776, decoder=12_045_889,
                   projection_and_gate=82_176 + 133_632)


@pytest.mark.parametrize('name,released', [
    ('pcrl_resnet18_unet.py', RELEASED_2D),
    ('pcrl_unet3d.py', RELEASED_3D),
])
def test_parameter_counts_equal_the_released_models(name, released):
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/_base_/models/{name}')
    model = MODELS.build(cfg.model)
    student = (_count(model.backbone) + _count(model.decoder) +
               _count(model.neck))
    assert _count(model.backbone) == released['encoder']
    assert _count(model.decoder) == released['decoder']
    assert _count(model.neck) == released['projection_and_gate']
    assert student == released['total']
