# Copyright (c) mmmedssl contributors. All rights reserved.
from mmengine.config import Config

from mmmedssl.apis import sanitize_dataloaders
from mmmedssl.apis.runner import (drop_disabled_hooks,
                                  fall_back_to_fp32_without_cuda)


def test_none_disables_mmmedssl_default_hooks():
    cfg = Config(
        dict(default_hooks=dict(
            rng_state=None, sync_buffers=dict(type='SyncFloatBuffersHook'),
            checkpoint=None)))
    drop_disabled_hooks(cfg)
    # Ours are dropped; mmengine's own None entries stay for the Runner,
    # which removes its built-in hook for them.
    assert set(cfg.default_hooks) == {'sync_buffers', 'checkpoint'}
    assert cfg.default_hooks.checkpoint is None


def test_amp_configs_fall_back_to_fp32_without_cuda(monkeypatch):
    import pytest
    import torch
    amp = dict(optim_wrapper=dict(type='AmpOptimWrapper', loss_scale='dynamic',
                                  optimizer=dict(type='SGD', lr=0.1)))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(amp)
    with pytest.warns(UserWarning, match='fp32'):
        fall_back_to_fp32_without_cuda(cfg)
    assert cfg.optim_wrapper == dict(type='OptimWrapper',
                                     optimizer=dict(type='SGD', lr=0.1))
    # With CUDA, and for other wrappers, nothing changes.
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config(amp)
    fall_back_to_fp32_without_cuda(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'


def test_dataloader_defaults_without_workers_or_cuda():
    cfg = Config(
        dict(
            train_dataloader=dict(num_workers=0, persistent_workers=True),
            val_dataloader=dict(num_workers=2),
            test_dataloader=None))
    sanitize_dataloaders(cfg, no_pin_memory=True)
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.val_dataloader.persistent_workers is True
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert loader.pin_memory is False
        assert loader.collate_fn == dict(type='default_collate')
    sanitize_dataloaders(cfg, no_persistent_workers=True)
    assert cfg.val_dataloader.persistent_workers is False


class _Stop(Exception):
    pass


def _snapshot_hook():
    from mmengine.hooks import Hook

    from mmmedssl.registry import HOOKS

    @HOOKS.register_module(name='_InitSnapshotHook', force=True)
    class _InitSnapshotHook(Hook):
        """Keeps the backbone weights as training or testing starts."""
        weights = {}

        def _keep(self, runner, stage):
            type(self).weights[stage] = {
                k: v.clone()
                for k, v in runner.model.backbone.state_dict().items()
            }
            raise _Stop

        def before_train(self, runner):
            self._keep(runner, 'train')

        def before_test(self, runner):
            self._keep(runner, 'test')

    return _InitSnapshotHook


def test_run_test_without_checkpoint_evaluates_the_training_start(
        tmp_path, tiny_config):
    import pytest
    import torch

    from mmmedssl.apis import build_runner, run_test
    hook = _snapshot_hook()
    for stage in ('train', 'test'):
        cfg = Config.fromfile(tiny_config)
        cfg.work_dir = str(tmp_path / stage)
        cfg.custom_hooks = [dict(type='_InitSnapshotHook')]
        with pytest.raises(_Stop):
            if stage == 'train':
                sanitize_dataloaders(cfg)
                build_runner(cfg).train()
            else:
                run_test(cfg, None)
    start, tested = hook.weights['train'], hook.weights['test']
    assert start.keys() == tested.keys()
    for key in start:
        assert torch.equal(start[key], tested[key]), key


def test_config_text_formatted_once_and_follows_changes(monkeypatch):
    """build_runner's config formats its pretty_text (yapf) once per
    content, not at every checkpoint, and still follows later changes."""
    from mmengine.config import Config

    from mmmedssl.apis.runner import _FormattedOnceConfig
    calls = []
    original = Config.pretty_text.fget

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(Config, 'pretty_text', property(counted))
    cfg = Config(dict(a=1, b=dict(c=[1, 2])))
    object.__setattr__(cfg, '__class__', _FormattedOnceConfig)
    first = cfg.pretty_text
    assert cfg.pretty_text == first and len(calls) == 1
    copied = __import__('copy').deepcopy(cfg)  # what the Runner keeps
    assert type(copied) is _FormattedOnceConfig
    assert copied.pretty_text == first and len(calls) == 1
    copied.b.c.append(3)
    text = copied.pretty_text
    assert text != first and '3' in text.split('c=')[1]
    assert len(calls) == 2
