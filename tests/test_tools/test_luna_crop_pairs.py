# Copyright (c) mmmedssl contributors. All rights reserved.
"""The LUNA16 crop-pair converter (tools/dataset_converters/
luna_crop_pairs.py), its sampling functions
(mmmedssl.dataset_converters.luna16) and the demo volumes."""
import csv
import os.path as osp
import sys

import numpy as np
import pytest

from mmmedssl.dataset_converters import luna16
from mmmedssl.datasets import CropPairDataset

from ..conftest import REPO_ROOT

sitk = pytest.importorskip('SimpleITK')
sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
import luna_crop_pairs  # noqa: E402
import make_demo_volumes  # noqa: E402

# Small sizes: (x, y, z) voxels at 1 mm.
CROPS = ((12, 12, 6), (16, 16, 8), (24, 24, 12))
OUT = (16, 16, 8)
BORDERS = (4, 4, 2)


def write_scan(path, shape_zyx, spacing_xyz, seed):
    """A lung-like (z, y, x) HU scan: parenchyma, blobs, a tissue rim."""
    rng = np.random.default_rng(seed)
    hu = rng.normal(-850, 30, shape_zyx)
    z, y, x = np.meshgrid(*[np.arange(n) for n in shape_zyx],
                          indexing='ij')
    for _ in range(6):
        c = rng.uniform(0, 1, 3) * shape_zyx
        hu += 800 * np.exp(-((z - c[0])**2 + (y - c[1])**2 +
                             (x - c[2])**2) / 8.)
    hu[:, :2] = hu[:, -2:] = 40  # chest wall along y
    image = sitk.GetImageFromArray(hu.astype(np.int16))
    image.SetSpacing(spacing_xyz)
    sitk.WriteImage(image, str(path))


@pytest.fixture(scope='module')
def luna_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('LUNA16')
    (root / 'subset0').mkdir()
    (root / 'subset1').mkdir()
    # 40 x 40 x 40 mm once resampled from 1.25 x 1.25 x 2 mm voxels.
    write_scan(root / 'subset0' / '1.2.3.normal.mhd', (20, 32, 32),
               (1.25, 1.25, 2.), 0)
    # Short: 16 mm in z where 12 + 3 + 1 + 2 * 2 = 20 are needed.
    write_scan(root / 'subset1' / '1.2.3.short.mhd', (8, 32, 32),
               (1.25, 1.25, 2.), 1)
    # Thinner than the smallest crop (4 < 6 mm): skipped.
    write_scan(root / 'subset1' / '1.2.3.thin.mhd', (2, 32, 32),
               (1.25, 1.25, 2.), 2)
    # Unreadable: skipped with a warning.
    (root / 'subset1' / '1.2.3.broken.mhd').write_text('NDims = oops\n')
    return root


def convert(root, out, *extra):
    args = ['--data-root', str(root), '--out-dir', str(out),
            '--subsets', '0', '1', '--pairs-per-scan', '3',
            '--crop-sizes', *[','.join(map(str, c)) for c in CROPS],
            '--out-size', *map(str, OUT), '--border-xy', '4',
            '--border-z', '2', '--seed', '3', *extra]
    return luna_crop_pairs.main(args)


def read_pairs(out):
    with open(out / 'pairs.csv', newline='') as f:
        return list(csv.DictReader(f))


