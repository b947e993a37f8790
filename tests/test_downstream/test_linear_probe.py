# Copyright (c) mmmedssl contributors. All rights reserved.
"""The linear probe: metrics against brute-force references, the logistic
regression on synthetic features, group-wise subsets, the probe workflow of
mmmedssl.downstream, and an end-to-end run of
tools/analysis_tools/linear_probe.py on the tiny demo set."""
import csv
import json
import math
import os.path as osp
import random

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmmedssl.apis import build_runner, sanitize_dataloaders
from mmmedssl.datasets import label_fraction_indices, split_groups
from mmmedssl.downstream import (Features, build_eval_model,
                                 extract_features, fit_linear_probe,
                                 load_labelled_split, probe_train_indices,
                                 run_probe)
from mmmedssl.evaluation import classification_metrics, multilabel_auc
from mmmedssl.registry import HOOKS
from ..conftest import REPO_ROOT, python_tool


# ----------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------
def _pairwise_auc(scores, positive):
    """Every (positive, negative) pair: 1 if ranked right, 1/2 if tied."""
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0
               for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _reference_metrics(probs, labels, num_classes):
    preds = [max(range(num_classes), key=lambda c: row[c]) for row in probs]
    confusion = [[0] * num_classes for _ in range(num_classes)]
    for y, p in zip(labels, preds):
        confusion[y][p] += 1
    present = [c for c in range(num_classes) if sum(confusion[c])]
    top1 = sum(confusion[c][c] for c in range(num_classes)) / len(labels)
    balanced = sum(confusion[c][c] / sum(confusion[c])
                   for c in present) / len(present)
    aucs = [
        _pairwise_auc([row[c] for row in probs], [y == c for y in labels])
        for c in present if len(present) > 1
    ]
    # F1 per class seen in the labels or the predictions, from the confusion.
    seen = [c for c in range(num_classes)
            if sum(confusion[c]) or sum(row[c] for row in confusion)]
    f1s = []
    for c in seen:
        tp = confusion[c][c]
        fn = sum(confusion[c]) - tp
        fp = sum(row[c] for row in confusion) - tp
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return dict(top1=top1 * 100, balanced_acc=balanced * 100,
                macro_f1=sum(f1s) / len(f1s) * 100,
                macro_auc=sum(aucs) / len(aucs) * 100)


@pytest.mark.parametrize('num_classes,absent', [(3, None), (5, 3)])
def test_metrics_match_brute_force_references(num_classes, absent):
    gen = torch.Generator().manual_seed(num_classes)
    labels = torch.randint(0, num_classes, (60, ), generator=gen)
    if absent is not None:  # a class with no sample: skipped in the AUC
        labels[labels == absent] = 0
    # Scores on a coarse grid: many ties, within and across classes.
    probs = torch.randint(0, 4, (60, num_classes), generator=gen).float()
    probs += torch.rand(60, num_classes, generator=gen) * 1e-3 * (
        torch.arange(num_classes) % 2)  # ties in every other column only
    ours = classification_metrics(probs, labels, num_classes)
    ref = _reference_metrics(probs.tolist(), labels.tolist(), num_classes)
    assert ours.keys() == ref.keys()
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-9), key


def test_auc_edge_cases():
    labels = torch.tensor([0, 0, 1, 1])
    tied = torch.full((4, 2), 0.5)
    assert classification_metrics(tied, labels, 2)['macro_auc'] == 50.0
    perfect = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    assert classification_metrics(perfect, labels, 2) == dict(
        top1=100.0, balanced_acc=100.0, macro_f1=100.0, macro_auc=100.0)
    # One class only: accuracy is defined, an AUC is not.
    one = classification_metrics(perfect[:2], labels[:2], 2)
    assert one['top1'] == 100.0 and one['macro_auc'] != one['macro_auc']
    with pytest.raises(ValueError, match='shape'):
        classification_metrics(perfect, labels, 3)


