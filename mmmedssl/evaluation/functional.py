# Copyright (c) mmmedssl contributors. All rights reserved.
"""Classification metric functions on tensors, shared by the metric classes
(``MedClassificationMetric``) and the linear probe.

They are written in torch (no tensor-to-numpy round trip in the evaluators)
and tested against scikit-learn on random problems, ties and absent classes
included (tests/test_evaluation/test_metrics_vs_sklearn.py). One difference
is on purpose: an AUC that is undefined (a class or label with no positives
or no negatives) is NaN in both, but our macro / mean AUC averages the
defined ones, where scikit-learn's macro average becomes NaN."""
import math
from typing import Dict

import torch


def _midranks(scores: torch.Tensor) -> torch.Tensor:
    """1-based ranks with tied values sharing their average rank."""
    sorted_scores, order = scores.sort()
    _, inverse, counts = torch.unique_consecutive(
        sorted_scores, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    tie_ranks = ends - (counts.double() - 1) / 2
    ranks = torch.empty_like(scores, dtype=torch.float64)
    ranks[order] = tie_ranks[inverse]
    return ranks


def binary_auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """ROC AUC by the Mann-Whitney rank formula (ties count one half).

    NaN when either class is absent.
    """
    positive = positive.bool()
    n_pos = int(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    rank_sum = float(_midranks(scores.double())[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def classification_metrics(probs: torch.Tensor, labels: torch.Tensor,
                           num_classes: int) -> Dict[str, float]:
    """Top-1 accuracy, balanced accuracy, macro F1 and macro one-vs-rest
    AUC, in %.

    Balanced accuracy is the mean recall over the classes present in
    ``labels``. Macro F1 averages ``2 TP / (2 TP + FP + FN)`` over the
    classes present in the labels or the predictions (as scikit-learn's
    ``f1_score(average='macro')``). The macro AUC averages the classes that
    have both positives and negatives in ``labels`` (an AUC is undefined
    otherwise); it is NaN if there is none.
    """
    probs = torch.as_tensor(probs)
    labels = torch.as_tensor(labels).long().reshape(-1)
    if probs.dim() != 2 or probs.shape != (labels.numel(), num_classes):
        raise ValueError(
            f'classification_metrics: expected probs of shape '
            f'({labels.numel()}, {num_classes}), got {tuple(probs.shape)}.')
    if labels.numel() == 0:
        raise ValueError('classification_metrics: no samples.')
    pred = probs.argmax(dim=1)
    top1 = float((pred == labels).double().mean()) * 100
    recalls = [(pred[labels == c] == c).double().mean()
               for c in labels.unique()]
    balanced = float(torch.stack(recalls).mean()) * 100
    f1s = []
    for c in torch.cat([labels, pred]).unique():
        tp = int(((pred == c) & (labels == c)).sum())
        wrong = int(((pred == c) != (labels == c)).sum())  # FP + FN
        f1s.append(2 * tp / (2 * tp + wrong))
    macro_f1 = sum(f1s) / len(f1s) * 100
    aucs = [binary_auc(probs[:, c], labels == c) for c in range(num_classes)]
    aucs = [a for a in aucs if not math.isnan(a)]
    macro_auc = sum(aucs) / len(aucs) * 100 if aucs else float('nan')
    return dict(
        top1=top1, balanced_acc=balanced, macro_f1=macro_f1,
        macro_auc=macro_auc)


def multilabel_auc(scores: torch.Tensor,
                   targets: torch.Tensor) -> Dict[str, object]:
    """Per-label and mean ROC AUC (in %) of a multi-label task, as reported
    for ChestX-ray14.

    Args:
        scores: (N, L) scores, higher = more likely positive.
        targets: (N, L) 0/1 (or bool) ground truth.

    Returns:
        dict: ``per_label_auc`` (list of L values, NaN for a label with only
        positives or only negatives) and ``mean_auc`` (mean over the defined
        ones; NaN if none).
    """
    scores = torch.as_tensor(scores)
    targets = torch.as_tensor(targets).bool()
    if scores.dim() != 2 or scores.shape != targets.shape:
        raise ValueError('multilabel_auc: scores and targets must both be '
                         f'(N, L), got {tuple(scores.shape)} and '
                         f'{tuple(targets.shape)}.')
    per_label = [
        binary_auc(scores[:, i], targets[:, i]) * 100
        for i in range(scores.shape[1])
    ]
    defined = [a for a in per_label if not math.isnan(a)]
    mean = sum(defined) / len(defined) if defined else float('nan')
    return dict(per_label_auc=per_label, mean_auc=mean)
