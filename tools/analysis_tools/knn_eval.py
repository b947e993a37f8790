# Copyright (c) mmmedssl contributors. All rights reserved.
"""kNN accuracy of a pretrained backbone beside the same backbone at random
initialisation, as a table (and JSON with ``--out``).

    python tools/analysis_tools/knn_eval.py CONFIG CHECKPOINT [--out F.json]

CHECKPOINT may be a ``.pth`` file or a ``last_checkpoint`` pointer file
written by the checkpoint hook. Both rows use the config's
``test_dataloader`` and ``test_evaluator`` (``KNNAccuracy``); the random
initialisation uses the config's seed, so it is exactly the network that
pretraining started from.
"""
import argparse
import json
import logging
import os.path as osp
import sys

import mmmedssl  # noqa: F401
from mmengine.config import Config, DictAction

from mmmedssl.apis import run_test
from mmengine.logging import MMLogger



def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint',
                        help='checkpoint file or last_checkpoint pointer')
    parser.add_argument('--work-dir', default=None,
                        help='where to write the evaluation logs')
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def resolve_checkpoint(path: str) -> str:
    if not osp.isfile(path):
        raise SystemExit(f'Checkpoint {path} does not exist: train first.')
    if osp.basename(path) == 'last_checkpoint':
        with open(path) as f:
            target = f.read().strip()
        if not osp.isfile(target):
            raise SystemExit(f'{path} points to {target!r}, which does not '
                             'exist.')
        return target
    return path


def evaluate(config: str, checkpoint, work_dir: str, cfg_options) -> dict:
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    metrics = run_test(cfg, checkpoint)
    reset_loggers()
    return metrics


def reset_loggers() -> None:
    """Each Runner adds log handlers; close them before the next one."""
    logging.shutdown()
    MMLogger._instance_dict.clear()


def format_table(rows, columns=None) -> str:
    """A Markdown table of ``(label, metrics)`` rows.

    ``columns`` holds ``(key, header, format)`` triples; by default every
    metric, as a percentage with two decimals.
    """
    if columns is None:
        names = sorted({k for _, metrics in rows for k in metrics})
        columns = [(n, f'{n} (%)', '{:.2f}') for n in names]
    header = ['backbone'] + [head for _, head, _ in columns]
    lines = [header] + [[label] + [fmt.format(metrics[key])
                                   for key, _, fmt in columns]
                        for label, metrics in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def fmt(line):
        return '| ' + ' | '.join(c.ljust(w) for c, w in zip(line, widths)) \
            + ' |'

    sep = '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    return '\n'.join([fmt(lines[0]), sep] + [fmt(line) for line in lines[1:]])


def main(argv=None):
    args = parse_args(argv)
    checkpoint = resolve_checkpoint(args.checkpoint)
    work_dir = args.work_dir or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0], 'knn_eval')
    random_init = evaluate(args.config, None, work_dir, args.cfg_options)
    pretrained = evaluate(args.config, checkpoint, work_dir, args.cfg_options)
    rows = [('random init', random_init), ('pretrained', pretrained)]
    print(f'\nkNN accuracy on the test split of {args.config}\n'
          f'(pretrained = {checkpoint})\n')
    print(format_table(rows))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    config=args.config,
                    checkpoint=checkpoint,
                    random_init=random_init,
                    pretrained=pretrained),
                f,
                indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
