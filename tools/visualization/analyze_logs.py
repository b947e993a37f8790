# Copyright (c) mmmedssl contributors. All rights reserved.
"""Plot training curves of one or more runs from their mmengine logs.

    python tools/visualization/analyze_logs.py RUN [RUN ...] \\
        [--keys loss lr knn/top1 ...] [--x iter|epoch] [--out FILE.png] \\
        [--legend NAME ...]

RUN is a work dir (every ``*/vis_data/scalars.json`` below it; the sub-runs
of a resumed run are joined in time order) or one ``scalars.json`` file.
Default keys: ``loss``, ``lr`` and every validation metric (``knn/top1``,
...). Writes one subplot per key, one line per run, and prints the first,
last, min and max of every key per run.
"""
import argparse
import sys

from mmmedssl.visualization.curves import (check_keys, default_keys,
                                           load_run, plot_curves, summary)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', metavar='RUN',
                        help='work dir or scalars.json file')
    parser.add_argument('--keys', nargs='+',
                        help='logged keys to plot (default: loss, lr and '
                        'every validation metric)')
    parser.add_argument('--x', choices=('iter', 'epoch'), default='iter',
                        help='x axis (epoch: training values averaged per '
                        'epoch; default: iter)')
    parser.add_argument('--out', default='training_curves.png',
                        help='PNG to write (default: training_curves.png)')
    parser.add_argument('--legend', nargs='+', metavar='NAME',
                        help='one name per run (default: the RUN paths)')
    parser.add_argument('--fig-size', nargs=2, type=float, metavar=('W', 'H'),
                        help='figure size in inches (default: by key count)')
    parser.add_argument('--dpi', type=int, default=100)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    names = args.legend or args.runs
    try:
        if len(names) != len(args.runs):
            raise ValueError(f'--legend gives {len(names)} names for '
                             f'{len(args.runs)} runs; give one per run.')
        logs = [load_run(run, name) for run, name in zip(args.runs, names)]
        keys = args.keys or default_keys(logs)
        check_keys(logs, keys)
        print(summary(logs, keys, args.x))
        plot_curves(logs, keys, args.x, args.out, args.fig_size, args.dpi)
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise SystemExit(f'analyze_logs.py: {err.args[0]}') from None
    print(f'{len(keys)} curves of {len(logs)} run(s) in {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
