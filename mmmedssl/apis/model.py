# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Optional, Union

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build the model of a config under the mmmedssl scope, optionally
    load a checkpoint (safely, see ``mmmedssl.utils.safe_load``) and put it
    in eval mode.

    Unlike ``mmpretrain.get_model``, this does not force the mmpretrain
    scope, so mmmedssl modules resolve.
    """
    from mmmedssl.registry import MODELS
    from mmmedssl.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    if isinstance(config, str):
        config = Config.fromfile(config)
    elif not isinstance(config, Config):
        raise TypeError('config must be a file path or a Config, got '
                        f'{type(config).__name__}.')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    scope = config.get('default_scope', 'mmmedssl') or 'mmmedssl'
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(config.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    model.cfg = config
    return model.to(device).eval()
