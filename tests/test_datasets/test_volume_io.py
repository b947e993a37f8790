# Copyright (c) mmmedssl contributors. All rights reserved.
"""LoadVolume / read_volume against files written with the format's own
library, resample_volume on linear ramps, and CropPairDataset."""
import os

import numpy as np
import pytest

from mmmedssl.datasets import CropPairDataset
from mmmedssl.datasets.transforms import (LoadVolume, read_volume,
                                          resample_volume)
from mmmedssl.registry import DATASETS, TRANSFORMS

nib = pytest.importorskip('nibabel')
sitk = pytest.importorskip('SimpleITK')
pydicom = pytest.importorskip('pydicom')


def xyz_volume(shape=(4, 5, 6), dtype=np.int16):
    """An (x, y, z) array whose every voxel value is unique and tells its
    coordinates: 100 x + 10 y + z."""
    x, y, z = np.meshgrid(*[np.arange(n) for n in shape], indexing='ij')
    return (100 * x + 10 * y + z).astype(dtype)


def load(path, **kwargs):
    return LoadVolume(**kwargs)(dict(img_path=str(path)))


# ----------------------------------------------------------------------
# NIfTI
# ----------------------------------------------------------------------
@pytest.mark.parametrize('suffix', ['.nii', '.nii.gz'])
def test_nifti_is_transposed_to_zyx_with_spacing(tmp_path, suffix):
    data = xyz_volume()
    path = tmp_path / f'ct{suffix}'
    nib.save(nib.Nifti1Image(data, np.diag([0.7, 0.8, 2.5, 1.])), str(path))

    results = load(path)
    img = results['img']
    assert img.dtype == np.float32 and img.shape == (6, 5, 4)
    # img[z, y, x] == data[x, y, z]: the voxel (x=3, y=1, z=4) is 314.
    assert img[4, 1, 3] == 314
    np.testing.assert_array_equal(img, data.transpose(2, 1, 0))
    assert results['spacing'] == pytest.approx((2.5, 0.8, 0.7))
    assert results['img_shape'] == results['ori_shape'] == (6, 5, 4)


def test_nifti_scaling_and_4d_channels(tmp_path):
    data = np.stack([xyz_volume(), -xyz_volume()], axis=-1)  # x, y, z, c
    image = nib.Nifti1Image(data, np.diag([1., 2., 3., 1.]))
    image.header.set_slope_inter(2., -1024.)
    path = tmp_path / 'multi.nii.gz'
    nib.save(image, str(path))

    array, spacing = read_volume(str(path))
    assert array.shape == (2, 6, 5, 4)
    np.testing.assert_allclose(array[0], 2. * data[..., 0].T - 1024.)
    np.testing.assert_allclose(array[1], 2. * data[..., 1].T - 1024.)
    assert spacing == pytest.approx((3., 2., 1.))
    assert load(path)['img_shape'] == (6, 5, 4)


# ----------------------------------------------------------------------
# MetaImage / NRRD (SimpleITK)
# ----------------------------------------------------------------------
@pytest.mark.parametrize('suffix', ['.mhd', '.mha', '.nrrd'])
def test_itk_formats_keep_zyx_and_reverse_spacing(tmp_path, suffix):
    zyx = xyz_volume().transpose(2, 1, 0).copy()
    image = sitk.GetImageFromArray(zyx)
    image.SetSpacing((0.6, 0.7, 1.5))  # SimpleITK spacing is (x, y, z)
    path = tmp_path / f'ct{suffix}'
    sitk.WriteImage(image, str(path))

    results = load(path)
    assert results['img'].shape == (6, 5, 4)
    np.testing.assert_array_equal(results['img'], zyx)
    assert results['img'][4, 1, 3] == 314
    assert results['spacing'] == pytest.approx((1.5, 0.7, 0.6))

    kept = load(path, to_float32=False)['img']
    assert kept.dtype == np.int16
    assert load(path, dtype='float64')['img'].dtype == np.float64


# ----------------------------------------------------------------------
# DICOM series (pydicom)
# ----------------------------------------------------------------------
def write_dicom_slice(path, pixels, position=None, instance=None,
                      slope=2., intercept=-1024., series='1.2.3.4',
                      orientation=(1, 0, 0, 0, 1, 0),
                      pixel_spacing=(0.5, 0.6)):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (CTImageStorage, ExplicitVRLittleEndian,
                             generate_uid)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = series
    ds.Modality = 'CT'
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelSpacing = list(pixel_spacing)
    if position is not None:
        ds.ImagePositionPatient = list(position)
        ds.ImageOrientationPatient = list(orientation)
    if instance is not None:
        ds.InstanceNumber = instance
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.PixelData = pixels.astype(np.int16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)


