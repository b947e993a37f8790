# Copyright (c) mmmedssl contributors. All rights reserved.
"""Linear-probe accuracy of a pretrained backbone beside the same backbone at
random initialisation, as a table (and JSON with ``--out``).

    python tools/analysis_tools/linear_probe.py CONFIG CHECKPOINT \\
        [--train-split train] [--val-split val] [--test-split test] \\
        [--label-fraction 1.0] [--seed 0] [--out F.json]

CHECKPOINT may be a ``.pth`` file or a ``last_checkpoint`` pointer file.
The labelled splits are the config's ``test_dataloader`` with
``dataset.split`` set to each split name, so all share the evaluation
pipeline. Pooled backbone features are extracted once per backbone; a
logistic regression is fitted on the train split, its weight decay chosen by
val balanced accuracy, and test metrics reported. ``--val-split none`` holds
out ``--val-fraction`` of the train groups instead (for sets without a
third split, such as the demo set). The random initialisation is the config's
seed and ``init_weights``: exactly the network that pretraining started from.

Multi-label sets (``gt_label`` a list of positive classes, as
``ChestXray14``) get one logistic regression per label, the weight decay
with the best val mean AUC, and per-label and mean test AUCs; their label
fraction draws whole patients, not classes.
"""
import argparse
import copy
import json
import math
import os.path as osp
import sys

import mmmedssl  # noqa: F401
from mmengine.config import Config, DictAction
from mmengine.model import is_model_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmmedssl.apis import build_runner, sanitize_dataloaders
from mmmedssl.evaluation import (classification_metrics, extract_features,
                                 fit_linear_probe, label_fraction_indices,
                                 multilabel_auc, split_groups)
from mmmedssl.evaluation.linear_probe import DEFAULT_WEIGHT_DECAYS

# The kNN tool lives beside this one (the script's folder is on sys.path).
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from knn_eval import format_table, reset_loggers, resolve_checkpoint  # noqa


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint',
                        help='checkpoint file or last_checkpoint pointer')
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


def build_split(cfg: Config, split: str, option: str):
    """The ``test_dataloader`` dataset restricted to one split; returns the
    dataset and its labels and groups."""
    from mmmedssl.registry import DATASETS
    loader = cfg.get('test_dataloader')
    dataset_cfg = loader.get('dataset') if isinstance(loader, dict) else None
    if not isinstance(dataset_cfg, dict) or 'split' not in dataset_cfg:
        raise SystemExit(
            f'{cfg.filename}: test_dataloader.dataset has no `split` key; the '
            'linear probe builds its train/val/test sets by overriding it '
            '(expected a dataset such as MedImageList with split=...).')
    if dataset_cfg.get('label_key') is None and \
            dataset_cfg.get('type') != 'ChestXray14':
        raise SystemExit(
            f'{cfg.filename}: test_dataloader.dataset has no label_key; the '
            'linear probe needs labelled splits.')
    dataset_cfg = copy.deepcopy(dataset_cfg)
    dataset_cfg['split'] = split
    try:
        dataset = DATASETS.build(dataset_cfg)
        dataset.full_init()
    except (ValueError, KeyError, FileNotFoundError) as err:
        raise SystemExit(f'{option} {split}: {err}') from None
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    if not all('gt_label' in info for info in infos):
        raise SystemExit(
            f'{cfg.filename}: the {split!r} split of test_dataloader.dataset '
            'has no labels (gt_label); the linear probe needs labelled '
            'splits (label_key, or with_label=True for ChestXray14).')
    if any(_is_multi_label(info['gt_label']) for info in infos):
        # Lists of positive classes (possibly empty): multi-label.
        labels = [[int(c) for c in info['gt_label']] for info in infos]
        # Multi-label sets (ChestXray14) always carry their patients.
        has_groups = all('group_id' in info for info in infos)
    else:
        labels = [int(info['gt_label']) for info in infos]
        has_groups = bool(dataset_cfg.get('group_key'))
    groups = [info['group_id'] for info in infos] if has_groups else None
    return dataset, labels, groups


def _is_multi_label(label) -> bool:
    return isinstance(label, (list, tuple)) or getattr(label, 'ndim', 0) > 0


def prepare_splits(cfg: Config, args) -> dict:
    """name -> dict(dataset, labels, groups, split) for 'train', 'val' and
    'test'. A held-out val part is drawn before the label fraction, so it
    does not change with ``--label-fraction``."""
    train = build_split(cfg, args.train_split, '--train-split')
    if args.val_split.lower() == 'none':
        val_idx, train_idx = split_groups(train[1], train[2],
                                          args.val_fraction, args.seed)
        val = _subset(train, val_idx, f'{args.train_split} (held out)')
        train = _subset(train, train_idx, args.train_split)
    else:
        if args.val_split == args.test_split:
            print(f'Warning: --val-split and --test-split are both '
                  f'{args.test_split!r}: the weight decay is chosen on the '
                  'test set, so the test metrics are optimistic.')
        val = _subset(build_split(cfg, args.val_split, '--val-split'), None,
                      args.val_split)
        train = _subset(train, None, args.train_split)
    if args.label_fraction < 1:
        kept = label_fraction_indices(train['labels'], train['groups'],
                                      args.label_fraction, args.seed)
        train = _subset((train['dataset'], train['labels'], train['groups']),
                        kept, train['split'])
    test = _subset(build_split(cfg, args.test_split, '--test-split'), None,
                   args.test_split)
    return dict(train=train, val=val, test=test)


