# Copyright (c) mmmedssl contributors. All rights reserved.
"""Multi-label classification: MedClassificationMetric's per-label and mean
AUC against hand-computed values, the multi-label linear probe on a
separable multi-hot toy problem and its weight decay choice, and the
multi-label group draws."""
import random

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmmedssl.datasets import label_fraction_indices, split_groups
from mmmedssl.downstream import fit_linear_probe
from mmmedssl.evaluation import (MedClassificationMetric,
                                 classification_metrics, multilabel_auc)


def _evaluate(metric, scores, labels, gt_scores=None):
    samples = []
    for i, (score, label) in enumerate(zip(scores, labels)):
        sample = DataSample().set_pred_score(torch.tensor(score))
        if label is not None:
            sample.set_gt_label(label)
        if gt_scores is not None:
            sample.set_gt_score(torch.tensor(gt_scores[i]))
        samples.append(sample.to_dict())
    metric.process(None, samples)
    return metric.evaluate(len(samples))


# 4 samples, 3 labels. gt_label lists the positive classes.
SCORES = [[0.9, 0.1, 0.3], [0.4, 0.8, 0.3], [0.6, 0.7, 0.2],
          [0.2, 0.3, 0.9]]
LABELS = [[0], [1], [0, 1], []]


def test_multilabel_metric_by_hand():
    # label 0 positives: samples 0 (0.9) and 3 (0.2); negatives: samples 1
    # (0.4) and 2 (0.6) -> pairs (0.9>0.4, 0.9>0.6, 0.2<0.4, 0.2<0.6)
    # = 2/4 = 0.5.
    # label 1 positives: samples 1 (0.8) and 2 (0.7); negatives: samples 0
    # (0.1) and 3 (0.3) -> 4/4 = 1.
    # label 2: only negatives -> undefined, left out of the mean.
    labels = [[0], [1], [1], [0]]
    metric = MedClassificationMetric(multi_label=True)
    metric.dataset_meta = dict(classes=('Mass', 'Nodule', 'Pleural Thick'))
    out = _evaluate(metric, SCORES, labels)
    assert out == {
        'cls/auc_Mass': pytest.approx(50.0),
        'cls/auc_Nodule': pytest.approx(100.0),
        'cls/mean_auc': pytest.approx(75.0),
        'cls/num_auc_labels': 2,
    }
    # Same from multi-hot gt_score, with ties: label 2 scores tie (0.3,
    # 0.3) between a positive and a negative and counts one half.
    gt = [[1, 0, 1], [0, 1, 0], [0, 1, 0], [1, 0, 1]]
    # label 2 positives: samples 0 (0.3) and 3 (0.9); negatives: samples 1
    # (0.3) and 2 (0.2) -> (0.3=0.3: 1/2, 0.3>0.2: 1, 0.9>0.3, 0.9>0.2)
    # = 3.5 / 4.
    metric = MedClassificationMetric()  # auto: gt_score -> multi-label
    metric.dataset_meta = dict(classes=('Mass', 'Nodule', 'Pleural Thick'))
    out = _evaluate(metric, SCORES, [None] * 4, gt_scores=gt)
    assert out['cls/auc_Pleural_Thick'] == pytest.approx(87.5)
    assert out['cls/mean_auc'] == pytest.approx((50 + 100 + 87.5) / 3)
    assert out['cls/num_auc_labels'] == 3


