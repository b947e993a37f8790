# Copyright (c) mmmedssl contributors. All rights reserved.
"""kNN evaluation of a backbone through the config's test loop."""
import copy
from typing import Optional

from mmengine.config import Config

from mmmedssl.apis import run_test
from .evaluation_model import reset_loggers


def evaluate_knn(cfg: Config, checkpoint: Optional[str],
                 work_dir: str) -> dict:
    """The metrics of ``cfg``'s ``test_dataloader`` and ``test_evaluator``
    (``KNNAccuracy`` for the pretraining configs) on ``checkpoint``, or with
    None on the initialisation pretraining starts from (the config's seed
    and ``init_weights``)."""
    if not cfg.get('test_dataloader') or not cfg.get('test_evaluator'):
        raise ValueError(
            f'{cfg.filename}: the kNN evaluation runs the config\'s test '
            'loop, but test_dataloader or test_evaluator is not set (it needs '
            'a labelled split and an evaluator such as KNNAccuracy).')
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    metrics = run_test(cfg, checkpoint)
    reset_loggers()
    return metrics