# ----------------------------------------------------------------------
# The probe
# ----------------------------------------------------------------------
def _blobs(n, gen, num_classes=4, dim=16):
    labels = torch.arange(n) % num_classes
    feats = torch.randn(n, dim, generator=gen) * 0.5 + 3 * torch.eye(
        num_classes, dim)[labels]
    # An arbitrary offset and scale: the probe standardises.
    return feats * 7 + 100, labels


def test_probe_separates_separable_features():
    gen = torch.Generator().manual_seed(0)
    (x, y), (vx, vy), (tx, ty) = (_blobs(n, gen) for n in (120, 60, 400))
    probe = fit_linear_probe(x, y, vx, vy, 4)
    metrics = classification_metrics(probe.predict_proba(tx), ty, 4)
    assert metrics['top1'] >= 99 and metrics['balanced_acc'] >= 99
    assert metrics['macro_auc'] >= 99.9
    probs = probe.predict_proba(tx)
    assert probs.shape == (400, 4)
    torch.testing.assert_close(probs.sum(1), torch.ones(400))
    # Deterministic: the same data gives the same probe.
    again = fit_linear_probe(x, y, vx, vy, 4)
    assert again.weight_decay == probe.weight_decay
    assert torch.equal(again.predict_proba(tx), probs)


def test_probe_is_at_chance_on_random_labels():
    gen = torch.Generator().manual_seed(1)

    def random_split(n):
        return (torch.randn(n, 32, generator=gen),
                torch.randint(0, 3, (n, ), generator=gen))

    (x, y), (vx, vy), (tx, ty) = (random_split(n) for n in (300, 150, 1500))
    probe = fit_linear_probe(x, y, vx, vy, 3)
    metrics = classification_metrics(probe.predict_proba(tx), ty, 3)
    assert abs(metrics['balanced_acc'] - 100 / 3) < 6
    assert abs(metrics['macro_auc'] - 50) < 6


def _shared_noise(n, gen, shifted):
    """Train: x1 = s + e, x2 = e; only x1 - x2 separates the classes, which
    takes a weakly regularised fit. ``shifted``: x1 = s + small noise and x2
    independent noise, where the strongly regularised fit, which leans on
    x1 alone, is the better one."""
    labels = torch.arange(n) % 2
    sign = 2 * labels.double() - 1

    def noise():
        return torch.randn(n, generator=gen, dtype=torch.float64)

    if shifted:
        return torch.stack([sign + 0.3 * noise(), 3 * noise()], 1), labels
    e = noise()
    return torch.stack([sign + e, e], 1), labels


@pytest.mark.parametrize('shifted,expected', [(False, 1e-4), (True, 1e2)])
@pytest.mark.parametrize('grid', [(1e-4, 1e2), (1e2, 1e-4)])
def test_weight_decay_is_chosen_on_val(shifted, expected, grid):
    gen = torch.Generator().manual_seed(0)
    x, y = _shared_noise(200, gen, shifted=False)
    vx, vy = _shared_noise(200, gen, shifted=shifted)
    probe = fit_linear_probe(x, y, vx, vy, 2, weight_decays=grid)
    assert probe.weight_decay == expected
    scores = {m['weight_decay']: m['balanced_acc'] for m in probe.val_metrics}
    assert [m['weight_decay'] for m in probe.val_metrics] == list(grid)
    other = [wd for wd in grid if wd != expected][0]
    assert scores[expected] > scores[other] + 10
    # Each candidate's score is that of a probe fitted with it alone.
    alone = fit_linear_probe(x, y, vx, vy, 2, weight_decays=(other, ))
    assert alone.val_metrics[0]['balanced_acc'] == scores[other]


