# Copyright (c) mmmedssl contributors. All rights reserved.
"""Linear probing of frozen backbone features.

The standard evaluation of self-supervised pretraining: extract pooled
backbone features once, fit a multinomial logistic regression on a labelled
train split, choose its weight decay on a val split and report test metrics.
Everything is plain torch (no scikit-learn), full-batch and deterministic.

The workflow, shared by ``tools/analysis_tools/linear_probe.py`` and the
studies of ``tools/benchmarks/run_benchmark.py``:
:func:`load_labelled_split` per split of the config's ``test_dataloader``,
:func:`probe_train_indices` (held-out val part and label fraction, by
group), :func:`extract_split_features` per backbone, :func:`run_probe`.
"""
import contextlib
import copy
import math
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmmedssl.datasets import label_fraction_indices, split_groups
from mmmedssl.evaluation.functional import (classification_metrics,
                                            multilabel_auc)
from .features import Features, extract_features

# Half decades: on 1,600-image sets neighbouring decades differed by up to
# 2 test AUC points, so the cost of a near-miss pick halves with the step.
DEFAULT_WEIGHT_DECAYS = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3,
                         1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0)


# ----------------------------------------------------------------------
# Logistic regression
# ----------------------------------------------------------------------
@dataclass
class LinearProbe:
    """A fitted probe: standardisation, then a linear layer and softmax
    (multi-class) or one sigmoid per label (``multi_label``)."""
    weight_decay: float
    mean: torch.Tensor
    std: torch.Tensor
    weight: torch.Tensor  # (C, num_classes)
    bias: torch.Tensor  # (num_classes, )
    # Val metrics of every candidate weight decay, in grid order.
    val_metrics: List[Dict[str, float]] = field(default_factory=list)
    multi_label: bool = False
    # Every fitted candidate (this one included), in grid order: what each
    # weight decay would have given, for reports that keep the whole grid.
    candidates: List['LinearProbe'] = field(default_factory=list,
                                            repr=False)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = (torch.as_tensor(x).double() - self.mean) / self.std
        return x @ self.weight + self.bias

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            return self.logits(x).sigmoid().float()
        return self.logits(x).softmax(dim=1).float()


