# Copyright (c) mmmedssl contributors. All rights reserved.
from mmengine.config import Config

from mmmedssl.apis import sanitize_dataloaders
from mmmedssl.apis.runner import drop_disabled_hooks


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
