# Copyright (c) mmmedssl contributors. All rights reserved.
"""Surgical phase recognition metrics with the relaxed boundaries of the
official Cholec80 / M2CAI16 evaluation (the challenges' ``Evaluate.m`` and
``Main.m``), re-implemented in Python.

Per video, a frame counts as correct if its prediction equals the ground
truth, or if it lies within ``10 s`` of a ground-truth phase boundary and
the prediction is the neighbouring phase on that side of the boundary (a
transition predicted a little late or early). Some phases may also be
confused with the phase two steps away (see ``PHASE_PROTOCOLS``). From the
relaxed per-frame correctness:

- accuracy = the share of correct frames;
- per phase p present in the ground truth, with U = frames predicted p or
  labelled p and TP = correct frames in U: Jaccard = TP / |U|, precision =
  TP / #predicted p, recall = TP / #labelled p (NaN for absent phases).

Videos are summarised as ``Main.m`` does: per-phase scores clipped to 100 and
averaged over videos ignoring NaN, then mean and std over phases; accuracy
mean and std over videos.

``official=True`` keeps a quirk of ``Evaluate.m``: the early-transition
mask, computed on the last ``t`` frames of a ground-truth segment, is
applied to the segment's *first* ``t`` frames (MATLAB logical indexing with
a shorter mask), so late-predicted ends are in fact not relaxed. Published
numbers were computed that way; ``official=False`` applies the mask to the
last ``t`` frames as intended.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mmmedssl.registry import METRICS

# 0-based phase indices. ``end_two``: at the end of their segments these
# phases may be predicted as the next phase or the one after (early
# transition); ``both_two``: also at the start, as the previous phase or the
# one before (late transition). As in the official scripts.
PHASE_PROTOCOLS = dict(
    cholec80=dict(num_phases=7, end_two=(3, 4), both_two=(5, 6)),
    m2cai16=dict(num_phases=8, end_two=(4, 5), both_two=(6, 7)),
)


def _segments(mask: np.ndarray) -> List[tuple]:
    """(start, end) index pairs, end exclusive, of the runs of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))


