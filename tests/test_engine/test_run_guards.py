# Copyright (c) mmmedssl contributors. All rights reserved.
"""Runs that used to look fine but were not (issue 15): NaN training,
two runs in one work dir, zero iterations, ``load_from`` or ``Pretrained``
with another architecture."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from mmmedssl.engine.nonfinite import (NonFiniteLossError,
                                       check_finite_state)
from mmmedssl.engine.work_dir_lock import LOCK_FILE
from ..conftest import REPO_ROOT, hang_timeout, python_tool, tiny_config_text


def _cfg(tmp_path, data_root, extra=''):
    path = tmp_path / 'tiny.py'
    path.write_text(tiny_config_text(data_root, extra))
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.export_backbone = None
    return cfg, str(path)


def _build(cfg):
    from mmmedssl.apis import build_runner, sanitize_dataloaders
    sanitize_dataloaders(cfg)
    return build_runner(cfg)


def _checkpoints(work_dir):
    return sorted(f for f in os.listdir(work_dir) if f.endswith('.pth'))


# -- 2. non-finite losses and weights --------------------------------------
def test_check_finite_state_names_bad_tensors():
    state = {
        'a': torch.ones(2),
        'b': torch.tensor([1., float('nan')]),
        'steps': torch.tensor(3),
        'nested': {
            'c': torch.tensor([float('inf')])
        },
        'meta': 'text',
    }
    assert check_finite_state(state) == ['b', 'nested.c']
    assert check_finite_state({'a': torch.zeros(3)}) == []


def test_nan_training_stops_without_writing_checkpoints(
        tmp_path, tiny_demo_data):
    config = tmp_path / 'tiny.py'
    config.write_text(tiny_config_text(tiny_demo_data))
    work_dir = str(tmp_path / 'work')
    proc = python_tool('tools/train.py', str(config), '--work-dir',
                       work_dir, '--cfg-options',
                       'optim_wrapper.optimizer.lr=1e30', check=False)
    assert proc.returncode != 0
    assert 'Non-finite loss at iteration 2 (epoch 1): loss=nan' in \
        proc.stdout, proc.stdout[-3000:]
    assert _checkpoints(work_dir) == []
    assert not osp.exists(osp.join(work_dir, LOCK_FILE))


class _NaNLossAt:
    """Replaces the model's loss by NaN at the given iterations (1-based)."""

    def __init__(self, model, iterations):
        self.loss, self.iterations, self.calls = model.loss, iterations, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        losses = self.loss(*args, **kwargs)
        if self.calls in self.iterations:
            losses['loss'] = losses['loss'] * float('nan')
        return losses


def test_nan_loss_skipped_or_stopped_before_the_step(tmp_path,
                                                     tiny_demo_data):
    # One NaN step with skip_nonfinite=1: skipped, training finishes.
    cfg, _ = _cfg(tmp_path, tiny_demo_data, '''
        max_epochs = 1
        train_cfg = dict(max_epochs=1)
        default_hooks.update(nonfinite=dict(skip_nonfinite=1))
    ''')
    runner = _build(cfg)
    runner.model.loss = _NaNLossAt(runner.model, {2})
    runner.train()
    assert runner.message_hub.get_info('train/skipped_nonfinite') == 1
    assert check_finite_state(runner.model.state_dict()) == []
    assert _checkpoints(cfg.work_dir) == ['epoch_1.pth']

    # The default: the first NaN stops the run, the weights untouched.
    cfg.work_dir = str(tmp_path / 'work2')
    cfg.default_hooks.nonfinite.skip_nonfinite = 0
    runner = _build(cfg)
    runner.model.loss = _NaNLossAt(runner.model, {3})
    before = {}

    def remember(*args, **kwargs):
        # The trained weights as the iteration starts.
        before.update({
            k: p.detach().clone()
            for k, p in runner.model.named_parameters() if p.requires_grad
        })

    runner.model.register_forward_pre_hook(remember)
    with pytest.raises(NonFiniteLossError,
                       match=r'iteration 3 \(epoch 1\): loss=nan'):
        runner.train()
    trained = dict(runner.model.named_parameters())
    assert before and all(torch.equal(v, trained[k])
                          for k, v in before.items())
    assert check_finite_state(runner.model.state_dict()) == []
    assert _checkpoints(cfg.work_dir) == []


