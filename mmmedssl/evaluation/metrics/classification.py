# Copyright (c) mmmedssl contributors. All rights reserved.
import math
import re
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmmedssl.registry import METRICS
from ..functional import classification_metrics, multilabel_auc


@METRICS.register_module()
class MedClassificationMetric(BaseMetric):
    """Classification metrics of a classifier's ``pred_score`` against its
    ground truth, in %, for fine-tuning runs through the Runner's val/test
    loops.

    - Multi-class (one ``gt_label`` per sample): top-1 accuracy, balanced
      accuracy, macro F1 and macro one-vs-rest AUC (``top1``,
      ``balanced_acc``, ``macro_f1``, ``macro_auc``), the metrics of the
      linear probe (``classification_metrics``).
    - Multi-label (e.g. ChestX-ray14; ``gt_label`` is the list of positive
      class indices, possibly empty, or the sample has a multi-hot
      ``gt_score``): the ROC AUC of every label, ``auc_<class name>`` (the
      label index when the dataset gives no class names), and their mean,
      ``mean_auc``, as reported for ChestX-ray14 (``multilabel_auc``). A
      label with only positives or only negatives in the evaluated set has
      no AUC: its ``auc_<name>`` key is left out and it does not count in
      the mean; ``num_auc_labels`` says how many labels the mean averages.
      ``mean_auc`` is NaN only when no label has an AUC.

    Args:
        multi_label (bool, optional): True for multi-label, False for
            multi-class. None (default) decides from the data: multi-label
            when a sample has ``gt_score`` or a ``gt_label`` with other than
            exactly one entry. A multi-label set whose evaluated samples all
            have exactly one finding (and no ``gt_score``) would then look
            multi-class, so multi-label configs set it to True.
        collect_device (str): As in ``BaseMetric``.
        prefix (str, optional): Defaults to ``'cls'``.
    """
    default_prefix = 'cls'

    def __init__(self,
                 multi_label: Optional[bool] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if multi_label not in (None, True, False):
            raise TypeError('MedClassificationMetric: multi_label must be '
                            f'None, True or False, got {multi_label!r}.')
        self.multi_label = multi_label

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_score' not in sample or (
                    'gt_label' not in sample and 'gt_score' not in sample):
                raise KeyError(
                    'MedClassificationMetric needs pred_score and gt_label '
                    '(or gt_score) in each data sample (a classifier on a '
                    'labelled split).')
            label = sample.get('gt_label')
            label = None if label is None else torch.as_tensor(
                label).detach().cpu().long().reshape(-1)
            score = sample.get('gt_score')
            score = None if score is None else torch.as_tensor(
                score).detach().float().cpu().reshape(-1)
            self.results.append(
                (sample['pred_score'].detach().float().cpu(), label, score))

    def _is_multi_label(self, results: List[tuple]) -> bool:
        if self.multi_label is not None:
            return self.multi_label
        return any(score is not None or label is None or label.numel() != 1
                   for _, label, score in results)

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        scores = torch.stack([r[0] for r in results])
        num_classes = scores.shape[1]
        if not self._is_multi_label(results):
            labels = torch.tensor([int(r[1][0]) for r in results])
            return classification_metrics(scores, labels, num_classes)

        targets = torch.zeros(scores.shape, dtype=torch.bool)
        for row, (_, label, score) in enumerate(results):
            if score is not None:
                if score.numel() != num_classes:
                    raise ValueError(
                        f'MedClassificationMetric: gt_score has '
                        f'{score.numel()} entries, pred_score {num_classes}.')
                targets[row] = score >= 0.5
            elif label is not None and label.numel():
                if int(label.min()) < 0 or int(label.max()) >= num_classes:
                    raise ValueError(
                        f'MedClassificationMetric: gt_label {label.tolist()} '
                        f'out of range for {num_classes} classes.')
                targets[row, label] = True
        out = multilabel_auc(scores, targets)
        names = self._label_names(num_classes)
        metrics = {}
        for name, auc in zip(names, out['per_label_auc']):
            if not math.isnan(auc):
                metrics[f'auc_{name}'] = auc
        metrics['mean_auc'] = out['mean_auc']
        metrics['num_auc_labels'] = len(metrics) - 1
        return metrics

    def _label_names(self, num_classes: int) -> List[str]:
        classes = (self.dataset_meta or {}).get('classes')
        if classes is None or len(classes) != num_classes:
            return [str(i) for i in range(num_classes)]
        # Keys go into log files and TensorBoard tags: no spaces or slashes.
        names = [re.sub(r'[^\w.-]+', '_', str(c)) for c in classes]
        if len(set(names)) != len(names):
            return [str(i) for i in range(num_classes)]
        return names
