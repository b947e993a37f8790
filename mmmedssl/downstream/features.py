# Copyright (c) mmmedssl contributors. All rights reserved.
"""Pooled backbone features of a dataset, labelled or not."""
from typing import List, NamedTuple, Optional

import torch


class Features(NamedTuple):
    """Features of every sample of a dataloader, in its order.

    ``feats`` is a float tensor ``(N, C)`` on the CPU; ``labels`` a long
    tensor ``(N, )`` of class indices (multi-class), a float tensor
    ``(N, L)`` of 0/1 targets (multi-label) or None (unlabelled data);
    ``sample_ids`` names each sample (its image path when the pipeline packs
    one, else its dataset index).
    """
    feats: torch.Tensor
    labels: Optional[torch.Tensor]
    sample_ids: List[str]


def _pooled_feature_fn(model):
    if hasattr(model, 'extract_pooled_feat'):
        return model.extract_pooled_feat
    if hasattr(model, 'extract_feat') and getattr(model, 'with_neck', False):
        def pooled(inputs):
            out = model.extract_feat(inputs)
            out = out[-1] if isinstance(out, (tuple, list)) else out
            return out.flatten(1)

        return pooled
    raise TypeError(
        f'{type(model).__name__} has no extract_pooled_feat: expected an '
        'mmmedssl self-supervised algorithm (BaseMedSelfSupervisor) or a '
        'classifier with a pooling neck.')


def _sample_id(sample, running_index: int) -> str:
    meta = sample.metainfo
    for key in ('img_path', 'img_paths', 'sample_idx'):
        if key in meta:
            value = meta[key]
            if isinstance(value, (list, tuple)):
                value = value[0] if value else running_index
            return str(value)
    return str(running_index)


@torch.no_grad()
def extract_features(model,
                     dataloader,
                     multi_label: Optional[bool] = None,
                     num_classes: Optional[int] = None,
                     require_labels: bool = True) -> Features:
    """Pooled backbone features, labels and sample ids of a dataloader.

    Runs the model's data preprocessor and
    ``BaseMedSelfSupervisor.extract_pooled_feat`` in eval mode (BatchNorm
    uses its running statistics), so any mmmedssl self-supervised algorithm
    works; a classifier (mmpretrain ``ImageClassifier``, whose
    ``extract_feat`` ends with its pooling neck) gives its neck's output.
    Multi-view inputs contribute their first view, as in ``predict``.

    Args:
        model: An mmmedssl self-supervised algorithm or a classifier.
        dataloader: Yields batches of data samples.
        multi_label (bool, optional): Return multi-hot targets. None
            (default) decides from the data: multi-label when a sample has
            ``gt_score`` or a ``gt_label`` with other than exactly one entry
            (ChestX-ray14's lists of positive classes).
        num_classes (int, optional): Width of the multi-hot targets; by
            default the length of ``gt_score``, else the number of classes
            of ``dataloader.dataset``, else the largest index + 1.
        require_labels (bool): Raise when the data has no labels. With
            False, unlabelled data gives ``labels=None`` (partly labelled
            data is still an error).

    Returns:
        Features: ``(feats, labels, sample_ids)``.
    """
    pooled = _pooled_feature_fn(model)
    was_training = model.training
    model.eval()
    feats, label_lists, scores, sample_ids = [], [], [], []
    labelled = []
    try:
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            inputs = data['inputs']
            if isinstance(inputs, (list, tuple)):
                inputs = inputs[0]
            samples = data.get('data_samples') or []
            if len(samples) != inputs.shape[0]:
                raise ValueError(
                    f'extract_features: a batch has {inputs.shape[0]} '
                    f'inputs but {len(samples)} data samples.')
            feats.append(pooled(inputs).float().cpu())
            for s in samples:
                sample_ids.append(_sample_id(s, len(sample_ids)))
                labelled.append('gt_label' in s)
                if 'gt_label' not in s:
                    continue
                label_lists.append(
                    [int(v) for v in torch.as_tensor(s.gt_label).reshape(-1)])
                scores.append(
                    torch.as_tensor(s.gt_score).detach().float().cpu()
                    .reshape(-1) if 'gt_score' in s else None)
    finally:
        model.train(was_training)
    if not feats:
        raise ValueError('extract_features: the dataloader is empty.')
    if not all(labelled):
        if require_labels or any(labelled):
            raise KeyError(
                f'extract_features: {labelled.count(False)} of '
                f'{len(labelled)} samples have no label (gt_label). This '
                'evaluation needs a labelled dataset: set label_key in the '
                "dataloader's dataset, or use a label-free evaluation.")
        return Features(torch.cat(feats), None, sample_ids)
    return Features(
        torch.cat(feats),
        _targets(label_lists, scores, multi_label, num_classes, dataloader),
        sample_ids)


def _targets(label_lists, scores, multi_label, num_classes, dataloader):
    if multi_label is None:
        multi_label = any(score is not None or len(label) != 1
                          for label, score in zip(label_lists, scores))
    if not multi_label:
        return torch.tensor([label[0] for label in label_lists],
                            dtype=torch.long)
    if num_classes is None:
        widths = {s.numel() for s in scores if s is not None}
        classes = getattr(getattr(dataloader, 'dataset', None), 'metainfo',
                          {}).get('classes')
        if widths:
            num_classes = max(widths)
        elif classes:
            num_classes = len(classes)
        else:
            num_classes = 1 + max(
                (max(label) for label in label_lists if label), default=0)
    targets = torch.zeros(len(label_lists), num_classes)
    for row, (label, score) in enumerate(zip(label_lists, scores)):
        if score is not None:
            targets[row] = (score >= 0.5).float()
        elif label:
            if min(label) < 0 or max(label) >= num_classes:
                raise ValueError(f'extract_features: gt_label {label} out of '
                                 f'range for {num_classes} classes.')
            targets[row, label] = 1
    return targets
