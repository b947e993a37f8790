# Copyright (c) mmmedssl contributors. All rights reserved.
"""Make the crop pairs of PCRL 3D pretraining from LUNA16 CT scans.

    python tools/dataset_converters/luna_crop_pairs.py \\
        --data-root data/LUNA16 --out-dir data/luna_pcrl \\
        [--subsets 0 1 2 3 4 5 6] [--scan-list luna_train.txt] [--workers 2]

For every scan ``<data-root>/subset<k>/<series uid>.mhd`` (``.mha``,
``.nii``, ``.nii.gz`` and ``.nrrd`` scans are read too): resample to
``--spacing`` (1 mm), clip to ``--hu-range`` (-1000..1000 HU) and scale to
[0, 1], then sample ``--pairs-per-scan`` pairs of overlapping crops as the
released PCRL pre-processing does (see
``mmmedssl/dataset_converters/luna16.py``).
Each pair is saved as ``<out-dir>/subset<k>/<uid>_img_<i>.npy``, a float32
array ``[2, *out_size]`` (``[2, 64, 64, 32]``, ``(x, y, z)`` axes as
released; ``--layout zyx`` saves ``[2, 32, 64, 64]``).

All triples (``--crop-sizes``, ``--out-size``, ``--spacing``) are in
``(x, y, z)`` order. Results are deterministic for a ``--seed`` whatever
``--workers`` is: each scan has its own generator, seeded from ``--seed``
and the scan's name.

Also written: ``<out-dir>/index.txt`` (one output per line, relative to
``--out-dir``: ``CropPairDataset(data_root=<out-dir>,
ann_file='index.txt')`` reads it) and ``<out-dir>/pairs.csv`` (per pair:
file, scan, both boxes as ``x0 y0 z0 x1 y1 z1`` in voxels of the resampled
scan before padding, their IoU).

Short scans are padded rather than crashing (the released ``np.pad`` bug);
scans that cannot be read, are smaller than the smallest crop, or yield no
acceptable pair within ``--max-tries`` draws are skipped with a warning.
"""
import argparse
import csv
import os
import os.path as osp
import sys
import time
import warnings
import zlib
from multiprocessing import get_context

import numpy as np

try:
    from mmmedssl.dataset_converters import luna16
    from mmmedssl.datasets.transforms.volume import (hu_window, read_volume,
                                                     resample_volume,
                                                     volume_suffix)
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..',
                                '..'))
    from mmmedssl.dataset_converters import luna16
    from mmmedssl.datasets.transforms.volume import (hu_window, read_volume,
                                                     resample_volume,
                                                     volume_suffix)

SCAN_SUFFIXES = ('.mhd', '.mha', '.nii.gz', '.nii', '.nrrd')
INDEX_FILE = 'index.txt'
PAIRS_FILE = 'pairs.csv'


def triple(kind):

    def parse(text):
        parts = text.replace(',', ' ').split()
        try:
            values = tuple(kind(p) for p in parts)
        except ValueError:
            values = ()
        if len(values) != 3:
            raise argparse.ArgumentTypeError(
                f'expected three numbers "X,Y,Z", got {text!r}')
        return values

    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Make PCRL 3D crop pairs from LUNA16 scans.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--data-root', required=True,
                        help='LUNA16 folder holding subset0 ... subset9')
    parser.add_argument('--out-dir', required=True,
                        help='where the .npy pairs, index.txt and pairs.csv '
                        'go')
    parser.add_argument('--flat', action='store_true',
                        help='any CT folder: every scan below --data-root '
                        '(recursively) instead of LUNA16\'s subset<k> '
                        'folders; pairs go straight into --out-dir')
    parser.add_argument('--subsets', type=int, nargs='+',
                        default=[0, 1, 2, 3, 4, 5, 6],
                        help='subset numbers to convert (the released '
                        'training folds are 0-6)')
    parser.add_argument('--scan-list',
                        help='optional text file of series UIDs, one per '
                        'line (PCRL\'s luna_train.txt): only these scans')
    parser.add_argument('--pairs-per-scan', type=int, default=16,
                        help='crop pairs sampled from each scan')
    parser.add_argument('--crop-sizes', type=triple(int), nargs='+',
                        default=[
                            tuple(c) for c in luna16.DEFAULT_CROP_SIZES],
                        metavar='X,Y,Z',
                        help='crop sizes drawn uniformly, e.g. 64,64,32 '
                        '96,96,48')
    parser.add_argument('--out-size', type=int, nargs=3,
                        default=list(luna16.DEFAULT_OUT_SIZE),
                        metavar=('X', 'Y', 'Z'),
                        help='size each crop is resized to and saved at')
    parser.add_argument('--min-iou', type=float, default=0.25,
                        help='the two boxes\' 3D IoU must exceed it')
    parser.add_argument('--border-xy', type=int, default=70,
                        help='voxels kept free at the x and y faces')
    parser.add_argument('--border-z', type=int, default=15,
                        help='slices kept free at the z faces')
    parser.add_argument('--lung-depth', type=int, default=3,
                        help='extra slices of the lung-content check')
    parser.add_argument('--lung-hu', type=float, default=-150.,
                        help='soft-tissue level (HU) of the lung check')
    parser.add_argument('--lung-threshold', type=float, default=0.15,
                        help='largest depth-map sum, as a fraction of the '
                        'crop volume')
    parser.add_argument('--lung-reference', choices=('crop', 'output'),
                        default='crop',
                        help='voxel count the lung threshold multiplies: '
                        'the crop before resizing (released) or the output')
    parser.add_argument('--hu-range', type=float, nargs=2,
                        default=[-1000., 1000.], metavar=('LOW', 'HIGH'),
                        help='HU window scaled to [0, 1]')
    parser.add_argument('--spacing', type=float, nargs=3,
                        default=[1., 1., 1.], metavar=('X', 'Y', 'Z'),
                        help='voxel size (mm) to resample to')
    parser.add_argument('--max-pad-fraction', type=float, default=0.5,
                        help='redraw crops with more of their voxels in the '
                        'padding of a short scan')
    parser.add_argument('--layout', choices=('xyz', 'zyx'), default='xyz',
                        help='axis order of the saved views')
    parser.add_argument('--seed', type=int, default=1,
                        help='base seed; each scan also uses its name')
    parser.add_argument('--max-tries', type=int, default=200000,
                        help='candidate pairs drawn per pair before the '
                        'scan is skipped')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes converting scans in parallel')
    args = parser.parse_args(argv)

    if args.pairs_per_scan < 1:
        parser.error('--pairs-per-scan must be >= 1')
    if min(args.out_size) < 1 or any(min(c) < 1 for c in args.crop_sizes):
        parser.error('--out-size and --crop-sizes must be positive')
    if args.hu_range[0] >= args.hu_range[1]:
        parser.error(f'--hu-range {args.hu_range}: LOW must be < HIGH')
    if min(args.spacing) <= 0:
        parser.error('--spacing must be positive')
    if args.lung_depth < 2:
        parser.error('--lung-depth must be >= 2')
    if min(args.border_xy, args.border_z) < 0:
        parser.error('--border-xy and --border-z must be >= 0')
    if args.workers < 1 or args.max_tries < 1:
        parser.error('--workers and --max-tries must be >= 1')
    if not 0 <= args.max_pad_fraction <= 1:
        parser.error('--max-pad-fraction must be in [0, 1]')
    return args