def test_converter_writes_pairs_and_survives_short_scans(luna_root,
                                                          tmp_path):
    out = tmp_path / 'pairs'
    with pytest.warns(UserWarning) as caught:
        summary = convert(luna_root, out)
    messages = ' | '.join(str(w.message) for w in caught)
    assert 'thin' in messages and 'fewer than the smallest crop' in messages
    assert 'broken' in messages and 'cannot read' in messages
    assert summary['scans'] == 4 and summary['skipped'] == 2
    assert summary['padded'] == 1 and summary['pairs'] == 6

    rows = read_pairs(out)
    files = (out / 'index.txt').read_text().split()
    assert files == [r['file'] for r in rows]
    assert sorted(files) == sorted(
        [f'subset0/1.2.3.normal_img_{i}.npy' for i in range(3)] +
        [f'subset1/1.2.3.short_img_{i}.npy' for i in range(3)])
    for row in rows:
        pair = np.load(out / row['file'])
        assert pair.shape == (2, *OUT) and pair.dtype == np.float32
        assert pair.min() >= 0. and pair.max() <= 1.
        assert pair.std() > 1e-3  # real content, not flat padding
        boxes = [[int(v) for v in row[k].split()] for k in ('box1', 'box2')]
        iou = luna16.box_iou(*boxes)
        assert iou > 0.25 and iou == pytest.approx(float(row['iou']),
                                                   abs=1e-5)
        for box in boxes:
            assert tuple(np.subtract(box[3:], box[:3])) in CROPS
        if 'short' in row['file']:
            # Boxes are in the unpadded scan's voxels: z may start in the
            # 2-voxel padding, never more than half of it.
            for box in boxes:
                z0, z1 = box[2], box[5]
                inside = min(z1, 16) - max(z0, 0)
                assert inside >= 0.5 * (z1 - z0)

    dataset = CropPairDataset(data_root=str(out), ann_file='index.txt',
                              pipeline=[dict(type='LoadVolume')])
    assert len(dataset) == 6 and dataset[0]['img'].shape == (2, *OUT)