def slices(n=5, shape=(3, 4)):
    """n slices whose stored values encode (slice, row, col)."""
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]),
                             indexing='ij')
    return [100 * k + 10 * rows + cols for k in range(n)]


def test_dicom_series_sorted_by_position_with_rescale(tmp_path):
    folder = tmp_path / 'series'
    folder.mkdir()
    stored = slices()
    # File names sort in another order than the positions, and the
    # instance numbers disagree too: only the positions must count.
    names = ['c.dcm', 'a.dcm', 'e.dcm', 'b.dcm', 'd.dcm']
    for k in np.random.default_rng(0).permutation(5):
        write_dicom_slice(folder / names[k], stored[k],
                          position=(-10., 20., 5. + 2.5 * k),
                          instance=5 - k)
    (folder / 'README.txt').write_text('not a DICOM file')

    results = load(folder)
    img = results['img']
    assert img.shape == (5, 3, 4) and img.dtype == np.float32
    for k in range(5):
        np.testing.assert_array_equal(img[k], 2. * stored[k] - 1024.)
    assert img[3, 2, 1] == 2. * 321 - 1024.
    # (z, y, x): slice gap, then PixelSpacing = (row, column) spacing.
    assert results['spacing'] == pytest.approx((2.5, 0.5, 0.6))


def test_dicom_orders_along_the_slice_normal(tmp_path):
    # Columns run along -y: the normal row x col is -z, so the slice with
    # the highest z comes first.
    stored = slices(3)
    for k in range(3):
        write_dicom_slice(tmp_path / f'{k}.dcm', stored[k],
                          position=(0., 0., 10. * k),
                          orientation=(1, 0, 0, 0, -1, 0))
    array, spacing = read_volume(str(tmp_path))
    for k in range(3):
        np.testing.assert_array_equal(array[k], 2. * stored[2 - k] - 1024.)
    assert spacing[0] == pytest.approx(10.)


def test_dicom_falls_back_to_instance_number(tmp_path):
    stored = slices(4)
    for k, name in enumerate(['z.dcm', 'y.dcm', 'x.dcm', 'w.dcm']):
        write_dicom_slice(tmp_path / name, stored[k], instance=k + 1,
                          slope=1., intercept=0.)
    array, _ = read_volume(str(tmp_path))
    np.testing.assert_array_equal(array, np.stack(stored))


def test_dicom_errors_name_the_directory(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'notes.txt').write_text('nothing here')
    with pytest.raises(ValueError, match=r"LoadVolume: cannot read '.*empty'"
                       r".*no DICOM image file"):
        load(empty)

    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    stored = slices(2)
    write_dicom_slice(mixed / 'a.dcm', stored[0], position=(0, 0, 0),
                      series='1.2.3')
    write_dicom_slice(mixed / 'b.dcm', stored[1], position=(0, 0, 1),
                      series='1.2.4')
    with pytest.raises(ValueError, match='mixes 2 series'):
        read_volume(str(mixed))


# ----------------------------------------------------------------------
# npy
# ----------------------------------------------------------------------
def test_npy_pairs_are_kept_as_saved(tmp_path):
    pair = np.random.default_rng(0).random((2, 4, 5, 6))  # float64
    path = tmp_path / 'pair.npy'
    np.save(path, pair)

    results = load(path)
    assert results['img'].dtype == np.float32
    np.testing.assert_allclose(results['img'], pair, rtol=1e-6)
    assert results['spacing'] is None
    assert results['img_shape'] == (4, 5, 6)
    assert load(path, to_float32=False)['img'].dtype == np.float64

    np.save(tmp_path / 'objects.npy', np.array([{'a': 1}], dtype=object))
    with pytest.raises(ValueError, match='objects.npy.*pickle'):
        load(tmp_path / 'objects.npy')


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r"LoadVolume: cannot read '.*missing.nii'"):
        load(tmp_path / 'missing.nii')
    (tmp_path / 'scan.txt').write_text('hello')
    with pytest.raises(ValueError, match='unknown suffix'):
        load(tmp_path / 'scan.txt')
    (tmp_path / 'broken.nii.gz').write_bytes(b'not gzip at all')
    with pytest.raises(ValueError,
                       match=r"LoadVolume: cannot read '.*broken.nii.gz'"):
        load(tmp_path / 'broken.nii.gz')
    with pytest.raises(KeyError, match='img_path'):
        LoadVolume()(dict(img=np.zeros(3)))
    assert TRANSFORMS.get('LoadVolume') is LoadVolume


