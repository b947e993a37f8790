# Copyright (c) mmmedssl contributors. All rights reserved.
"""How much of a classification task colour alone solves, and how much
colour a backbone keeps (``tools/benchmarks/colour_cue.py``)."""
import copy
from typing import Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config

from mmmedssl.evaluation.functional import classification_metrics
from .evaluation_model import build_eval_model
from .linear_probe import fit_linear_probe


def colour_stats(bgr: np.ndarray) -> np.ndarray:
    """12 numbers: per-channel mean and std in RGB and in HSV (each channel
    scaled to [0, 1])."""
    rgb = bgr[..., ::-1].astype(np.float32) / 255.
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv /= np.array([180., 255., 255.], np.float32)
    return np.concatenate([
        rgb.reshape(-1, 3).mean(0), rgb.reshape(-1, 3).std(0),
        hsv.reshape(-1, 3).mean(0), hsv.reshape(-1, 3).std(0)])


def hue_rotated(bgr: np.ndarray, degrees: int = 90) -> np.ndarray:
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int32) + degrees // 2) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def grey(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
                        cv2.COLOR_GRAY2BGR)


def raw_image_split(cfg: Config, split: str):
    """The ``test_dataloader`` dataset of one split, loading images only
    (BGR uint8, no resizing)."""
    from mmmedssl.registry import DATASETS
    loader = copy.deepcopy(cfg.test_dataloader)
    loader['dataset']['split'] = split
    loader['dataset']['pipeline'] = [dict(type='LoadImageFromFile')]
    return DATASETS.build(loader['dataset'])


def colour_probe(cfg: Config) -> dict:
    """Test metrics of a linear probe on :func:`colour_stats` (weight decay
    chosen on val)."""
    data = {}
    for split in ('train', 'val', 'test'):
        dataset = raw_image_split(cfg, split)
        feats, labels = [], []
        for i in range(len(dataset)):
            item = dataset[i]
            feats.append(colour_stats(item['img']))
            labels.append(int(item['gt_label']))
        data[split] = (torch.from_numpy(np.stack(feats)),
                       torch.tensor(labels))
    num_classes = cfg.model.head.num_classes
    probe = fit_linear_probe(*data['train'], *data['val'], num_classes)
    test_x, test_y = data['test']
    return classification_metrics(probe.predict_proba(test_x), test_y,
                                  num_classes)


@torch.no_grad()
def colour_invariance(cfg: Config, checkpoint: Optional[str],
                      images, work_dir: str = 'work_dirs/colour_cue') -> dict:
    """How far pooled features move when an image's hue is rotated by 90
    degrees (``hue_90``) or it is turned grey (``grey``), relative to the
    mean distance between two different images: 0 = the backbone ignores
    the change, 1 = as far as replacing the image. ``checkpoint`` is loaded
    into the config's backbone (prefix ``backbone.``); None: random init
    with seed 0."""
    cfg = copy.deepcopy(cfg)
    cfg.randomness = dict(seed=0)
    if checkpoint:
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    model = build_eval_model(cfg, None, work_dir)
    size = next(t['scale'] for t in cfg.test_dataloader.dataset.pipeline
                if t['type'] == 'Resize')

    def feats(batch):
        x = np.stack([cv2.resize(b, tuple(size),
                                 interpolation=cv2.INTER_LINEAR)
                      for b in batch])
        x = torch.from_numpy(x).permute(0, 3, 1, 2).float()
        data = model.data_preprocessor(dict(inputs=list(x)), False)
        out = model.extract_feat(data['inputs'])
        return (out[-1] if isinstance(out, (tuple, list)) else out).flatten(1)

    base = feats(images)
    between = torch.cdist(base, base).sum() / (len(base) * (len(base) - 1))
    out = {}
    for name, fn in (('hue_90', hue_rotated), ('grey', grey)):
        moved = feats([fn(b) for b in images])
        out[name] = float((moved - base).norm(dim=1).mean() / between)
    return out