def _subset(split, indices, name) -> dict:
    dataset, labels, groups = split
    if indices is not None:
        dataset = dataset.get_subset(list(indices))
        labels = [labels[i] for i in indices]
        groups = None if groups is None else [groups[i] for i in indices]
    return dict(dataset=dataset, labels=labels, groups=groups, split=name)


def build_model(cfg: Config, checkpoint, work_dir: str):
    """The config's model on the runner's device: the checkpoint's weights,
    or with None the initialisation ``tools/train.py`` starts from (the
    runner seeds before building, and ``Runner.train`` calls
    ``init_weights``)."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    cfg.load_from = None
    cfg.resume = False
    runner = build_runner(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    if checkpoint is None:
        model.init_weights()
    else:
        # The safe loader that mmmedssl registers reads the file.
        runner.load_checkpoint(checkpoint)
    reset_loggers()
    return model.eval()


def probe_backbone(model, loaders: dict, num_classes: int, args,
                   multi_label: bool = False) -> dict:
    feats = {
        name: extract_features(model, loader, multi_label=multi_label,
                               num_classes=num_classes)
        for name, loader in loaders.items()
    }
    probe = fit_linear_probe(*feats['train'], *feats['val'], num_classes,
                             weight_decays=args.weight_decays,
                             max_iter=args.max_iter)
    test_x, test_y = feats['test']
    if multi_label:
        test = multilabel_auc(probe.predict_proba(test_x), test_y)
    else:
        test = classification_metrics(probe.predict_proba(test_x), test_y,
                                      num_classes)
    chosen = next(m for m in probe.val_metrics
                  if m['weight_decay'] == probe.weight_decay)
    return dict(
        feature_dim=int(test_x.shape[1]),
        weight_decay=probe.weight_decay,
        test=test,
        val={k: v for k, v in chosen.items() if k != 'weight_decay'},
        val_grid=probe.val_metrics)


def _finite(obj):
    """NaN (an undefined AUC) as JSON null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def load_tool_config(args, tool: str):
    """What the evaluation tools share: the checkpoint (``last_checkpoint``
    resolved), the config with ``--cfg-options`` and sanitised dataloaders,
    and the work dir (``work_dirs/<config>/<tool>`` by default); registers
    mmmedssl's modules."""
    checkpoint = resolve_checkpoint(args.checkpoint)
    if not osp.isfile(args.config):
        raise SystemExit(f'Config {args.config} does not exist.')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    sanitize_dataloaders(cfg)
    work_dir = args.work_dir or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0], tool)
    from mmmedssl.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return cfg, checkpoint, work_dir


def main(argv=None):
    args = parse_args(argv)
    cfg, checkpoint, work_dir = load_tool_config(args, 'linear_probe')
    scope = cfg.get('default_scope') or 'mmmedssl'
    with DefaultScope.overwrite_default_scope(scope):
        parts = prepare_splits(cfg, args)
        loaders = {
            name: Runner.build_dataloader(
                dict(copy.deepcopy(cfg.test_dataloader),
                     dataset=part['dataset']))
            for name, part in parts.items()
        }
    all_labels = [y for part in parts.values() for y in part['labels']]
    classes = parts['test']['dataset'].metainfo.get('classes')
    multi_label = any(isinstance(y, list) for y in all_labels)
    if multi_label:
        top = max((max(y) for y in all_labels if y), default=-1)
        num_classes = max(top + 1, len(classes or ()))
    else:
        num_classes = max(max(all_labels) + 1, len(classes or ()))

    results = {}
    for key, ckpt in (('random_init', None), ('pretrained', checkpoint)):
        model = build_model(cfg, ckpt, work_dir)
        results[key] = probe_backbone(model, loaders, num_classes, args,
                                      multi_label=multi_label)
        del model

    splits = {}
    for name, part in parts.items():
        splits[name] = dict(
            split=part['split'],
            size=len(part['labels']),
            groups=None if part['groups'] is None else len(
                set(part['groups'])),
            # Multi-label: positives per class (a sample counts once
            # per finding; samples without any are not counted).
            class_counts=[
                sum(c in y for y in part['labels']) if multi_label else
                part['labels'].count(c) for c in range(num_classes)
            ])
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
                      for name, s in splits.items())
    print(f'\nLinear probe on the test split of {args.config}\n'
          f'(pretrained = {checkpoint}; label fraction '
          f'{args.label_fraction:g}, seed {args.seed})\n{sizes}\n')
    print(format_table(rows, columns))
    if multi_label:
        names = list(classes) if classes and len(classes) == num_classes \
            else [str(c) for c in range(num_classes)]
        width = max(len(n) for n in names)
        print(f'\nPer-label test AUC (%)\n| {"label".ljust(width)} | '
              f'random init | pretrained |\n|{"-" * (width + 2)}|'
              '-------------|------------|')
        for c, name in enumerate(names):
            cells = []
            for key, w in (('random_init', 11), ('pretrained', 10)):
                v = results[key]['test']['per_label_auc'][c]
                cells.append(f'{v:{w}.2f}' if math.isfinite(v) else
                             'n/a'.rjust(w))
            print(f'| {name.ljust(width)} | ' + ' | '.join(cells) + ' |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(
                _finite(
                    dict(
                        config=args.config,
                        checkpoint=checkpoint,
                        label_fraction=args.label_fraction,
                        seed=args.seed,
                        weight_decays=args.weight_decays,
                        num_classes=num_classes,
                        multi_label=multi_label,
                        classes=list(classes) if classes else None,
                        splits=splits,
                        random_init=results['random_init'],
                        pretrained=results['pretrained'])),
                f,
                indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