@pytest.mark.parametrize('val_scores,expected', [
    # (val loss, balanced acc, macro AUC) per weight decay 0.1, 1, 10
    ([(0.50, 70.0, 80.0), (0.40, 75.0, 83.0), (0.45, 76.0, 84.0)], 1.0),
    ([(0.30, 60.0, 70.0), (0.40, 75.0, 83.0), (0.45, 76.0, 84.0)], 0.1),
    ([(0.40, 75.0, 83.0), (0.50, 70.0, 80.0), (0.40, 70.0, 80.0)], 10.0),
    ([(0.40, 70.0, math.nan), (0.35, 76.0, math.nan), (0.5, 75.0,
                                                      math.nan)], 1.0),
])
def test_weight_decay_is_chosen_by_val_loss(monkeypatch, val_scores,
                                            expected):
    """The pick is the lowest val loss, whatever val balanced accuracy and
    AUC say; ties go to the stronger decay; an undefined AUC changes
    nothing."""
    from mmmedssl.downstream import linear_probe
    scores = iter(val_scores)
    losses = {}

    def fake_metrics(probs, labels, num_classes):
        loss, bal, auc = next(scores)
        losses[len(losses)] = loss
        return dict(top1=bal, balanced_acc=bal, macro_f1=bal, macro_auc=auc)

    monkeypatch.setattr(linear_probe, 'classification_metrics', fake_metrics)
    monkeypatch.setattr(linear_probe, '_val_loss',
                        lambda *args: losses[len(losses) - 1])
    gen = torch.Generator().manual_seed(0)
    x, y = _shared_noise(40, gen, shifted=False)
    probe = fit_linear_probe(x, y, x, y, 2, weight_decays=(0.1, 1.0, 10.0))
    assert probe.weight_decay == expected
    assert [m['weight_decay'] for m in probe.val_metrics] == [0.1, 1.0, 10.0]
    assert [m['loss'] for m in probe.val_metrics] == \
        [v[0] for v in val_scores]


@pytest.mark.parametrize('balanced', [True, False])
def test_val_loss_is_the_weighted_log_loss(balanced):
    """``loss`` equals scikit-learn's log loss of the val probabilities,
    each class weighing the same when the probe is balanced."""
    from sklearn.metrics import log_loss
    gen = torch.Generator().manual_seed(3)
    y = (torch.arange(300) % 10 == 0).long() + (torch.arange(300) % 7 == 0)
    x = torch.randn(300, 5, generator=gen) + y[:, None].double()
    vy = y.flip(0)
    vx = torch.randn(300, 5, generator=gen) + vy[:, None].double()
    probe = fit_linear_probe(x, y, vx, vy, 3, weight_decays=(0.1, 1.0),
                             balanced=balanced)
    counts = torch.bincount(vy, minlength=3).double()
    weight = (1.0 / counts)[vy] if balanced else torch.ones(300)
    for candidate, metrics in zip(probe.candidates, probe.val_metrics):
        probs = candidate.logits(vx).softmax(dim=1).numpy()
        expected = log_loss(vy.numpy(), probs, sample_weight=weight.numpy(),
                            labels=[0, 1, 2])
        assert metrics['loss'] == pytest.approx(expected, rel=1e-9)
    best = min(probe.val_metrics, key=lambda m: m['loss'])
    assert probe.weight_decay == best['weight_decay']


@pytest.mark.parametrize('shifted', [False, True])
def test_run_probe_reports_every_candidate_on_test(shifted):
    """The test grid holds, per weight decay, the test metrics of a probe
    fitted with that weight decay alone; the reported test metrics are the
    val pick's, whichever candidate would have scored best on test."""
    gen = torch.Generator().manual_seed(1)
    x, y = _shared_noise(200, gen, shifted=False)
    vx, vy = _shared_noise(200, gen, shifted=shifted)
    tx, ty = _shared_noise(300, gen, shifted=not shifted)
    feats = dict(train=Features(x, y, []), val=Features(vx, vy, []),
                 test=Features(tx, ty, []))
    grid = (1e-4, 1e2)
    result = run_probe(feats, 2, weight_decays=grid)
    assert [row['weight_decay'] for row in result['test_grid']] == list(grid)
    for row in result['test_grid']:
        alone = fit_linear_probe(x, y, vx, vy, 2,
                                 weight_decays=(row['weight_decay'], ))
        expected = classification_metrics(alone.predict_proba(tx), ty, 2)
        assert {k: v for k, v in row.items() if k != 'weight_decay'} == \
            pytest.approx(expected)
    picked = {r['weight_decay']: r for r in result['test_grid']}[
        result['weight_decay']]
    assert result['test'] == pytest.approx(
        {k: v for k, v in picked.items() if k != 'weight_decay'})
    # Val and test disagree by construction: the pick is the val one, and
    # the other candidate is clearly better on test.
    assert result['weight_decay'] == (1e2 if shifted else 1e-4)
    other = [r for r in result['test_grid']
             if r['weight_decay'] != result['weight_decay']][0]
    assert other['balanced_acc'] > result['test']['balanced_acc'] + 10


