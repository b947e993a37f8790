# Copyright (c) mmmedssl contributors. All rights reserved.
import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.config import Config

from mmmedssl.engine import prepare_launcher
from mmmedssl.engine.launch import CPU_DDP_WRAPPER
from mmmedssl.models import MedDistributedDataParallel

from ..conftest import free_port

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available(), reason='checks the CPU-only path')


def test_no_launcher_changes_nothing():
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(
        backend='nccl'))))
    assert prepare_launcher(cfg).env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg


def test_missing_torchrun_variables_are_named(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match='RANK, WORLD_SIZE, MASTER_ADDR'):
        prepare_launcher(Config(dict(launcher='pytorch')))


@pytest.fixture
def gloo_world_of_one(monkeypatch):
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(free_port()))
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_cpu_launch_uses_gloo_and_a_cpu_wrapper(gloo_world_of_one):
    cfg = Config(
        dict(
            launcher='pytorch',
            sync_bn='torch',
            env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    cfg = prepare_launcher(cfg)
    assert dist.is_initialized() and dist.get_backend() == 'gloo'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == CPU_DDP_WRAPPER
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.sync_bn is None

    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.SyncBatchNorm(4))
    wrapped = MedDistributedDataParallel(model, device_ids=None)
    norms = [m for m in wrapped.module.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(norms) == 1
    assert not isinstance(norms[0], nn.SyncBatchNorm)
    out = wrapped(torch.rand(2, 3, 4, 4))  # trains on CPU
    assert out.shape == (2, 4, 4, 4)
