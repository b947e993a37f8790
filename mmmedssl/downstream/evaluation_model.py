# Copyright (c) mmmedssl contributors. All rights reserved.
"""The config and the model an evaluation tool works on."""
import copy
import logging
import os.path as osp
from typing import Optional, Tuple

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper

from mmmedssl.apis import build_runner, sanitize_dataloaders
from .checkpoint import resolve_checkpoint


def load_tool_config(config: str,
                     checkpoint: Optional[str],
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None,
                     tool: str = 'eval') -> Tuple[Config, Optional[str], str]:
    """What the evaluation tools share: the checkpoint resolved (see
    :func:`resolve_checkpoint`), the config with ``cfg_options`` and
    sanitised dataloaders, and the work dir (``work_dirs/<config>/<tool>``
    by default); registers mmmedssl's modules.

    Raises:
        FileNotFoundError: a missing config or checkpoint, named.
    """
    if checkpoint is not None:
        checkpoint = resolve_checkpoint(checkpoint)
    if not osp.isfile(config):
        raise FileNotFoundError(f'Config {config} does not exist.')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    sanitize_dataloaders(cfg)
    work_dir = work_dir or osp.join(
        './work_dirs', osp.splitext(osp.basename(config))[0], tool)
    from mmmedssl.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return cfg, checkpoint, work_dir


def build_eval_model(cfg: Config, checkpoint: Optional[str], work_dir: str):
    """The config's model in eval mode: the checkpoint's weights, or with
    None the initialisation ``tools/train.py`` starts from (the runner seeds
    before building, and ``Runner.train`` calls ``init_weights``, which also
    loads an ``init_cfg`` checkpoint)."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    cfg.load_from = None
    cfg.resume = False
    runner = build_runner(cfg, training=False)
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    if checkpoint is None:
        model.init_weights()
    else:
        # The safe loader that mmmedssl registers reads the file.
        runner.load_checkpoint(checkpoint)
    reset_loggers()
    return model.eval()


def reset_loggers() -> None:
    """Each Runner adds log handlers; close them before the next one."""
    logging.shutdown()
    MMLogger._instance_dict.clear()


def load_tool_config_from_args(args, tool: str):
    """:func:`load_tool_config` for a command line whose ``args`` have
    ``config``, ``checkpoint``, ``cfg_options`` and ``work_dir``; a missing
    file ends the program with its message (exit status 1)."""
    try:
        return load_tool_config(args.config, args.checkpoint,
                                args.cfg_options, args.work_dir, tool)
    except FileNotFoundError as err:
        raise SystemExit(str(err)) from None
