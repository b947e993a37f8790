# Copyright (c) mmmedssl contributors. All rights reserved.
"""Relaxed-boundary phase metrics on hand-made sequences (values computed
by hand in the comments)."""
import math

import numpy as np
import pytest

from mmmedssl.evaluation import relaxed_phase_scores, summarize_phase_scores

# fps 0.2 and 10 s: a relaxed window of 2 frames.
FPS = 0.2


def test_perfect_prediction():
    gt = [0] * 4 + [1] * 3 + [2] * 3
    s = relaxed_phase_scores(gt, gt, FPS)
    assert s['accuracy'] == 100
    np.testing.assert_array_equal(s['jaccard'][:3], [100, 100, 100])
    assert np.isnan(s['jaccard'][3:]).all()  # phases 3..6 absent
    assert np.isnan(s['precision'][3:]).all() and np.isnan(s['recall'][6])


def test_late_transition_is_relaxed_within_the_window_only():
    gt = [0] * 5 + [1] * 5
    # Phase 1 starts 2 frames late: within the window -> all correct.
    pred = [0] * 7 + [1] * 3
    s = relaxed_phase_scores(gt, pred, FPS)
    assert s['accuracy'] == 100
    # Phase 0: U = 7 frames, all correct -> 100; precision 7/7, recall 5/5.
    assert s['jaccard'][0] == 100 and s['precision'][0] == 100
    # 3 frames late: the third is outside the window.
    pred = [0] * 8 + [1] * 2
    s = relaxed_phase_scores(gt, pred, FPS)
    assert s['accuracy'] == pytest.approx(90)
    # Phase 0: U = frames 0..7 (8), correct 7 -> 87.5; predicted 8 -> 87.5;
    # labelled 5 -> recall 140 (TP over the union, as official).
    assert s['jaccard'][0] == pytest.approx(87.5)
    assert s['precision'][0] == pytest.approx(87.5)
    assert s['recall'][0] == pytest.approx(140)
    # Phase 1: U = frames 5..9 (5), correct 4 -> 80; predicted 2 -> 200.
    assert s['jaccard'][1] == pytest.approx(80)
    assert s['recall'][1] == pytest.approx(80)
    assert s['precision'][1] == pytest.approx(200)


def test_early_transition_official_quirk_and_intended():
    gt = [0] * 6 + [1] * 4
    pred = [0] * 4 + [1] * 6  # phase 1 predicted 2 frames early
    intended = relaxed_phase_scores(gt, pred, FPS, official=False)
    assert intended['accuracy'] == 100
    # Evaluate.m applies the tail mask to the head: frames 4, 5 stay wrong.
    official = relaxed_phase_scores(gt, pred, FPS)
    assert official['accuracy'] == pytest.approx(80)
    # Phase 1 (official): U = frames 4..9 (6), correct 4 -> 66.67.
    assert official['jaccard'][1] == pytest.approx(100 * 4 / 6)
    # The quirk zeroes head frames whose tail partner matches: segment
    # [0]*4 with diffs [1, 0, 1, 1]; the tail mask [T, T] lands on frames
    # 0, 1, so frame 0 is relaxed and frames 2, 3 are not.
    gt = [0] * 4 + [1] * 2
    pred = [1, 0, 1, 1, 1, 1]
    assert relaxed_phase_scores(gt, pred, FPS)['accuracy'] == \
        pytest.approx(100 * 4 / 6)  # frame 0 relaxed, frames 2, 3 not
    assert relaxed_phase_scores(gt, pred, FPS, official=False)[
        'accuracy'] == pytest.approx(100 * 5 / 6)  # frames 2, 3 relaxed


def test_two_step_relaxation_for_late_phases():
    # Cholec80: phase 3 (GallbladderDissection) may end predicted as 5.
    gt = [3] * 4 + [4] * 2 + [5] * 4
    pred = [3] * 2 + [5] * 2 + [4] * 2 + [5] * 4
    s = relaxed_phase_scores(gt, pred, FPS, official=False)
    assert s['accuracy'] == 100
    # Phase 2 (ClippingCutting) gets only one step: 2 -> 4 is an error.
    gt = [2] * 4 + [3] * 6
    pred = [2] * 2 + [4] * 2 + [3] * 6
    s = relaxed_phase_scores(gt, pred, FPS, official=False)
    assert s['accuracy'] == pytest.approx(80)
    # Phase 6 (GallbladderRetraction) may start predicted as 4 (late by 2).
    gt = [4] * 3 + [6] * 4
    pred = [4] * 5 + [6] * 2
    assert relaxed_phase_scores(gt, pred, FPS)['accuracy'] == 100
    # M2CAI16 (TrocarPlacement first) shifts the special phases by one:
    # its phase 7 (GallbladderRetraction) accepts the phase two before at
    # its start.
    gt = [5] * 3 + [7] * 4
    pred = [5] * 5 + [7] * 2
    assert relaxed_phase_scores(gt, pred, FPS, protocol='m2cai16')[
        'accuracy'] == 100
    # ... while its phase 5 (GallbladderPackaging) accepts only the phase
    # just before at its start: frames 3, 4 (predicted 3) are errors.
    gt = [3] * 3 + [5] * 4
    pred = [3] * 5 + [5] * 2
    assert relaxed_phase_scores(gt, pred, FPS, protocol='m2cai16')[
        'accuracy'] == pytest.approx(100 * 5 / 7)