def test_converter_is_deterministic_and_filters_scans(luna_root, tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    convert(luna_root, a, '--subsets', '0')
    convert(luna_root, b, '--subsets', '0', '--workers', '2')
    for row in read_pairs(a):
        np.testing.assert_array_equal(np.load(a / row['file']),
                                      np.load(b / row['file']))
    assert read_pairs(a) == read_pairs(b)

    scan_list = tmp_path / 'train.txt'
    scan_list.write_text('1.2.3.short\n1.2.3.absent\n')
    with pytest.warns(UserWarning, match='1 of the 2 scans'):
        summary = convert(luna_root, tmp_path / 'c', '--scan-list',
                          str(scan_list), '--layout', 'zyx')
    assert summary['pairs'] == 3 and summary['scans'] == 1
    rows = read_pairs(tmp_path / 'c')
    assert all('short' in r['file'] for r in rows)
    assert np.load(tmp_path / 'c' / rows[0]['file']).shape == (2, 8, 16, 16)


def test_converter_errors(tmp_path):
    with pytest.raises(SystemExit, match='no scan'), \
            pytest.warns(UserWarning, match='subset0 does not exist'):
        luna_crop_pairs.main(['--data-root', str(tmp_path), '--out-dir',
                              str(tmp_path / 'o'), '--subsets', '0'])
    with pytest.raises(SystemExit):
        luna_crop_pairs.main(['--data-root', str(tmp_path), '--out-dir',
                              str(tmp_path / 'o'), '--crop-sizes', '1,2'])


# ----------------------------------------------------------------------
# mmmedssl.dataset_converters.luna16
# ----------------------------------------------------------------------
def test_box_iou():
    assert luna16.box_iou((0, 0, 0, 2, 2, 2), (0, 0, 0, 2, 2, 2)) == 1.
    assert luna16.box_iou((0, 0, 0, 2, 2, 2), (1, 0, 0, 3, 2, 2)) == \
        pytest.approx(4 / 12)
    assert luna16.box_iou((0, 0, 0, 2, 2, 2), (2, 0, 0, 4, 2, 2)) == 0.
    assert luna16.box_iou((0, 0, 0, 4, 4, 4), (1, 1, 1, 3, 3, 3)) == \
        pytest.approx(8 / 64)


def test_pad_for_crops():
    volume = np.ones((40, 40, 10), np.float32)
    padded, pads = luna16.pad_for_crops(volume, CROPS, BORDERS, 3)
    # z needs 12 + 3 + 1 + 2 * 2 = 20: 10 more, 5 at each end.
    assert pads == ((0, 0), (0, 0), (5, 5)) and padded.shape == (40, 40, 20)
    assert (padded[..., :5] == 0).all() and (padded[..., 5:15] == 1).all()
    assert luna16.required_shape(CROPS, BORDERS, 3) == (33, 33, 20)
    same, pads = luna16.pad_for_crops(np.ones((40, 40, 30)), CROPS, BORDERS)
    assert pads == ((0, 0), ) * 3 and same.shape == (40, 40, 30)
    with pytest.raises(luna16.ShortScanError, match='along z'):
        luna16.pad_for_crops(np.ones((40, 40, 5)), CROPS, BORDERS)
    # The released defaults on a 98-slice scan (its np.pad crash case).
    padded, pads = luna16.pad_for_crops(np.zeros((300, 300, 90)),
                                        luna16.DEFAULT_CROP_SIZES,
                                        (70, 70, 15))
    assert padded.shape == (300, 300, 130)


def test_draw_box_pairs_respects_borders():
    rng = np.random.default_rng(0)
    shape = (40, 36, 20)
    starts, sizes = luna16.draw_box_pairs(rng, shape, CROPS, BORDERS, 3, 5000)
    assert starts.shape == sizes.shape == (5000, 2, 3)
    assert (starts >= BORDERS).all()
    assert (starts + sizes + [0, 0, 3] + 1 + BORDERS <= shape).all()
    # Uniform over sizes and positions: extremes are reached.
    assert {tuple(s) for s in sizes.reshape(-1, 3)} == set(CROPS)
    assert starts[..., 0].min() == 4 and (starts + sizes)[..., 0].max() == 35


def released_depth_map(window, depth, threshold):
    """The released quadruple loop (luna_pre.py), as reference."""
    rows, cols, deps = window.shape[0], window.shape[1], \
        window.shape[2] - depth
    d_img = np.zeros((rows, cols, deps))
    for d in range(deps):
        for i in range(rows):
            for j in range(cols):
                for k in range(depth):
                    if window[i, j, d + k] >= threshold:
                        d_img[i, j, d] = k
                        break
                    if k == depth - 1:
                        d_img[i, j, d] = k
    return 1.0 - d_img / (depth - 1)


@pytest.mark.parametrize('depth', [2, 3, 4])
def test_depth_map_matches_the_released_loop(depth):
    window = np.random.default_rng(depth).random((6, 5, 4 + depth))
    np.testing.assert_allclose(luna16.depth_map(window, depth, 0.6),
                               released_depth_map(window, depth, 0.6))


def test_lung_content_check():
    # Half the output is tissue: map sum = 0.5 * 16 * 16 * 8 = 1024.
    window = np.zeros((16, 16, 11), np.float32)
    window[:8] = 0.5
    assert luna16.depth_map(window).sum() == 1024
    # crop reference: 0.15 * 24 * 24 * 12 = 1036.8 >= 1024 -> accepted;
    # 0.15 * 16 * 16 * 8 = 307.2 -> rejected.
    assert luna16.lung_content_ok(window, (24, 24, 12))
    assert not luna16.lung_content_ok(window, (16, 16, 8))
    assert not luna16.lung_content_ok(window, (24, 24, 12),
                                      reference='output')
    assert luna16.lung_content_ok(window, (16, 16, 8),
                                  max_tissue_fraction=0.5, reference='output')


def test_resize_volume():
    ramp = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    assert luna16.resize_volume(ramp, (4, 3, 2)) is ramp
    const = np.full((24, 24, 15), 0.3, np.float32)
    out = luna16.resize_volume(const, (16, 16, 11))
    assert out.shape == (16, 16, 11)
    np.testing.assert_allclose(out, 0.3, atol=1e-6)
    up = luna16.resize_volume(np.arange(4, dtype=np.float32)[:, None, None]
                            * np.ones((1, 2, 2)), (8, 2, 2))
    # Voxel centres aligned: (i + 0.5) / 2 - 0.5, edges repeated.
    np.testing.assert_allclose(
        up[:, 0, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], atol=1e-6)


def test_sample_crop_pair():
    rng = np.random.default_rng(0)
    volume = np.random.default_rng(1).random((40, 40, 30)).astype(
        np.float32) * 0.4  # all lung: always passes the check
    pair = luna16.sample_crop_pair(volume, rng, CROPS, OUT, 0.25, BORDERS, 3)
    assert pair.crops.shape == (2, *OUT) and pair.crops.dtype == np.float32
    assert pair.iou == pytest.approx(luna16.box_iou(*pair.boxes)) and \
        pair.iou > 0.25
    for crop, box in zip(pair.crops, pair.boxes):
        x0, y0, z0, x1, y1, z1 = box
        window = volume[x0:x1, y0:y1, z0:z1 + 3]
        expected = luna16.resize_volume(window, OUT[:2] + (OUT[2] + 3, ))
        np.testing.assert_array_equal(crop, expected[..., :OUT[2]])
    with pytest.raises(luna16.PairSamplingError, match='in 100 draws'):
        luna16.sample_crop_pair(volume, rng, CROPS, OUT, 1.0, BORDERS,
                                max_tries=100)
    # All tissue: the lung check always fails.
    with pytest.raises(luna16.PairSamplingError):
        luna16.sample_crop_pair(np.ones_like(volume), rng, CROPS, OUT,
                                0.25, BORDERS, max_tries=300)


# ----------------------------------------------------------------------
# Demo volumes
# ----------------------------------------------------------------------
def test_make_demo_volumes(tmp_path):
    written = make_demo_volumes.make_demo_volumes(
        str(tmp_path / 'a'), num_pairs=4, shape=(2, 16, 16, 8), seed=5,
        fmt='mhd', num_scans=1)
    again = make_demo_volumes.make_demo_volumes(
        str(tmp_path / 'b'), num_pairs=4, shape=(2, 16, 16, 8), seed=5)
    assert len(written['pairs']) == 4 and len(written['scans']) == 1
    for p, q in zip(written['pairs'], again['pairs']):
        a = np.load(p)
        assert a.shape == (2, 16, 16, 8) and a.dtype == np.float32
        assert 0 <= a.min() and a.max() <= 1 and a.std() > 0.01
        np.testing.assert_array_equal(a, np.load(q))
    assert len(CropPairDataset(data_root=str(tmp_path / 'a'),
                               ann_file='index.txt')) == 4
    scan = sitk.ReadImage(written['scans'][0])
    assert scan.GetSize() == make_demo_volumes.SCAN_SHAPE
    assert scan.GetSpacing() == pytest.approx(make_demo_volumes.SCAN_SPACING)


def test_segmentation_volumes_do_not_enter_the_pcrl_demo(tmp_path):
    """--num-seg-volumes writes beside the pairs, not among them: the PCRL
    3D demo config still reads only crop pairs, the 3D segmentation demo
    config reads the labelled volumes."""
    from mmengine.config import Config

    from mmmedssl.registry import DATASETS
    out = tmp_path / 'demo_volumes'
    make_demo_volumes.main(['--out', str(out), '--num-pairs', '4', '--shape',
                            '2', '8', '8', '4', '--num-seg-volumes', '8',
                            '--seg-shape', '32', '32', '16'])
    seg = tmp_path / 'demo_volumes_seg'
    assert not list(out.rglob('label_*.npy'))
    assert len(list(seg.glob('label_*.npy'))) == 8
    for name, root, size in (('demo_volumes_pcrl.py', out, 4),
                             ('demo_volumes_seg.py', seg, 6)):
        cfg = Config.fromfile(
            osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', name))
        dataset_cfg = dict(cfg.train_dataloader.dataset, data_root=str(root))
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) == size, name
        for i in range(len(dataset)):  # the pipeline accepts every sample
            assert dataset[i]['inputs'] is not None
    # Even a folder listing without the index sees only pairs.
    assert len(CropPairDataset(data_root=str(out))) == 4
    with pytest.raises(SystemExit):
        make_demo_volumes.main(['--out', str(out), '--num-seg-volumes', '2',
                                '--seg-out', str(out / 'seg')])


def test_flat_folder_of_nifti_scans(tmp_path):
    """Any CT folder (--flat): NIfTI scans anywhere below --data-root."""
    root = tmp_path / 'my_ct'
    (root / 'patient1').mkdir(parents=True)
    (root / 'patient2' / 'visit1').mkdir(parents=True)
    write_scan(root / 'patient1' / 'ct.nii.gz', (20, 32, 32),
               (1.25, 1.25, 2.), 0)
    write_scan(root / 'patient2' / 'visit1' / 'scan.nii.gz', (20, 32, 32),
               (1.25, 1.25, 2.), 4)
    out = tmp_path / 'pairs'
    summary = convert(root, out, '--flat', '--pairs-per-scan', '2')
    assert summary['scans'] == 2 and summary['pairs'] == 4
    files = (out / 'index.txt').read_text().split()
    assert sorted(files) == sorted(
        [f'ct_img_{i}.npy' for i in range(2)] +
        [f'scan_img_{i}.npy' for i in range(2)])
    assert np.load(out / files[0]).shape == (2, *OUT)
    with pytest.raises(SystemExit, match='no scan .* below'):
        convert(tmp_path / 'pairs', tmp_path / 'x', '--flat')
