# Copyright (c) mmmedssl contributors. All rights reserved.
import os.path as osp
import warnings

import torch
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS, init_default_scope
from mmengine.runner import Runner


def set_default_work_dir(cfg: Config, config_path: str,
                         work_dir: str = None) -> None:
    """``work_dir`` from the command line, else the config's, else
    ``./work_dirs/<config name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])


def sanitize_dataloaders(cfg: Config,
                         no_pin_memory: bool = False,
                         no_persistent_workers: bool = False) -> None:
    """Dataloader settings that work on the machine at hand.

    ``default_collate`` unless set; ``persistent_workers`` only with workers
    (torch raises otherwise) and ``pin_memory`` only with CUDA.
    """
    cuda = torch.cuda.is_available()
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if not isinstance(loader, dict):
            continue
        _drop_function_scopes(loader)
        loader.setdefault('collate_fn', dict(type='default_collate'))
        workers = loader.get('num_workers', 0)
        loader.setdefault('persistent_workers', workers > 0)
        loader.setdefault('pin_memory', cuda)
        if no_pin_memory or not cuda:
            loader['pin_memory'] = False
        if no_persistent_workers or workers == 0:
            loader['persistent_workers'] = False


def _drop_function_scopes(loader: dict) -> None:
    """A config that inherits ``mmmedssl::...`` gets ``_scope_`` in every
    dict with a ``type``. mmengine builds ``collate_fn`` and
    ``worker_init_fn`` as plain functions and passes the other keys as
    arguments, so ``_scope_`` would reach ``default_collate`` /
    ``seed_worker`` as a keyword; the scope means nothing for a function."""
    for key in ('collate_fn', 'worker_init_fn'):
        if isinstance(loader.get(key), dict):
            loader[key].pop('_scope_', None)


# The default hooks mmengine's Runner adds by itself.
_RUNNER_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger',
                         'param_scheduler', 'checkpoint')


def drop_disabled_hooks(cfg: Config) -> None:
    """Let ``default_hooks.<name>=None`` switch off any default hook.

    mmengine accepts None only for its own six default hooks and asserts on
    others, such as mmmedssl's ``rng_state`` and ``sync_buffers``.
    """
    hooks = cfg.get('default_hooks') or {}
    for name in list(hooks):
        if hooks[name] is None and name not in _RUNNER_DEFAULT_HOOKS:
            hooks.pop(name)


def fall_back_to_fp32_without_cuda(cfg: Config) -> None:
    """Run configs written for mixed precision (``AmpOptimWrapper``) in
    fp32 when there is no CUDA device, with a warning.

    mmengine's ``AmpOptimWrapper`` asserts on CPU; the paper-setting configs
    use it as the released code did (apex O1, here ``torch.amp``).
    """
    optim_wrapper = cfg.get('optim_wrapper')
    if (not isinstance(optim_wrapper, dict)
            or optim_wrapper.get('type') != 'AmpOptimWrapper'
            or torch.cuda.is_available()):
        return
    warnings.warn('optim_wrapper is AmpOptimWrapper but there is no CUDA '
                  'device: training in fp32 with OptimWrapper instead.')
    optim_wrapper['type'] = 'OptimWrapper'
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        optim_wrapper.pop(key, None)


def build_runner(cfg: Config) -> Runner:
    """Build the Runner of a config the way ``tools/train.py`` does.

    Registers mmmedssl's modules, enters the config's default scope and, for
    distributed launchers without CUDA, starts a gloo process group (see
    :func:`mmmedssl.engine.prepare_launcher`).
    """
    from mmmedssl.engine import prepare_launcher
    from mmmedssl.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    if cfg.get('default_scope') is not None:
        init_default_scope(cfg.default_scope)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if isinstance(cfg.get(name), dict):
            _drop_function_scopes(cfg[name])
    cfg = prepare_launcher(cfg)
    drop_disabled_hooks(cfg)
    fall_back_to_fp32_without_cuda(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def run_test(cfg: Config, checkpoint=None) -> dict:
    """Evaluate ``checkpoint`` (None: the config's initialisation) with the
    config's test loop; returns the metrics."""
    cfg.load_from = checkpoint
    cfg.resume = False
    sanitize_dataloaders(cfg)
    runner = build_runner(cfg)
    if checkpoint is None:
        # Runner.test() never initialises weights (Runner.train() does):
        # without this the "random init" would be PyTorch's default layer
        # init, not the network that pretraining starts from.
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model.init_weights()
    return runner.test()
