# Copyright (c) mmmedssl contributors. All rights reserved.
"""Linear-probe accuracy of a pretrained backbone beside the same backbone at
random initialisation, as a table (and JSON with ``--out``).

    python tools/analysis_tools/linear_probe.py CONFIG CHECKPOINT \\
        [--train-split train] [--val-split val] [--test-split test] \\
        [--label-fraction 1.0] [--seed 0] [--out F.json]

CHECKPOINT may be a ``.pth`` file, a ``last_checkpoint`` pointer file or a
work dir. The labelled splits are the config's ``test_dataloader`` with
``dataset.split`` set to each split name, so all share the evaluation
pipeline. Pooled backbone features are extracted once per backbone; a
logistic regression is fitted on the train split, its weight decay chosen by
the lowest val loss (class-weighted cross-entropy), and test metrics
reported. ``--val-split none`` holds
out ``--val-fraction`` of the train groups instead (for sets without a
third split, such as the demo set). The random initialisation is the config's
seed and ``init_weights``: exactly the network that pretraining started from.

Multi-label sets (``gt_label`` a list of positive classes, as
``ChestXray14``) get one logistic regression per label, the weight decay
with the lowest val loss (binary cross-entropy averaged over the labels),
and per-label and mean test AUCs; their label
fraction draws whole patients, not classes.
"""
import argparse
import sys

import mmmedssl  # noqa: F401
from mmengine.config import DictAction

from mmmedssl.downstream import (DEFAULT_WEIGHT_DECAYS, build_eval_model,
                                 build_split_loaders, extract_split_features,
                                 format_table, load_labelled_split,
                                 load_tool_config_from_args, probe_task,
                                 probe_train_indices, run_probe, write_json)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, last_checkpoint pointer or work dir')
    parser.add_argument('--train-split', default='train',
                        help='split the probe is fitted on')
    parser.add_argument(
        '--val-split',
        default='val',
        help="split that picks the weight decay; 'none' holds out "
        '--val-fraction of the train groups instead')
    parser.add_argument('--val-fraction', type=float, default=0.2,
                        help="train groups held out with --val-split none")
    parser.add_argument('--test-split', default='test',
                        help='split the metrics are reported on')
    parser.add_argument(
        '--label-fraction',
        type=float,
        default=1.0,
        help='keep this fraction of the train groups (lesions/patients; '
        'images without group_key), per class, for low-label experiments')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the group draws (not of the network)')
    parser.add_argument('--weight-decays', type=float, nargs='+',
                        default=list(DEFAULT_WEIGHT_DECAYS),
                        help='weight decay grid searched on the val split')
    parser.add_argument('--max-iter', type=int, default=500,
                        help='L-BFGS iterations per weight decay')
    parser.add_argument('--work-dir', default=None,
                        help='where to write the runner logs')
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if not 0 < args.label_fraction <= 1:
        parser.error('--label-fraction must be in (0, 1], got '
                     f'{args.label_fraction}.')
    if not 0 < args.val_fraction < 1:
        parser.error(f'--val-fraction must be in (0, 1), got '
                     f'{args.val_fraction}.')
    return args


def load_splits(cfg, args) -> dict:
    """name -> LabelledSplit for the splits that are read ('train', 'test'
    and, unless held out from train, 'val')."""
    names = dict(train=args.train_split, test=args.test_split)
    if args.val_split.lower() != 'none':
        names['val'] = args.val_split
        if args.val_split == args.test_split:
            print(f'Warning: --val-split and --test-split are both '
                  f'{args.test_split!r}: the weight decay is chosen on the '
                  'test set, so the test metrics are optimistic.')
    splits = {}
    for name, split in names.items():
        try:
            splits[name] = load_labelled_split(cfg, split)
        except ValueError as err:
            raise SystemExit(f'--{name}-split {err}') from None
    return splits


