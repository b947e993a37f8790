# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmmedssl.registry import METRICS


@METRICS.register_module()
class MedClassificationMetric(BaseMetric):
    """Top-1 accuracy, balanced accuracy, macro F1 and macro one-vs-rest AUC
    (in %) of a classifier's ``pred_score`` against ``gt_label``: the
    metrics of the linear probe (``classification_metrics``), for
    fine-tuning runs through the Runner's val/test loops.
    """
    default_prefix = 'cls'

    def __init__(self,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_score' not in sample or 'gt_label' not in sample:
                raise KeyError(
                    'MedClassificationMetric needs pred_score and gt_label '
                    'in each data sample (a classifier on a labelled split).')
            self.results.append(
                (sample['pred_score'].detach().float().cpu(),
                 int(sample['gt_label'].reshape(-1)[0])))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        from mmmedssl.evaluation.linear_probe import classification_metrics
        scores = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        return classification_metrics(scores, labels, scores.shape[1])
