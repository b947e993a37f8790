# Copyright (c) mmmedssl contributors. All rights reserved.
"""The hand-written metrics of ``mmmedssl.evaluation.functional`` against
scikit-learn on random problems: many seeds, tied scores, a class absent
from the split, binary and multi-class, multi-label with a label that is
never (or always) positive.

Where a metric is undefined the two differ on purpose, and the tests pin
both behaviours: scikit-learn's ``roc_auc_score`` returns NaN (with an
``UndefinedMetricWarning``) for a class without positives or without
negatives and lets that NaN through its macro average; ours returns NaN for
that class too but averages the classes where the AUC is defined (NaN only
when there is none).
"""
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (accuracy_score, balanced_accuracy_score,
                             f1_score, roc_auc_score)

from mmmedssl.evaluation.functional import (binary_auc,
                                            classification_metrics,
                                            multilabel_auc)

SEEDS = range(25)


def _random_problem(seed: int, num_classes: int, n: int, absent=None,
                    ties: bool = False):
    """Softmax probabilities and labels; ``ties`` rounds the probabilities
    to one decimal so that many scores are equal; ``absent`` is a class
    that no label takes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    if absent is not None:
        labels[labels == absent] = (absent + 1) % num_classes
    # Logits that lean towards the true class, so the metrics are neither
    # all 0 nor all 100.
    logits = rng.normal(size=(n, num_classes))
    logits[np.arange(n), labels] += rng.uniform(0, 2)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    if ties:
        probs = np.round(probs, 1)
    return probs, labels


def _sklearn_metrics(probs, labels, num_classes):
    pred = probs.argmax(1)
    with warnings.catch_warnings():
        # "y_pred contains classes not in y_true": sklearn then averages the
        # recall of the classes present in y_true, as we do.
        warnings.simplefilter('ignore', UserWarning)
        balanced = balanced_accuracy_score(labels, pred)
    per_class_auc = []
    for c in range(num_classes):
        positive = labels == c
        if positive.all() or not positive.any():
            continue  # undefined: tested separately below
        per_class_auc.append(roc_auc_score(positive, probs[:, c]))
    return dict(
        top1=accuracy_score(labels, pred) * 100,
        balanced_acc=balanced * 100,
        macro_f1=f1_score(labels, pred, average='macro') * 100,
        macro_auc=np.mean(per_class_auc) * 100)


def _assert_close(ours: dict, ref: dict):
    assert ours.keys() == ref.keys()
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-9), key


@pytest.mark.parametrize('num_classes', [2, 3, 7])
@pytest.mark.parametrize('ties', [False, True])
def test_classification_metrics_match_sklearn(num_classes, ties):
    for seed in SEEDS:
        probs, labels = _random_problem(seed, num_classes, n=30 + seed,
                                        ties=ties)
        ours = classification_metrics(
            torch.from_numpy(probs), torch.from_numpy(labels), num_classes)
        _assert_close(ours, _sklearn_metrics(probs, labels, num_classes))


def test_binary_macro_auc_is_sklearns_binary_auc():
    # Two classes whose probabilities sum to 1: both one-vs-rest AUCs equal
    # the usual binary AUC of the positive class' score.
    for seed in SEEDS:
        probs, labels = _random_problem(seed, 2, n=25, ties=seed % 2 == 0)
        ours = classification_metrics(torch.from_numpy(probs),
                                      torch.from_numpy(labels), 2)
        ref = roc_auc_score(labels, probs[:, 1]) * 100
        assert ours['macro_auc'] == pytest.approx(ref, abs=1e-9)


def test_multiclass_auc_matches_sklearn_ovr_when_every_class_is_present():
    for seed in SEEDS:
        # Without ties: sklearn needs rows that sum to 1 here.
        probs, labels = _random_problem(seed, 4, n=60)
        if len(np.unique(labels)) < 4:
            continue
        ours = classification_metrics(torch.from_numpy(probs),
                                      torch.from_numpy(labels), 4)
        ref = roc_auc_score(labels, probs, multi_class='ovr',
                            average='macro') * 100
        assert ours['macro_auc'] == pytest.approx(ref, abs=1e-9)


def test_a_class_absent_from_the_split():
    """Class 1 never occurs in the labels (but may be predicted): balanced
    accuracy averages the present classes, macro F1 counts class 1 when it
    is predicted, and the macro AUC averages the defined classes, where
    sklearn's multi-class macro AUC is NaN."""
    predicted_absent = 0
    for seed in SEEDS:
        probs, labels = _random_problem(seed, 4, n=40, absent=1,
                                        ties=seed % 3 == 0)
        assert 1 not in labels
        predicted_absent += int((probs.argmax(1) == 1).any())
        ours = classification_metrics(torch.from_numpy(probs),
                                      torch.from_numpy(labels), 4)
        _assert_close(ours, _sklearn_metrics(probs, labels, 4))
        with pytest.warns(UndefinedMetricWarning):
            sk_macro = roc_auc_score(labels,
                                     probs / probs.sum(1, keepdims=True),
                                     multi_class='ovr',
                                     labels=[0, 1, 2, 3], average='macro')
        assert math.isnan(sk_macro) and not math.isnan(ours['macro_auc'])
    # The case "predicted but absent" (F1 counts it, recall does not) has
    # to occur for this test to mean anything.
    assert predicted_absent >= 5


