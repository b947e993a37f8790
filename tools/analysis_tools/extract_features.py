# Copyright (c) mmmedssl contributors. All rights reserved.
"""Write the embeddings of a pretrained backbone for any images.

    python tools/analysis_tools/extract_features.py CONFIG CHECKPOINT \\
        [--data FOLDER_OR_LIST] --out DIR [--label-key K] [--group-key K] \\
        [--split S] [--img-size N]

CHECKPOINT may be a ``.pth`` file, a ``last_checkpoint`` pointer or a work
dir; ``none`` embeds with the random initialisation. ``--data`` is a folder
(every image below it, recursively) or a list file (CSV/TSV/TXT/JSON, paths
relative to its folder); without it, the config's test split. Writes
``DIR/embeddings.npy`` (float32, one row per image), ``DIR/ids.csv``
(index, path, and group / label when the data has them) and
``DIR/meta.json``. Labels are optional; 2D images and 3D volumes alike.
"""
import argparse
import sys

import mmmedssl  # noqa: F401
from mmengine.config import DictAction

from mmmedssl.downstream import load_tool_config
from mmmedssl.downstream.feature_export import (data_source, export_features,
                                                feature_pipeline)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        'checkpoint',
        help="checkpoint file, last_checkpoint pointer, work dir, or 'none'")
    parser.add_argument('--data', help='a folder of images or a list file '
                        '(default: the config\'s test split)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--img-key', default='image',
                        help='image column of a list file')
    parser.add_argument('--label-key', help='label column of a list file')
    parser.add_argument('--group-key', help='group column of a list file')
    parser.add_argument('--split', help='keep this split of a list file')
    parser.add_argument('--img-size', type=int,
                        help='2D: resize images to this size (default: the '
                        'config\'s test pipeline or training crop)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--work-dir', help='where to write the runner logs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = None if args.checkpoint.lower() == 'none' \
        else args.checkpoint
    try:
        cfg, checkpoint, work_dir = load_tool_config(
            args.config, checkpoint, args.cfg_options, args.work_dir,
            'extract_features')
        dataset = None
        if args.data is not None:
            dataset = data_source(
                args.data, feature_pipeline(cfg, args.img_size),
                args.img_key, args.label_key, args.group_key, args.split)
        meta = export_features(cfg, checkpoint, args.out, dataset,
                               work_dir, args.batch_size)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(str(err)) from None
    labels = 'with labels' if meta['labelled'] else 'no labels'
    print(f"{meta['num_samples']} embeddings of dimension "
          f"{meta['feature_dim']} ({labels}) from "
          f'{checkpoint or "random init"} in {args.out}/: embeddings.npy, '
          'ids.csv, meta.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
