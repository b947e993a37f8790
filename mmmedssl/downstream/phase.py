# Copyright (c) mmmedssl contributors. All rights reserved.
"""Surgical phase recognition on frozen per-frame features: a causal TCN
trained per video (the DistillingSelf downstream protocol, §1.7 of the
method notes), selected on validation videos, scored with the relaxed
official metrics."""
import copy
import random
from typing import Dict, List, NamedTuple, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmmedssl.evaluation.metrics.phase_metrics import (relaxed_phase_scores,
                                                       summarize_phase_scores)
from mmmedssl.registry import DATASETS, MODELS
from .features import extract_features


class VideoFeatures(NamedTuple):
    """One video: per-frame features (T, C), phases (T,), its id."""
    feats: torch.Tensor
    labels: torch.Tensor
    video_id: str


def group_by_video(feats: torch.Tensor, labels: Sequence[int],
                   video_ids: Sequence[str],
                   frame_indices: Sequence[int]) -> List[VideoFeatures]:
    """Split frame-level features into videos, frames ordered by index."""
    if not (len(feats) == len(labels) == len(video_ids) ==
            len(frame_indices)):
        raise ValueError('group_by_video: feats, labels, video_ids and '
                         'frame_indices must have the same length.')
    rows: Dict[str, List[int]] = {}
    for i, video in enumerate(video_ids):
        rows.setdefault(str(video), []).append(i)
    videos = []
    for video, idx in rows.items():
        idx.sort(key=lambda i: frame_indices[i])
        videos.append(
            VideoFeatures(feats[idx],
                          torch.as_tensor([labels[i] for i in idx]), video))
    return videos


@torch.no_grad()
def evaluate_phase_model(head, videos: Sequence[VideoFeatures], fps: float,
                         protocol: str = 'cholec80',
                         official: bool = True,
                         relax_seconds: float = 10.) -> Dict[str, float]:
    """Relaxed metrics of ``head`` (a ``CausalTCNHead``) over ``videos``
    (``relax_seconds=0``: strict per-frame metrics)."""
    was_training = head.training
    head.eval()
    try:
        scores = [
            relaxed_phase_scores(v.labels.tolist(),
                                 head.predict(v.feats.t()[None])[0].tolist(),
                                 fps, protocol, relax_seconds, official)
            for v in videos
        ]
    finally:
        head.train(was_training)
    return summarize_phase_scores(scores)


def fit_phase_tcn(train: Sequence[VideoFeatures],
                  val: Sequence[VideoFeatures],
                  num_classes: int,
                  fps: float,
                  protocol: str = 'cholec80',
                  epochs: int = 100,
                  lr: float = 5e-4,
                  weight_decay: float = 1e-5,
                  lr_step: int = 30,
                  seed: int = 0,
                  head_cfg: dict = None,
                  relax_seconds: float = 10.) -> Tuple[torch.nn.Module, list]:
    """Train a ``CausalTCNHead`` on the train videos (one video per step,
    Adam, lr halved every ``lr_step`` epochs, as released) and keep the
    epoch with the best (relaxed) accuracy on the val videos (the released
    code selected on the test videos).

    Returns:
        tuple: the head at its best epoch (eval mode) and the history, one
        dict per epoch with ``loss`` and the val metrics.
    """
    if not train or not val:
        raise ValueError('fit_phase_tcn needs train and val videos.')
    torch.manual_seed(seed)
    order_rng = random.Random(seed)
    cfg = dict(type='CausalTCNHead', in_channels=train[0].feats.shape[1],
               num_classes=num_classes)
    cfg.update(head_cfg or {})
    head = MODELS.build(cfg)
    optimizer = torch.optim.Adam(
        head.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, lr_step, 0.5)
    best, best_state, history = None, None, []
    for epoch in range(epochs):
        head.train()
        order = list(range(len(train)))
        order_rng.shuffle(order)
        total = 0.
        for i in order:
            video = train[i]
            losses = head.loss(video.feats.t()[None], video.labels[None])
            loss = sum(losses.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        scheduler.step()
        metrics = evaluate_phase_model(
            head, val, fps, protocol, relax_seconds=relax_seconds)
        history.append(dict(epoch=epoch + 1, loss=total / len(train),
                            **{k: v for k, v in metrics.items()
                               if not k.endswith('_per_phase')}))
        if best is None or metrics['accuracy'] > best:
            best = metrics['accuracy']
            best_state = copy.deepcopy(head.state_dict())
    head.load_state_dict(best_state)
    return head.eval(), history


def phase_split_loaders(cfg: Config, fps: float, label_fraction: float = 1.,
                        seed: int = 0) -> Dict[str, tuple]:
    """split -> ``(dataloader, dataset)`` for train, val and test of the
    ``SurgicalVideoFrames`` in ``cfg.test_dataloader``, labelled, at
    ``fps``; the train split keeps ``label_fraction`` of its videos (whole
    videos, drawn with ``seed``, the same for every backbone)."""
    loader_cfg = cfg.get('test_dataloader') or {}
    dataset_cfg = loader_cfg.get('dataset') or {}
    if dataset_cfg.get('type') != 'SurgicalVideoFrames':
        raise ValueError(
            f'{cfg.filename}: test_dataloader.dataset must be '
            f"SurgicalVideoFrames, got {dataset_cfg.get('type')!r}.")
    out = {}
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope') or 'mmmedssl'):
        for split in ('train', 'val', 'test'):
            part = dict(copy.deepcopy(dataset_cfg), split=split, fps=fps,
                        with_label=True)
            if split == 'train':
                part.update(label_fraction=label_fraction,
                            fraction_seed=seed)
            dataset = DATASETS.build(part)
            out[split] = (Runner.build_dataloader(
                dict(copy.deepcopy(loader_cfg), dataset=dataset)), dataset)
    return out


def video_features(model, loader, dataset) -> List[VideoFeatures]:
    """Per-video feature sequences of a labelled surgical frame loader."""
    feats, labels, _ = extract_features(model, loader)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    return group_by_video(feats, labels.tolist(),
                          [info['video_id'] for info in infos],
                          [info['frame_index'] for info in infos])


def evaluate_phase_backbone(model, loaders: Dict[str, tuple], num_classes: int,
                            fps: float, protocol: str, epochs: int = 100,
                            lr: float = 5e-4, seed: int = 0,
                            official: bool = True,
                            relax_seconds: float = 10.) -> dict:
    """Phase recognition with a frozen backbone: per-video features of each
    split, a causal TCN fitted on train and selected on val, test metrics
    (overall, and per phase under ``test_per_phase``)."""
    videos = {
        split: video_features(model, loader, dataset)
        for split, (loader, dataset) in loaders.items()
    }
    head, history = fit_phase_tcn(
        videos['train'], videos['val'], num_classes, fps, protocol,
        epochs=epochs, lr=lr, seed=seed, relax_seconds=relax_seconds)
    best = max(history, key=lambda h: h['accuracy'])
    test = evaluate_phase_model(head, videos['test'], fps, protocol,
                                official=official,
                                relax_seconds=relax_seconds)
    return dict(
        test={k: v for k, v in test.items() if not k.endswith('_per_phase')},
        test_per_phase={k: v for k, v in test.items()
                        if k.endswith('_per_phase')},
        best_epoch=best['epoch'], val_history=history)
