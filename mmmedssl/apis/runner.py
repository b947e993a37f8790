# Copyright (c) mmmedssl contributors. All rights reserved.
from mmengine.config import Config
from mmengine.registry import RUNNERS, init_default_scope
from mmengine.runner import Runner


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
    cfg = prepare_launcher(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