def test_balanced_weights_find_the_rare_class():
    # 95 % class 0: the unweighted fit at strong decay predicts the majority
    # only; class-balanced weights keep the minority class.
    gen = torch.Generator().manual_seed(2)
    y = (torch.arange(400) % 20 == 0).long()
    x = torch.randn(400, 4, generator=gen) + 1.5 * y[:, None]
    kwargs = dict(num_classes=2, weight_decays=(10.0, ))
    plain = fit_linear_probe(x, y, x, y, balanced=False, **kwargs)
    balanced = fit_linear_probe(x, y, x, y, balanced=True, **kwargs)
    assert plain.val_metrics[0]['balanced_acc'] < 60
    assert balanced.val_metrics[0]['balanced_acc'] > 80


# ----------------------------------------------------------------------
# Group-wise subsets
# ----------------------------------------------------------------------
def _grouped_samples():
    """3 classes with 6, 4 and 1 groups of 1-3 images, shuffled."""
    rng = random.Random(0)
    samples = []
    for label, n_groups in enumerate((6, 4, 1)):
        for g in range(n_groups):
            samples += [(label, f'c{label}g{g}')] * rng.randint(1, 3)
    rng.shuffle(samples)
    return [s[0] for s in samples], [s[1] for s in samples]


def test_label_fraction_keeps_whole_groups_per_class():
    labels, groups = _grouped_samples()
    kept = label_fraction_indices(labels, groups, 0.5, seed=3)
    kept_groups = {groups[i] for i in kept}
    # Whole groups: every image of a kept group is kept, and only those.
    assert kept == sorted(i for i, g in enumerate(groups)
                          if g in kept_groups)
    per_class = [len({g for g in kept_groups if g.startswith(f'c{c}')})
                 for c in range(3)]
    assert per_class == [3, 2, 1]  # the single-group class keeps its group

    # Seeded: the same seed gives the same draw whatever the sample order;
    # another seed another draw.
    assert label_fraction_indices(labels, groups, 0.5, seed=3) == kept
    order = list(range(len(labels)))
    random.Random(1).shuffle(order)
    permuted = label_fraction_indices([labels[i] for i in order],
                                      [groups[i] for i in order], 0.5, 3)
    assert {groups[order[i]] for i in permuted} == kept_groups
    draws = {frozenset(groups[i] for i in label_fraction_indices(
        labels, groups, 0.5, seed)) for seed in range(6)}
    assert len(draws) > 1

    assert label_fraction_indices(labels, groups, 1.0) == list(
        range(len(labels)))
    with pytest.raises(ValueError, match='fraction'):
        label_fraction_indices(labels, groups, 0.0)


def test_split_groups_partitions_and_images_without_groups():
    labels, groups = _grouped_samples()
    held, rest = split_groups(labels, groups, 0.25, seed=0)
    assert sorted(held + rest) == list(range(len(labels)))
    assert not {groups[i] for i in held} & {groups[i] for i in rest}
    # Classes with two or more groups keep one on each side.
    for c in (0, 1):
        assert any(labels[i] == c for i in held)
        assert any(labels[i] == c for i in rest)
    # Without group ids every image is its own group.
    kept = label_fraction_indices([0] * 10 + [1] * 10, None, 0.3, seed=0)
    assert len(kept) == 6
    assert sum(i < 10 for i in kept) == 3


# ----------------------------------------------------------------------
# The workflow and the tool
# ----------------------------------------------------------------------
class _StartOfTraining(Exception):
    pass


@HOOKS.register_module(force=True)
class _ProbeInitSnapshotHook(Hook):
    """Keeps the backbone weights the first training step would see."""
    weights = None

    def before_train(self, runner):
        type(self).weights = {
            k: v.clone()
            for k, v in runner.model.backbone.state_dict().items()
        }
        raise _StartOfTraining


