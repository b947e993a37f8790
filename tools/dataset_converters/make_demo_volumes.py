# Copyright (c) mmmedssl contributors. All rights reserved.
"""Write small synthetic CT-like crop pairs (and optionally whole scans).

    python tools/dataset_converters/make_demo_volumes.py \\
        [--out data/demo_volumes] [--num-pairs 64] [--shape 2 32 32 16] \\
        [--format npy|nii|mhd] [--num-scans 2] [--seed 0] \\
        [--num-seg-volumes 0] [--seg-shape 48 48 24] [--seg-out DIR]

Crop pairs: ``<out>/pair_0000.npy`` ... float32 arrays of ``--shape``
(``[2, X, Y, Z]``, default ``[2, 32, 32, 16]``, the ``(x, y, z)`` layout of
``luna_crop_pairs.py``) in [0, 1] (HU -1000..1000), plus ``<out>/index.txt``
listing them. Each pair is two overlapping crops (IoU > 0.25, of 0.75 to
1.25 times the view size, resized to it) of one synthetic lung patch:
parenchyma around -850 HU with noise, vessels and nodules as Gaussian blobs
up to soft-tissue density, sometimes a chest wall. Read them with
``CropPairDataset(data_root=<out>, ann_file='index.txt')``.

``--format nii`` (or ``mhd``) also writes ``--num-scans`` whole synthetic
chest CTs (int16 HU, 1.5 x 1.5 x 2.5 mm voxels, 264 x 264 x 140 mm: body,
two lungs with vessels and nodules, mediastinum, spine) to
``<out>/scans/subset0/demo_<i>.nii.gz`` (``.mhd``), the layout
``luna_crop_pairs.py --data-root <out>/scans --subsets 0`` reads.

``--num-seg-volumes N`` (default 0: none) also writes N labelled volumes
for the segmentation downstream to ``--seg-out`` (default ``<out>_seg``,
i.e. ``data/demo_volumes_seg``; a folder of its own, never inside
``<out>``, whose ``.npy`` files the PCRL 3D demo would otherwise read as
crop pairs): ``vol_<i>.npy`` (float32
in [0, 1], shape ``--seg-shape`` in ``(x, y, z)``), ``label_<i>.npy``
(uint8 label map of the same shape: 0 lung, 1 nodule/vessel blob where the
blob adds over half its peak, 2 chest wall) and ``labels.csv`` with the
columns ``image,mask,split``: the last ``ceil(N / 8)`` volumes are
``test``, the ``ceil(N / 8)`` before them ``val``, the rest ``train``. Read
them with ``MedImageList(data_root=<seg-out>, ann_file='labels.csv',
mask_key='mask', split=...)``. They are drawn from their own random stream,
so the pairs and scans are the same with or without them.

Deterministic for a given ``--seed``; 64 pairs take well under a second.
"""
import argparse
import importlib.util
import os
import os.path as osp

import numpy as np


