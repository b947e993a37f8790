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
   different images (``--num-images`` test images). 0: the backbone ignores
   the change (it has thrown away the colour cue that part 1 measures); 1:
   the change moves an image as far as replacing it with another image.

The work is done by ``mmmedssl.downstream.colour``.
"""
import argparse

import numpy as np
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmmedssl.apis import sanitize_dataloaders
from mmmedssl.downstream import write_json
from mmmedssl.downstream.colour import (colour_invariance, colour_probe,
                                        raw_image_split)
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


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    cfg.work_dir = 'work_dirs/colour_cue'
    cfg.log_level = 'WARNING'
    sanitize_dataloaders(cfg)
    with DefaultScope.overwrite_default_scope('mmmedssl'):
        probe = colour_probe(cfg)
        test = raw_image_split(cfg, 'test')
        rng = np.random.default_rng(0)
        picks = rng.choice(len(test), min(args.num_images, len(test)),
                           replace=False)
        images = [test[int(i)]['img'] for i in picks]
        rows = {'random init': colour_invariance(cfg, None, images)}
        for item in args.checkpoint:
            name, ckpt = item.split('=', 1)
            rows[name] = colour_invariance(cfg, ckpt, images)
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
        write_json(args.out, dict(config=args.config, colour_probe=probe,
                                  invariance=rows, num_images=len(images)))


if __name__ == '__main__':
    main()