def test_random_init_is_the_start_of_training_and_features_match(
        tmp_path, tiny_config):
    cfg = Config.fromfile(tiny_config)
    sanitize_dataloaders(cfg)
    model = build_eval_model(cfg, None, str(tmp_path / 'probe'))

    train_cfg = Config.fromfile(tiny_config)
    train_cfg.work_dir = str(tmp_path / 'train')
    train_cfg.custom_hooks = [dict(type='_ProbeInitSnapshotHook')]
    sanitize_dataloaders(train_cfg)
    with pytest.raises(_StartOfTraining):
        build_runner(train_cfg).train()
    start = _ProbeInitSnapshotHook.weights
    ours = model.backbone.state_dict()
    assert start.keys() == ours.keys()
    for key in start:
        assert torch.equal(start[key], ours[key]), key

    # extract_features = the pooled features of 'predict' mode.
    loader = Runner.build_dataloader(cfg.test_dataloader)
    model.train()
    feats, labels, sample_ids = extract_features(model, loader)
    assert sample_ids == [
        loader.dataset.get_data_info(i)['img_path']
        for i in range(len(loader.dataset))
    ]
    assert model.training  # restored; the features came from eval mode
    model.eval()
    samples = model.test_step(next(iter(loader)))
    n = len(samples)
    torch.testing.assert_close(
        feats[:n], torch.stack([s.feature for s in samples]))
    assert labels.tolist() == [
        loader.dataset.get_data_info(i)['gt_label']
        for i in range(len(loader.dataset))
    ]


def test_probe_needs_a_split_key_and_labels(tmp_path):
    path = tmp_path / 'nosplit.py'
    path.write_text("test_dataloader = dict(dataset=dict(type='X', "
                    "label_key='label'))\n")
    with pytest.raises(ValueError, match='no `split` key'):
        load_labelled_split(Config.fromfile(str(path)), 'train')
    path.write_text("test_dataloader = dict(dataset=dict(type='X', "
                    "split='train'))\n")
    with pytest.raises(ValueError, match='the data has no labels'):
        load_labelled_split(Config.fromfile(str(path)), 'train')


def _split_counts(data_root, split_file=None):
    with open(osp.join(data_root, split_file or 'labels.csv')) as f:
        rows = list(csv.DictReader(f))
    counts = {}
    for row in rows:
        counts[row['split']] = counts.get(row['split'], 0) + 1
    return counts


def test_tool_splits_from_a_split_file_with_a_label_fraction(
        tmp_path, tiny_config, tiny_demo_data):
    """train/val/test from a split file (half of the demo's val lesions
    become test), half of the train lesions kept."""
    with open(osp.join(tiny_demo_data, 'labels.csv')) as f:
        rows = list(csv.DictReader(f))
    val_lesions = sorted({r['lesion_id'] for r in rows
                          if r['split'] == 'val'})
    split_file = str(tmp_path / 'splits3.csv')
    with open(split_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'split'])
        for r in rows:
            split = r['split']
            if split == 'val' and val_lesions.index(r['lesion_id']) % 2:
                split = 'test'
            writer.writerow([r['image'], split])
    cfg = Config.fromfile(tiny_config)
    cfg.test_dataloader.dataset.split_file = split_file
    sanitize_dataloaders(cfg)

    counts = _split_counts(tiny_demo_data, split_file)
    parts = {name: load_labelled_split(cfg, name)
             for name in ('train', 'val', 'test')}
    assert [len(parts[k].dataset) for k in ('train', 'val', 'test')] == [
        counts['train'], counts['val'], counts['test']]
    train = parts['train']
    assert train.labels == [
        train.dataset.get_data_info(i)['gt_label']
        for i in range(len(train.dataset))
    ]
    rows, held_out = probe_train_indices(train, 0.5, seed=1)
    assert held_out is None and len(rows) == counts['train'] // 2
    assert [[train.labels[i] for i in rows].count(c)
            for c in range(4)] == [4] * 4
    # Whole lesions: a kept lesion keeps all its images.
    kept = {train.groups[i] for i in rows}
    assert sorted(rows) == [i for i, g in enumerate(train.groups)
                            if g in kept]
    # The same seed draws the same lesions, another seed (here) others.
    assert probe_train_indices(train, 0.5, seed=1)[0] == rows
    other = probe_train_indices(train, 0.5, seed=2)[0]
    assert {train.groups[i] for i in other} != kept
    # A held-out val part is drawn before the label fraction: it does not
    # change with it, and never shares a lesion with the train rows.
    full, val = probe_train_indices(train, 1.0, seed=1, val_fraction=0.25)
    half, val_again = probe_train_indices(train, 0.5, seed=1,
                                          val_fraction=0.25)
    assert val == val_again and set(half) < set(full)
    assert not {train.groups[i] for i in val} & {train.groups[i]
                                                 for i in full}
    with pytest.raises(ValueError, match="split 'nope'"):
        load_labelled_split(cfg, 'nope')
    proc = python_tool('tools/analysis_tools/linear_probe.py', tiny_config,
                       str(tmp_path / 'missing.pth'), check=False)
    assert proc.returncode != 0 and 'missing.pth does not exist' in \
        proc.stdout


