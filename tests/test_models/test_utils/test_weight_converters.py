# Copyright (c) mmmedssl contributors. All rights reserved.
"""Weight converters, ``load_converted_weights`` and the ``Pretrained``
initializer with ``converter``: public ResNet weights into mmpretrain's
ResNet."""
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torchvision

from mmmedssl.models.utils import (ConvertedPretrainedInit, ConvertedWeights,
                                   detect_converter, load_converted_weights)
from mmmedssl.registry import MODELS, WEIGHT_CONVERTERS, WEIGHT_INITIALIZERS
from mmmedssl.utils import UnsafeCheckpointError

FC = ['fc.weight', 'fc.bias']


def _randomise_batchnorm(model):
    """Non-trivial BN statistics and affine parameters, so that a BN left at
    its defaults (or zeroed by zero_init_residual) cannot go unnoticed."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=gen) + 0.5
            m.bias.data = torch.randn(n, generator=gen) * 0.1
            m.running_mean = torch.randn(n, generator=gen) * 0.1
            m.running_var = torch.rand(n, generator=gen) + 0.5
            m.num_batches_tracked.fill_(7)


@pytest.fixture
def mm_log(caplog):
    """caplog for print_log(logger='current'): MMLogger instances are not
    in the logging hierarchy, so nothing reaches caplog's root handler."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.fixture(scope='module')
def tv_resnet18():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    _randomise_batchnorm(model)
    return model.eval()


@pytest.fixture
def tv_file(tmp_path, tv_resnet18):
    path = tmp_path / 'resnet18-f37072fd.pth'
    torch.save(tv_resnet18.state_dict(), path)
    return str(path)


def _resnet18(**kwargs):
    return MODELS.build(dict(type='ResNet', depth=18, **kwargs))


def _assert_same_as_torchvision(backbone, tv_model):
    tv_state = tv_model.state_dict()
    own = backbone.state_dict()
    assert set(own) == set(tv_state) - set(FC)
    for key, value in own.items():
        assert torch.equal(value, tv_state[key]), key


