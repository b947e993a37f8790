# Copyright (c) mmmedssl contributors. All rights reserved.
import math

import pytest
import torch
from mmpretrain.structures import DataSample

from mmmedssl.evaluation import KNNAccuracy, knn_predict


def _reference(feats, labels, num_classes, k, temperature, groups=None):
    """Plain loops: each sample voted on by its k nearest others."""
    scores = []
    for i in range(len(feats)):
        sims = []
        for j in range(len(feats)):
            if j == i or (groups is not None and groups[j] == groups[i]):
                continue
            a, b = feats[i], feats[j]
            cos = sum(x * y for x, y in zip(a, b)) / (
                math.sqrt(sum(x * x for x in a)) *
                math.sqrt(sum(y * y for y in b)))
            sims.append((cos, j))
        sims.sort(reverse=True)
        row = [0.0] * num_classes
        for cos, j in sims[:k]:
            row[labels[j]] += math.exp(cos / temperature)
        scores.append(row)
    return torch.tensor(scores)


@pytest.mark.parametrize('use_groups', [False, True])
def test_knn_scores_match_a_loop_reference(use_groups):
    torch.manual_seed(0)
    feats = torch.randn(23, 5)
    labels = torch.randint(0, 3, (23, ))
    groups = torch.arange(23) // 3 if use_groups else None
    ours = knn_predict(feats, labels, 3, k=4, temperature=0.5,
                       groups=groups, chunk_size=7)
    ref = _reference(feats.tolist(), labels.tolist(), 3, 4, 0.5,
                     groups.tolist() if use_groups else None)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)


def _samples(feats, labels, groups):
    out = []
    for f, y, g in zip(feats, labels, groups):
        s = DataSample().set_gt_label(int(y))
        s.set_field(f, 'feature')
        s.set_metainfo(dict(group_id=g))
        out.append(s.to_dict())
    return out


def test_metric_excludes_same_group_neighbours():
    # Two copies of each image in one group: with the group excluded the
    # duplicate cannot vote, and the nearest other sample has the other
    # label; without exclusion the duplicate decides.
    feats = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.9, 0.1], [0.9, 0.1]])
    labels = [0, 0, 1, 1]
    groups = ['a', 'a', 'b', 'b']
    metric = KNNAccuracy(k=1, exclude_same_group=True)
    metric.process(None, _samples(feats, labels, groups))
    assert metric.evaluate(4) == {'knn/top1': 0.0, 'knn/balanced_acc': 0.0,
                                  'knn/num_without_neighbour': 0.0}
    metric = KNNAccuracy(k=1, exclude_same_group=False)
    metric.process(None, _samples(feats, labels, groups))
    assert metric.evaluate(4) == {
        'knn/top1': 100.0, 'knn/balanced_acc': 100.0,
        'knn/num_without_neighbour': 0.0}


def test_balanced_accuracy_is_mean_class_recall():
    # 4 samples of class 0 all right, 1 of class 1 wrong (its only
    # neighbours are class 0, and it is no one's nearest neighbour):
    # accuracy 80 %, balanced accuracy 50 %.
    feats = torch.tensor([[1.0, 0.0], [0.99, 0.1], [0.98, 0.2], [0.97, 0.3],
                          [0.0, 1.0]])
    metric = KNNAccuracy(k=1, exclude_same_group=False, topk=(1, 2))
    metric.process(None, _samples(feats, [0, 0, 0, 0, 1], list('abcde')))
    result = metric.evaluate(5)
    assert result['knn/top1'] == pytest.approx(80.0)
    assert result['knn/balanced_acc'] == pytest.approx(50.0)
    assert result['knn/top2'] == pytest.approx(100.0)


def test_metric_needs_features_and_labels():
    metric = KNNAccuracy()
    with pytest.raises(KeyError, match='feature'):
        metric.process(None, [DataSample().set_gt_label(0).to_dict()])


def test_samples_without_an_allowed_neighbour_are_left_out():
    feats = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0]])
    # Two lesions: every sample has allowed neighbours in the other one.
    metric = KNNAccuracy(k=2, exclude_same_group=True)
    metric.process(None, _samples(feats, [0, 0, 0, 1], ['a', 'a', 'a', 'b']))
    result = metric.evaluate(4)
    assert result['knn/num_without_neighbour'] == 0.0
    assert result['knn/top1'] == 0.0  # each is voted on by the other class

    # One lesion fills the split: no sample has an allowed neighbour. It
    # used to be "predicted" class 0 and score 100 %.
    metric = KNNAccuracy(k=2, exclude_same_group=True)
    metric.process(None, _samples(feats[:2], [0, 0], ['a', 'a']))
    with pytest.warns(UserWarning, match='none of the 2 evaluated'):
        result = metric.evaluate(2)
    assert math.isnan(result['knn/top1'])
    assert math.isnan(result['knn/balanced_acc'])
    assert result['knn/num_without_neighbour'] == 2.0


def test_knn_predict_says_which_samples_had_a_neighbour():
    # Samples 0 and 1 form a group; with sample 2 in another group every
    # sample has a neighbour. With one group for all, none has.
    feats = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = torch.tensor([1, 1, 0])
    _, has = knn_predict(feats, labels, 2, k=2,
                         groups=torch.tensor([0, 0, 1]),
                         return_has_neighbour=True)
    assert has.all()
    scores, has = knn_predict(feats, labels, 2, k=2,
                              groups=torch.tensor([0, 0, 0]),
                              return_has_neighbour=True)
    assert not has.any()
    assert (scores == 0).all()


def test_single_sample_split_is_nan():
    metric = KNNAccuracy(k=1, exclude_same_group=True)
    metric.process(None, _samples(torch.tensor([[1.0, 0.0]]), [0], ['x']))
    with pytest.warns(UserWarning, match='NaN'):
        result = metric.evaluate(1)
    assert result['knn/num_without_neighbour'] == 1.0
    assert math.isnan(result['knn/top1'])
