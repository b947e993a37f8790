# Copyright (c) mmmedssl contributors. All rights reserved.
import math
import warnings
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric

from mmmedssl.registry import METRICS


def knn_predict(features: torch.Tensor,
                labels: torch.Tensor,
                num_classes: int,
                k: int = 20,
                temperature: float = 0.07,
                groups: Optional[torch.Tensor] = None,
                chunk_size: int = 1024,
                return_has_neighbour: bool = False):
    """Leave-one-out weighted kNN class scores of every sample.

    Each sample is classified by its ``k`` most cosine-similar *other*
    samples, each voting for its label with weight ``exp(sim / temperature)``
    (the rule of Wu et al. 2018 used by most SSL kNN monitors). With
    ``groups``, neighbours from the query's own group (same lesion, patient or
    video) are excluded too, so that near-duplicate images of one source do
    not inflate the score.

    A sample left with no allowed neighbour (its group holds every other
    sample) gets no vote at all: its scores are all zero, which must not be
    read as a prediction of class 0. ``return_has_neighbour`` says which
    samples had at least one.

    Returns:
        Tensor | tuple: ``(N, num_classes)`` vote scores; with
        ``return_has_neighbour`` also an ``(N, )`` bool tensor, True where
        the sample had an allowed neighbour.
    """
    feats = F.normalize(features.float(), dim=1)
    n = feats.shape[0]
    k = min(k, n - 1)
    if k < 1:
        raise ValueError('kNN needs at least two samples.')
    scores = torch.zeros(n, num_classes)
    has_neighbour = torch.zeros(n, dtype=torch.bool)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        sim = feats[start:stop] @ feats.T
        rows = torch.arange(start, stop)
        sim[rows - start, rows] = -float('inf')
        if groups is not None:
            same = groups[start:stop, None] == groups[None, :]
            sim[same] = -float('inf')
        top_sim, top_idx = sim.topk(k, dim=1)
        has_neighbour[start:stop] = torch.isfinite(top_sim[:, 0])
        weights = (top_sim / temperature).exp()  # exp(-inf) = 0: no vote
        votes = F.one_hot(labels[top_idx], num_classes).float()
        scores[start:stop] = (votes * weights.unsqueeze(-1)).sum(dim=1)
    if return_has_neighbour:
        return scores, has_neighbour
    return scores


@METRICS.register_module()
class KNNAccuracy(BaseMetric):
    """Leave-one-out kNN accuracy on backbone features.

    A cheap monitor of self-supervised pretraining: run the evaluation loop
    over a labelled split with a model in ``'predict'`` mode (which stores
    pooled backbone features as ``feature`` in each data sample) and classify
    every sample by its nearest neighbours among the others.

    Args:
        k (int): Number of neighbours. Defaults to 20.
        temperature (float): Vote temperature. Defaults to 0.07.
        exclude_same_group (bool): Ignore neighbours that share the query's
            ``group_id`` (needs ``group_key`` in the dataset). Defaults to
            True.
        topk (Sequence[int]): Report top-k accuracies. Defaults to (1, ).
        prefix (str): Metric name prefix. Defaults to ``'knn'``.

    Besides top-k accuracy it reports ``balanced_acc``, the mean per-class
    recall of the top-1 prediction: medical sets are often dominated by one
    class (two thirds of HAM10000 are nevi), where plain accuracy can look
    good while rare classes are never found.

    A sample with no allowed neighbour (with ``exclude_same_group``, one
    whose group fills the split) cannot be classified: it is left out of the
    accuracies and counted in ``num_without_neighbour``. When no sample is
    left (a split of a single lesion or patient, or of one image) the
    accuracies are NaN and a warning says why, rather than a meaningless
    score.
    """
    default_prefix = 'knn'

    def __init__(self,
                 k: int = 20,
                 temperature: float = 0.07,
                 exclude_same_group: bool = True,
                 topk: Sequence[int] = (1, ),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.k = k
        self.temperature = temperature
        self.exclude_same_group = exclude_same_group
        self.topk = tuple(topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'feature' not in sample:
                raise KeyError(
                    'KNNAccuracy needs `feature` in each data sample: '
                    "evaluate a model whose 'predict' mode returns features "
                    '(any mmmedssl self-supervised algorithm).')
            if 'gt_label' not in sample:
                raise KeyError('KNNAccuracy needs labelled samples '
                               '(set label_key in the evaluation dataset).')
            self.results.append(
                dict(
                    feature=sample['feature'].detach().cpu(),
                    label=int(sample['gt_label'].reshape(-1)[0]),
                    group=sample.get('group_id')))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        feats = torch.stack([r['feature'] for r in results])
        labels = torch.tensor([r['label'] for r in results])
        groups = None
        if self.exclude_same_group and results[0]['group'] is not None:
            ids = {}
            groups = torch.tensor(
                [ids.setdefault(r['group'], len(ids)) for r in results])
        num_classes = int(labels.max()) + 1
        if len(results) > 1:
            scores, kept = knn_predict(
                feats, labels, num_classes, self.k, self.temperature, groups,
                return_has_neighbour=True)
        else:
            scores = torch.zeros(len(results), num_classes)
            kept = torch.zeros(len(results), dtype=torch.bool)
        metrics = {'num_without_neighbour': float((~kept).sum())}
        if not kept.any():
            warnings.warn(
                f'KNNAccuracy: none of the {len(results)} evaluated sample(s) '
                'has an allowed neighbour' +
                (' outside its own group (the split holds a single '
                 'group_id)' if groups is not None else '') +
                '; the kNN accuracies are NaN. Evaluate on a split with more '
                'samples' + (' and groups' if groups is not None else '') +
                '.')
            for topk in self.topk:
                metrics[f'top{topk}'] = math.nan
            metrics['balanced_acc'] = math.nan
            return metrics
        scores, labels = scores[kept], labels[kept]
        for topk in self.topk:
            pred = scores.topk(min(topk, num_classes), dim=1).indices
            correct = (pred == labels[:, None]).any(dim=1).float().mean()
            metrics[f'top{topk}'] = float(correct) * 100
        pred = scores.argmax(dim=1)
        recalls = [(pred[labels == c] == c).float().mean()
                   for c in labels.unique()]
        metrics['balanced_acc'] = float(torch.stack(recalls).mean()) * 100
        return metrics
