# Copyright (c) mmmedssl contributors. All rights reserved.
"""tools/model_converters: public ResNet weights to an mmmedssl checkpoint
and an mmmedssl backbone back to a torchvision state dict."""
import os.path as osp
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torchvision

from mmmedssl.registry import MODELS
from mmmedssl.utils import safe_load

from ..conftest import REPO_ROOT, python_tool

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'model_converters'))
import mmmedssl_to_torchvision  # noqa: E402
import torchvision_to_mmmedssl  # noqa: E402

FC = {'fc.weight', 'fc.bias'}


@pytest.fixture(scope='module')
def tv_state():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    for m in model.modules():  # statistics that differ from the defaults
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    return model.state_dict()


def test_round_trip_torchvision_mmmedssl_torchvision(tmp_path, tv_state):
    src = str(tmp_path / 'resnet18-f37072fd.pth')
    torch.save(tv_state, src)
    med = str(tmp_path / 'resnet18_mmmedssl.pth')
    meta = torchvision_to_mmmedssl.convert(src, med)
    assert meta == dict(
        source=src,
        converter='torchvision_resnet',
        dropped=['fc.weight', 'fc.bias'])
    written = safe_load(med)
    assert written['meta'] == meta
    assert all(k.startswith('backbone.') for k in written['state_dict'])

    # Plain mmengine semantics: no converter, prefix='backbone.'.
    backbone = MODELS.build(
        dict(
            type='ResNet',
            depth=18,
            init_cfg=dict(
                type='Pretrained', checkpoint=med, prefix='backbone.')))
    backbone.init_weights()
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, tv_state[key]), key

    back = str(tmp_path / 'resnet18_back.pth')
    assert mmmedssl_to_torchvision.convert(med, back) == 18
    exported = safe_load(back)
    assert set(exported) == set(tv_state) - FC
    for key, value in exported.items():
        assert torch.equal(value, tv_state[key]), key
    model = torchvision.models.resnet18(weights=None)
    assert set(model.load_state_dict(exported, strict=False).missing_keys) \
        == FC


def test_moco_release_and_key_encoder_export(tmp_path, tv_state):
    state = OrderedDict()
    for key, value in tv_state.items():
        if key not in FC:
            state['module.encoder_q.' + key] = value
            state['module.encoder_k.' + key] = value
    state['module.encoder_q.fc.0.weight'] = torch.zeros(4, 512)
    state['module.queue'] = torch.zeros(4, 2)
    src = str(tmp_path / 'moco_v2_800ep_pretrain.pth.tar')
    torch.save(dict(epoch=800, arch='resnet18', state_dict=state), src)
    med = str(tmp_path / 'moco_mmmedssl.pth')
    assert torchvision_to_mmmedssl.main([src, med]) == 0
    meta = safe_load(med)['meta']
    assert meta['converter'] == 'moco'
    assert 'module.encoder_q.fc.0.weight' in meta['dropped']
    assert 'module.queue' in meta['dropped']

    # An mmmedssl MoCo checkpoint's key encoder, exported by prefix.
    ckpt = dict(
        meta=dict(cfg="default_scope = 'mmmedssl'"),
        state_dict={
            **{
                'encoder_k.module.0.' + k: v
                for k, v in tv_state.items() if k not in FC
            }, 'encoder_k.module.1.mlp.0.weight': torch.zeros(2, 512),
            'backbone.conv1.weight': torch.zeros(64, 3, 7, 7)
        })
    run = str(tmp_path / 'epoch_1.pth')
    torch.save(ckpt, run)
    back = str(tmp_path / 'key_encoder.pth')
    mmmedssl_to_torchvision.main(
        [run, back, '--prefix', 'encoder_k.module.0.', '--depth', '18'])
    exported = safe_load(back)
    assert set(exported) == set(tv_state) - FC
    assert torch.equal(exported['conv1.weight'], tv_state['conv1.weight'])


def test_export_refuses_backbones_without_a_torchvision_twin(tmp_path):
    narrow = MODELS.build(
        dict(type='ResNet', depth=18, stem_channels=8, base_channels=8))
    deep_stem = MODELS.build(dict(type='ResNetV1c', depth=18))
    for name, model, match in (('narrow', narrow, 'does not fit'),
                               ('v1c', deep_stem, 'unexpected')):
        path = str(tmp_path / f'{name}.pth')
        torch.save(
            dict(state_dict={
                'backbone.' + k: v
                for k, v in model.state_dict().items()
            }), path)
        out = tmp_path / f'{name}_tv.pth'
        with pytest.raises(ValueError, match=match):
            mmmedssl_to_torchvision.convert(path, str(out))
        assert not out.exists()


def test_infer_depth():

    def keys(blocks, bottleneck):
        conv = 'conv3' if bottleneck else 'conv2'
        return {
            f'layer{s + 1}.{i}.{conv}.weight': None
            for s, n in enumerate(blocks)
            for i in range(n)
        }

    assert mmmedssl_to_torchvision.infer_depth(keys((3, 4, 6, 3), False)) \
        == 34
    assert mmmedssl_to_torchvision.infer_depth(keys((3, 4, 23, 3), True)) \
        == 101
    with pytest.raises(ValueError, match=r'\[2, 2, 2\, 1]'):
        mmmedssl_to_torchvision.infer_depth(keys((2, 2, 2, 1), False))


def test_scripts_run_from_the_command_line(tmp_path, tv_state):
    src = str(tmp_path / 'resnet18.pth')
    torch.save(tv_state, src)
    med = str(tmp_path / 'med.pth')
    proc = python_tool(
        'tools/model_converters/torchvision_to_mmmedssl.py',
        src,
        med,
        '--converter',
        'torchvision_resnet',
        timeout=120)
    assert 'dropped 2 keys: fc (2)' in proc.stdout
    assert safe_load(med)['meta']['converter'] == 'torchvision_resnet'


def test_missing_input_names_the_download(tmp_path):
    missing = str(tmp_path / 'data' / 'resnet50-0676ba61.pth')
    with pytest.raises(FileNotFoundError) as err:
        torchvision_to_mmmedssl.main([missing, str(tmp_path / 'out.pth')])
    assert missing in str(err.value)
    assert 'https://download.pytorch.org/models/resnet50-0676ba61.pth' in \
        str(err.value)