def split_summary(part, labels, multi_label, num_classes, name) -> dict:
    return dict(
        split=name,
        size=len(labels),
        groups=None if part.groups is None else len(set(part.groups)),
        # Multi-label: positives per class (a sample counts once per
        # finding; samples without any are not counted).
        class_counts=[
            sum(c in y for y in labels) if multi_label else labels.count(c)
            for c in range(num_classes)
        ])


def print_per_label(results, classes, num_classes) -> None:
    names = list(classes) if classes and len(classes) == num_classes \
        else [str(c) for c in range(num_classes)]
    rows = [(name, {key: results[key]['test']['per_label_auc'][c]
                    for key in ('random_init', 'pretrained')})
            for c, name in enumerate(names)]
    print('\nPer-label test AUC (%)')
    print(format_table(rows, [('random_init', 'random init', '{:.2f}'),
                              ('pretrained', 'pretrained', '{:.2f}')],
                       first_header='label'))


def main(argv=None):
    args = parse_args(argv)
    cfg, checkpoint, work_dir = load_tool_config_from_args(
        args, 'linear_probe')
    splits = load_splits(cfg, args)
    held_out = 'val' not in splits
    train_idx, val_idx = probe_train_indices(
        splits['train'], args.label_fraction, args.seed,
        val_fraction=args.val_fraction if held_out else None)
    multi_label, num_classes = probe_task(list(splits.values()))
    loaders = build_split_loaders(cfg, splits)

    results = {}
    for key, ckpt in (('random_init', None), ('pretrained', checkpoint)):
        model = build_eval_model(cfg, ckpt, work_dir)
        feats = extract_split_features(model, loaders, multi_label,
                                       num_classes)
        del model
        results[key] = run_probe(feats, num_classes, train_idx, val_idx,
                                 args.weight_decays, args.max_iter)

    train = splits['train']
    parts = dict(train=(train, train_idx, args.train_split))
    if held_out:
        parts['val'] = (train, val_idx, f'{args.train_split} (held out)')
    else:
        parts['val'] = (splits['val'], None, args.val_split)
    parts['test'] = (splits['test'], None, args.test_split)
    summary = {}
    for name, (part, rows, label) in parts.items():
        rows = range(len(part.labels)) if rows is None else rows
        labels = [part.labels[i] for i in rows]
        groups = None if part.groups is None else [part.groups[i]
                                                   for i in rows]
        summary[name] = split_summary(part._replace(groups=groups), labels,
                                      multi_label, num_classes, label)

    rows = [(label, dict(results[key]['test'],
                         weight_decay=results[key]['weight_decay']))
            for label, key in (('random init', 'random_init'),
                               ('pretrained', 'pretrained'))]
    if multi_label:
        columns = [('mean_auc', 'mean AUC (%)', '{:.2f}'),
                   ('weight_decay', 'weight decay', '{:g}')]
    else:
        columns = [('top1', 'top1 (%)', '{:.2f}'),
                   ('balanced_acc', 'balanced acc (%)', '{:.2f}'),
                   ('macro_f1', 'macro F1 (%)', '{:.2f}'),
                   ('macro_auc', 'macro AUC (%)', '{:.2f}'),
                   ('weight_decay', 'weight decay', '{:g}')]
    sizes = ', '.join(f"{name} {s['split']!r}: {s['size']}"
                      for name, s in summary.items())
    print(f'\nLinear probe on the test split of {args.config}\n'
          f'(pretrained = {checkpoint}; label fraction '
          f'{args.label_fraction:g}, seed {args.seed})\n{sizes}\n')
    print(format_table(rows, columns))
    classes = splits['test'].dataset.metainfo.get('classes')
    if multi_label:
        print_per_label(results, classes, num_classes)
    if args.out:
        write_json(args.out, dict(
            config=args.config,
            checkpoint=checkpoint,
            label_fraction=args.label_fraction,
            seed=args.seed,
            weight_decays=args.weight_decays,
            num_classes=num_classes,
            multi_label=multi_label,
            classes=list(classes) if classes else None,
            splits=summary,
            **results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