def test_multilabel_metric_auto_detection_and_edge_cases():
    # Empty and two-finding gt_labels make the set multi-label; without
    # class names the keys use the label index.
    metric = MedClassificationMetric()
    out = _evaluate(metric, SCORES, LABELS)
    # label 0: pos (0.9, 0.6) vs neg (0.4, 0.2) -> 1; label 1: pos (0.8,
    # 0.7) vs neg (0.1, 0.3) -> 1; label 2 undefined.
    assert out == {'cls/auc_0': pytest.approx(100.0),
                   'cls/auc_1': pytest.approx(100.0),
                   'cls/mean_auc': pytest.approx(100.0),
                   'cls/num_auc_labels': 2}
    # No label defined at all: the mean is NaN, nothing else.
    metric = MedClassificationMetric(multi_label=True)
    out = _evaluate(metric, SCORES[:2], [[0, 1], [0, 1]])
    assert out['cls/num_auc_labels'] == 0
    assert out['cls/mean_auc'] != out['cls/mean_auc']
    assert set(out) == {'cls/mean_auc', 'cls/num_auc_labels'}
    # A gt_label out of range is an error.
    metric = MedClassificationMetric(multi_label=True)
    with pytest.raises(ValueError, match='out of range'):
        _evaluate(metric, SCORES[:1], [[3]])
    with pytest.raises(TypeError, match='multi_label'):
        MedClassificationMetric(multi_label='yes')
    # The same numbers as multilabel_auc.
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(30, 5, generator=gen)
    targets = torch.rand(30, 5, generator=gen) < 0.4
    metric = MedClassificationMetric(multi_label=True)
    out = _evaluate(metric, scores.tolist(),
                    [t.nonzero().reshape(-1).tolist() for t in targets])
    ref = multilabel_auc(scores, targets)
    assert out['cls/mean_auc'] == pytest.approx(ref['mean_auc'])
    for i, auc in enumerate(ref['per_label_auc']):
        assert out[f'cls/auc_{i}'] == pytest.approx(auc)


def test_multiclass_metric_is_unchanged():
    gen = torch.Generator().manual_seed(1)
    scores = torch.rand(20, 3, generator=gen).softmax(1)
    labels = torch.randint(0, 3, (20, ), generator=gen)
    for multi_label in (None, False):
        metric = MedClassificationMetric(multi_label=multi_label)
        out = _evaluate(metric, scores.tolist(),
                        [int(y) for y in labels])
        ref = classification_metrics(scores, labels, 3)
        assert out == {f'cls/{k}': pytest.approx(v) for k, v in ref.items()}


# ----------------------------------------------------------------------
# Linear probe
# ----------------------------------------------------------------------
def _multi_hot_blobs(n, gen, labels=3, dim=10):
    """Label l is positive when feature l is shifted: separable."""
    targets = (torch.rand(n, labels, generator=gen) < 0.4).float()
    feats = torch.randn(n, dim, generator=gen) * 0.3
    feats[:, :labels] += 3 * targets
    return feats * 5 + 20, targets


def test_multilabel_probe_separates_multi_hot_targets():
    gen = torch.Generator().manual_seed(0)
    (x, y), (vx, vy), (tx, ty) = (_multi_hot_blobs(n, gen)
                                  for n in (150, 80, 300))
    probe = fit_linear_probe(x, y, vx, vy, 3, weight_decays=(1e-3, 1.0))
    assert probe.multi_label
    probs = probe.predict_proba(tx)
    assert probs.shape == (300, 3)
    # Independent sigmoids: rows do not sum to one.
    assert ((probs > 0) & (probs < 1)).all()
    assert not torch.allclose(probs.sum(1), torch.ones(300))
    out = multilabel_auc(probs, ty)
    assert out['mean_auc'] >= 99.9
    assert ((probs > 0.5).float() == ty).float().mean() > 0.98
    assert [m['weight_decay'] for m in probe.val_metrics] == [1e-3, 1.0]
    assert set(probe.val_metrics[0]) == {'weight_decay', 'loss', 'mean_auc',
                                         'per_label_auc'}
    # Deterministic.
    again = fit_linear_probe(x, y, vx, vy, 3, weight_decays=(1e-3, 1.0))
    assert torch.equal(again.predict_proba(tx), probs)
    with pytest.raises(ValueError, match='0 or 1'):
        fit_linear_probe(x, y * 2, vx, vy, 3)