def scan_name(path: str) -> str:
    """The scan's file name without its suffix (the series UID)."""
    name = osp.basename(path)
    suffix = volume_suffix(name)
    return name[:-len(suffix)] if suffix else name


def _scan_files(data_root, subsets):
    """``(subset, path)`` of every scan file: in ``subset<k>`` folders, or
    with ``subsets=None`` anywhere below ``data_root`` (subset None)."""
    if subsets is None:
        if not osp.isdir(data_root):
            raise OSError(f'--data-root {data_root} is not a folder.')
        for folder, dirs, files in sorted(os.walk(data_root)):
            dirs.sort()
            for name in sorted(files):
                if name.lower().endswith(SCAN_SUFFIXES):
                    yield None, osp.join(folder, name)
        return
    for subset in subsets:
        folder = osp.join(data_root, f'subset{subset}')
        if not osp.isdir(folder):
            warnings.warn(f'luna_crop_pairs: {folder} does not exist; '
                          f'subset {subset} skipped.')
            continue
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(SCAN_SUFFIXES):
                yield subset, osp.join(folder, name)


def find_scans(data_root, subsets, scan_list=None):
    """``[(subset, path)]`` of the scans to convert, sorted (``subsets``
    None: every scan below ``data_root``)."""
    wanted = None
    if scan_list:
        with open(scan_list, encoding='utf-8') as f:
            wanted = {line.strip() for line in f if line.strip()}
        if not wanted:
            raise ValueError(f'--scan-list {scan_list}: no series UID.')
    scans, found = [], set()
    for subset, path in _scan_files(data_root, subsets):
        uid = scan_name(path)
        if wanted is not None and uid not in wanted:
            continue
        found.add(uid)
        scans.append((subset, path))
    if wanted is not None and wanted - found:
        missing = sorted(wanted - found)
        warnings.warn(
            f'luna_crop_pairs: {len(missing)} of the {len(wanted)} scans of '
            f'{scan_list} are not in subsets {list(subsets)} of {data_root} '
            f'(e.g. {missing[0]}).')
    return scans


def prepare_scan(path, args):
    """Read, resample, window and transpose a scan to ``(x, y, z)``."""
    array, spacing = read_volume(path)
    if array.ndim != 3:
        raise ValueError(f'expected a 3D scan, got shape {array.shape}')
    if spacing is None:
        raise ValueError('the file gives no voxel spacing')
    new_spacing = tuple(args.spacing)[::-1]  # (x, y, z) -> (z, y, x)
    array = resample_volume(array, spacing, new_spacing, order=1)
    array = hu_window(array, *args.hu_range)
    # A view: crops copy what they take anyway.
    return array.transpose(2, 1, 0)


