# Copyright (c) mmmedssl contributors. All rights reserved.
"""Draw what training sees: the views the train pipeline of a config makes.

    python tools/visualization/browse_dataset.py CONFIG [--out DIR] \\
        [--num N] [--seed S] [--cfg-options key=value ...]

Writes ``DIR/<config name>_views.png`` (default DIR:
``work_dirs/browse_dataset``): one row per sample (captioned with its file
name and group), one column per view the pipeline packs (MoCo: 2 views;
GraVIS: every view of a source; PCRL: inputs, clean crops and
transformation targets; volumes: three orthogonal mid slices). The same
seed draws the same samples and augmentations.
"""
import argparse
import os.path as osp
import sys

import mmmedssl  # noqa: F401  (enables mmmedssl:: references)
from mmengine.config import Config, DictAction

from mmmedssl.visualization.views import render_training_views, save_png


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('--out', default='work_dirs/browse_dataset',
                        help='folder of the PNG (default: '
                        'work_dirs/browse_dataset)')
    parser.add_argument('--num', type=int, default=4,
                        help='samples to draw, one row each (default: 4)')
    parser.add_argument('--seed', type=int, default=0,
                        help='picks the samples and their augmentations')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value pairs such as '
                        'train_dataloader.dataset.data_root=data/x')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    name = osp.splitext(osp.basename(args.config))[0]
    try:
        picture = render_training_views(cfg, args.num, args.seed)
        path = save_png(osp.join(args.out, f'{name}_views.png'), picture)
    except (KeyError, ValueError, OSError) as err:
        # str(KeyError) would quote the message.
        message = err.args[0] if isinstance(err, KeyError) else err
        raise SystemExit(f'browse_dataset: {message}') from None
    print(f'Wrote {path} ({picture.shape[1]} x {picture.shape[0]} px)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