def test_window_scales_with_fps_and_short_segments():
    gt = [0] * 10 + [1] * 10
    pred = [0] * 15 + [1] * 5
    # 1 fps -> 10-frame window: all 5 late frames relaxed.
    assert relaxed_phase_scores(gt, pred, 1.0)['accuracy'] == 100
    # 0.3 fps -> 3 frames.
    assert relaxed_phase_scores(gt, pred, 0.3)['accuracy'] == \
        pytest.approx(90)
    # A segment shorter than the window: the window is cut to it.
    gt = [0] * 8 + [1] * 2 + [2] * 8
    pred = [0] * 10 + [2] * 8
    s = relaxed_phase_scores(gt, pred, 1.0)
    assert s['accuracy'] == 100
    assert s['precision'][1] == math.inf  # never predicted, 2 TP (MATLAB)


def test_errors():
    with pytest.raises(ValueError, match='same length'):
        relaxed_phase_scores([0, 1], [0], 1.0)
    with pytest.raises(ValueError, match='outside 0..6'):
        relaxed_phase_scores([0, 7], [0, 0], 1.0)
    with pytest.raises(ValueError, match='protocol'):
        relaxed_phase_scores([0], [0], 1.0, protocol='cholec81')


def test_summary_like_main_m():
    v1 = dict(jaccard=np.array([100., 50., np.nan]),
              precision=np.array([120., 50., np.nan]),
              recall=np.array([80., 40., np.nan]), accuracy=90.)
    v2 = dict(jaccard=np.array([60., np.nan, 30.]),
              precision=np.array([60., np.nan, np.inf]),
              recall=np.array([60., np.nan, 30.]), accuracy=70.)
    out = summarize_phase_scores([v1, v2])
    # Per phase, clipped and NaN-averaged: [80, 50, 30].
    assert out['jaccard_per_phase'] == [80., 50., 30.]
    assert out['jaccard'] == pytest.approx(160 / 3)
    assert out['jaccard_std'] == pytest.approx(np.std([80, 50, 30], ddof=1))
    # Precision: 120 -> 100 and inf -> 100: [80, 50, 100].
    assert out['precision_per_phase'] == [80., 50., 100.]
    assert out['recall'] == pytest.approx((70 + 40 + 30) / 3)
    assert out['accuracy'] == 80 and out['accuracy_std'] == \
        pytest.approx(np.std([90, 70], ddof=1))
    with pytest.raises(ValueError, match='no videos'):
        summarize_phase_scores([])


def test_registered_metric_groups_frames_by_video():
    import torch
    from mmmedssl.registry import METRICS
    metric = METRICS.build(dict(type='SurgicalPhaseMetric', fps=FPS))
    videos = {
        'video41': ([0] * 5 + [1] * 5, [0] * 8 + [1] * 2),  # 90 % (above)
        'video42': ([0] * 4 + [1] * 3 + [2] * 3, None),  # perfect
    }
    samples = []
    for video, (gt, pred) in videos.items():
        pred = pred or gt
        for i in reversed(range(len(gt))):  # order must not matter
            samples.append(dict(video_id=video, frame_index=25 * i,
                                gt_label=torch.tensor([gt[i]]),
                                pred_score=torch.eye(7)[pred[i]]))
    metric.process(None, samples[::2])
    metric.process(None, samples[1::2])
    out = metric.evaluate(len(samples))
    assert out['phase/accuracy'] == pytest.approx(95)
    assert out['phase/accuracy_std'] == pytest.approx(np.std([90, 100],
                                                             ddof=1))
    expected = summarize_phase_scores([
        relaxed_phase_scores(*videos['video41'], FPS),
        relaxed_phase_scores(videos['video42'][0], videos['video42'][0],
                             FPS)
    ])
    assert out['phase/jaccard'] == pytest.approx(expected['jaccard'])
    with pytest.raises(KeyError, match='video_id, frame_index'):
        metric.process(None, [dict(gt_label=torch.tensor([0]),
                                   pred_label=torch.tensor([0]))])
