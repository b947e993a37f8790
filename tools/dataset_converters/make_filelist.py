# Copyright (c) mmmedssl contributors. All rights reserved.
"""List the images of a folder in a CSV that ``MedImageList`` reads.

    python tools/dataset_converters/make_filelist.py FOLDER --out list.csv \\
        [--group-regex '^(patient\\d+)/'] [--own-group-if-unmatched] \\
        [--split train=0.8,val=0.1,test=0.1] [--seed 0] \\
        [--extensions .png .dcm] [--labels-from-parent] [--force]

The CSV has the columns ``image`` (relative to FOLDER), then ``group``
(with ``--group-regex``), ``label`` (with ``--labels-from-parent``) and
``split`` (with ``--split``), as ``MedImageFolder`` would make them (the same
library code, ``mmmedssl.datasets.scan_image_folder``): splits are drawn by
group, so no patient/lesion/video is in two splits. Read it with::

    dict(type='MedImageList', data_root=FOLDER, ann_file='list.csv',
         group_key='group', label_key='label', split='train')

An existing output file is left alone unless ``--force`` is given.
"""
import argparse
import csv
import os
import os.path as osp
import sys
from collections import Counter

from mmmedssl.datasets.image_folder import IMAGE_EXTENSIONS, scan_image_folder
from mmmedssl.datasets.splits import check_split_ratios


def parse_split(text: str) -> dict:
    """``'train=0.8,val=0.2'`` -> ``{'train': 0.8, 'val': 0.2}``."""
    ratios = {}
    for item in text.split(','):
        name, sep, value = item.partition('=')
        name = name.strip()
        try:
            ratio = float(value)
        except ValueError:
            ratio = None
        if not sep or not name or ratio is None:
            raise argparse.ArgumentTypeError(
                f'{text!r}: expected NAME=FRACTION pairs separated by commas, '
                f'e.g. train=0.8,val=0.1,test=0.1; {item!r} is not one.')
        if name in ratios:
            raise argparse.ArgumentTypeError(
                f'{text!r}: split {name!r} is given twice.')
        ratios[name] = ratio
    try:
        return check_split_ratios(ratios)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='List the images of a folder (recursively) in a CSV for '
        'MedImageList, with optional groups, labels and grouped splits.')
    parser.add_argument('folder', help='the folder of images')
    parser.add_argument('--out', required=True,
                        help='the CSV to write (image paths are relative to '
                        'FOLDER)')
    parser.add_argument(
        '--group-regex',
        help='regular expression searched in each relative path; its named '
        'group "group", else its first group, is the patient/lesion/video, '
        r"e.g. '^(patient\d+)/'")
    parser.add_argument(
        '--own-group-if-unmatched', action='store_true',
        help='a path that --group-regex does not match is its own group '
        '(default: an error)')
    parser.add_argument(
        '--split', type=parse_split,
        help='fractions of the groups (of the images without '
        '--group-regex) per split, e.g. train=0.8,val=0.1,test=0.1')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the split draw (default 0)')
    parser.add_argument(
        '--extensions', nargs='+', default=list(IMAGE_EXTENSIONS),
        help='file name endings to list, any case (default: '
        f'{" ".join(IMAGE_EXTENSIONS)})')
    parser.add_argument(
        '--labels-from-parent', action='store_true',
        help='add a label column: the name of the folder holding each image')
    parser.add_argument('--force', action='store_true',
                        help='overwrite --out if it exists')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if osp.exists(args.out) and not args.force:
        raise SystemExit(f'{args.out} exists; pass --force to overwrite it.')
    try:
        rows = scan_image_folder(
            args.folder,
            extensions=args.extensions,
            group_regex=args.group_regex,
            on_unmatched='own_group'
            if args.own_group_if_unmatched else 'error',
            label_from='parent' if args.labels_from_parent else None,
            split_ratios=args.split,
            split_seed=args.seed)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'make_filelist: {err}') from None

    columns = list(rows[0])
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    with open(args.out, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)

    print(f'{args.out}: {len(rows)} images from {args.folder} '
          f'(columns: {", ".join(columns)})')
    if 'group' in columns:
        print(f'groups: {len({r["group"] for r in rows})}')
    if 'label' in columns:
        counts = Counter(r['label'] for r in rows)
        print('labels: ' + ', '.join(f'{name} {counts[name]}'
                                     for name in sorted(counts)))
    if 'split' in columns:
        for name in args.split:
            part = [r for r in rows if r['split'] == name]
            line = f'split {name}: {len(part)} images'
            if 'group' in columns:
                line += f', {len({r["group"] for r in part})} groups'
            print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