def test_tool_end_to_end_on_the_tiny_demo_set(tmp_path, tiny_config,
                                              tiny_demo_data):
    work_dir = str(tmp_path / 'train')
    python_tool('tools/train.py', tiny_config, '--work-dir', work_dir,
                '--cfg-options', 'train_cfg.max_epochs=1')

    # The demo set has train and val splits only: hold out train lesions
    # for the weight decay and report on val.
    out = str(tmp_path / 'probe.json')
    proc = python_tool('tools/analysis_tools/linear_probe.py', tiny_config,
                       osp.join(work_dir, 'last_checkpoint'), '--val-split',
                       'none', '--test-split', 'val', '--work-dir',
                       str(tmp_path / 'probe'), '--out', out)
    assert '| random init |' in proc.stdout
    assert '| pretrained  |' in proc.stdout
    with open(out) as f:
        result = json.load(f)
    for row in ('random_init', 'pretrained'):
        assert set(result[row]['test']) == {
            'top1', 'balanced_acc', 'macro_f1', 'macro_auc'}
        for value in result[row]['test'].values():
            assert 0 <= value <= 100
        assert result[row]['weight_decay'] in result['weight_decays']
        assert result[row]['feature_dim'] == 64
    # Different backbones, different features.
    assert result['random_init']['val_grid'] != result['pretrained'][
        'val_grid']
    assert result['checkpoint'].endswith('epoch_1.pth')
    counts = _split_counts(tiny_demo_data)  # train 32, val 16
    splits = result['splits']
    assert splits['train']['size'] + splits['val']['size'] == counts['train']
    assert splits['test']['size'] == counts['val']
    # 4 lesions per class in train: one per class held out.
    assert splits['val']['groups'] == 4 and splits['train']['groups'] == 12
    assert result['num_classes'] == 4 and len(result['classes']) == 4

    # The rule comparison reads the same file: by val loss it keeps what
    # the probe kept, and what a pick gives up is measured on test_grid.
    rules_out = str(tmp_path / 'rules.json')
    python_tool('tools/analysis_tools/probe_rules.py', out, '--out',
                rules_out)
    with open(rules_out) as f:
        rules = json.load(f)
    for row in ('random_init', 'pretrained'):
        picks = rules['results'][f'{out}:{row}']
        assert picks['loss']['weight_decay'] == result[row]['weight_decay']
        assert picks['loss']['test'] == result[row]['test']['macro_auc']
        best = max(t['macro_auc'] for t in result[row]['test_grid'])
        for rule in ('loss', 'macro_auc', 'balanced_acc'):
            assert picks[rule]['given_up'] == pytest.approx(
                best - picks[rule]['test'])
    assert rules['summary']['loss']['given_up_sum'] == pytest.approx(
        sum(rules['results'][f'{out}:{row}']['loss']['given_up']
            for row in ('random_init', 'pretrained')))


