# Copyright (c) mmmedssl contributors. All rights reserved.
"""Write a smaller labelled list from a MedImageList CSV: a data-size study.

    python tools/benchmarks/make_subset.py LABELS.csv --out subset.csv \\
        [--split-file splits.csv] [--group-key lesion_id] \\
        [--size train=1600 --size test=550] [--positive mel] [--seed 0] \\
        [--path-prefix ../shared/data/ham10000_200x150/] [--mask-key mask]

Keeps at most ``N`` images of each named split, one image per group (the
lesion or patient) before any group gets a second, drawn with ``--seed``;
splits not named are kept whole. ``--positive NAME`` turns the label into
NAME vs not (``1``/``0``): melanoma vs the rest, pneumonia vs normal. The
output has the columns ``image,label,group,split`` (paths as in the input,
so the dataset's ``data_root`` stays the same; ``--path-prefix`` is put in
front of each, to read the list with another ``data_root`` such as the
repository, ``'.'``), and ``mask`` when ``--mask-key`` names the input's
mask column (prefixed too: a segmentation study on the same images). It is
read with::

    dict(type='MedImageList', data_root=ROOT, ann_file='subset.csv',
         label_key='label', group_key='group', split='train')

An existing output is left alone unless ``--force`` is given.
"""
import argparse
import csv
import os
import os.path as osp
import random
import sys
from collections import Counter, defaultdict


def parse_sizes(items) -> dict:
    sizes = {}
    for item in items or []:
        name, sep, value = item.partition('=')
        if not sep or not value.isdigit() or int(value) < 1:
            raise SystemExit(f'--size {item!r}: expected SPLIT=N with N >= 1')
        sizes[name] = int(value)
    return sizes


def read_rows(labels: str, split_file, img_key, split_key) -> list:
    with open(labels, newline='', encoding='utf-8-sig') as f:
        rows = list(csv.DictReader(f))
    if split_file:
        with open(split_file, newline='', encoding='utf-8-sig') as f:
            split_of = {r[img_key]: r[split_key] for r in csv.DictReader(f)}
        for line, row in enumerate(rows, start=2):
            if row[img_key] not in split_of:
                raise SystemExit(f'{labels}, line {line}: {row[img_key]} '
                                 f'has no split in {split_file}')
            row[split_key] = split_of[row[img_key]]
    return rows


def draw(rows: list, size: int, group_key, rng: random.Random) -> list:
    """``size`` rows, one per group first (groups in random order)."""
    by_group = defaultdict(list)
    for index, row in enumerate(rows):
        by_group[row[group_key] if group_key else index].append(row)
    groups = list(by_group.values())
    rng.shuffle(groups)
    for members in groups:
        rng.shuffle(members)
    picked, depth = [], 0
    while len(picked) < size and any(len(g) > depth for g in groups):
        picked += [g[depth] for g in groups if len(g) > depth]
        depth += 1
    return picked[:size]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('labels', help='CSV with image, label (and group) '
                        'columns')
    parser.add_argument('--out', required=True)
    parser.add_argument('--split-file', help='CSV with the split column, '
                        'joined on the image column')
    parser.add_argument('--img-key', default='image')
    parser.add_argument('--label-key', default='label')
    parser.add_argument('--group-key', help='lesion/patient column')
    parser.add_argument('--split-key', default='split')
    parser.add_argument('--size', action='append', metavar='SPLIT=N')
    parser.add_argument('--positive', help='label value that becomes 1; '
                        'every other label becomes 0')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--path-prefix', default='',
                        help='put in front of every image path')
    parser.add_argument('--mask-key', help='mask path column, written as '
                        '"mask" (segmentation)')
    parser.add_argument('--force', action='store_true')
    args = parser.parse_args(argv)
    if osp.exists(args.out) and not args.force:
        print(f'{args.out} exists; left alone (--force rewrites it)')
        return 0
    rows = read_rows(args.labels, args.split_file, args.img_key,
                     args.split_key)
    for key in (args.img_key, args.label_key, args.split_key,
                args.group_key, args.mask_key):
        if key and rows and key not in rows[0]:
            raise SystemExit(f'{args.labels}: no column {key!r}; columns: '
                             f'{", ".join(rows[0])}')
    if args.positive and not any(r[args.label_key] == args.positive
                                 for r in rows):
        raise SystemExit(f'--positive {args.positive!r}: no row has that '
                         f'{args.label_key!r}')
    sizes = parse_sizes(args.size)
    by_split = defaultdict(list)
    for row in rows:
        by_split[row[args.split_key]].append(row)
    unknown = set(sizes) - set(by_split)
    if unknown:
        raise SystemExit(f'--size names splits {sorted(unknown)} that '
                         f'{args.labels} does not have: {sorted(by_split)}')
    rng = random.Random(args.seed)
    if os.path.dirname(args.out):
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'label', 'group', 'split'] +
                        (['mask'] if args.mask_key else []))
        for split in sorted(by_split):
            chosen = by_split[split]
            if split in sizes:
                chosen = draw(chosen, sizes[split], args.group_key, rng)
            counts = Counter()
            for row in chosen:
                label = row[args.label_key]
                if args.positive:
                    label = int(label == args.positive)
                counts[label] += 1
                group = row[args.group_key] if args.group_key else ''
                mask = [args.path_prefix + row[args.mask_key]
                        ] if args.mask_key else []
                writer.writerow([args.path_prefix + row[args.img_key], label,
                                 group, split] + mask)
            print(f'{split}: {len(chosen)} images, labels '
                  f'{dict(sorted(counts.items()))}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