def _load_luna():
    """``mmmedssl/dataset_converters/luna16.py`` of this checkout, loaded
    on its own:
    it needs only numpy and scipy, while importing the ``mmmedssl`` package
    would pull in mmcv and mmpretrain (seconds)."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..',
                    'mmmedssl', 'dataset_converters', 'luna16.py')
    spec = importlib.util.spec_from_file_location('_demo_luna', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_luna = _load_luna()
box_iou, resize_volume = _luna.box_iou, _luna.resize_volume

HU_LOW, HU_HIGH = -1000., 1000.
SCAN_SPACING = (1.5, 1.5, 2.5)  # x, y, z mm
SCAN_SHAPE = (176, 176, 56)  # x, y, z voxels


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/demo_volumes',
                        help='output folder (default: data/demo_volumes)')
    parser.add_argument('--num-pairs', type=int, default=64,
                        help='crop pairs to write (default: 64)')
    parser.add_argument('--shape', type=int, nargs=4, default=[2, 32, 32, 16],
                        metavar=('2', 'X', 'Y', 'Z'),
                        help='shape of each pair (default: 2 32 32 16)')
    parser.add_argument('--format', choices=('npy', 'nii', 'mhd'),
                        default='npy',
                        help='npy: pairs only; nii / mhd: also whole scans '
                        'in that format for luna_crop_pairs.py')
    parser.add_argument('--num-scans', type=int, default=2,
                        help='whole scans written with --format nii/mhd')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-seg-volumes', type=int, default=0,
                        help='labelled volumes for segmentation written to '
                        '--seg-out (default: 0)')
    parser.add_argument('--seg-out', default=None,
                        help='folder of the labelled volumes (default: '
                        '<out>_seg); not inside --out')
    parser.add_argument('--seg-shape', type=int, nargs=3,
                        default=[48, 48, 24], metavar=('X', 'Y', 'Z'),
                        help='shape of each labelled volume (default: 48 48 '
                        '24)')
    args = parser.parse_args(argv)
    if args.shape[0] != 2 or min(args.shape) < 1:
        parser.error(f'--shape must be 2 X Y Z with positive sizes, got '
                     f'{args.shape}')
    if args.num_pairs < 0 or args.num_scans < 0 or args.num_seg_volumes < 0:
        parser.error('--num-pairs, --num-scans and --num-seg-volumes must be '
                     '>= 0')
    if min(args.seg_shape) < 1:
        parser.error(f'--seg-shape must be positive, got {args.seg_shape}')
    try:
        args.seg_out = seg_folder(args.out, args.seg_out)
    except ValueError as err:
        parser.error(str(err))
    return args


def seg_folder(out: str, seg_out: str = None) -> str:
    """The folder of the labelled volumes: ``seg_out`` or ``<out>_seg``.
    Not inside ``out``: CropPairDataset lists every ``.npy`` under its
    folder, so label maps there would be read as crop pairs."""
    out = osp.normpath(out)
    seg_out = osp.normpath(seg_out or out + '_seg')
    full_out, full_seg = osp.abspath(out), osp.abspath(seg_out)
    if osp.commonpath([full_out, full_seg]) == full_out:
        raise ValueError(
            f'--seg-out {seg_out} is inside --out {out}: the PCRL 3D demo '
            f'reads every .npy under {out} as a crop pair. Use a folder '
            f'beside it (default {out}_seg).')
    return seg_out


def to_unit(hu: np.ndarray) -> np.ndarray:
    """HU -> [0, 1] as HUWindow does."""
    return ((np.clip(hu, HU_LOW, HU_HIGH) - HU_LOW) /
            (HU_HIGH - HU_LOW)).astype(np.float32)


def _grid(shape):
    return np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape],
                       indexing='ij', sparse=True)


def lung_patch(rng: np.random.Generator, shape) -> np.ndarray:
    """A ``(x, y, z)`` patch of lung in HU."""
    hu = rng.normal(-850., 25., size=shape).astype(np.float32)
    x, y, z = _grid(shape)
    scale = min(shape)
    for _ in range(int(rng.integers(6, 14))):
        centre = rng.uniform(0, 1, 3) * np.array(shape)
        radius = rng.uniform(0.04, 0.15) * scale
        peak = rng.uniform(500., 900.)  # up to soft tissue (~ +50 HU)
        dist2 = ((x - centre[0])**2 + (y - centre[1])**2 +
                 (z - centre[2])**2)
        hu += peak * np.exp(-dist2 / (2 * radius**2))
    if rng.random() < 0.3:  # chest wall on one side
        depth = rng.uniform(0.05, 0.2) * shape[0]
        hu = np.where(x < depth, rng.normal(40., 15., shape), hu)
    return hu


SEG_CLASSES = ('lung', 'blob', 'wall')


def labelled_patch(rng: np.random.Generator, shape):
    """A ``(x, y, z)`` lung patch in [0, 1] and its uint8 label map
    (:data:`SEG_CLASSES`): like :func:`lung_patch`, with larger blobs, each
    labelled where it adds over half its peak, and a chest wall half of the
    time (labelled 2, over any blob)."""
    hu = rng.normal(-850., 25., size=shape).astype(np.float32)
    labels = np.zeros(shape, np.uint8)
    x, y, z = _grid(shape)
    scale = min(shape)
    for _ in range(int(rng.integers(2, 6))):
        centre = rng.uniform(0.15, 0.85, 3) * np.array(shape)
        radius = rng.uniform(0.08, 0.2) * scale
        peak = rng.uniform(600., 900.)
        dist2 = ((x - centre[0])**2 + (y - centre[1])**2 +
                 (z - centre[2])**2)
        blob = np.exp(-dist2 / (2 * radius**2))
        hu += peak * blob
        labels[blob > 0.5] = 1
    if rng.random() < 0.5:
        depth = rng.uniform(0.1, 0.25) * shape[0]
        wall = np.broadcast_to(x < depth, shape)
        hu = np.where(wall, rng.normal(40., 15., shape), hu)
        labels[wall] = 2
    return to_unit(hu), labels


def make_seg_volumes(folder: str, num: int, shape=(48, 48, 24),
                     seed: int = 0) -> list:
    """Write ``num`` labelled volumes and ``labels.csv`` to ``folder``;
    returns the ``(volume, label)`` paths."""
    import math
    rng = np.random.default_rng([seed, 1])  # independent of the pairs
    os.makedirs(folder, exist_ok=True)
    held_out = math.ceil(num / 8)
    rows, written = [], []
    for index in range(num):
        volume, labels = labelled_patch(rng, tuple(shape))
        names = (f'vol_{index:04d}.npy', f'label_{index:04d}.npy')
        np.save(osp.join(folder, names[0]), volume)
        np.save(osp.join(folder, names[1]), labels)
        split = ('test' if index >= num - held_out else
                 'val' if index >= num - 2 * held_out else 'train')
        rows.append(f'{names[0]},{names[1]},{split}\n')
        written.append(tuple(osp.join(folder, n) for n in names))
    with open(osp.join(folder, 'labels.csv'), 'w') as f:
        f.write('image,mask,split\n')
        f.writelines(rows)
    return written


def crop_pair(rng: np.random.Generator, view_shape, min_iou: float = 0.25):
    """Two overlapping crops of one lung patch, resized to ``view_shape``,
    in [0, 1]: ``(2, *view_shape)`` float32."""
    view = np.array(view_shape)
    canvas = np.maximum(view + 2, np.ceil(view * 1.6).astype(int))
    hu = lung_patch(rng, tuple(canvas))
    while True:
        sizes = [np.clip(np.round(view * f), 1, canvas).astype(int)
                 for f in rng.choice([0.75, 1.0, 1.25], size=2)]
        starts = [rng.integers(0, canvas - s, endpoint=True) for s in sizes]
        boxes = [tuple(st) + tuple(st + s) for st, s in zip(starts, sizes)]
        if box_iou(*boxes) > min_iou:
            break
    crops = []
    for st, s in zip(starts, sizes):
        window = hu[st[0]:st[0] + s[0], st[1]:st[1] + s[1],
                    st[2]:st[2] + s[2]]
        crops.append(resize_volume(to_unit(window), view_shape))
    return np.clip(np.stack(crops), 0., 1.).astype(np.float32)


def chest_scan(rng: np.random.Generator, shape=SCAN_SHAPE,
               spacing=SCAN_SPACING) -> np.ndarray:
    """A ``(x, y, z)`` int16 chest CT in HU."""
    x, y, z = _grid(shape)
    # Millimetres from the volume's centre.
    mx = (x - shape[0] / 2) * spacing[0]
    my = (y - shape[1] / 2) * spacing[1]
    mz = (z - shape[2] / 2) * spacing[2]
    hu = np.full(shape, -1000., np.float32)
    body = (mx / 125.)**2 + (my / 95.)**2 <= 1
    hu = np.where(body, -100., hu)  # fat
    muscle = (mx / 115.)**2 + (my / 85.)**2 <= 1
    hu = np.where(muscle, 40., hu)
    height = 65. + 10. * rng.random()
    for side in (-1, 1):
        centre = side * (55. + 5. * rng.random())
        lung = (((mx - centre) / 45.)**2 + (my / 65.)**2 +
                (mz / height)**2) <= 1
        hu = np.where(lung, -850., hu)
    spine = ((mx / 15.)**2 + ((my - 70.) / 15.)**2) <= 1
    hu = np.where(spine, 700., hu)
    hu = hu + rng.normal(0., 20., shape).astype(np.float32)
    # Vessels and nodules: Gaussian blobs inside the lungs.
    for _ in range(40):
        side = rng.choice([-1, 1])
        centre = np.array([side * 55., 0., 0.]) + rng.uniform(
            [-35, -55, -50], [35, 55, 50])
        radius = rng.uniform(2., 8.)
        dist2 = ((mx - centre[0])**2 + (my - centre[1])**2 +
                 (mz - centre[2])**2)
        hu += 850. * np.exp(-dist2 / (2 * radius**2)) * (hu < -500)
    return np.clip(hu, -1024, 3000).astype(np.int16)


def write_scan(path: str, hu: np.ndarray, spacing) -> None:
    """Write an ``(x, y, z)`` scan as NIfTI (nibabel) or MetaImage
    (SimpleITK), by the suffix of ``path``."""
    if path.endswith(('.nii', '.nii.gz')):
        import nibabel as nib
        affine = np.diag(list(spacing) + [1.])
        nib.save(nib.Nifti1Image(hu, affine), path)
    else:
        import SimpleITK as sitk
        image = sitk.GetImageFromArray(hu.transpose(2, 1, 0))  # (z, y, x)
        image.SetSpacing(tuple(float(s) for s in spacing))
        sitk.WriteImage(image, path)


def make_demo_volumes(out: str, num_pairs: int = 64,
                      shape=(2, 32, 32, 16), seed: int = 0,
                      fmt: str = 'npy', num_scans: int = 2,
                      num_seg_volumes: int = 0,
                      seg_shape=(48, 48, 24), seg_out: str = None) -> dict:
    """Write the demo pairs (scans, labelled volumes); returns the written
    paths as ``dict(pairs=[...], scans=[...], seg=[(vol, label), ...])``."""
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)
    pairs = []
    for index in range(num_pairs):
        pair = crop_pair(rng, tuple(shape[1:]))
        name = f'pair_{index:04d}.npy'
        np.save(osp.join(out, name), pair)
        pairs.append(osp.join(out, name))
    with open(osp.join(out, 'index.txt'), 'w') as f:
        f.writelines(osp.basename(p) + '\n' for p in pairs)

    scans = []
    if fmt != 'npy':
        folder = osp.join(out, 'scans', 'subset0')
        os.makedirs(folder, exist_ok=True)
        suffix = '.nii.gz' if fmt == 'nii' else '.mhd'
        for index in range(num_scans):
            path = osp.join(folder, f'demo_{index}{suffix}')
            write_scan(path, chest_scan(rng), SCAN_SPACING)
            scans.append(path)
    seg = make_seg_volumes(seg_folder(out, seg_out), num_seg_volumes,
                           seg_shape, seed) if num_seg_volumes else []
    return dict(pairs=pairs, scans=scans, seg=seg)


def main(argv=None):
    args = parse_args(argv)
    written = make_demo_volumes(args.out, args.num_pairs, args.shape,
                                args.seed, args.format, args.num_scans,
                                args.num_seg_volumes, args.seg_shape,
                                args.seg_out)
    print(f'make_demo_volumes: {len(written["pairs"])} pairs of shape '
          f'{args.shape} in {args.out} (index.txt)'
          + (f', {len(written["scans"])} scans in '
             f'{osp.join(args.out, "scans", "subset0")}'
             if written['scans'] else '')
          + (f', {len(written["seg"])} labelled volumes in '
             f'{args.seg_out} (labels.csv)'
             if written['seg'] else ''))
    return written


if __name__ == '__main__':
    main()