def convert_scan(job):
    """Make the pairs of one scan.

    Returns:
        dict: ``records`` (one dict per pair written), ``note`` (how the
        scan was padded, or None) and ``problems`` (why the scan or its
        last pairs were skipped).
    """
    subset, path, args = job
    uid = scan_name(path)
    records, note = [], None
    try:
        volume = prepare_scan(path, args)
    except Exception as e:  # one bad scan must not stop the conversion
        return dict(records=[], note=None,
                    problems=[f'skipped {path}: cannot read it: {e}'])

    borders = (args.border_xy, args.border_xy, args.border_z)
    shape = volume.shape
    try:
        volume, pads = luna16.pad_for_crops(volume, args.crop_sizes,
                                            borders, args.lung_depth,
                                            pad_value=0.)
    except luna16.ShortScanError as e:
        return dict(records=[], note=None, problems=[f'skipped {path}: {e}'])
    offset = np.array([before for before, _ in pads])
    if offset.any() or any(after for _, after in pads):
        note = (f'padded {path} from {shape} to {volume.shape} (x, y, z '
                'voxels) to fit the crops')
    problems = []
    region = (offset, offset + np.array(shape))

    rng = np.random.default_rng([args.seed, zlib.crc32(uid.encode())])
    tissue = (args.lung_hu - args.hu_range[0]) / (
        args.hu_range[1] - args.hu_range[0])
    folder = '' if subset is None else f'subset{subset}'
    os.makedirs(osp.join(args.out_dir, folder), exist_ok=True)
    for index in range(args.pairs_per_scan):
        try:
            pair = luna16.sample_crop_pair(
                volume, rng, args.crop_sizes, args.out_size, args.min_iou,
                borders, args.lung_depth, tissue, args.lung_threshold,
                args.lung_reference, region, args.max_pad_fraction,
                args.max_tries)
        except luna16.PairSamplingError as e:
            problems.append(f'skipped the rest of {path} after {index} '
                            f'pairs: {e}')
            break
        crops = pair.crops
        if args.layout == 'zyx':
            crops = np.ascontiguousarray(crops.transpose(0, 3, 2, 1))
        rel = osp.join(folder, f'{uid}_img_{index}.npy')
        np.save(osp.join(args.out_dir, rel), crops.astype(np.float32))
        # Boxes in voxels of the resampled scan, before padding.
        boxes = [np.array(b) - np.concatenate([offset, offset])
                 for b in pair.boxes]
        records.append(dict(
            file=rel, scan=uid, subset=subset,
            box1=' '.join(str(int(v)) for v in boxes[0]),
            box2=' '.join(str(int(v)) for v in boxes[1]),
            iou=f'{pair.iou:.6f}'))
    return dict(records=records, note=note, problems=problems)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    try:
        scans = find_scans(args.data_root,
                           None if args.flat else args.subsets,
                           args.scan_list)
    except (OSError, ValueError) as e:
        raise SystemExit(f'luna_crop_pairs: {e}')
    if not scans:
        raise SystemExit(
            f'luna_crop_pairs: no scan ({"/".join(SCAN_SUFFIXES)}) '
            + (f'below {args.data_root!r}.' if args.flat else
               f'in subsets {args.subsets} of {args.data_root!r}; expected '
               f'{osp.join(args.data_root, "subset0", "<uid>.mhd")} ... '
               '(--flat: any folder of scans)'))
    os.makedirs(args.out_dir, exist_ok=True)
    print(f'luna_crop_pairs: {len(scans)} scan(s), {args.pairs_per_scan} '
          f'pairs each, {args.workers} worker(s)')

    jobs = [(subset, path, args) for subset, path in scans]
    records, skipped, padded = [], 0, 0
    if args.workers > 1:
        # Spawned, not forked: a fork of a process whose SimpleITK or
        # torch threads hold locks (a notebook, a test runner) can hang.
        with get_context('spawn').Pool(args.workers) as pool:
            results = pool.map(convert_scan, jobs, chunksize=1)
    else:
        results = map(convert_scan, jobs)
    for result in results:
        if result['note']:
            padded += 1
            print(f'  note: {result["note"]}')
        for problem in result['problems']:
            warnings.warn(f'luna_crop_pairs: {problem}')
        if not result['records']:
            skipped += 1
        records.extend(result['records'])

    with open(osp.join(args.out_dir, INDEX_FILE), 'w') as f:
        f.writelines(r['file'] + '\n' for r in records)
    with open(osp.join(args.out_dir, PAIRS_FILE), 'w', newline='') as f:
        writer = csv.DictWriter(
            f, fieldnames=['file', 'scan', 'subset', 'box1', 'box2', 'iou'])
        writer.writeheader()
        writer.writerows(records)

    summary = dict(scans=len(scans), converted=len(scans) - skipped,
                   skipped=skipped, padded=padded, pairs=len(records),
                   seconds=round(time.time() - start, 1))
    print(f'luna_crop_pairs: {summary["pairs"]} pairs from '
          f'{summary["converted"]}/{summary["scans"]} scans '
          f'({skipped} skipped, {padded} padded) in {summary["seconds"]} s '
          f'-> {args.out_dir} ({INDEX_FILE}, {PAIRS_FILE})')
    return summary


if __name__ == '__main__':
    main()
