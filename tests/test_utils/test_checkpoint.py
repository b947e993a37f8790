# Copyright (c) mmmedssl contributors. All rights reserved.
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import load_checkpoint, save_checkpoint

from mmmedssl.utils import (UnsafeCheckpointError, atomic_torch_save,
                            safe_load, trusted_checkpoints)


class _WritesAFile:
    """Unpickling this runs code: it would create ``path``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


class _Custom:
    value = 3


def _runner_like_checkpoint():
    hub = HistoryBuffer()
    hub.update(0.5)
    hub.update(0.25)
    return dict(
        state_dict=nn.Linear(3, 2).state_dict(),
        meta=dict(seed=np.int64(7), epoch=3, arr=np.arange(4),
                  dt=np.dtype('float32'), score=np.float64(0.5)),
        message_hub=dict(log_scalars={'train/loss': hub}),
        rng=np.random.get_state())


def test_runner_checkpoints_load_with_weights_only(tmp_path):
    path = str(tmp_path / 'ok.pth')
    ckpt = _runner_like_checkpoint()
    torch.save(ckpt, path)
    loaded = safe_load(path)
    assert loaded['meta']['seed'] == 7
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == \
        pytest.approx(0.375)
    np.testing.assert_array_equal(loaded['meta']['arr'], np.arange(4))
    for key, value in ckpt['state_dict'].items():
        assert torch.equal(loaded['state_dict'][key], value)
    # mmengine's own entry point goes through the same loader.
    model = nn.Linear(3, 2)
    load_checkpoint(model, path)
    assert torch.equal(model.weight, ckpt['state_dict']['weight'])


def test_code_running_checkpoint_is_refused_without_side_effects(tmp_path):
    marker = tmp_path / 'pwned.txt'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'payload': _WritesAFile(str(marker))},
               path)
    with pytest.raises(UnsafeCheckpointError) as err:
        safe_load(path)
    message = str(err.value)
    assert 'io.open' in message  # names the offending global
    assert 'MMMEDSSL_TRUST_CHECKPOINTS=1' in message  # and the opt-in
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(nn.Linear(1, 1), path)
    assert not marker.exists()


def test_getattr_is_served_only_for_history_buffer(tmp_path):
    # A pickle that calls getattr(os, 'system') must not get through the
    # narrow getattr the allowlist provides for HistoryBuffer.
    class _GetattrOs:
        def __reduce__(self):
            return (getattr, (np.ndarray, 'tofile'))

    path = str(tmp_path / 'getattr.pth')
    torch.save({'x': _GetattrOs()}, path)
    with pytest.raises(pickle.UnpicklingError):
        safe_load(path)


def test_trusted_opt_in(tmp_path, monkeypatch):
    path = str(tmp_path / 'custom.pth')
    torch.save({'obj': _Custom()}, path)
    with pytest.raises(UnsafeCheckpointError, match='_Custom'):
        safe_load(path)
    with trusted_checkpoints():
        assert safe_load(path)['obj'].value == 3
    monkeypatch.setenv('MMMEDSSL_TRUST_CHECKPOINTS', '1')
    assert safe_load(path)['obj'].value == 3


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        safe_load(str(tmp_path / 'nothing.pth'))


def test_atomic_save_keeps_old_file_when_writing_fails(tmp_path):
    path = tmp_path / 'ckpt.pth'
    atomic_torch_save({'v': torch.ones(2)}, path)

    class _Unpicklable:
        def __reduce__(self):
            raise RuntimeError('killed mid-save')

    with pytest.raises(RuntimeError, match='killed mid-save'):
        atomic_torch_save({'v': torch.zeros(2), 'x': _Unpicklable()}, path)
    assert torch.equal(safe_load(str(path))['v'], torch.ones(2))
    assert os.listdir(tmp_path) == ['ckpt.pth']  # no temporary left


def test_mmengine_save_checkpoint_is_atomic(tmp_path, monkeypatch):
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint({'state_dict': {'w': torch.ones(1)}}, path)

    def _fail(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', _fail)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint({'state_dict': {'w': torch.zeros(1)}}, path)
    monkeypatch.undo()
    assert torch.equal(safe_load(path)['state_dict']['w'], torch.ones(1))
    assert sorted(os.listdir(tmp_path)) == ['epoch_1.pth']


def test_init_cfg_pretrained_with_prefix_loads_a_runner_checkpoint(tmp_path):
    from mmmedssl.registry import MODELS
    backbone_cfg = dict(type='ResNet', depth=18, stem_channels=4,
                        base_channels=4)
    source = MODELS.build(backbone_cfg)
    ckpt = _runner_like_checkpoint()
    ckpt['state_dict'] = {
        f'backbone.{k}': v
        for k, v in source.state_dict().items()
    }
    path = str(tmp_path / 'pretrain.pth')
    torch.save(ckpt, path)
    target = MODELS.build(
        dict(backbone_cfg,
             init_cfg=dict(type='Pretrained', checkpoint=path,
                           prefix='backbone.')))
    target.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
