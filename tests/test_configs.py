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