def relaxed_phase_scores(gt: Sequence[int],
                         pred: Sequence[int],
                         fps: float,
                         protocol: str = 'cholec80',
                         relax_seconds: float = 10.,
                         official: bool = True) -> Dict[str, np.ndarray]:
    """Relaxed-boundary scores of one video.

    Args:
        gt, pred: Per-frame phase indices (0-based) of one video, at the
            same frame rate ``fps``.
        fps (float): Frames per second of ``gt``/``pred``: the relaxed
            window is ``round(relax_seconds * fps)`` frames. Give the rate of
            the sequences you pass (1 for labels at 1 fps; the official
            scripts use 25 on 25 fps labels).
        protocol (str): ``'cholec80'`` or ``'m2cai16'`` (phase count and
            which phases get the two-step relaxation).
        relax_seconds (float): Defaults to 10, as official.
        official (bool): Reproduce ``Evaluate.m`` exactly (see the module
            docstring). Defaults to True.

    Returns:
        dict: ``jaccard``, ``precision``, ``recall`` (per phase, in %, NaN
        for phases absent from ``gt``; not clipped) and ``accuracy`` (%).
    """
    if protocol not in PHASE_PROTOCOLS:
        raise ValueError(f'protocol must be one of {sorted(PHASE_PROTOCOLS)}'
                         f', got {protocol!r}.')
    spec = PHASE_PROTOCOLS[protocol]
    gt = np.asarray(gt, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    if gt.ndim != 1 or gt.shape != pred.shape or gt.size == 0:
        raise ValueError('gt and pred must be non-empty 1-D sequences of the '
                         f'same length, got {gt.shape} and {pred.shape}.')
    num_phases = spec['num_phases']
    for name, seq in (('gt', gt), ('pred', pred)):
        if seq.min() < 0 or seq.max() >= num_phases:
            raise ValueError(f'{name} holds phases outside 0..'
                             f'{num_phases - 1} ({protocol}).')
    window = int(round(relax_seconds * fps))

    diff = pred - gt
    relaxed = diff.copy()
    for phase in range(num_phases):
        late = (-1, -2) if phase in spec['both_two'] else (-1, )
        early = ((1, 2) if phase in spec['end_two'] + spec['both_two'] else
                 (1, ))
        for start, end in _segments(gt == phase):
            seg = diff[start:end].copy()
            t = min(window, end - start)
            head = np.isin(seg[:t], late)
            tail = np.isin(seg[end - start - t:], early)
            seg[:t][head] = 0
            if official:
                seg[:t][tail] = 0  # Evaluate.m's mask lands on the head
            else:
                seg[end - start - t:][tail] = 0
            relaxed[start:end] = seg
    correct = relaxed == 0

    jaccard = np.full(num_phases, np.nan)
    precision = np.full(num_phases, np.nan)
    recall = np.full(num_phases, np.nan)
    for phase in range(num_phases):
        labelled = gt == phase
        if not labelled.any():
            continue
        predicted = pred == phase
        union = labelled | predicted
        tp = np.count_nonzero(correct & union)
        jaccard[phase] = 100. * tp / np.count_nonzero(union)
        # As official: TP counted over the union, so a relaxed frame of a
        # neighbouring phase counts here too; precision may exceed 100.
        if predicted.any():
            precision[phase] = 100. * tp / np.count_nonzero(predicted)
        else:  # MATLAB's x / 0: Inf (clipped to 100 later), or NaN for 0
            precision[phase] = np.inf if tp else np.nan
        recall[phase] = 100. * tp / np.count_nonzero(labelled)
    return dict(
        jaccard=jaccard,
        precision=precision,
        recall=recall,
        accuracy=100. * np.count_nonzero(correct) / gt.size)


def summarize_phase_scores(videos: Sequence[Dict[str, np.ndarray]]
                           ) -> Dict[str, float]:
    """Mean and std over the test videos, as ``Main.m`` reports them.

    Per-phase scores are clipped to 100 and averaged over videos (ignoring
    NaN); ``jaccard``/``precision``/``recall`` are the mean over phases of
    those averages, ``*_std`` their std over phases (sample std, MATLAB's
    ``std``); ``accuracy`` and ``accuracy_std`` are over videos. Per-phase
    averages come back as ``jaccard_per_phase`` etc.
    """
    if not videos:
        raise ValueError('summarize_phase_scores: no videos.')
    out = {}
    for key in ('jaccard', 'precision', 'recall'):
        table = np.stack([np.minimum(v[key], 100.) for v in videos])
        with np.errstate(invalid='ignore'):
            per_phase = np.array([
                np.nanmean(col) if np.isfinite(col).any() else np.nan
                for col in table.T
            ])
        present = per_phase[~np.isnan(per_phase)]
        out[key] = float(present.mean())
        out[f'{key}_std'] = float(present.std(ddof=1)) if \
            present.size > 1 else 0.
        out[f'{key}_per_phase'] = per_phase.tolist()
    acc = np.array([v['accuracy'] for v in videos], dtype=np.float64)
    out['accuracy'] = float(acc.mean())
    out['accuracy_std'] = float(acc.std(ddof=1)) if acc.size > 1 else 0.
    return out


def _scalar(value) -> int:
    if hasattr(value, 'reshape'):
        value = value.reshape(-1)[0]
    return int(value)


@METRICS.register_module()
class SurgicalPhaseMetric(BaseMetric):
    """Relaxed-boundary phase recognition metrics over whole videos.

    Each data sample is one frame with ``video_id``, ``frame_index``,
    ``gt_label`` and ``pred_label`` (or ``pred_score``); frames are grouped
    by video and ordered by frame index, then scored with
    :func:`relaxed_phase_scores` and summarised with
    :func:`summarize_phase_scores` (``accuracy``, ``jaccard``,
    ``precision``, ``recall`` and their ``*_std``).

    Args:
        fps (float): Frame rate of the evaluated frames (e.g. 1 or 5 for
            frames sampled from 25 fps videos): the 10 s window is
            ``10 * fps`` frames.
        protocol (str): ``'cholec80'`` or ``'m2cai16'``.
        official (bool): See :func:`relaxed_phase_scores`.
    """
    default_prefix = 'phase'

    def __init__(self,
                 fps: float,
                 protocol: str = 'cholec80',
                 official: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if protocol not in PHASE_PROTOCOLS:
            raise ValueError(f'protocol must be one of '
                             f'{sorted(PHASE_PROTOCOLS)}, got {protocol!r}.')
        self.fps = fps
        self.protocol = protocol
        self.official = official

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            missing = [
                k for k in ('video_id', 'frame_index', 'gt_label')
                if k not in sample
            ]
            if 'pred_label' not in sample and 'pred_score' not in sample:
                missing.append('pred_label')
            if missing:
                raise KeyError(
                    f'SurgicalPhaseMetric needs {", ".join(missing)} in each '
                    'data sample (add video_id and frame_index to the '
                    "dataset pipeline's PackMedInputs meta_keys).")
            pred = sample.get('pred_label')
            if pred is None:
                pred = sample['pred_score'].argmax()
            self.results.append((str(sample['video_id']),
                                 _scalar(sample['frame_index']),
                                 _scalar(sample['gt_label']), _scalar(pred)))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        videos = {}
        for video, frame, gt, pred in results:
            videos.setdefault(video, []).append((frame, gt, pred))
        scores = []
        for frames in videos.values():
            frames.sort()
            gt = [f[1] for f in frames]
            pred = [f[2] for f in frames]
            scores.append(
                relaxed_phase_scores(gt, pred, self.fps, self.protocol,
                                     official=self.official))
        summary = summarize_phase_scores(scores)
        return {
            k: v
            for k, v in summary.items() if not k.endswith('_per_phase')
        }