def test_binary_auc_matches_sklearn_with_ties():
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        positive = rng.random(50) < 0.3
        scores = rng.integers(0, 5, 50).astype(float)  # many ties
        positive[:2] = [True, False]
        ours = binary_auc(torch.from_numpy(scores), torch.from_numpy(positive))
        assert ours == pytest.approx(roc_auc_score(positive, scores),
                                     abs=1e-12)


def test_binary_auc_undefined_is_nan_like_sklearn():
    scores = torch.tensor([0.2, 0.5, 0.9])
    for positive in ([1, 1, 1], [0, 0, 0]):
        assert math.isnan(binary_auc(scores, torch.tensor(positive)))
        with pytest.warns(UndefinedMetricWarning):
            assert math.isnan(roc_auc_score(positive, scores.numpy()))


def test_macro_auc_is_nan_when_no_class_has_an_auc():
    # One label only: no class has both positives and negatives.
    probs = torch.tensor([[0.7, 0.3], [0.4, 0.6]])
    out = classification_metrics(probs, torch.tensor([0, 0]), 2)
    assert math.isnan(out['macro_auc'])
    assert out['balanced_acc'] == 50.0 and out['top1'] == 50.0


def test_multilabel_auc_matches_sklearn_per_label():
    """Label 2 is never positive and label 4 always: their AUC is NaN in
    both; our mean averages the other labels, sklearn's macro is NaN."""
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        targets = (rng.random((40, 5)) < 0.3).astype(int)
        targets[:, 2] = 0
        targets[:, 4] = 1
        targets[:2, [0, 1, 3]] = [[1, 1, 1], [0, 0, 0]]
        scores = rng.normal(size=(40, 5)) + targets
        if seed % 2:
            scores = np.round(scores)  # ties
        ours = multilabel_auc(torch.from_numpy(scores),
                              torch.from_numpy(targets))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', UndefinedMetricWarning)
            ref = [roc_auc_score(targets[:, i], scores[:, i]) * 100
                   for i in range(5)]
            sk_macro = roc_auc_score(targets, scores, average='macro')
        assert math.isnan(ours['per_label_auc'][2]) and math.isnan(ref[2])
        assert math.isnan(ours['per_label_auc'][4]) and math.isnan(ref[4])
        for i in (0, 1, 3):
            assert ours['per_label_auc'][i] == pytest.approx(ref[i],
                                                             abs=1e-9)
        assert ours['mean_auc'] == pytest.approx(
            np.nanmean(ref), abs=1e-9)
        assert math.isnan(sk_macro)


def test_multilabel_auc_is_nan_when_no_label_is_defined():
    out = multilabel_auc(torch.rand(4, 2), torch.tensor([[1, 0]] * 4))
    assert all(math.isnan(a) for a in out['per_label_auc'])
    assert math.isnan(out['mean_auc'])