# ----------------------------------------------------------------------
# resample_volume
# ----------------------------------------------------------------------
def test_resample_is_exact_on_linear_ramps():
    spacing = (2.5, 0.5, 1.0)
    shape = (6, 9, 7)
    z, y, x = np.meshgrid(*[np.arange(n) * s for n, s in
                            zip(shape, spacing)], indexing='ij')
    ramp = (2 * z + 3 * y + x).astype(np.float32)  # linear in mm

    out = resample_volume(ramp, spacing, (1., 1., 1.))
    # int(n * spacing + 0.5) voxels: 15, 5 (4.5 rounds up), 7.
    assert out.shape == (15, 5, 7) and out.dtype == np.float32
    i, j, k = np.meshgrid(*[np.arange(n, dtype=np.float32)
                            for n in out.shape], indexing='ij')
    # Inside the input extent (z <= 12.5 mm, y <= 4 mm) linear
    # interpolation is exact; past it the edge value is repeated.
    expected = 2 * np.minimum(i, 12.5) + 3 * np.minimum(j, 4.) + k
    np.testing.assert_allclose(out, expected, atol=1e-4)

    # Channel-first input: every channel alike.
    both = resample_volume(np.stack([ramp, -ramp]), spacing, (1., 1., 1.))
    np.testing.assert_allclose(both[1], -out, atol=1e-4)
    # Coarser spacing with nearest neighbour picks the input voxels.
    coarse = resample_volume(ramp, spacing, (5., 1., 2.), order=0)
    assert coarse.shape == (3, 5, 4)
    np.testing.assert_array_equal(coarse, ramp[::2, ::2, ::2][:, :5, :4])
    # Same spacing: an equal copy.
    same = resample_volume(ramp, spacing, spacing)
    assert same is not ramp
    np.testing.assert_array_equal(same, ramp)
    with pytest.raises(ValueError, match='spacing'):
        resample_volume(ramp, (1., 1.), (1., 1., 1.))


# ----------------------------------------------------------------------
# CropPairDataset
# ----------------------------------------------------------------------
def make_pairs(root, names):
    for k, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.full((2, 4, 4, 2), k, np.float32))


def test_crop_pair_dataset_lists_npy_recursively(tmp_path):
    make_pairs(tmp_path, ['subset1/b_img_0.npy', 'subset0/z_img_1.npy',
                          'subset0/a_img_0.npy', 'top.npy'])
    (tmp_path / 'index.txt').write_text('x\n')
    (tmp_path / 'subset0' / 'scan.mhd').write_text('ignored')

    dataset = CropPairDataset(data_root=str(tmp_path),
                              pipeline=[dict(type='LoadVolume')])
    rel = [os.path.relpath(dataset.get_data_info(i)['img_path'], tmp_path)
           for i in range(len(dataset))]
    assert rel == ['top.npy', 'subset0/a_img_0.npy', 'subset0/z_img_1.npy',
                   'subset1/b_img_0.npy']
    sample = dataset[1]
    assert sample['img'].shape == (2, 4, 4, 2)
    assert (sample['img'] == 2).all()  # a_img_0 was written third


def test_crop_pair_dataset_index_file_and_errors(tmp_path):
    make_pairs(tmp_path, ['s/a.npy', 's/b.npy', 's/c.npy'])
    (tmp_path / 'index.txt').write_text('s/c.npy\n\ns/a.npy\n')
    dataset = DATASETS.build(dict(type='CropPairDataset',
                                  data_root=str(tmp_path),
                                  ann_file='index.txt'))
    assert [os.path.basename(dataset.get_data_info(i)['img_path'])
            for i in range(len(dataset))] == ['c.npy', 'a.npy']

    (tmp_path / 'bad.txt').write_text('s/missing.npy\n')
    with pytest.raises(FileNotFoundError, match='bad.txt: line 1'):
        CropPairDataset(data_root=str(tmp_path), ann_file='bad.txt')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match=r'no \.npy file under'):
        CropPairDataset(data_root=str(empty))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        CropPairDataset(data_root=str(tmp_path / 'nowhere'))