def _moco_release(tv_state):
    """The layout of moco_v2_800ep_pretrain.pth.tar, from given weights."""
    state = OrderedDict()
    for key, value in tv_state.items():
        if not key.startswith('fc.'):
            state['module.encoder_q.' + key] = value
            state['module.encoder_k.' + key] = value + 1
    for name, shape in (('fc.0.weight', (2048, 512)), ('fc.0.bias', (2048, )),
                        ('fc.2.weight', (128, 2048)), ('fc.2.bias', (128, ))):
        state['module.encoder_q.' + name] = torch.zeros(shape)
        state['module.encoder_k.' + name] = torch.zeros(shape)
    state['module.queue'] = torch.zeros(128, 16)
    state['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
    return dict(
        epoch=800,
        arch='resnet50',
        state_dict=state,
        optimizer=dict(state={}, param_groups=[dict(lr=0.0)]))


def _runner_checkpoint(tv_state, cfg_text="default_scope = 'mmmedssl'"):
    """An mmmedssl/mmpretrain Runner checkpoint of a MoCo-like model."""
    state = OrderedDict()
    for key, value in tv_state.items():
        if not key.startswith('fc.'):
            state['backbone.' + key] = value
            state['encoder_k.module.0.' + key] = value * 2
    state['neck.mlp.0.weight'] = torch.zeros(8, 512)
    state['head.fc.weight'] = torch.zeros(10, 512)
    state['queue'] = torch.zeros(8, 4)
    return dict(meta=dict(cfg=cfg_text, epoch=1), state_dict=state)


def test_registered_converters_and_initializer():
    assert {'torchvision_resnet', 'mmpretrain', 'mmmedssl', 'moco',
            'auto'} <= set(WEIGHT_CONVERTERS.module_dict)
    assert WEIGHT_CONVERTERS.scope == 'mmmedssl'
    assert WEIGHT_CONVERTERS.parent is None
    # Shadows mmengine's PretrainedInit in the mmmedssl scope only.
    assert WEIGHT_INITIALIZERS.get('Pretrained') is ConvertedPretrainedInit
    from mmengine.registry import WEIGHT_INITIALIZERS as ENGINE_INITIALIZERS
    assert ENGINE_INITIALIZERS.module_dict['Pretrained'] is not \
        ConvertedPretrainedInit


def test_init_cfg_with_torchvision_file_matches_torchvision(
        tv_file, tv_resnet18, mm_log):
    backbone = _resnet18(
        init_cfg=dict(
            type='Pretrained',
            checkpoint=tv_file,
            converter='torchvision_resnet'))
    assert backbone.zero_init_residual  # mmpretrain's default, skipped
    backbone.init_weights()
    _assert_same_as_torchvision(backbone, tv_resnet18)
    # An independent check: the same features as torchvision's network.
    backbone.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours = backbone(x)[-1].mean(dim=(2, 3))
        tv_trunk = nn.Sequential(*list(tv_resnet18.children())[:-1])
        theirs = tv_trunk(x).flatten(1)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    text = mm_log.text
    assert 'converter torchvision_resnet' in text
    assert 'dropped 2 keys: fc (2)' in text
    assert 'unexpected' not in text


def test_fc_is_dropped_not_unexpected(tv_resnet18):
    converted = WEIGHT_CONVERTERS.get('torchvision_resnet')(
        tv_resnet18.state_dict())
    assert isinstance(converted, ConvertedWeights)
    assert converted.dropped == FC
    assert not any(k.startswith('fc.') for k in converted.state_dict)
    missing, unexpected = load_converted_weights(
        _resnet18(), tv_resnet18.state_dict(), converter='torchvision_resnet')
    assert missing == [] and unexpected == []


def test_wrapped_and_nested_torchvision_state_dicts(tv_resnet18):
    state = tv_resnet18.state_dict()
    for wrapped in (dict(state_dict=state), dict(model=state), {
            'module.' + k: v
            for k, v in state.items()
    }):
        converted = WEIGHT_CONVERTERS.get('torchvision_resnet')(wrapped)
        assert list(converted.state_dict) == [k for k in state if k not in FC]
    nested = {'encoder.' + k: v for k, v in state.items()}
    nested['decoder.w'] = torch.zeros(1)
    converted = WEIGHT_CONVERTERS.get('torchvision_resnet')(
        nested, prefix='encoder')
    assert sorted(converted.dropped) == ['decoder.w', 'fc.bias', 'fc.weight']


def test_moco_and_runner_layouts_map_to_the_same_weights(tv_resnet18):
    tv_state = tv_resnet18.state_dict()
    expected = WEIGHT_CONVERTERS.get('torchvision_resnet')(tv_state)
    moco = WEIGHT_CONVERTERS.get('moco')(_moco_release(tv_state))
    runner = _runner_checkpoint(tv_state)
    for converted in (moco, WEIGHT_CONVERTERS.get('mmmedssl')(runner),
                      WEIGHT_CONVERTERS.get('mmpretrain')(runner)):
        assert list(converted.state_dict) == list(expected.state_dict)
        for key, value in expected.state_dict.items():
            assert torch.equal(converted.state_dict[key], value), key
    # The projection head, key encoder and queue are dropped.
    assert 'module.encoder_q.fc.0.weight' in moco.dropped
    assert 'module.encoder_k.conv1.weight' in moco.dropped
    assert 'module.queue' in moco.dropped
    assert not any(k.startswith('fc.') for k in moco.state_dict)
    # A chosen encoder: MoCo's key encoder in an mmmedssl checkpoint.
    key_encoder = WEIGHT_CONVERTERS.get('mmmedssl')(
        runner, prefix='encoder_k.module.0.')
    assert torch.equal(key_encoder.state_dict['conv1.weight'],
                       tv_state['conv1.weight'] * 2)
    assert 'backbone.conv1.weight' in key_encoder.dropped
    # ...and the key encoder of a MoCo release.
    moco_k = WEIGHT_CONVERTERS.get('moco')(
        _moco_release(tv_state), prefix='module.encoder_k.')
    assert torch.equal(moco_k.state_dict['conv1.weight'],
                       tv_state['conv1.weight'] + 1)
    assert 'module.encoder_k.fc.2.bias' in moco_k.dropped


def test_auto_detects_each_layout(tv_resnet18):
    tv_state = tv_resnet18.state_dict()
    runner = _runner_checkpoint(tv_state)
    assert detect_converter(tv_state) == 'torchvision_resnet'
    assert detect_converter(dict(state_dict=tv_state)) == 'torchvision_resnet'
    assert detect_converter(_moco_release(tv_state)) == 'moco'
    assert detect_converter(runner) == 'mmmedssl'
    assert detect_converter(
        _runner_checkpoint(tv_state, "default_scope = 'mmpretrain'")) == \
        'mmpretrain'
    auto = WEIGHT_CONVERTERS.get('auto')
    for checkpoint in (tv_state, _moco_release(tv_state), runner):
        converted = auto(checkpoint)
        assert torch.equal(converted.state_dict['layer4.1.bn2.weight'],
                           tv_state['layer4.1.bn2.weight'])


def test_auto_refuses_an_unknown_layout():
    unknown = {
        'blocks.0.attn.qkv.weight': torch.zeros(1),
        'patch_embed.proj.weight': torch.zeros(1)
    }
    with pytest.raises(ValueError, match='Cannot tell') as err:
        load_converted_weights(_resnet18(), unknown)
    assert 'blocks.0.attn.qkv.weight' in str(err.value)
    assert 'torchvision_resnet' in str(err.value)
    with pytest.raises(ValueError, match="no state dict"):
        detect_converter(dict(epoch=3, arch='resnet18'))
    with pytest.raises(ValueError, match="prefix 'backbone.'"):
        WEIGHT_CONVERTERS.get('mmpretrain')(unknown)
    with pytest.raises(KeyError, match='registered: auto'):
        load_converted_weights(_resnet18(), unknown, converter='timm')


def test_missing_and_unexpected_keys_are_reported(tv_resnet18, mm_log):
    state = OrderedDict(tv_resnet18.state_dict())
    del state['layer4.1.conv2.weight']
    state['layer5.0.conv1.weight'] = torch.zeros(1)
    backbone = _resnet18()
    before = backbone.layer4[1].conv2.weight.clone()
    missing, unexpected = load_converted_weights(
        backbone, state, converter='torchvision_resnet')
    assert missing == ['layer4.1.conv2.weight']
    assert unexpected == ['layer5.0.conv1.weight']
    assert '1 missing key(s) [layer4.1.conv2.weight]' in mm_log.text
    assert '1 unexpected key(s) [layer5.0.conv1.weight]' in mm_log.text
    assert torch.equal(backbone.layer4[1].conv2.weight, before)
    assert torch.equal(backbone.conv1.weight, state['conv1.weight'])
    with pytest.raises(RuntimeError, match='strict loading'):
        load_converted_weights(
            _resnet18(), state, converter='torchvision_resnet', strict=True)


def test_shape_mismatch_names_the_key(tv_resnet18):
    narrow = _resnet18(stem_channels=16, base_channels=16)
    with pytest.raises(ValueError, match='shape mismatch') as err:
        load_converted_weights(narrow, tv_resnet18.state_dict())
    assert 'conv1.weight: file (64, 3, 7, 7), model (16, 3, 7, 7)' in \
        str(err.value)


def test_missing_file_says_where_to_get_it(tmp_path):
    path = str(tmp_path / 'pretrained' / 'resnet50-0676ba61.pth')
    with pytest.raises(FileNotFoundError) as err:
        load_converted_weights(_resnet18(), path)
    message = str(err.value)
    assert path in message
    assert 'https://download.pytorch.org/models/resnet50-0676ba61.pth' in \
        message
    assert 'never downloads' in message and 'data/pretrained/' in message
    # Also through init_cfg, and for a URL (nothing is downloaded).
    backbone = _resnet18(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='torchvision://resnet50',
            converter='auto'))
    with pytest.raises(FileNotFoundError, match='moco_v2_800ep'):
        backbone.init_weights()