def _fit_lbfgs(x: torch.Tensor, y: torch.Tensor, width: int, loss_fn,
               sample_weight: torch.Tensor, weight_decay: float,
               max_iter: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Full-batch L-BFGS of a linear map ``x @ W + b`` (``width`` outputs)
    under ``sum(loss_fn(logits, y) * sample_weight) + wd / 2 * ||W||^2``."""
    # Zero start and float64: the same data gives the same solution.
    weight = torch.zeros(x.shape[1], width, dtype=torch.float64,
                         requires_grad=True)
    bias = torch.zeros(width, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias],
                                  lr=1,
                                  max_iter=max_iter,
                                  history_size=20,
                                  tolerance_grad=1e-6,
                                  tolerance_change=1e-9,
                                  line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        losses = loss_fn(x @ weight + bias, y, reduction='none')
        # The bias is not decayed: it only models the class frequencies.
        loss = (losses * sample_weight).sum() \
            + weight_decay / 2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return weight.detach(), bias.detach()


def _fit_one(x: torch.Tensor, y: torch.Tensor, num_classes: int,
             sample_weight: torch.Tensor, weight_decay: float,
             max_iter: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression (softmax + cross-entropy)."""
    return _fit_lbfgs(x, y, num_classes, F.cross_entropy, sample_weight,
                      weight_decay, max_iter)


def _fit_one_multilabel(x: torch.Tensor, y: torch.Tensor,
                        sample_weight: torch.Tensor, weight_decay: float,
                        max_iter: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """One independent logistic regression per label (sigmoid + binary
    cross-entropy), fitted jointly: the labels share no parameter, so this
    is the sum of the per-label problems."""
    return _fit_lbfgs(x, y, y.shape[1], F.binary_cross_entropy_with_logits,
                      sample_weight, weight_decay, max_iter)


def _multilabel_weights(y: torch.Tensor, balanced: bool) -> torch.Tensor:
    """``(N, L)`` weights; each label's column sums to 1. Balanced: its
    positives and its negatives weigh one half each (all of it for the only
    kind present)."""
    n = y.shape[0]
    if not balanced:
        return torch.full_like(y, 1.0 / n)
    n_pos = y.sum(dim=0)
    n_neg = n - n_pos
    both = (n_pos > 0) & (n_neg > 0)
    share = torch.where(both, torch.full_like(n_pos, 0.5),
                        torch.ones_like(n_pos))
    pos_w = torch.where(n_pos > 0, share / n_pos.clamp(min=1),
                        torch.zeros_like(n_pos))
    neg_w = torch.where(n_neg > 0, share / n_neg.clamp(min=1),
                        torch.zeros_like(n_neg))
    return torch.where(y > 0.5, pos_w.expand_as(y), neg_w.expand_as(y))


def _fit_multilabel_probe(train_x, train_y, val_x, val_y, num_classes,
                          weight_decays, balanced, max_iter) -> LinearProbe:
    train_y = torch.as_tensor(train_y).double()
    val_y = torch.as_tensor(val_y)
    if train_y.shape != (train_x.shape[0], num_classes):
        raise ValueError(
            f'fit_linear_probe: multi-label train_y must be (N, L) = '
            f'({train_x.shape[0]}, {num_classes}), got '
            f'{tuple(train_y.shape)}.')
    if not bool(((train_y == 0) | (train_y == 1)).all()):
        raise ValueError('fit_linear_probe: multi-label targets must be 0 '
                         'or 1.')
    if val_y.dim() != 2 or val_y.shape[1] != num_classes:
        raise ValueError(
            f'fit_linear_probe: multi-label val_y must be (N, {num_classes}'
            f'), got {tuple(val_y.shape)}.')
    mean = train_x.mean(dim=0)
    std = train_x.std(dim=0, unbiased=False)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    x = (train_x - mean) / std
    sample_weight = _multilabel_weights(train_y, balanced)

    val_metrics, candidates = [], []
    with _threads_for(x.numel() * num_classes):
        for wd in weight_decays:
            weight, bias = _fit_one_multilabel(x, train_y, sample_weight,
                                               float(wd), max_iter)
            probe = LinearProbe(float(wd), mean, std, weight, bias,
                                multi_label=True)
            candidates.append(probe)
            metrics = multilabel_auc(probe.predict_proba(val_x), val_y)
            metrics['loss'] = _multilabel_val_loss(probe, val_x, val_y,
                                                   balanced)
            val_metrics.append(dict(weight_decay=float(wd), **metrics))
    best = candidates[select_weight_decay(val_metrics)]
    best.val_metrics = val_metrics
    best.candidates = candidates
    return best


#: What each rule of :func:`select_weight_decay` ranks by, and whether
#: lower is better.
SELECTION_RULES = {
    'loss': True,
    'macro_auc': False,
    'balanced_acc': False,
    'mean_auc': False,
}


def select_weight_decay(val_grid: Sequence[Dict[str, float]],
                        by: str = 'loss') -> int:
    """Index of the candidate in ``val_grid`` (one dict of val metrics per
    weight decay, with ``weight_decay``) that a rule keeps: the lowest val
    loss (the probe's rule), or the highest ``macro_auc``, ``balanced_acc``
    or ``mean_auc``. Ties go to the stronger weight decay; a NaN (no AUC
    defined) ranks last.

    The probe ranks by val loss, the class-weighted cross-entropy it
    minimises: a proper score of every val probability. Balanced accuracy
    counts images on one side of a threshold and val AUC saturates (0.98
    on chest X-rays); both kept near-ties whose test AUCs differed by 1-4
    points (docs/benchmarks.md, "The probe's weight decay").
    """
    if by not in SELECTION_RULES:
        raise ValueError(f'select_weight_decay: unknown rule {by!r}; one of '
                         f'{sorted(SELECTION_RULES)}.')
    if not val_grid:
        raise ValueError('select_weight_decay: val_grid is empty.')

    def key(i):
        entry = val_grid[i]
        if by not in entry:
            raise KeyError(f'select_weight_decay: candidate {i} (weight '
                           f'decay {entry.get("weight_decay")}) has no '
                           f'{by!r}; it has {sorted(entry)}.')
        value = float(entry[by])
        if math.isnan(value):
            value = math.inf if SELECTION_RULES[by] else -math.inf
        score = -value if SELECTION_RULES[by] else value
        return (score, float(entry['weight_decay']))

    return max(range(len(val_grid)), key=key)


def compare_selection_rules(result: Dict, rules: Sequence[str],
                            metric: str = 'macro_auc') -> Dict[str, Dict]:
    """What each rule would have kept from one probe result (``val_grid``
    and ``test_grid``, as :func:`run_probe` and ``linear_probe.py --out``
    write them): its weight decay, its test ``metric`` and the test
    ``metric`` given up against the best candidate of the grid."""
    val_grid, test_grid = result.get('val_grid'), result.get('test_grid')
    if not val_grid or not test_grid:
        raise ValueError('compare_selection_rules: the result has no '
                         'val_grid/test_grid (probe results keep them '
                         'since session 26).')
    if [v['weight_decay'] for v in val_grid] != \
            [t['weight_decay'] for t in test_grid]:
        raise ValueError('compare_selection_rules: val_grid and test_grid '
                         'list different weight decays.')
    best = max(float(t[metric]) for t in test_grid)
    out = {}
    for rule in rules:
        index = select_weight_decay(val_grid, by=rule)
        test = float(test_grid[index][metric])
        out[rule] = dict(weight_decay=float(val_grid[index]['weight_decay']),
                         test=test, given_up=best - test)
    return out


def _val_loss(probe: 'LinearProbe', val_x: torch.Tensor, val_y: torch.Tensor,
              num_classes: int, balanced: bool) -> float:
    """Cross-entropy of the val split, weighted as the fit weighs train:
    every class present counts the same when ``balanced``."""
    val_y = torch.as_tensor(val_y).long().reshape(-1)
    losses = F.cross_entropy(probe.logits(val_x), val_y, reduction='none')
    return float((losses * _sample_weights(val_y, num_classes,
                                           balanced)).sum())


def _multilabel_val_loss(probe: 'LinearProbe', val_x: torch.Tensor,
                         val_y: torch.Tensor, balanced: bool) -> float:
    """Binary cross-entropy of the val split, each label weighted as the
    fit weighs it, averaged over the labels."""
    val_y = torch.as_tensor(val_y).double()
    losses = F.binary_cross_entropy_with_logits(
        probe.logits(val_x), val_y, reduction='none')
    weight = _multilabel_weights(val_y, balanced)
    return float((losses * weight).sum() / val_y.shape[1])


def _sample_weights(y: torch.Tensor, num_classes: int,
                    balanced: bool) -> torch.Tensor:
    """Per-sample weights summing to 1; balanced: every class present
    weighs the same."""
    if not balanced:
        return torch.full((y.numel(), ), 1.0 / y.numel(),
                          dtype=torch.float64)
    counts = torch.bincount(y, minlength=num_classes).double()
    present = counts > 0
    class_weight = torch.zeros(num_classes, dtype=torch.float64)
    class_weight[present] = 1.0 / (counts[present] * int(present.sum()))
    return class_weight[y]


def fit_linear_probe(train_x: torch.Tensor,
                     train_y: torch.Tensor,
                     val_x: torch.Tensor,
                     val_y: torch.Tensor,
                     num_classes: int,
                     weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
                     balanced: bool = True,
                     max_iter: int = 500) -> LinearProbe:
    """Fit a multinomial logistic regression on frozen features, or one
    logistic regression per label for multi-label targets.

    Features are standardised with the train mean and std. Each candidate
    weight decay (an L2 penalty ``wd / 2 * ||W||^2`` on the mean per-sample
    loss) is fitted full-batch with L-BFGS from zero; the one with the
    lowest val loss (``loss`` in ``val_metrics``: the cross-entropy of the
    val split, class-weighted like the fit) is kept, ties going to the
    stronger decay.

    Multi-label (``train_y`` of shape ``(N, L)``, 0/1, as
    ``extract_features`` returns for ChestX-ray14): an independent sigmoid
    and binary cross-entropy per label (the penalty is the same per label),
    the weight decay with the lowest val loss (the binary cross-entropy,
    weighted like the fit, averaged over labels; ties go to the stronger
    decay) is kept, ``val_metrics`` hold ``loss``, ``mean_auc`` and
    ``per_label_auc``, and ``predict_proba`` returns per-label sigmoids.

    Args:
        train_x, train_y: ``(N, C)`` features and ``(N, )`` labels (or
            ``(N, L)`` multi-hot targets).
        val_x, val_y: the split that picks the weight decay.
        num_classes (int): Number of classes (labels).
        weight_decays (Sequence[float]): The grid to search.
        balanced (bool): Weight the cross-entropy by inverse class frequency,
            so every class counts as much as the others (medical sets are
            often dominated by one class). Multi-label: a label's positives
            and negatives weigh the same. Defaults to True.
        max_iter (int): L-BFGS iterations per candidate.

    Returns:
        LinearProbe: with ``weight_decay`` (the chosen value),
        ``predict_proba(x)`` and ``val_metrics`` of every candidate.
    """
    train_x = torch.as_tensor(train_x).double()
    if torch.as_tensor(train_y).dim() == 2 and \
            torch.as_tensor(train_y).shape[1] == num_classes:
        if train_x.dim() != 2 or train_x.shape[0] != len(train_y):
            raise ValueError(
                f'fit_linear_probe: expected train_x of shape (N, C) with '
                f'N = {len(train_y)} targets, got {tuple(train_x.shape)}.')
        if train_x.shape[0] == 0:
            raise ValueError('fit_linear_probe: the train split is empty.')
        if not weight_decays:
            raise ValueError('fit_linear_probe: weight_decays is empty.')
        return _fit_multilabel_probe(train_x, train_y, val_x, val_y,
                                     num_classes, weight_decays, balanced,
                                     max_iter)
    train_y = torch.as_tensor(train_y).long().reshape(-1)
    if train_x.dim() != 2 or train_x.shape[0] != train_y.numel():
        raise ValueError(
            f'fit_linear_probe: expected train_x of shape (N, C) with '
            f'N = {train_y.numel()} labels, got {tuple(train_x.shape)}.')
    if train_y.numel() == 0:
        raise ValueError('fit_linear_probe: the train split is empty.')
    if int(train_y.min()) < 0 or int(train_y.max()) >= num_classes:
        raise ValueError(
            f'fit_linear_probe: train labels must lie in [0, {num_classes}), '
            f'got [{int(train_y.min())}, {int(train_y.max())}].')
    if not weight_decays:
        raise ValueError('fit_linear_probe: weight_decays is empty.')

    mean = train_x.mean(dim=0)
    std = train_x.std(dim=0, unbiased=False)
    # Constant features (dead channels) would divide by zero.
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    x = (train_x - mean) / std

    sample_weight = _sample_weights(train_y, num_classes, balanced)

    val_metrics, candidates = [], []
    with _threads_for(x.numel() * num_classes):
        for wd in weight_decays:
            weight, bias = _fit_one(x, train_y, num_classes, sample_weight,
                                    float(wd), max_iter)
            probe = LinearProbe(float(wd), mean, std, weight, bias)
            candidates.append(probe)
            metrics = classification_metrics(
                probe.predict_proba(val_x), val_y, num_classes)
            metrics['loss'] = _val_loss(probe, val_x, val_y, num_classes,
                                        balanced)
            val_metrics.append(dict(weight_decay=float(wd), **metrics))
    best = candidates[select_weight_decay(val_metrics)]
    best.val_metrics = val_metrics
    best.candidates = candidates
    return best


@contextlib.contextmanager
def _threads_for(work: int):
    """One thread for small problems: there each L-BFGS step is a few tiny
    ops, and waking the thread pool costs more than the math (30x slower on
    a busy 2-core machine)."""
    threads = torch.get_num_threads()
    if work >= 1 << 22 or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------
# Workflow: labelled splits -> features -> probe -> test metrics
# ----------------------------------------------------------------------
class LabelledSplit(NamedTuple):
    """One split of a config's ``test_dataloader`` dataset: the dataset,
    each sample's label (a class index, or the list of positive classes of
    a multi-label set) and group (None when the data has no groups)."""
    split: str
    dataset: object
    labels: list
    groups: Optional[list]


def load_labelled_split(cfg: Config, split: str) -> LabelledSplit:
    """The ``test_dataloader`` dataset of ``cfg`` with ``split=split``.

    Every split shares the evaluation pipeline. Raises ValueError (naming
    the config and the split) when the dataset has no ``split`` key or no
    labels.
    """
    from mmmedssl.registry import DATASETS
    loader = cfg.get('test_dataloader')
    dataset_cfg = loader.get('dataset') if isinstance(loader, dict) else None
    if dataset_cfg is None:
        raise ValueError(
            f'{cfg.filename} has no test_dataloader: the data has no labels '
            'to probe, and the linear probe needs labelled splits (a '
            'test_dataloader.dataset with split=... and labels).')
    if not isinstance(dataset_cfg, dict) or 'split' not in dataset_cfg:
        raise ValueError(
            f'{cfg.filename}: test_dataloader.dataset has no `split` key; the '
            'linear probe builds its train/val/test sets by overriding it '
            '(expected a dataset such as MedImageList with split=...).')
    if dataset_cfg.get('label_key') is None and \
            dataset_cfg.get('label_from') is None and \
            dataset_cfg.get('type') != 'ChestXray14':
        raise ValueError(
            f'{cfg.filename}: test_dataloader.dataset has no label_key '
            "(label_from='parent' for MedImageFolder): the data has no "
            'labels, and the linear probe needs labelled splits.')
    dataset_cfg = dict(copy.deepcopy(dataset_cfg), split=split)
    try:
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope') or 'mmmedssl'):
            dataset = DATASETS.build(dataset_cfg)
            dataset.full_init()
    except (ValueError, KeyError, FileNotFoundError) as err:
        raise ValueError(f'split {split!r}: {err}') from None
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    if not all('gt_label' in info for info in infos):
        raise ValueError(
            f'{cfg.filename}: the {split!r} split of test_dataloader.dataset '
            'has no labels (gt_label); the linear probe needs labelled '
            'splits (label_key, or with_label=True for ChestXray14).')
    if any(_is_multi_label(info['gt_label']) for info in infos):
        # Lists of positive classes (possibly empty): multi-label.
        labels = [[int(c) for c in info['gt_label']] for info in infos]
        # Multi-label sets (ChestXray14) always carry their patients.
        has_groups = all('group_id' in info for info in infos)
    else:
        labels = [int(info['gt_label']) for info in infos]
        has_groups = bool(dataset_cfg.get('group_key'))
    groups = [info['group_id'] for info in infos] if has_groups else None
    return LabelledSplit(split, dataset, labels, groups)


def _is_multi_label(label) -> bool:
    return isinstance(label, (list, tuple)) or getattr(label, 'ndim', 0) > 0


def probe_task(splits: Sequence[LabelledSplit]) -> Tuple[bool, int]:
    """``(multi_label, num_classes)`` of labelled splits: the number of
    classes is the dataset's class list or the largest label + 1, whichever
    is larger."""
    labels = [y for part in splits for y in part.labels]
    num_names = max(len(part.dataset.metainfo.get('classes') or ())
                    for part in splits)
    multi_label = any(isinstance(y, list) for y in labels)
    if multi_label:
        top = max((max(y) for y in labels if y), default=-1)
    else:
        top = max(labels)
    return multi_label, max(top + 1, num_names)


def probe_train_indices(train: LabelledSplit,
                        label_fraction: float = 1.0,
                        seed: int = 0,
                        val_fraction: Optional[float] = None
                        ) -> Tuple[List[int], Optional[List[int]]]:
    """Rows of the train split that the probe fits on and, with
    ``val_fraction``, the rows held out as its val part.

    Both are drawn by whole groups with ``seed``; the held-out part is drawn
    first, so it does not change with ``label_fraction`` (which keeps that
    fraction of the remaining groups per class, see
    :func:`mmmedssl.datasets.label_fraction_indices`).
    """
    labels, groups = train.labels, train.groups
    val_idx, train_idx = None, list(range(len(labels)))
    if val_fraction is not None:
        val_idx, train_idx = split_groups(labels, groups, val_fraction, seed)
    if label_fraction < 1:
        kept = label_fraction_indices(
            [labels[i] for i in train_idx],
            None if groups is None else [groups[i] for i in train_idx],
            label_fraction, seed)
        train_idx = [train_idx[k] for k in kept]
    return train_idx, val_idx


def build_split_loaders(cfg: Config,
                        splits: Dict[str, LabelledSplit]) -> Dict[str, object]:
    """name -> a dataloader of that split, with ``test_dataloader``'s
    settings."""
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope') or 'mmmedssl'):
        return {
            name: Runner.build_dataloader(
                dict(copy.deepcopy(cfg.test_dataloader),
                     dataset=part.dataset))
            for name, part in splits.items()
        }


def extract_split_features(model, loaders: Dict[str, object],
                           multi_label: bool,
                           num_classes: int) -> Dict[str, Features]:
    """name -> :class:`Features` of each dataloader."""
    return {
        name: extract_features(model, loader, multi_label=multi_label,
                               num_classes=num_classes)
        for name, loader in loaders.items()
    }


def run_probe(features: Dict[str, Features],
              num_classes: int,
              train_indices: Optional[Sequence[int]] = None,
              val_indices: Optional[Sequence[int]] = None,
              weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
              max_iter: int = 500) -> dict:
    """Fit a probe on ``features['train']`` (its rows ``train_indices``,
    all by default), choose its weight decay on ``features['val']`` (or on
    the train rows ``val_indices``) and report ``features['test']``'s
    metrics (``classification_metrics``, or ``multilabel_auc`` for
    multi-hot targets).

    Returns:
        dict: ``feature_dim``, ``weight_decay``, ``test`` and ``val``
        metrics, ``val_grid`` and ``test_grid`` (every candidate's val and
        test metrics, in grid order; only val chooses) and ``train_size``.
    """
    train = features['train']
    train_x, train_y = train.feats, train.labels
    if train_indices is not None:
        train_x, train_y = train_x[list(train_indices)], \
            train_y[list(train_indices)]
    if val_indices is not None:
        val_x = train.feats[list(val_indices)]
        val_y = train.labels[list(val_indices)]
    else:
        val_x, val_y = features['val'].feats, features['val'].labels
    probe = fit_linear_probe(train_x, train_y, val_x, val_y, num_classes,
                             weight_decays=weight_decays, max_iter=max_iter)
    test_x, test_y = features['test'].feats, features['test'].labels

    def test_metrics(candidate: LinearProbe) -> dict:
        if candidate.multi_label:
            return multilabel_auc(candidate.predict_proba(test_x), test_y)
        return classification_metrics(candidate.predict_proba(test_x),
                                      test_y, num_classes)

    test = test_metrics(probe)
    # Reported, never used to choose: how much the val pick mattered.
    test_grid = [dict(weight_decay=c.weight_decay, **test_metrics(c))
                 for c in probe.candidates]
    chosen = next(m for m in probe.val_metrics
                  if m['weight_decay'] == probe.weight_decay)
    return dict(
        feature_dim=int(test_x.shape[1]),
        weight_decay=probe.weight_decay,
        test=test,
        val={k: v for k, v in chosen.items() if k != 'weight_decay'},
        val_grid=probe.val_metrics,
        test_grid=test_grid,
        train_size=int(train_x.shape[0]))
