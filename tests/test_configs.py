# Copyright (c) mmmedssl contributors. All rights reserved.
"""Every config under configs/ loads and its model builds."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmmedssl.registry import MODELS

from .conftest import REPO_ROOT

CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p.split(osp.sep)
    # Studies list configs for tools/benchmarks/run_benchmark.py; they are
    # checked in tests/test_tools/test_run_benchmark.py.
    and 'studies' not in p.split(osp.sep))


def test_there_are_configs():
    assert any(p.endswith('_demo.py') for p in CONFIGS)


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO_ROOT) for p in CONFIGS])
def test_config_loads_and_model_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmmedssl'
    for key in ('model', 'train_dataloader', 'optim_wrapper', 'train_cfg'):
        assert key in cfg, f'{path} has no {key}'
    if cfg.train_dataloader.get('num_workers', 0) == 0:
        assert not cfg.train_dataloader.get('persistent_workers', False)
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    # Queue-based methods need queue_len to be a multiple of the batch.
    if hasattr(model, 'queue_len'):
        assert cfg.train_dataloader.get('drop_last', False)
        assert model.queue_len % cfg.train_dataloader.batch_size == 0
    # The backbone runs on the config's input channels.
    channels = cfg.model.backbone.get('in_channels', 3)
    spatial = (16, 16, 16) if '3D' in cfg.model.backbone.type else (32, 32)
    with torch.no_grad():
        model.eval()
        out = model(torch.rand(2, channels, *spatial), mode='tensor')
    # Self-supervised models return feature maps, classifiers logits.
    out = out if isinstance(out, torch.Tensor) else out[-1]
    assert out.shape[0] == 2


def test_metafiles_list_every_config():
    import yaml
    index = yaml.safe_load(open(osp.join(REPO_ROOT, 'model-index.yml')))
    listed = set()
    for metafile in index['Import']:
        meta = yaml.safe_load(open(osp.join(REPO_ROOT, metafile)))
        for model in meta['Models']:
            config = osp.join(REPO_ROOT, model['Config'])
            assert osp.isfile(config), model['Config']
            assert model['Name'] == osp.splitext(osp.basename(config))[0]
            listed.add(config)
        for collection in meta['Collections']:
            assert osp.isfile(osp.join(REPO_ROOT, collection['README']))
    assert listed == set(CONFIGS)


MODEL_BASES = osp.join(REPO_ROOT, 'configs', '_base_', 'models')


@pytest.mark.parametrize('method', ['mocov2', 'gravis', 'distillingself',
                                    'distillingself_teacher'])
def test_resnet18_model_base_derives_from_the_resnet50_one(method):
    """Bases are written at the paper's ResNet-50 and the ResNet-18 variant
    overrides only the depth and the widths that follow from it."""
    small = Config.fromfile(osp.join(MODEL_BASES, f'{method}_resnet18.py'))
    paper = Config.fromfile(osp.join(MODEL_BASES, f'{method}_resnet50.py'))
    with open(osp.join(MODEL_BASES, f'{method}_resnet18.py')) as f:
        assert f"'./{method}_resnet50.py'" in f.read()
    assert paper.model.backbone.depth == 50
    assert small.model.backbone.depth == 18
    assert small.model.neck.in_channels == 512
    assert small.model.type == paper.model.type


@pytest.mark.parametrize('depth', [18, 50])
def test_student_base_embeds_the_teacher_base(depth):
    """The stage-B base writes out the stage-A model as its teacher; the two
    files must not drift apart."""
    student = Config.fromfile(
        osp.join(MODEL_BASES, f'distillingself_resnet{depth}.py'))
    teacher = Config.fromfile(
        osp.join(MODEL_BASES, f'distillingself_teacher_resnet{depth}.py'))
    assert student.model.teacher.to_dict() == teacher.model.to_dict()


def test_no_model_base_deletes_an_inherited_model():
    for path in glob.glob(osp.join(MODEL_BASES, '*.py')):
        with open(path) as f:
            assert '_delete_' not in f.read(), path
