# Copyright (c) mmmedssl contributors. All rights reserved.
import importlib
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, Registry

import mmmedssl.registry as med
from mmpretrain import registry as pre


def _registries(module, scope):
    return {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, Registry) and obj.scope == scope
    }


# mmmedssl registries without an mmpretrain counterpart: roots.
OWN_ROOTS = {'WEIGHT_CONVERTERS'}


def test_every_mmpretrain_registry_has_an_mmmedssl_child():
    ours = _registries(med, 'mmmedssl')
    for name in OWN_ROOTS:
        assert ours.pop(name).parent is None, name
    theirs = _registries(pre, 'mmpretrain')
    assert set(ours) == set(theirs)
    assert len(ours) + len(OWN_ROOTS) == len(med.__all__)
    assert len(ours) == len(theirs)
    for name, registry in ours.items():
        assert registry.scope == 'mmmedssl', name
        assert registry.parent is theirs[name], name
        assert registry.name == theirs[name].name
        assert theirs[name].children['mmmedssl'] is registry
        # The parent's modules must be importable from the child's lookups.
        assert any(loc.startswith('mmpretrain.')
                   for loc in registry._locations), name
        assert any(loc.startswith('mmmedssl.')
                   for loc in registry._locations), name


def test_mmpretrain_modules_resolve_without_prefix():
    from mmpretrain.models import MoCo, MoCoV2Neck, ResNet
    assert med.MODELS.get('ResNet') is ResNet
    assert med.MODELS.get('MoCo') is MoCo
    assert med.MODELS.get('mmpretrain.MoCoV2Neck') is MoCoV2Neck
    assert med.TRANSFORMS.get('RandomResizedCrop').__module__.startswith(
        'mmpretrain')
    assert med.VISUALIZERS.get('UniversalVisualizer') is not None


def test_mmmedssl_modules_are_registered_in_mmmedssl_scope():
    from mmmedssl.models import MedMoCo, MedSelfSupDataPreprocessor
    assert med.MODELS.get('MedMoCo') is MedMoCo
    assert med.MODELS.get('MedSelfSupDataPreprocessor') is \
        MedSelfSupDataPreprocessor
    # ...and not leaked into mmpretrain's scope.
    assert 'MedMoCo' not in pre.MODELS.module_dict
    assert 'PackMedInputs' not in pre.TRANSFORMS.module_dict


def test_build_from_plain_config_dict_mixes_packages():
    model = med.MODELS.build(
        dict(
            type='MedMoCo',
            queue_len=8,
            feat_dim=4,
            backbone=dict(
                type='ResNet', depth=18, stem_channels=4, base_channels=4),
            neck=dict(
                type='MoCoV2Neck',
                in_channels=32,
                hid_channels=8,
                out_channels=4),
            head=dict(
                type='ContrastiveHead',
                loss=dict(type='CrossEntropyLoss'),
                temperature=0.2)))
    assert type(model).__name__ == 'MedMoCo'
    assert type(model.backbone).__module__.startswith('mmpretrain')
    assert type(model.data_preprocessor).__name__ == \
        'MedSelfSupDataPreprocessor'


PLUGIN = '''
import torch.nn as nn
from mmmedssl.registry import MODELS


@MODELS.register_module()
class PluginTinyBackbone(nn.Module):
    """A third-party backbone registered into mmmedssl's MODELS."""

    def __init__(self, width=3):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 1)

    def forward(self, x):
        return (self.conv(x), )
'''


def test_third_party_plugin_through_custom_imports(tmp_path, monkeypatch):
    package = tmp_path / 'medplug_demo'
    package.mkdir()
    (package / '__init__.py').write_text(
        'from .backbone import PluginTinyBackbone\n')
    (package / 'backbone.py').write_text(PLUGIN)
    config = tmp_path / 'plugin_cfg.py'
    config.write_text(
        textwrap.dedent('''
        custom_imports = dict(imports=['medplug_demo'],
                              allow_failed_imports=False)
        default_scope = 'mmmedssl'
        model = dict(
            type='MedMoCo',
            queue_len=8,
            feat_dim=5,
            backbone=dict(type='PluginTinyBackbone', width=6),
            neck=dict(type='MoCoV2Neck', in_channels=6, hid_channels=8,
                      out_channels=5),
            head=dict(type='ContrastiveHead',
                      loss=dict(type='CrossEntropyLoss'), temperature=0.2))
        '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(KeyError, match='PluginTinyBackbone'):
            med.MODELS.build(dict(type='PluginTinyBackbone'))
        cfg = Config.fromfile(str(config))  # imports the plugin
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            model = med.MODELS.build(cfg.model)
        assert type(model.backbone).__name__ == 'PluginTinyBackbone'
        assert model.backbone.conv.out_channels == 6
        x = model.data_preprocessor(
            dict(inputs=[torch.rand(2, 3, 8, 8) * 255] * 2))
        losses = model(x['inputs'], [None, None], mode='loss')
        assert losses['loss'].item() > 0
    finally:
        med.MODELS.module_dict.pop('PluginTinyBackbone', None)
        sys.modules.pop('medplug_demo', None)
        sys.modules.pop('medplug_demo.backbone', None)


def test_register_all_modules_sets_scope():
    from mmmedssl.utils import register_all_modules
    DefaultScope._instance_dict.pop('mmmedssl', None)
    register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'mmmedssl'
    importlib.import_module('mmmedssl.engine')
