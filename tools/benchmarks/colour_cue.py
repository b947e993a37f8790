# Copyright (c) mmmedssl contributors. All rights reserved.
"""How much of a classification task colour alone solves, and how much
colour each backbone keeps.

    python tools/benchmarks/colour_cue.py DOWNSTREAM_CONFIG \\
        [--checkpoint NAME=CKPT ...] [--num-images 256] [--out F.json]

1. A linear probe (``fit_linear_probe``, weight decay on val) on colour
   statistics only: per-channel mean and standard deviation of each image
   in RGB and HSV (12 numbers), train/val/test splits of the config's
   ``test_dataloader``.
2. For random init (the config's backbone, seed 0) and each checkpoint
   (loaded into the config's backbone with prefix ``backbone.``): how far
   the pooled features of an image move when its hue is rotated by 90
   degrees or it is turned grey, relative to the distance between two
   different images (``--num-images`` test images). 0: the backbone ignores the change (it has thrown away the
   colour cue that part 1 measures); 1: the change moves an image as far as
   replacing it with another image.
"""
import argparse
import copy
import json

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmmedssl.apis import build_runner, sanitize_dataloaders
from mmmedssl.evaluation import classification_metrics, fit_linear_probe
from mmmedssl.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a downstream classification config')
    parser.add_argument('--checkpoint', nargs='*', default=[],
                        metavar='NAME=CKPT')
    parser.add_argument('--num-images', type=int, default=256)
    parser.add_argument('--out', help='JSON file for the results')
    args = parser.parse_args(argv)
    for item in args.checkpoint:
        if '=' not in item:
            parser.error(f'--checkpoint {item!r}: expected NAME=CKPT.')
    return args


def colour_stats(bgr: np.ndarray) -> np.ndarray:
    rgb = bgr[..., ::-1].astype(np.float32) / 255.
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv /= np.array([180., 255., 255.], np.float32)
    return np.concatenate([
        rgb.reshape(-1, 3).mean(0), rgb.reshape(-1, 3).std(0),
        hsv.reshape(-1, 3).mean(0), hsv.reshape(-1, 3).std(0)])


def split_dataset(cfg: Config, split: str):
    loader = copy.deepcopy(cfg.test_dataloader)
    loader['dataset']['split'] = split
    loader['dataset']['pipeline'] = [dict(type='LoadImageFromFile')]
    from mmmedssl.registry import DATASETS
    return DATASETS.build(loader['dataset'])


def colour_probe(cfg: Config) -> dict:
    data = {}
    for split in ('train', 'val', 'test'):
        dataset = split_dataset(cfg, split)
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


def hue_rotated(bgr: np.ndarray, degrees: int = 90) -> np.ndarray:
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int32) + degrees // 2) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def grey(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
                        cv2.COLOR_GRAY2BGR)


@torch.no_grad()
def invariance(cfg: Config, checkpoint, images) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg.randomness = dict(seed=0)
    if checkpoint:
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    runner = build_runner(cfg)
    model = runner.model
    model.init_weights()
    model.eval()
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
    # Relative to the mean distance between two different images.
    between = torch.cdist(base, base).sum() / (len(base) * (len(base) - 1))
    out = {}
    for name, fn in (('hue_90', hue_rotated), ('grey', grey)):
        moved = feats([fn(b) for b in images])
        out[name] = float((moved - base).norm(dim=1).mean() / between)
    return out


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    cfg.work_dir = 'work_dirs/colour_cue'
    cfg.log_level = 'WARNING'
    sanitize_dataloaders(cfg)
    with DefaultScope.overwrite_default_scope('mmmedssl'):
        probe = colour_probe(cfg)
        test = split_dataset(cfg, 'test')
        rng = np.random.default_rng(0)
        picks = rng.choice(len(test), min(args.num_images, len(test)),
                           replace=False)
        images = [test[int(i)]['img'] for i in picks]
        rows = {'random init': invariance(cfg, None, images)}
        for item in args.checkpoint:
            name, ckpt = item.split('=', 1)
            rows[name] = invariance(cfg, ckpt, images)
    print(f'\nColour statistics only (12 numbers per image), linear probe, '
          f"test: top-1 {probe['top1']:.2f} %, balanced acc "
          f"{probe['balanced_acc']:.2f} %, macro AUC "
          f"{probe['macro_auc']:.2f} %\n")
    print('| backbone | hue +90°: feature shift / between-image distance '
          '| grey: feature shift / between-image distance |')
    print('|---|---|---|')
    for name, row in rows.items():
        print(f"| {name} | {row['hue_90']:.3f} | {row['grey']:.3f} |")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, colour_probe=probe,
                           invariance=rows, num_images=len(images)), f,
                      indent=2)


if __name__ == '__main__':
    main()