def test_macro_f1_by_hand():
    # labels 0 0 1 1 2, predictions 0 1 1 1 0:
    # class 0: TP 1, FP 1, FN 1 -> 0.5; class 1: TP 2, FP 1, FN 0 -> 0.8;
    # class 2: TP 0, FN 1 -> 0.
    labels = torch.tensor([0, 0, 1, 1, 2])
    probs = torch.eye(3)[torch.tensor([0, 1, 1, 1, 0])]
    out = classification_metrics(probs, labels, 3)
    assert out['macro_f1'] == pytest.approx(100 * (0.5 + 0.8 + 0) / 3)


def test_multilabel_auc_against_pairwise_reference():
    gen = torch.Generator().manual_seed(3)
    scores = torch.randint(0, 5, (40, 4), generator=gen).float()
    targets = torch.rand(40, 4, generator=gen) < 0.3
    targets[:, 3] = False  # a label without positives: undefined
    out = multilabel_auc(scores, targets)
    for i in range(3):
        ref = _pairwise_auc(scores[:, i].tolist(), targets[:, i].tolist())
        assert out['per_label_auc'][i] == pytest.approx(100 * ref)
    assert out['per_label_auc'][3] != out['per_label_auc'][3]  # NaN
    assert out['mean_auc'] == pytest.approx(sum(out['per_label_auc'][:3]) /
                                            3)
    with pytest.raises(ValueError, match=r'\(N, L\)'):
        multilabel_auc(scores, targets[:, :3])


def test_features_of_unlabelled_data_carry_sample_ids(tmp_path, tiny_config):
    cfg = Config.fromfile(tiny_config)
    sanitize_dataloaders(cfg)
    cfg.test_dataloader.dataset.label_key = None
    model = build_eval_model(cfg, None, str(tmp_path / 'probe'))
    loader = Runner.build_dataloader(cfg.test_dataloader)
    feats, labels, ids = extract_features(model, loader,
                                          require_labels=False)
    dataset = loader.dataset
    assert labels is None and feats.shape == (len(dataset), 64)
    assert ids == [dataset.get_data_info(i)['img_path']
                   for i in range(len(dataset))]
    # The label-needing evaluations say what is missing.
    with pytest.raises(KeyError, match=f'{len(dataset)} of {len(dataset)} '
                       'samples have no label'):
        extract_features(model, loader)


def test_the_documented_python_example_runs(tmp_path, tiny_config,
                                            tiny_demo_data):
    """docs/evaluation.md 'From Python', on the tiny set with a test split
    and a saved checkpoint."""
    import re

    from mmmedssl.registry import MODELS
    from mmmedssl.utils import register_all_modules
    with open(osp.join(REPO_ROOT, 'docs', 'evaluation.md')) as f:
        doc = f.read()
    section = doc[doc.index('### From Python'):]
    code = re.search(r'```python\n(.*?)```', section, re.S).group(1)

    with open(osp.join(tiny_demo_data, 'labels.csv')) as f:
        rows = list(csv.DictReader(f))
    split_file = tmp_path / 'splits3.csv'
    with open(split_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'split'])
        for i, r in enumerate(rows):
            split = r['split']
            if split == 'val' and int(r['lesion_id'].split('_')[-1]) % 2:
                split = 'test'
            writer.writerow([r['image'], split])
    config = tmp_path / 'three_splits.py'
    config.write_text(
        f'_base_ = [{tiny_config!r}]\n'
        f'test_dataloader = dict(dataset=dict(split_file={str(split_file)!r}'
        '))\n')
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)

    scope = dict(CONFIG=str(config), CHECKPOINT=str(tmp_path))  # a work dir
    exec(compile(code, 'docs/evaluation.md', 'exec'), scope)
    result = scope['result']
    assert set(result['test']) == {'top1', 'balanced_acc', 'macro_f1',
                                   'macro_auc'}
    assert scope['ckpt'] == str(ckpt)
    assert result['train_size'] == len(scope['rows']) < len(
        scope['splits']['train'].labels)
