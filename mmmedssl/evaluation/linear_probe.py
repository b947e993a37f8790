# Copyright (c) mmmedssl contributors. All rights reserved.
"""Linear probing of frozen backbone features.

The standard evaluation of self-supervised pretraining: extract pooled
backbone features once, fit a multinomial logistic regression on a labelled
train split, choose its weight decay on a val split and report test metrics.
Everything is plain torch (no scikit-learn), full-batch and deterministic.
"""
import contextlib
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

DEFAULT_WEIGHT_DECAYS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


@torch.no_grad()
def extract_features(model,
                     dataloader,
                     multi_label: Optional[bool] = None,
                     num_classes: Optional[int] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pooled backbone features and labels of every sample of a dataloader.

    Runs the model's data preprocessor and
    ``BaseMedSelfSupervisor.extract_pooled_feat`` in eval mode (BatchNorm
    uses its running statistics), so any mmmedssl self-supervised algorithm
    works; a classifier (mmpretrain ``ImageClassifier``, whose
    ``extract_feat`` ends with its pooling neck) gives its neck's output.
    Multi-view inputs contribute their first view, as in ``predict``.

    Args:
        model: An mmmedssl self-supervised algorithm or a classifier.
        dataloader: Yields labelled batches.
        multi_label (bool, optional): Return multi-hot targets. None
            (default) decides from the data: multi-label when a sample has
            ``gt_score`` or a ``gt_label`` with other than exactly one entry
            (ChestX-ray14's lists of positive classes).
        num_classes (int, optional): Width of the multi-hot targets; by
            default the length of ``gt_score``, else the number of classes
            of ``dataloader.dataset``, else the largest index + 1.

    Returns:
        tuple: ``(feats, labels)``, a float tensor ``(N, C)`` on the CPU and,
        in the dataloader's order, a long tensor ``(N, )`` of class indices
        (multi-class) or a float tensor ``(N, L)`` of 0/1 targets
        (multi-label).
    """
    if hasattr(model, 'extract_pooled_feat'):
        pooled = model.extract_pooled_feat
    elif hasattr(model, 'extract_feat') and getattr(model, 'with_neck',
                                                    False):
        def pooled(inputs):
            out = model.extract_feat(inputs)
            out = out[-1] if isinstance(out, (tuple, list)) else out
            return out.flatten(1)
    else:
        raise TypeError(
            f'{type(model).__name__} has no extract_pooled_feat: expected an '
            'mmmedssl self-supervised algorithm (BaseMedSelfSupervisor) or '
            'a classifier with a pooling neck.')
    was_training = model.training
    model.eval()
    feats, label_lists, scores = [], [], []
    try:
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            inputs = data['inputs']
            if isinstance(inputs, (list, tuple)):
                inputs = inputs[0]
            samples = data.get('data_samples') or []
            if len(samples) != inputs.shape[0] or not all(
                    'gt_label' in s for s in samples):
                raise KeyError(
                    'extract_features needs a labelled dataset: every data '
                    'sample must have gt_label (set label_key in the '
                    "dataloader's dataset).")
            feats.append(pooled(inputs).float().cpu())
            for s in samples:
                label_lists.append(
                    [int(v) for v in torch.as_tensor(s.gt_label).reshape(-1)])
                scores.append(
                    torch.as_tensor(s.gt_score).detach().float().cpu()
                    .reshape(-1) if 'gt_score' in s else None)
    finally:
        model.train(was_training)
    if not feats:
        raise ValueError('extract_features: the dataloader is empty.')
    if multi_label is None:
        multi_label = any(score is not None or len(label) != 1
                          for label, score in zip(label_lists, scores))
    if not multi_label:
        return torch.cat(feats), torch.tensor(
            [label[0] for label in label_lists], dtype=torch.long)
    if num_classes is None:
        widths = {s.numel() for s in scores if s is not None}
        classes = getattr(getattr(dataloader, 'dataset', None), 'metainfo',
                          {}).get('classes')
        if widths:
            num_classes = max(widths)
        elif classes:
            num_classes = len(classes)
        else:
            num_classes = 1 + max(
                (max(label) for label in label_lists if label), default=0)
    targets = torch.zeros(len(label_lists), num_classes)
    for row, (label, score) in enumerate(zip(label_lists, scores)):
        if score is not None:
            targets[row] = (score >= 0.5).float()
        elif label:
            if min(label) < 0 or max(label) >= num_classes:
                raise ValueError(f'extract_features: gt_label {label} out of '
                                 f'range for {num_classes} classes.')
            targets[row, label] = 1
    return torch.cat(feats), targets


# ----------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------
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

    best, best_key, val_metrics = None, None, []
    with _threads_for(x.numel() * num_classes):
        for wd in weight_decays:
            weight, bias = _fit_one_multilabel(x, train_y, sample_weight,
                                               float(wd), max_iter)
            probe = LinearProbe(float(wd), mean, std, weight, bias,
                                multi_label=True)
            metrics = multilabel_auc(probe.predict_proba(val_x), val_y)
            val_metrics.append(dict(weight_decay=float(wd), **metrics))
            # Best val mean AUC; ties go to the stronger regularisation.
            auc = metrics['mean_auc']
            key = (-1.0 if math.isnan(auc) else auc, float(wd))
            if best_key is None or key > best_key:
                best, best_key = probe, key
    best.val_metrics = val_metrics
    return best


def _selection_key(metrics: Dict[str, float], weight_decay: float):
    # Best val balanced accuracy; ties (common on small val sets) go to the
    # higher macro AUC, then to the stronger regularisation.
    auc = metrics['macro_auc']
    return (metrics['balanced_acc'], -1.0 if math.isnan(auc) else auc,
            weight_decay)


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
    loss) is fitted full-batch with L-BFGS from zero; the one with the best
    val balanced accuracy is kept.

    Multi-label (``train_y`` of shape ``(N, L)``, 0/1, as
    ``extract_features`` returns for ChestX-ray14): an independent sigmoid
    and binary cross-entropy per label (the penalty is the same per label),
    the weight decay with the best val mean AUC (``multilabel_auc``; ties go
    to the stronger decay) is kept, ``val_metrics`` hold ``mean_auc`` and
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

    counts = torch.bincount(train_y, minlength=num_classes).double()
    if balanced:
        present = counts > 0
        class_weight = torch.zeros(num_classes, dtype=torch.float64)
        class_weight[present] = 1.0 / (counts[present] * int(present.sum()))
        sample_weight = class_weight[train_y]
    else:
        sample_weight = torch.full((train_y.numel(), ),
                                   1.0 / train_y.numel(),
                                   dtype=torch.float64)

    best, best_key, val_metrics = None, None, []
    with _threads_for(x.numel() * num_classes):
        for wd in weight_decays:
            weight, bias = _fit_one(x, train_y, num_classes, sample_weight,
                                    float(wd), max_iter)
            probe = LinearProbe(float(wd), mean, std, weight, bias)
            metrics = classification_metrics(
                probe.predict_proba(val_x), val_y, num_classes)
            val_metrics.append(dict(weight_decay=float(wd), **metrics))
            key = _selection_key(metrics, float(wd))
            if best_key is None or key > best_key:
                best, best_key = probe, key
    best.val_metrics = val_metrics
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
# Group-wise subsets
# ----------------------------------------------------------------------
def split_groups(labels: Sequence[int],
                 groups: Optional[Sequence[Hashable]],
                 fraction: float,
                 seed: int = 0) -> Tuple[List[int], List[int]]:
    """Split sample indices by group: about ``fraction`` of the groups of
    each class go to the first part, the rest to the second.

    Whole groups (lesions, patients) stay together, so images of one source
    never end up on both sides. Groups are drawn per class (a group's class
    is its most frequent label), so rare classes keep at least one group
    and, when ``fraction < 1`` and a class has two or more groups, leave at
    least one to the second part. With ``groups=None`` every sample is its
    own group. The draw depends only on ``seed`` and the set of (group,
    label) pairs, not on the order of the samples.

    Multi-label samples (each label a list or tuple of positive class
    indices, possibly empty, as ChestX-ray14's ``gt_label``; or ``labels`` a
    2-D ``(N, L)`` 0/1 tensor) cannot be stratified by one class: about
    ``fraction`` of all the groups (at least one) go to the first part,
    drawn with ``seed``, and then, for each class that some group has but no
    kept group has, the first such group of the draw is added, so that the
    first part sees every finding present (a few groups more than
    ``fraction`` at very low fractions).

    Returns:
        tuple: ``(kept, rest)``, sorted lists of sample indices.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}.')
    if isinstance(labels, torch.Tensor) and labels.dim() == 2:
        labels = [row.nonzero().reshape(-1).tolist() for row in labels]
    if any(isinstance(y, (list, tuple)) for y in labels):
        return _split_groups_multilabel(labels, groups, fraction, seed)
    labels = [int(y) for y in labels]
    if groups is None:
        groups = list(range(len(labels)))
    elif len(groups) != len(labels):
        raise ValueError(f'{len(groups)} group ids for {len(labels)} '
                         'labels.')
    members = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    by_class = defaultdict(list)
    for group, indices in members.items():
        votes = defaultdict(int)
        for index in indices:
            votes[labels[index]] += 1
        label = max(sorted(votes), key=lambda c: votes[c])
        by_class[label].append(group)

    rng = random.Random(seed)
    kept = []
    for label in sorted(by_class):
        # Sorting by str makes the draw independent of the input order.
        class_groups = sorted(by_class[label], key=str)
        rng.shuffle(class_groups)
        n = max(1, round(fraction * len(class_groups)))
        if fraction < 1 and n == len(class_groups) > 1:
            n -= 1  # leave the second part a group of this class too
        for group in class_groups[:n]:
            kept.extend(members[group])
    kept_set = set(kept)
    rest = [i for i in range(len(labels)) if i not in kept_set]
    return sorted(kept), rest


def _split_groups_multilabel(labels, groups, fraction: float,
                             seed: int) -> Tuple[List[int], List[int]]:
    labels = [[int(c) for c in y] if isinstance(y, (list, tuple)) else
              [int(y)] for y in labels]
    if groups is None:
        groups = list(range(len(labels)))
    elif len(groups) != len(labels):
        raise ValueError(f'{len(groups)} group ids for {len(labels)} '
                         'labels.')
    members = defaultdict(list)
    findings = defaultdict(set)
    for index, group in enumerate(groups):
        members[group].append(index)
        findings[group].update(labels[index])
    # Sorting by str makes the draw independent of the input order.
    order = sorted(members, key=str)
    random.Random(seed).shuffle(order)
    n = max(1, round(fraction * len(order)))
    if fraction < 1 and n == len(order) > 1:
        n -= 1
    chosen = order[:n]
    covered = set().union(*(findings[g] for g in chosen))
    for label in sorted(set().union(*findings.values()) - covered):
        if label in covered:
            continue
        group = next(g for g in order[n:] if label in findings[g])
        chosen.append(group)
        covered |= findings[group]
    kept = sorted(i for g in chosen for i in members[g])
    kept_set = set(kept)
    rest = [i for i in range(len(labels)) if i not in kept_set]
    return kept, rest


def label_fraction_indices(labels: Sequence[int],
                           groups: Optional[Sequence[Hashable]],
                           fraction: float,
                           seed: int = 0) -> List[int]:
    """Indices of the samples kept for a low-label experiment: the samples
    of about ``fraction`` of the groups of each class (at least one group per
    class), drawn with ``seed``; for multi-label samples, about ``fraction``
    of all groups, then enough for every finding to be kept. See
    :func:`split_groups`."""
    if fraction == 1:
        return list(range(len(labels)))
    return split_groups(labels, groups, fraction, seed)[0]
