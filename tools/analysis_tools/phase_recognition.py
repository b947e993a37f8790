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
import sys

import mmmedssl  # noqa: F401
from mmengine.config import DictAction

from mmmedssl.downstream import (build_eval_model, evaluate_phase_backbone,
                                 format_table, load_tool_config_from_args,
                                 phase_split_loaders, write_json)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, last_checkpoint pointer or work dir')
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


def main(argv=None):
    args = parse_args(argv)
    cfg, checkpoint, work_dir = load_tool_config_from_args(
        args, 'phase_recognition')
    try:
        loaders = phase_split_loaders(cfg, args.fps, args.label_fraction,
                                      args.seed)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(str(err)) from None
    dataset = loaders['test'][1]
    protocol = dataset.protocol
    num_classes = len(dataset.metainfo['classes'])

    results = {}
    for key, ckpt in (('random_init', None), ('pretrained', checkpoint)):
        model = build_eval_model(cfg, ckpt, work_dir)
        results[key] = evaluate_phase_backbone(
            model, loaders, num_classes, args.fps, protocol,
            epochs=args.epochs, lr=args.lr, seed=args.seed,
            official=args.official, relax_seconds=args.relax_seconds)
        del model

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
        write_json(args.out, dict(
            config=args.config, checkpoint=checkpoint, fps=args.fps,
            protocol=protocol, official=args.official, seed=args.seed,
            relax_seconds=args.relax_seconds,
            label_fraction=args.label_fraction, videos=splits, **results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
