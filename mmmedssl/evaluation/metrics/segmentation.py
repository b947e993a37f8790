# Copyright (c) mmmedssl contributors. All rights reserved.
"""Dice and Jaccard (IoU) of label maps, per class, per image or over all
pixels.

For one class, prediction set ``P`` and ground-truth set ``G``::

    Dice    = 2 |P & G| / (|P| + |G|)
    Jaccard = |P & G| / |P | G| = Dice / (2 - Dice)

Empty sets, decided explicitly:

- ``P`` and ``G`` both empty (the class is absent and none is predicted):
  the score is ``empty_score``, 1 by default (a correct "nothing here");
  with ``empty_score=None`` it is NaN and such pairs do not count in means.
- only one of them empty (a missed class, or one predicted where there is
  none): 0, by the formula.

Pixels whose ground truth is ``ignore_index`` are left out of both sets.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement

from mmmedssl.registry import METRICS


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def segmentation_stats(pred,
                       gt,
                       num_classes: int,
                       ignore_index: Optional[int] = 255) -> np.ndarray:
    """Per-class ``[intersection, pred area, gt area]`` of two label maps.

    Args:
        pred, gt: Integer label maps of the same shape (arrays or tensors).
        num_classes (int): Classes ``0 .. num_classes - 1``.
        ignore_index (int, optional): Ground-truth value left out.

    Returns:
        np.ndarray: int64 ``(3, num_classes)``.
    """
    pred, gt = _as_numpy(pred), _as_numpy(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'segmentation_stats: prediction {pred.shape} and '
                         f'ground truth {gt.shape} differ in shape.')
    pred = pred.astype(np.int64).ravel()
    gt = gt.astype(np.int64).ravel()
    if ignore_index is not None:
        keep = gt != ignore_index
        pred, gt = pred[keep], gt[keep]
    for name, arr in (('prediction', pred), ('ground truth', gt)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(
                f'segmentation_stats: {name} labels must lie in [0, '
                f'{num_classes}) (ignore_index={ignore_index}), got '
                f'[{arr.min()}, {arr.max()}].')
    inter = np.bincount(gt[pred == gt], minlength=num_classes)
    pred_area = np.bincount(pred, minlength=num_classes)
    gt_area = np.bincount(gt, minlength=num_classes)
    return np.stack([inter, pred_area, gt_area]).astype(np.int64)


def _scores(stats: np.ndarray, kind: str,
            empty_score: Optional[float]) -> np.ndarray:
    inter, pred_area, gt_area = (stats[..., 0, :], stats[..., 1, :],
                                 stats[..., 2, :])
    if kind == 'dice':
        num, den = 2. * inter, (pred_area + gt_area).astype(np.float64)
    else:
        num, den = inter.astype(np.float64), (pred_area + gt_area -
                                              inter).astype(np.float64)
    empty = den == 0
    out = np.divide(num, den, out=np.zeros_like(den), where=~empty)
    out[empty] = np.nan if empty_score is None else empty_score
    return out


def dice_per_class(pred,
                   gt,
                   num_classes: int,
                   ignore_index: Optional[int] = 255,
                   empty_score: Optional[float] = 1.0) -> np.ndarray:
    """Dice of every class of one label map (in [0, 1]); see the module
    docstring for empty classes."""
    return _scores(
        segmentation_stats(pred, gt, num_classes, ignore_index), 'dice',
        empty_score)


def jaccard_per_class(pred,
                      gt,
                      num_classes: int,
                      ignore_index: Optional[int] = 255,
                      empty_score: Optional[float] = 1.0) -> np.ndarray:
    """Jaccard index (IoU) of every class of one label map (in [0, 1]);
    see the module docstring for empty classes."""
    return _scores(
        segmentation_stats(pred, gt, num_classes, ignore_index), 'jaccard',
        empty_score)


def summarize_segmentation(stats: Sequence[np.ndarray],
                           average: str = 'image',
                           empty_score: Optional[float] = 1.0
                           ) -> Dict[str, np.ndarray]:
    """Per-class Dice and Jaccard of a set of images, in [0, 1].

    Args:
        stats: One ``(3, C)`` array of :func:`segmentation_stats` per image.
        average (str): ``'image'``: the score of each image, then the mean
            over images (the ISIC challenge convention; NaN entries, from
            ``empty_score=None``, are skipped). ``'pixel'``: intersections
            and areas summed over all images first, one score per class
            ("global" Dice, dominated by large structures).
        empty_score (float, optional): Score of an empty prediction on an
            empty ground truth.

    Returns:
        dict: ``dice`` and ``jaccard``, each ``(C,)``.
    """
    stats = np.stack([np.asarray(s) for s in stats])
    if average == 'pixel':
        total = stats.sum(0)
        return dict(dice=_scores(total, 'dice', empty_score),
                    jaccard=_scores(total, 'jaccard', empty_score))
    if average != 'image':
        raise ValueError("summarize_segmentation: average must be 'image' "
                         f"or 'pixel', got {average!r}.")
    out = {}
    for kind in ('dice', 'jaccard'):
        per_image = _scores(stats, kind, empty_score)  # (N, C)
        with np.errstate(invalid='ignore'):
            counts = (~np.isnan(per_image)).sum(0)
            sums = np.nansum(per_image, 0)
        out[kind] = np.where(counts > 0, sums / np.maximum(counts, 1),
                             np.nan)
    return out


@METRICS.register_module()
class SegmentationMetric(BaseMetric):
    """Dice and Jaccard of predicted label maps, in %.

    Compares each sample's ``pred_seg_map`` with its ``gt_seg_map`` (same
    size; ``MedUNetSegmentor`` resizes its logits to the mask). By default
    the scores are computed **per image** and averaged over images, the
    ISIC challenge convention (``average='pixel'`` pools the pixels of all
    images instead). Empty classes: see the module docstring (an empty
    prediction on an empty ground truth scores ``empty_score``, 1 by
    default; exactly one of them empty scores 0).

    Reported keys (prefix ``seg``):

    - ``dice``, ``jaccard``: the mean over the foreground classes (all
      classes but ``background_index``; all classes when it is None) of the
      per-class scores; for binary masks, the lesion's Dice and Jaccard.
    - ``dice_<class>``, ``jaccard_<class>``: every class, background
      included (``<class>`` is the name from ``classes``, else the index).

    Args:
        num_classes (int, optional): Number of classes; taken from
            ``classes`` when not given.
        classes (Sequence[str], optional): Class names, index order. The
            dataset's ``classes`` are not used: in segmentation configs they
            are often the image-level diagnoses used to draw label fractions.
        background_index (int, optional): Class left out of the means.
            Defaults to 0.
        ignore_index (int, optional): Ground-truth value left out. Defaults
            to 255.
        average (str): ``'image'`` (default) or ``'pixel'``.
        empty_score (float, optional): Defaults to 1.
        collect_device, prefix: As in ``BaseMetric``.
    """
    default_prefix = 'seg'

    def __init__(self,
                 num_classes: Optional[int] = None,
                 classes: Optional[Sequence[str]] = None,
                 background_index: Optional[int] = 0,
                 ignore_index: Optional[int] = 255,
                 average: str = 'image',
                 empty_score: Optional[float] = 1.0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if classes is not None:
            classes = tuple(classes)
            if num_classes is not None and num_classes != len(classes):
                raise ValueError(
                    f'SegmentationMetric: num_classes={num_classes} but '
                    f'{len(classes)} class names {list(classes)}.')
            num_classes = len(classes)
        if num_classes is None or num_classes < 1:
            raise ValueError('SegmentationMetric: give num_classes or '
                             'classes.')
        if background_index is not None and not (0 <= background_index <
                                                  num_classes):
            raise ValueError(
                f'SegmentationMetric: background_index {background_index} '
                f'is not a class index below {num_classes}.')
        if average not in ('image', 'pixel'):
            raise ValueError("SegmentationMetric: average must be 'image' "
                             f"or 'pixel', got {average!r}.")
        self.num_classes = num_classes
        self.classes = classes
        self.background_index = background_index
        self.ignore_index = ignore_index
        self.average = average
        self.empty_score = empty_score

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            if 'pred_seg_map' not in sample or 'gt_seg_map' not in sample:
                raise KeyError(
                    'SegmentationMetric needs pred_seg_map and gt_seg_map in '
                    'each data sample (a segmentor on a dataset with masks); '
                    f'got keys {sorted(sample)}.')
            self.results.append(
                segmentation_stats(sample['pred_seg_map'],
                                   sample['gt_seg_map'], self.num_classes,
                                   self.ignore_index))

    def compute_metrics(self, results: List[np.ndarray]) -> Dict[str, float]:
        scores = summarize_segmentation(results, self.average,
                                        self.empty_score)
        names = self.classes or tuple(
            str(i) for i in range(self.num_classes))
        fg = [
            c for c in range(self.num_classes) if c != self.background_index
        ] or list(range(self.num_classes))
        metrics = {}
        for kind in ('dice', 'jaccard'):
            values = scores[kind] * 100
            with np.errstate(invalid='ignore'):
                fg_values = values[fg][~np.isnan(values[fg])]
            metrics[kind] = float(fg_values.mean()) if fg_values.size \
                else float('nan')
            for name, value in zip(names, values):
                metrics[f'{kind}_{name}'] = float(value)
        return metrics
