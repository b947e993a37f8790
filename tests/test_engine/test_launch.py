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


def test_collective_timeout_defaults_to_five_minutes(gloo_world_of_one,
                                                     monkeypatch):
    from mmmedssl.engine.rank_watch import DEFAULT_DIST_TIMEOUT_S
    monkeypatch.delenv('MMMEDSSL_DIST_TIMEOUT', raising=False)
    cfg = prepare_launcher(Config(dict(launcher='pytorch')))
    assert cfg.env_cfg.dist_cfg.timeout == DEFAULT_DIST_TIMEOUT_S == 300


def test_collective_timeout_from_env_and_config(monkeypatch):
    from mmmedssl.engine.rank_watch import dist_timeout
    monkeypatch.setenv('MMMEDSSL_DIST_TIMEOUT', '42')
    assert dist_timeout() == 42
    assert dist_timeout(7) == 7  # the config wins
    monkeypatch.setenv('MMMEDSSL_DIST_TIMEOUT', 'soon')
    with pytest.raises(ValueError, match="MMMEDSSL_DIST_TIMEOUT must be a "
                       "positive number of seconds, got 'soon'"):
        dist_timeout()
    with pytest.raises(ValueError, match='env_cfg.dist_cfg.timeout'):
        dist_timeout(0)


def test_heartbeat_names_stopped_and_lagging_ranks(monkeypatch):
    """Rank 0 of 3 after a timeout: rank 1 beat once and stopped, rank 2
    still beats but is at an earlier iteration."""
    import threading
    from datetime import timedelta

    from mmmedssl.engine.rank_watch import RankHeartbeat
    port = free_port()
    server = dist.TCPStore('127.0.0.1', port, is_master=True,
                           wait_for_workers=False,
                           timeout=timedelta(seconds=10))
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(port))
    server.set('mmmedssl_heartbeat/1', '1 2')
    stop = threading.Event()

    def beat_rank_2():
        count = 0
        while not stop.wait(0.05):
            count += 1
            server.set('mmmedssl_heartbeat/2', f'{count} 3')

    beater = threading.Thread(target=beat_rank_2, daemon=True)
    beater.start()
    watch = RankHeartbeat(0, 3, lambda: 5, interval=0.1).start()
    try:
        message = watch.diagnose(RuntimeError('Timed out waiting'), 10)
    finally:
        watch.stop()
        stop.set()
        beater.join()
    assert message.startswith('rank 0 waited 10 s in a collective at '
                              'iteration 5: Timed out waiting')
    assert 'Stopped answering' in message
    assert 'rank 1 (silent for' in message and 'iteration 2)' in message
    assert 'Alive but behind' in message and 'rank 2 (at iteration 3)' \
        in message
    assert server.get('mmmedssl_heartbeat/0').decode().endswith(' 5')


def test_only_collective_timeouts_are_diagnosed():
    from mmmedssl.engine.rank_watch import is_collective_timeout
    assert is_collective_timeout(RuntimeError(
        '[../third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:81] '
        'Timed out waiting 5000ms for recv operation to complete'))
    assert is_collective_timeout(dist.DistBackendError('Watchdog caught '
                                                       'collective timeout'))
    assert not is_collective_timeout(RuntimeError(
        'DataLoader timed out after 30 seconds'))
    assert not is_collective_timeout(ValueError('gloo timed out'))
