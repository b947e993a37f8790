# Copyright (c) mmmedssl contributors. All rights reserved.
"""Dice and Jaccard on hand-made label maps (values computed by hand in the
comments)."""
import math

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmmedssl.evaluation import (SegmentationMetric, dice_per_class,
                                 jaccard_per_class, segmentation_stats)

PRED = np.array([[0, 1, 1],
                 [0, 1, 0]])
GT = np.array([[0, 1, 0],
               [1, 1, 0]])


def test_stats_and_scores_by_hand():
    # Class 1: pred {(0,1),(0,2),(1,1)}, gt {(0,1),(1,0),(1,1)}: |P&G| = 2.
    # Class 0: pred {(0,0),(1,0),(1,2)}, gt {(0,0),(0,2),(1,2)}: |P&G| = 2.
    stats = segmentation_stats(PRED, GT, num_classes=2)
    np.testing.assert_array_equal(stats, [[2, 2], [3, 3], [3, 3]])
    # Dice = 2*2 / (3+3) = 2/3; Jaccard = 2 / (3+3-2) = 1/2.
    np.testing.assert_allclose(dice_per_class(PRED, GT, 2), [2 / 3, 2 / 3])
    np.testing.assert_allclose(jaccard_per_class(PRED, GT, 2), [0.5, 0.5])
    # Tensors work alike.
    np.testing.assert_allclose(
        dice_per_class(torch.from_numpy(PRED), torch.from_numpy(GT), 2),
        [2 / 3, 2 / 3])


def test_ignore_index_leaves_pixels_out():
    gt = GT.copy()
    gt[1, 0] = 255  # the missed lesion pixel no longer counts
    # Class 1: pred {(0,1),(0,2),(1,1)}, gt {(0,1),(1,1)}: Dice 4/5, J 2/3.
    # Class 0 (pixel (1,0) gone): pred {(1,2)} + (0,0) = 2, gt 3, inter 2.
    np.testing.assert_allclose(dice_per_class(PRED, gt, 2), [4 / 5, 4 / 5])
    np.testing.assert_allclose(jaccard_per_class(PRED, gt, 2), [2 / 3, 2 / 3])


def test_empty_masks():
    empty = np.zeros((2, 2), int)
    one = np.array([[0, 1], [0, 0]])
    # Empty prediction and empty ground truth: empty_score (1, or NaN).
    assert dice_per_class(empty, empty, 2)[1] == 1
    assert jaccard_per_class(empty, empty, 2)[1] == 1
    assert math.isnan(dice_per_class(empty, empty, 2, empty_score=None)[1])
    # Missed lesion, or a lesion predicted where there is none: 0.
    assert dice_per_class(empty, one, 2)[1] == 0
    assert dice_per_class(one, empty, 2)[1] == 0
    assert jaccard_per_class(one, empty, 2)[1] == 0
    with pytest.raises(ValueError, match='differ in shape'):
        segmentation_stats(empty, np.zeros((3, 2)), 2)
    with pytest.raises(ValueError, match=r'\[0, 2\)'):
        segmentation_stats(empty + 2, empty, 2)


def _sample(pred, gt, as_dict=True):
    sample = DataSample()
    sample.set_field(torch.as_tensor(pred), 'pred_seg_map')
    sample.set_field(torch.as_tensor(gt), 'gt_seg_map')
    return sample.to_dict() if as_dict else sample


def _evaluate(metric, pairs):
    metric.process(None, [_sample(p, g, i % 2 == 0)
                          for i, (p, g) in enumerate(pairs)])
    return metric.evaluate(len(pairs))


def test_metric_per_image_and_over_pixels():
    # Image A: a 4-pixel lesion found exactly: Dice 1, Jaccard 1.
    gt_a = np.zeros((4, 4), int)
    gt_a[:2, :2] = 1
    # Image B: a 1-pixel lesion, one wrong pixel predicted: Dice 0, J 0.
    gt_b = np.zeros((4, 4), int)
    gt_b[3, 3] = 1
    pred_b = np.zeros((4, 4), int)
    pred_b[0, 0] = 1
    pairs = [(gt_a, gt_a), (pred_b, gt_b)]
    res = _evaluate(SegmentationMetric(classes=('bg', 'lesion')), pairs)
    # Per image: mean(1, 0) = 50 %, for Dice and Jaccard.
    assert res['seg/dice'] == pytest.approx(50)
    assert res['seg/jaccard'] == pytest.approx(50)
    assert res['seg/dice_lesion'] == pytest.approx(50)
    # Background: A perfect (1); B: pred bg 15, gt bg 15, inter 14 ->
    # Dice 28/30, Jaccard 14/16.
    assert res['seg/dice_bg'] == pytest.approx((1 + 28 / 30) / 2 * 100)
    assert res['seg/jaccard_bg'] == pytest.approx((1 + 14 / 16) / 2 * 100)
    # Over all pixels: lesion inter 4, pred 5, gt 5: Dice 8/10, J 4/6.
    res = _evaluate(
        SegmentationMetric(num_classes=2, average='pixel'), pairs)
    assert res['seg/dice'] == pytest.approx(80)
    assert res['seg/jaccard'] == pytest.approx(400 / 6)
    assert set(res) == {'seg/dice', 'seg/jaccard', 'seg/dice_0',
                        'seg/dice_1', 'seg/jaccard_0', 'seg/jaccard_1'}


def test_metric_multiclass_foreground_mean_and_empty_classes():
    # Three classes; class 2 is absent from image A and not predicted there.
    gt_a = np.array([[0, 1], [1, 1]])
    pred_a = np.array([[0, 1], [1, 0]])  # class 1: 2*2/(2+3) = 0.8
    gt_b = np.array([[2, 2], [0, 1]])
    pred_b = np.array([[2, 0], [0, 1]])  # class 1: 1; class 2: 2/3
    pairs = [(pred_a, gt_a), (pred_b, gt_b)]
    res = _evaluate(SegmentationMetric(num_classes=3), pairs)
    # Class 1: (0.8 + 1) / 2 = 0.9. Class 2: A empty/empty -> 1, B 2/3.
    assert res['seg/dice_1'] == pytest.approx(90)
    assert res['seg/dice_2'] == pytest.approx((1 + 2 / 3) / 2 * 100)
    assert res['seg/dice'] == pytest.approx(
        (90 + (1 + 2 / 3) / 2 * 100) / 2)
    # With empty_score=None image A does not count for class 2.
    res = _evaluate(SegmentationMetric(num_classes=3, empty_score=None),
                    pairs)
    assert res['seg/dice_2'] == pytest.approx(200 / 3)
    # background_index=None averages every class.
    res = _evaluate(
        SegmentationMetric(num_classes=3, background_index=None), pairs)
    assert res['seg/dice'] == pytest.approx(
        np.mean([res['seg/dice_0'], res['seg/dice_1'], res['seg/dice_2']]))


def test_metric_arguments_and_missing_fields():
    with pytest.raises(ValueError, match='num_classes or'):
        SegmentationMetric()
    with pytest.raises(ValueError, match='2 class names'):
        SegmentationMetric(num_classes=3, classes=('a', 'b'))
    with pytest.raises(ValueError, match='average'):
        SegmentationMetric(num_classes=2, average='volume')
    metric = SegmentationMetric(num_classes=2)
    with pytest.raises(KeyError, match='pred_seg_map and gt_seg_map'):
        metric.process(None, [dict(gt_seg_map=torch.zeros(2, 2))])