def _shared_noise_multilabel(n, gen, shifted):
    """Two labels, each as the multi-class test's two-feature problem: on
    train only the difference x1 - x2 separates (a weakly regularised fit
    needed); ``shifted`` val sets make the strongly regularised fit, which
    leans on x1 alone, the better one."""
    targets = torch.stack([torch.arange(n) % 2, (torch.arange(n) // 2) % 2],
                          1).double()
    cols = []
    for label in range(2):
        sign = 2 * targets[:, label] - 1
        noise = [torch.randn(n, generator=gen, dtype=torch.float64)
                 for _ in range(2)]
        if shifted:
            cols += [sign + 0.3 * noise[0], 3 * noise[1]]
        else:
            cols += [sign + noise[0], noise[0]]
    return torch.stack(cols, 1), targets


@pytest.mark.parametrize('shifted,expected', [(False, 1e-4), (True, 1e2)])
def test_multilabel_weight_decay_is_chosen_by_val_loss(shifted, expected):
    gen = torch.Generator().manual_seed(0)
    x, y = _shared_noise_multilabel(200, gen, shifted=False)
    vx, vy = _shared_noise_multilabel(200, gen, shifted=shifted)
    grid = (1e-4, 1e2)
    probe = fit_linear_probe(x, y, vx, vy, 2, weight_decays=grid)
    assert probe.weight_decay == expected
    losses = {m['weight_decay']: m['loss'] for m in probe.val_metrics}
    aucs = {m['weight_decay']: m['mean_auc'] for m in probe.val_metrics}
    other = [wd for wd in grid if wd != expected][0]
    assert losses[expected] < losses[other]
    # Here the val AUC agrees: the pick is the better probe, not an artefact.
    assert aucs[expected] > aucs[other] + 5
    # Each candidate's val numbers are those of a probe fitted with it alone.
    alone = fit_linear_probe(x, y, vx, vy, 2, weight_decays=(other, ))
    assert alone.val_metrics[0]['loss'] == losses[other]
    assert alone.val_metrics[0]['mean_auc'] == aucs[other]


@pytest.mark.parametrize('balanced', [True, False])
def test_multilabel_val_loss_is_the_weighted_log_loss(balanced):
    """``loss`` is each label's binary log loss (sklearn), weighted as the
    fit weighs the label (balanced: positives and negatives half each),
    averaged over the labels; the pick is the lowest."""
    from sklearn.metrics import log_loss
    from sklearn.utils.class_weight import compute_sample_weight
    gen = torch.Generator().manual_seed(1)
    (x, y), (vx, vy) = (_multi_hot_blobs(n, gen) for n in (120, 90))
    vx = vx + torch.randn(vx.shape, generator=gen) * 10  # not separable
    grid = (1e-1, 1.0, 10.0)
    probe = fit_linear_probe(x, y, vx, vy, 3, weight_decays=grid,
                             balanced=balanced)
    for metrics, candidate in zip(probe.val_metrics, probe.candidates):
        # sklearn clips probabilities at 1e-16: keep the logits moderate.
        logits = candidate.logits(vx)
        assert logits.abs().max() < 30
        probs = logits.sigmoid().numpy()  # float64 (predict_proba: float32)
        per_label = []
        for label in range(3):
            truth = vy[:, label].long().numpy()
            weight = (compute_sample_weight('balanced', truth)
                      if balanced else None)
            per_label.append(log_loss(truth, probs[:, label],
                                      sample_weight=weight, labels=[0, 1]))
        assert metrics['loss'] == pytest.approx(np.mean(per_label),
                                                rel=1e-9)
    best = min(probe.val_metrics, key=lambda m: m['loss'])
    assert probe.weight_decay == best['weight_decay']


# ----------------------------------------------------------------------
# Group draws
# ----------------------------------------------------------------------
def _multilabel_groups():
    """40 patients with 1-3 images; finding 5 belongs to one patient."""
    rng = random.Random(0)
    labels, groups = [], []
    for p in range(40):
        for _ in range(rng.randint(1, 3)):
            labels.append(sorted(rng.sample(range(5), rng.randint(0, 2))))
            groups.append(f'p{p}')
    labels[-1] = [5]
    order = list(range(len(labels)))
    rng.shuffle(order)
    return [labels[i] for i in order], [groups[i] for i in order]


def test_multilabel_fraction_draws_whole_groups():
    labels, groups = _multilabel_groups()
    kept = label_fraction_indices(labels, groups, 0.25, seed=0)
    kept_groups = {groups[i] for i in kept}
    # Whole groups.
    assert kept == sorted(i for i, g in enumerate(groups)
                          if g in kept_groups)
    # 10 of the 40 groups, plus the rare finding's group if not drawn.
    assert len(kept_groups) in (10, 11)
    assert {c for i in kept for c in labels[i]} == set(range(6))
    # Reproducible, order-independent, and another seed draws others.
    assert label_fraction_indices(labels, groups, 0.25, seed=0) == kept
    perm = list(range(len(labels)))
    random.Random(5).shuffle(perm)
    again = label_fraction_indices([labels[i] for i in perm],
                                   [groups[i] for i in perm], 0.25, seed=0)
    assert {groups[perm[i]] for i in again} == kept_groups
    other = label_fraction_indices(labels, groups, 0.25, seed=1)
    assert {groups[i] for i in other} != kept_groups
    # split_groups: a partition; multi-hot tensors work as index lists.
    first, rest = split_groups(labels, groups, 0.25, seed=0)
    assert first == kept and sorted(first + rest) == list(range(len(labels)))
    multi_hot = torch.zeros(len(labels), 6)
    for i, y in enumerate(labels):
        multi_hot[i, y] = 1
    assert split_groups(multi_hot, groups, 0.25, seed=0) == (first, rest)
    assert label_fraction_indices(labels, groups, 1.0) == list(
        range(len(labels)))


# ----------------------------------------------------------------------
# tools/analysis_tools/linear_probe.py on a fake ChestX-ray14
# ----------------------------------------------------------------------
def test_probe_tool_on_fake_chestxray14(tmp_path, tiny_demo_data):
    import json

    from mmengine.config import Config

    from mmmedssl.registry import MODELS
    from ..conftest import load_tool, tiny_config_text
    from ..test_datasets.test_chestxray14 import write_fake_chestxray14

    root = tmp_path / 'ChestXray14'
    write_fake_chestxray14(root, n_patients=30, test_patients=6)
    config = tmp_path / 'probe14.py'
    config.write_text(tiny_config_text(tiny_demo_data, f'''
        test_dataloader = dict(
            batch_size=16,
            dataset=dict(
                _delete_=True, type='ChestXray14', data_root={str(root)!r},
                split='test', val_fraction=0.25,
                pipeline=[dict(type='LoadImageFromFile'),
                          dict(type='Resize', scale=(32, 32)),
                          dict(type='PackMedInputs')]))
    '''))
    cfg = Config.fromfile(str(config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    checkpoint = str(tmp_path / 'ckpt.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)

    tool = load_tool('tools/analysis_tools/linear_probe.py')
    out = str(tmp_path / 'probe.json')
    assert tool.main([
        str(config), checkpoint, '--label-fraction', '0.5', '--seed', '1',
        '--weight-decays', '1e-2', '1', '--max-iter', '50', '--work-dir',
        str(tmp_path / 'work'), '--out', out
    ]) == 0
    with open(out) as f:
        result = json.load(f)
    assert result['multi_label'] and result['num_classes'] == 14
    for row in ('random_init', 'pretrained'):
        test = result[row]['test']
        assert set(test) == {'mean_auc', 'per_label_auc'}
        assert len(test['per_label_auc']) == 14
        # Every finding has positives and negatives in the fake test list.
        assert all(0 <= v <= 100 for v in test['per_label_auc'])
        assert test['mean_auc'] == pytest.approx(
            sum(test['per_label_auc']) / 14)
        assert result[row]['weight_decay'] in (1e-2, 1.0)
        assert len(result[row]['val_grid']) == 2
    splits = result['splits']
    # Patients: 24 in train_val, 6 of them val; half the train patients
    # (plus those a missing finding needs) kept.
    assert splits['val']['groups'] == 6 and splits['test']['groups'] == 6
    assert 9 <= splits['train']['groups'] < 18
    assert len(splits['train']['class_counts']) == 14
