# Copyright (c) mmmedssl contributors. All rights reserved.
"""kNN evaluation of a backbone through the config's test loop."""
import copy
from typing import Optional

from mmengine.config import Config

from mmmedssl.apis import run_test
from mmmedssl.datasets.utils import missing_label_argument
from .evaluation_model import reset_loggers


def evaluate_knn(cfg: Config, checkpoint: Optional[str],
                 work_dir: str) -> dict:
    """The metrics of ``cfg``'s ``test_dataloader`` and ``test_evaluator``
    (``KNNAccuracy`` for the pretraining configs) on ``checkpoint``, or with
    None on the initialisation pretraining starts from (the config's seed
    and ``init_weights``)."""
    check_knn_config(cfg)
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    metrics = run_test(cfg, checkpoint)
    reset_loggers()
    return metrics


def check_knn_config(cfg: Config) -> None:
    """Raise ValueError, saying that the data has no labels, unless ``cfg``
    has a test loop whose dataset is labelled."""
    loader = cfg.get('test_dataloader')
    if not loader or not cfg.get('test_evaluator') or \
            cfg.get('test_cfg') is None:
        raise ValueError(
            f'{cfg.filename} has no labels to test on: it has no test loop, '
            'and kNN accuracy needs a labelled split in one (test_dataloader '
            'with labels, e.g. MedImageList with label_key; '
            "test_evaluator=dict(type='KNNAccuracy'); test_cfg=dict()).")
    missing = missing_label_argument(loader.get('dataset'))
    if missing:
        raise ValueError(
            f'{cfg.filename}: test_dataloader.dataset has no labels: kNN '
            f'accuracy needs a labelled split (set {missing}).')