def test_file_with_pickled_object_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'model': nn.Linear(1, 1)}, path)
    with pytest.raises(UnsafeCheckpointError, match='Refused'):
        load_converted_weights(_resnet18(), path)


def test_moco_release_through_init_cfg(tmp_path, tv_resnet18):
    path = str(tmp_path / 'moco_v2_800ep_pretrain.pth.tar')
    torch.save(_moco_release(tv_resnet18.state_dict()), path)
    backbone = _resnet18(
        init_cfg=dict(
            type='Pretrained', checkpoint=path, converter='auto', strict=True))
    backbone.init_weights()
    _assert_same_as_torchvision(backbone, tv_resnet18)


def test_converter_none_keeps_mmengine_behaviour(tmp_path, tv_resnet18):
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(_runner_checkpoint(tv_resnet18.state_dict()), path)
    backbone = _resnet18(
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    backbone.init_weights()
    _assert_same_as_torchvision(backbone, tv_resnet18)
    key_encoder = _resnet18(
        init_cfg=dict(
            type='Pretrained', checkpoint=path, prefix='encoder_k.module.0.'))
    key_encoder.init_weights()
    assert torch.equal(key_encoder.conv1.weight, tv_resnet18.conv1.weight * 2)
    with pytest.raises(ValueError, match='needs a converter'):
        ConvertedPretrainedInit(checkpoint=path, strict=True)
    with pytest.raises(KeyError, match='Unknown weight converter'):
        ConvertedPretrainedInit(checkpoint=path, converter='nope')
