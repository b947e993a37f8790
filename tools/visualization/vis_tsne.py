# Copyright (c) mmmedssl contributors. All rights reserved.
"""Draw a t-SNE picture of features written by extract_features.py.

    python tools/visualization/vis_tsne.py FEATURE_DIR \\
        [--colour-by label|group] [--perplexity 5 30 50] [--out FILE.png] \\
        [--seed 0] [--max-points N]

FEATURE_DIR is the ``--out`` folder of
``tools/analysis_tools/extract_features.py`` (``embeddings.npy``, ``ids.csv``,
``meta.json``). One subplot per perplexity; each perplexity must be below
the number of points. Points are coloured by class (names from meta.json)
or by group (patient, lesion, video); by default by label if ids.csv has
labels, else by group if it has groups. The same seed draws the same
picture.
"""
import argparse
import sys

from mmmedssl.visualization.tsne import load_features, plot_tsne


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('feature_dir', metavar='FEATURE_DIR',
                        help='output folder of extract_features.py')
    parser.add_argument('--colour-by', choices=('label', 'group', 'none'),
                        help='colour points by class or group (default: '
                        'label if present, else group, else none)')
    parser.add_argument('--perplexity', nargs='+', type=float, default=[30],
                        help='one subplot per value (default: 30)')
    parser.add_argument('--out', help='PNG to write (default: '
                        'FEATURE_DIR/tsne.png)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-points', type=int,
                        help='draw a random subset of this many points')
    parser.add_argument('--fig-size', nargs=2, type=float, metavar=('W', 'H'),
                        help='figure size in inches (default: by subplot '
                        'count)')
    parser.add_argument('--dpi', type=int, default=100)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = args.out or f'{args.feature_dir.rstrip("/")}/tsne.png'
    try:
        features = load_features(args.feature_dir)
        colour_by = args.colour_by
        if colour_by is None:
            columns = features.rows[0]
            colour_by = next((c for c in ('label', 'group') if c in columns),
                             'none')
        _, info = plot_tsne(features, args.perplexity,
                            None if colour_by == 'none' else colour_by,
                            args.seed, args.max_points, out, args.fig_size,
                            args.dpi)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f'vis_tsne.py: {err}') from None
    kl = ', '.join(f'perplexity {p:g}: KL {max(v, 0.0):.3f}'
                   for p, v in info['kl_divergence'].items())
    print(f"t-SNE of {info['points']} points coloured by {colour_by} "
          f"({info['categories']} categories; {kl}) in {out}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
