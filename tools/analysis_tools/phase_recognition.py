# Copyright (c) mmmedssl contributors. All rights reserved.
"""Surgical phase recognition with a frozen backbone beside the same backbone
at random initialisation: per-frame features, a causal TCN per video
selected on the validation videos, relaxed official metrics on the test
videos; a table (and JSON with ``--out``).

    python tools/analysis_tools/phase_recognition.py CONFIG CHECKPOINT \\
        [--fps 1] [--epochs 100] [--lr 5e-4] [--seed 0] \\
        [--label-fraction 1.0] [--relax-seconds 10] [--out F.json]

CONFIG is a pretraining config whose ``test_dataloader`` reads
``SurgicalVideoFrames`` (its video lists, frame folder and evaluation
pipeline are used; ``split``, ``fps`` and ``with_label`` are set here).
The backbone stays frozen (BatchNorm on running statistics); the released
protocol fine-tunes a frame classifier first, which this tool does not.
"""
import argparse
import copy
import json
import os.path as osp
import random
import sys

import mmmedssl  # noqa: F401
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmmedssl.evaluation import (evaluate_phase_model, extract_features,
                                 fit_phase_tcn, group_by_video)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from knn_eval import format_table  # noqa: E402
from linear_probe import _finite, build_model, load_tool_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint',
                        help='checkpoint file or last_checkpoint pointer')
    parser.add_argument('--fps', type=float, default=1.0,
                        help='frames per second of the feature sequences')
    parser.add_argument('--epochs', type=int, default=100)
    parser.add_argument('--lr', type=float, default=5e-4)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the TCN and of the video draw (not of '
                        'the backbone)')
    parser.add_argument(
        '--label-fraction', type=float, default=1.0,
        help='train the TCN on this fraction of the train videos (whole '
        'videos, drawn with --seed), for low-label experiments')
    parser.add_argument('--official', action=argparse.BooleanOptionalAction,
                        default=True,
                        help="keep Evaluate.m's indexing quirk")
    parser.add_argument(
        '--relax-seconds', type=float, default=10.,
        help='relaxed boundary of the official metrics; 0 = strict '
        'per-frame metrics (for short synthetic phases)')
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if not 0 < args.label_fraction <= 1:
        parser.error('--label-fraction must be in (0, 1], got '
                     f'{args.label_fraction}.')
    return args


def draw_videos(videos: list, fraction: float, seed: int) -> list:
    """``round(fraction * len(videos))`` whole videos (at least one), the
    same for a given seed whatever the backbone."""
    if fraction >= 1:
        return list(videos)
    count = max(1, round(fraction * len(videos)))
    return sorted(random.Random(seed).sample(list(videos), count))


def split_loaders(cfg: Config, fps: float, fraction: float = 1.,
                  seed: int = 0) -> dict:
    """split -> (dataloader, dataset) for train, val and test; the train
    split keeps ``fraction`` of its videos."""
    from mmmedssl.registry import DATASETS
    loader_cfg = cfg.get('test_dataloader') or {}
    dataset_cfg = loader_cfg.get('dataset') or {}
    if dataset_cfg.get('type') != 'SurgicalVideoFrames':
        raise SystemExit(
            f'{cfg.filename}: test_dataloader.dataset must be '
            f"SurgicalVideoFrames, got {dataset_cfg.get('type')!r}.")
    out = {}
    for split in ('train', 'val', 'test'):
        part = dict(copy.deepcopy(dataset_cfg), split=split, fps=fps,
                    with_label=True)
        dataset = DATASETS.build(part)
        if split == 'train' and fraction < 1:
            kept = set(draw_videos(dataset.videos, fraction, seed))
            indices = [
                i for i in range(len(dataset))
                if dataset.get_data_info(i)['video_id'] in kept
            ]
            dataset = dataset.get_subset(indices)
            dataset.videos = sorted(kept)
        out[split] = (Runner.build_dataloader(
            dict(copy.deepcopy(loader_cfg), dataset=dataset)), dataset)
    return out


def video_features(model, loader, dataset):
    feats, labels = extract_features(model, loader)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    return group_by_video(feats, labels.tolist(),
                          [info['video_id'] for info in infos],
                          [info['frame_index'] for info in infos])


def main(argv=None):
    args = parse_args(argv)
    cfg, checkpoint, work_dir = load_tool_config(args, 'phase_recognition')
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope') or 'mmmedssl'):
        loaders = split_loaders(cfg, args.fps, args.label_fraction,
                                args.seed)
    dataset = loaders['test'][1]
    protocol = dataset.protocol
    num_classes = len(dataset.metainfo['classes'])

    results = {}
    for key, ckpt in (('random_init', None), ('pretrained', checkpoint)):
        model = build_model(cfg, ckpt, work_dir)
        videos = {
            split: video_features(model, loader, ds)
            for split, (loader, ds) in loaders.items()
        }
        del model
        head, history = fit_phase_tcn(
            videos['train'], videos['val'], num_classes, args.fps, protocol,
            epochs=args.epochs, lr=args.lr, seed=args.seed,
            relax_seconds=args.relax_seconds)
        best = max(history, key=lambda h: h['accuracy'])
        test = evaluate_phase_model(head, videos['test'], args.fps, protocol,
                                    official=args.official,
                                    relax_seconds=args.relax_seconds)
        results[key] = dict(
            test={k: v for k, v in test.items()
                  if not k.endswith('_per_phase')},
            test_per_phase={k: v for k, v in test.items()
                            if k.endswith('_per_phase')},
            best_epoch=best['epoch'], val_history=history)

    splits = {split: list(ds.videos) for split, (_, ds) in loaders.items()}
    rows = [(label, results[key]['test'])
            for label, key in (('random init', 'random_init'),
                               ('pretrained', 'pretrained'))]
    columns = [('accuracy', 'accuracy (%)', '{:.2f}'),
               ('accuracy_std', '± (videos)', '{:.2f}'),
               ('jaccard', 'Jaccard (%)', '{:.2f}'),
               ('precision', 'precision (%)', '{:.2f}'),
               ('recall', 'recall (%)', '{:.2f}')]
    print(f'\nPhase recognition (frozen backbone + causal TCN, {protocol} '
          f'metrics relaxed by {args.relax_seconds:g} s, {args.fps:g} fps) '
          f'on the test videos of '
          f'{args.config}\n(pretrained = {checkpoint}; TCN selected on the '
          f'val videos; seed {args.seed})\n')
    print(format_table(rows, columns))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(
                _finite(dict(config=args.config, checkpoint=checkpoint,
                             fps=args.fps, protocol=protocol,
                             official=args.official, seed=args.seed,
                             relax_seconds=args.relax_seconds,
                             label_fraction=args.label_fraction,
                             videos=splits, **results)), f, indent=2)
    return results


if __name__ == '__main__':
    main()
