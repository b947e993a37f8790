# Copyright (c) mmmedssl contributors. All rights reserved.
"""The L-BFGS linear probe against scikit-learn's ``LogisticRegression``
on a fixed problem with the equivalent regularisation.

Our objective (``_fit_lbfgs``) is ``sum_i w_i CE_i + wd / 2 ||W||^2`` with
weights ``w_i`` that sum to 1 (``1 / n``, or ``1 / (K n_c)`` when
class-balanced) and no penalty on the bias. scikit-learn's lbfgs solver
minimises ``C sum_i s_i CE_i + 1 / 2 ||W||^2``, also without penalising the
intercept. Dividing ours by ``wd``:

- multinomial (K >= 3 classes): ``C = 1 / (wd n)``; ``class_weight=
  'balanced'`` gives ``s_i = n / (K n_c)`` = ``n w_i``, so the same ``C``;
- binary: scikit-learn fits one vector ``beta``, we fit two softmax columns.
  At our optimum ``W_1 = -W_0 = beta / 2`` (the loss depends on
  ``W_1 - W_0`` only, and that split has the smallest norm), so our penalty
  is ``wd / 4 ||beta||^2`` and ``C = 2 / (wd n)``.

The softmax is unchanged by adding a constant to every intercept; both
start from zero and their intercept gradients sum to zero over the classes,
but we compare centred intercepts so as not to rely on that.

Tolerances: our L-BFGS stops on ``tolerance_change=1e-9`` with gradient
entries of up to ~1e-5 left, scikit-learn (``tol=1e-10``) goes on to ~1e-8.
Both reach the same objective value to ~1e-8 (relative); in the flattest
directions the parameters then still differ by up to ~5e-4 and the
probabilities by up to ~1e-4, which is what the tolerances below allow.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from mmmedssl.downstream.linear_probe import _fit_one, fit_linear_probe


def _problem(num_classes: int, n: int = 150, dim: int = 6, seed: int = 0,
             imbalance: bool = False):
    """Overlapping Gaussian classes (not separable, so the optimum is
    finite and the penalty matters)."""
    rng = np.random.default_rng(seed)
    share = np.arange(1, num_classes + 1, dtype=float) if imbalance else \
        np.ones(num_classes)
    labels = rng.choice(num_classes, n, p=share / share.sum())
    centres = rng.normal(scale=1.5, size=(num_classes, dim))
    x = centres[labels] + rng.normal(size=(n, dim))
    return x, labels


def _sample_weight(labels: np.ndarray, num_classes: int, balanced: bool):
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    if balanced:
        return 1.0 / (counts[labels] * num_classes)
    return np.full(len(labels), 1.0 / len(labels))


def _objective(x, labels, weight, bias, sample_weight, weight_decay):
    """Our objective, ``sum_i w_i CE_i + wd / 2 ||W||^2``."""
    logits = torch.as_tensor(x) @ torch.as_tensor(weight) + \
        torch.as_tensor(bias)
    losses = F.cross_entropy(logits, torch.as_tensor(labels),
                             reduction='none')
    return float((losses * torch.as_tensor(sample_weight)).sum() +
                 weight_decay / 2 * torch.as_tensor(weight).pow(2).sum())


def _sklearn(x, labels, c, balanced):
    model = LogisticRegression(
        C=c, class_weight='balanced' if balanced else None, tol=1e-10,
        max_iter=10000)
    return model.fit(x, labels)


@pytest.mark.parametrize('balanced', [False, True])
@pytest.mark.parametrize('weight_decay', [1e-3, 0.1])
def test_multinomial_probe_has_sklearns_optimum(balanced, weight_decay):
    num_classes = 4
    x, labels = _problem(num_classes, imbalance=True)
    sample_weight = _sample_weight(labels, num_classes, balanced)
    weight, bias = _fit_one(
        torch.from_numpy(x), torch.from_numpy(labels), num_classes,
        torch.from_numpy(sample_weight), weight_decay, max_iter=500)
    ref = _sklearn(x, labels, 1 / (weight_decay * len(labels)), balanced)

    ours = _objective(x, labels, weight, bias, sample_weight, weight_decay)
    theirs = _objective(x, labels, ref.coef_.T, ref.intercept_,
                        sample_weight, weight_decay)
    assert ours == pytest.approx(theirs, rel=1e-7)
    np.testing.assert_allclose(weight.numpy().T, ref.coef_, atol=1e-3)
    np.testing.assert_allclose(bias.numpy() - bias.numpy().mean(),
                               ref.intercept_ - ref.intercept_.mean(),
                               atol=1e-3)
    probs = torch.softmax(torch.from_numpy(x) @ weight + bias, dim=1)
    np.testing.assert_allclose(probs.numpy(), ref.predict_proba(x),
                               atol=2e-4)
    # A wrong mapping (C ten times larger) is far outside these bounds.
    wrong = _sklearn(x, labels, 10 / (weight_decay * len(labels)), balanced)
    assert np.abs(wrong.coef_ - weight.numpy().T).max() > 1e-2


def test_binary_probe_has_sklearns_optimum():
    x, labels = _problem(2, seed=1)
    weight_decay = 0.01
    weight, bias = _fit_one(
        torch.from_numpy(x), torch.from_numpy(labels), 2,
        torch.from_numpy(_sample_weight(labels, 2, balanced=False)),
        weight_decay, max_iter=500)
    ref = _sklearn(x, labels, 2 / (weight_decay * len(labels)), False)

    # Two softmax columns = one logistic regression on their difference.
    beta = (weight[:, 1] - weight[:, 0]).numpy()
    np.testing.assert_allclose(beta, ref.coef_[0], atol=1e-3)
    np.testing.assert_allclose(float(bias[1] - bias[0]), ref.intercept_[0],
                               atol=1e-3)
    # ... and the smallest-norm split of it.
    np.testing.assert_allclose(weight[:, 1].numpy(), -weight[:, 0].numpy(),
                               atol=1e-4)
    # The mapping matters: with C = 1 / (wd n) the optimum is another one.
    wrong = _sklearn(x, labels, 1 / (weight_decay * len(labels)), False)
    assert np.abs(wrong.coef_[0] - beta).max() > 1e-2


def test_fit_linear_probe_predicts_like_sklearn_on_standardised_features():
    """The whole probe (train standardisation, class balance, one weight
    decay) gives scikit-learn's probabilities on held-out data."""
    num_classes = 3
    x, labels = _problem(num_classes, n=200, seed=2, imbalance=True)
    x = x * np.array([1, 10, 0.1, 1, 5, 2]) + 3  # scales that matter
    train_x, train_y, test_x = x[:150], labels[:150], x[150:]
    weight_decay = 0.01
    probe = fit_linear_probe(
        torch.from_numpy(train_x), torch.from_numpy(train_y),
        torch.from_numpy(test_x), torch.from_numpy(labels[150:]),
        num_classes, weight_decays=[weight_decay], balanced=True)

    mean, std = train_x.mean(0), train_x.std(0)  # population std, as ours
    ref = _sklearn((train_x - mean) / std, train_y,
                   1 / (weight_decay * len(train_y)), balanced=True)
    np.testing.assert_allclose(
        probe.predict_proba(torch.from_numpy(test_x)).numpy(),
        ref.predict_proba((test_x - mean) / std), atol=2e-4)
