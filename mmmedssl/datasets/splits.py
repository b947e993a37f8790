# Copyright (c) mmmedssl contributors. All rights reserved.
"""Subsets drawn by group (lesion, patient, video): held-out splits and
low-label fractions that never put one source on both sides."""
import random
from collections import defaultdict
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import torch


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
    members = _group_members(groups, len(labels))
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


def _group_members(groups: Optional[Sequence[Hashable]],
                   num_samples: int) -> Dict[Hashable, List[int]]:
    """group -> its sample indices, in order of first appearance; every
    sample its own group when ``groups`` is None."""
    if groups is None:
        groups = list(range(num_samples))
    elif len(groups) != num_samples:
        raise ValueError(f'{len(groups)} group ids for {num_samples} '
                         'labels.')
    members = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    return members


def _split_groups_multilabel(labels, groups, fraction: float,
                             seed: int) -> Tuple[List[int], List[int]]:
    labels = [[int(c) for c in y] if isinstance(y, (list, tuple)) else
              [int(y)] for y in labels]
    members = _group_members(groups, len(labels))
    findings = {group: set().union(*(labels[i] for i in indices))
                for group, indices in members.items()}
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


def draw_groups(groups: Sequence[Hashable], fraction: float,
                seed: int = 0) -> List[Hashable]:
    """``round(fraction * len(groups))`` whole groups (at least one), sorted,
    drawn with ``seed``; all of them when ``fraction >= 1``. For groups
    without a single class, such as surgical videos."""
    if not 0 < fraction:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}.')
    if fraction >= 1:
        return list(groups)
    count = max(1, round(fraction * len(groups)))
    return sorted(random.Random(seed).sample(list(groups), count))


def check_split_ratios(ratios: Dict[str, float]) -> Dict[str, float]:
    """Validate ``{split name: fraction}`` (``dict(train=0.8, val=0.2)``):
    non-empty names, fractions >= 0 that sum to 1; returns a plain dict in
    the given order."""
    if not isinstance(ratios, dict) or not ratios:
        raise ValueError('split ratios must be a non-empty dict of split '
                         f'name -> fraction, e.g. dict(train=0.8, val=0.1, '
                         f'test=0.1); got {ratios!r}.')
    for name, ratio in ratios.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f'split ratios {ratios!r}: split name {name!r} '
                             'is not a non-empty string.')
        if (isinstance(ratio, bool) or not isinstance(ratio, (int, float))
                or not 0 <= ratio <= 1):
            raise ValueError(f'split ratios {ratios!r}: the fraction of '
                             f'{name!r} must be a number in [0, 1], got '
                             f'{ratio!r}.')
    total = sum(ratios.values())
    if abs(total - 1) > 1e-6:
        raise ValueError(f'split ratios {ratios!r} sum to {total:g}; they '
                         'must sum to 1.')
    return dict(ratios)


def _split_counts(num_groups: int, ratios: Dict[str, float]) -> List[int]:
    """Groups per split: largest remainders, then every split with a
    positive fraction gets a group when there are enough, taken from the
    largest split."""
    exact = [r * num_groups for r in ratios.values()]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)),
                          key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[:num_groups - sum(counts)]:
        counts[i] += 1
    wanted = [i for i, r in enumerate(ratios.values()) if r > 0]
    if num_groups >= len(wanted):
        for i in wanted:
            if counts[i] == 0:
                counts[max(range(len(counts)), key=counts.__getitem__)] -= 1
                counts[i] = 1
    return counts


def split_by_ratios(groups: Sequence[Hashable], ratios: Dict[str, float],
                    seed: int = 0) -> List[str]:
    """The split of each sample, made by group: the distinct groups
    (lesions, patients, videos; one per sample for ungrouped data) are
    shared out by ``ratios`` (``dict(train=0.8, val=0.1, test=0.1)``), so
    the fractions are of groups, not images, and no group is in two splits.

    The groups are sorted by ``str`` and shuffled with ``seed``, so the
    split depends only on the seed and the set of groups, not on the order
    of the samples. Counts are rounded by largest remainder, and every split
    with a positive fraction gets at least one group when there are enough.

    Returns:
        list[str]: the split name of each element of ``groups``.
    """
    ratios = check_split_ratios(ratios)
    order = sorted(set(groups), key=str)
    random.Random(seed).shuffle(order)
    split_of = {}
    start = 0
    for name, count in zip(ratios, _split_counts(len(order), ratios)):
        for group in order[start:start + count]:
            split_of[group] = name
        start += count
    return [split_of[group] for group in groups]