# -- 3. one run per work dir ------------------------------------------------
def test_second_run_in_busy_work_dir_refused_and_stale_lock_taken_over(
        tmp_path, tiny_demo_data):
    config = tmp_path / 'tiny.py'
    config.write_text(
        tiny_config_text(tiny_demo_data, '''
        max_epochs = 1
        train_cfg = dict(max_epochs=1, val_interval=10)
        default_hooks.update(export_backbone=None)
    '''))
    work_dir = str(tmp_path / 'work')
    lock = osp.join(work_dir, LOCK_FILE)
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.pop('MMMEDSSL_TRUST_CHECKPOINTS', None)
    # The first run holds the lock for a while: many epochs.
    first = subprocess.Popen(
        [sys.executable, 'tools/train.py', str(config), '--work-dir',
         work_dir, '--cfg-options', 'train_cfg.max_epochs=500'],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + hang_timeout()
        while not osp.exists(lock):
            assert first.poll() is None, 'the first run ended early'
            assert time.time() < deadline, 'no lock file: hung'
            time.sleep(0.2)
        owner = json.load(open(lock))
        assert owner['pid'] == first.pid
        second = python_tool('tools/train.py', str(config), '--work-dir',
                             work_dir, check=False)
        assert second.returncode != 0
        assert 'WorkDirBusyError' in second.stdout
        assert f'pid {first.pid} on host {socket.gethostname()}' in \
            second.stdout, second.stdout[-3000:]
        assert first.poll() is None  # the first run goes on
    finally:
        first.kill()  # SIGKILL: no cleanup, the lock stays behind
        first.wait()
    assert osp.exists(lock)
    # The owner is dead: the next run takes over, with a warning, and
    # releases the lock also when it fails (here: at once, on purpose).
    third = python_tool('tools/train.py', str(config), '--work-dir',
                        work_dir, '--cfg-options',
                        'train_dataloader.batch_size=64',
                        'train_dataloader.drop_last=True', check=False)
    assert f'taking over the lock of a run that is gone (pid {first.pid}' \
        in third.stdout, third.stdout[-3000:]
    assert 'yields no batch' in third.stdout
    assert not osp.exists(lock)


def test_lock_released_when_training_fails(tmp_path, tiny_demo_data):
    cfg, _ = _cfg(tmp_path, tiny_demo_data)
    cfg.load_from = str(tmp_path / 'missing.pth')
    runner = _build(cfg)
    with pytest.raises(Exception):
        runner.train()
    assert not osp.exists(osp.join(cfg.work_dir, LOCK_FILE))


# -- 4. a loader that yields no batch ---------------------------------------
def test_empty_train_loader_is_an_error(tmp_path, tiny_demo_data):
    cfg, _ = _cfg(tmp_path, tiny_demo_data,
                  'train_dataloader.update(batch_size=64, drop_last=True)')
    runner = _build(cfg)
    with pytest.raises(ValueError) as err:
        runner.train()
    assert ('train_dataloader yields no batch: 32 training samples, '
            'batch_size=64, drop_last=True') in str(err.value)
    assert _checkpoints(cfg.work_dir) == []


# -- 5. load_from / resume / Pretrained with another architecture ----------
def _foreign_checkpoint(path):
    torch.save({'state_dict': nn.Conv3d(1, 4, 3).state_dict()}, path)
    return str(path)


def test_load_from_another_architecture_fails(tmp_path, tiny_demo_data):
    cfg, _ = _cfg(tmp_path, tiny_demo_data)
    cfg.load_from = _foreign_checkpoint(tmp_path / 'conv3d.pth')
    runner = _build(cfg)
    with pytest.raises(RuntimeError) as err:
        runner.train()
    message = str(err.value)
    assert 'conv3d.pth' in message and 'only 0 of' in message
    assert 'load_from_min_match=1.0' in message
    assert '2 unexpected [weight, bias]' in message
    assert _checkpoints(cfg.work_dir) == []


def test_load_from_partial_match_reported_and_resume_is_strict(
        tmp_path, tiny_demo_data):
    cfg, _ = _cfg(tmp_path, tiny_demo_data)
    runner = _build(cfg)
    state = runner.model.state_dict()
    state.pop('backbone.conv1.weight')
    path = str(tmp_path / 'partial.pth')
    torch.save({'state_dict': state, 'meta': dict(epoch=0, iter=0)}, path)
    # Opting out: a partial file loads with a report of what matched.
    cfg.load_from, cfg.load_from_min_match = path, 0.5
    runner = _build(cfg)
    runner.load_or_resume()
    assert torch.equal(runner.model.state_dict()['backbone.bn1.weight'],
                       state['backbone.bn1.weight'])
    # Resuming stays exact: one missing tensor is an error.
    cfg.resume = True
    runner = _build(cfg)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    with pytest.raises(RuntimeError, match='backbone.conv1.weight'):
        runner.load_or_resume()


def test_pretrained_init_checks_the_share_of_matched_tensors(tmp_path):
    from mmpretrain.models import ResNet

    from mmmedssl.models.utils import ConvertedPretrainedInit
    backbone = ResNet(depth=18, stem_channels=8, base_channels=8)
    path = _foreign_checkpoint(tmp_path / 'conv3d.pth')
    with pytest.raises(RuntimeError, match=r'only 0 of \d+ tensors') as err:
        ConvertedPretrainedInit(checkpoint=path)(backbone)
    assert "init_cfg type='Pretrained' min_match=1.0" in str(err.value)
    ConvertedPretrainedInit(checkpoint=path, min_match=0.)(backbone)
    # The same architecture loads completely.
    full = tmp_path / 'full.pth'
    torch.save({'state_dict': backbone.state_dict()}, full)
    ConvertedPretrainedInit(checkpoint=str(full))(
        ResNet(depth=18, stem_channels=8, base_channels=8))
