# Copyright (c) mmmedssl contributors. All rights reserved.
"""kNN accuracy of a pretrained backbone beside the same backbone at random
initialisation, as a table (and JSON with ``--out``).

    python tools/analysis_tools/knn_eval.py CONFIG CHECKPOINT [--out F.json]

CHECKPOINT may be a ``.pth`` file, a ``last_checkpoint`` pointer file or a
work dir. Both rows use the config's ``test_dataloader`` and
``test_evaluator`` (``KNNAccuracy``); the random initialisation uses the
config's seed, so it is exactly the network that pretraining started from.
"""
import argparse
import sys

import mmmedssl  # noqa: F401
from mmengine.config import DictAction

from mmmedssl.downstream import (evaluate_knn, format_table,
                                 load_tool_config_from_args, write_json)
from mmmedssl.downstream.knn import check_knn_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, last_checkpoint pointer or work dir')
    parser.add_argument('--work-dir', default=None,
                        help='where to write the evaluation logs')
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg, checkpoint, work_dir = load_tool_config_from_args(args, 'knn_eval')
    try:
        check_knn_config(cfg)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    random_init = evaluate_knn(cfg, None, work_dir)
    pretrained = evaluate_knn(cfg, checkpoint, work_dir)
    print(f'\nkNN accuracy on the test split of {args.config}\n'
          f'(pretrained = {checkpoint})\n')
    rows = [('random init', random_init), ('pretrained', pretrained)]
    names = sorted({k for _, metrics in rows for k in metrics})
    # Accuracies in %, counts as they are.
    columns = [(n, n if n.endswith('num_without_neighbour') else f'{n} (%)',
                '{:g}' if n.endswith('num_without_neighbour') else '{:.2f}')
               for n in names]
    print(format_table(rows, columns))
    if args.out:
        write_json(args.out, dict(config=args.config, checkpoint=checkpoint,
                                  random_init=random_init,
                                  pretrained=pretrained))
    return 0


if __name__ == '__main__':
    sys.exit(main())
