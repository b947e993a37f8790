# Copyright (c) mmmedssl contributors. All rights reserved.
"""LoadMedImage on tiny DICOM, NIfTI, PNG and TIFF files written with each
format's own library (expected pixels worked out by hand), and the channel
guards: a 2D file never reaches 2D transforms as a (1, H, W) array."""
import cv2
import numpy as np
import pytest

from mmmedssl.datasets.transforms import (LoadMedImage, LoadVolume,
                                          MedColorJitter, MedMultiView,
                                          PackMedInputs, apply_window)
from mmmedssl.registry import TRANSFORMS

pydicom = pytest.importorskip('pydicom')
nib = pytest.importorskip('nibabel')

# Stored values; with slope 2 and intercept -1000 they are the HU
# [[-1000, -800, -600], [-400, -200, 1000]].
STORED = np.array([[0, 100, 200], [300, 400, 1000]], np.uint16)


def write_dicom(path, pixels, photometric='MONOCHROME2', slope=None,
                intercept=None, center=None, width=None, frames=None):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (ExplicitVRLittleEndian,
                             SecondaryCaptureImageStorage, generate_uid)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = 'OT'
    ds.Rows, ds.Columns = (pixels.shape[:2] if photometric == 'RGB' else
                           pixels.shape[-2:])
    ds.InstanceNumber = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = pixels.itemsize * 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if photometric == 'RGB':
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
    else:
        ds.SamplesPerPixel = 1
    if frames is not None:
        ds.NumberOfFrames = frames
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if center is not None:
        ds.WindowCenter, ds.WindowWidth = center, width
    ds.PixelData = pixels.tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return str(path)


def load(path, **kwargs):
    return LoadMedImage(**kwargs)(dict(img_path=str(path)))


# ----------------------------------------------------------------------
# DICOM
# ----------------------------------------------------------------------
def test_dicom_rescale_then_the_files_first_window(tmp_path):
    # Multi-valued window: the first pair (-500, 401) counts. DICOM's
    # LINEAR function: y = (x - (c - 0.5)) / (w - 1) + 0.5, clipped:
    #   HU -600: (-99.5 / 400) + 0.5 = 0.25125 -> 255 y = 64.07 -> 64
    #   HU -400: (100.5 / 400) + 0.5 = 0.75125 -> 191.57 -> 192
    path = write_dicom(tmp_path / 'ct.dcm', STORED, slope=2, intercept=-1000,
                       center=[-500, 40], width=[401, 400])
    results = load(path, channels=1)
    img = results['img']
    assert img.shape == (2, 3, 1) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[..., 0], [[0, 0, 64], [192, 255, 255]])
    assert results['img_shape'] == results['ori_shape'] == (2, 3)

    floats = load(path, channels=1, to_uint8=False)['img']
    assert floats.dtype == np.float32
    np.testing.assert_allclose(
        floats[..., 0], [[0, 0, 0.25125], [0.75125, 1, 1]], atol=1e-7)
    # channels=3: three equal channels, an explicit repeat.
    rgb = load(path)['img']
    assert rgb.shape == (2, 3, 3)
    assert all((rgb[..., c] == img[..., 0]).all() for c in range(3))


def test_dicom_monochrome1_is_inverted_after_the_window(tmp_path):
    path = write_dicom(tmp_path / 'cr.dcm', STORED, 'MONOCHROME1', slope=2,
                       intercept=-1000, center=-500, width=401)
    # 1 - 0.25125 = 0.74875 -> 190.93 -> 191; 1 - 0.75125 -> 63.43 -> 63.
    np.testing.assert_array_equal(
        load(path, channels=1)['img'][..., 0],
        [[255, 255, 191], [63, 0, 0]])
    # 8-bit, unscaled, no window: kept as stored, only inverted.
    path8 = write_dicom(tmp_path / 'us.dcm', np.array([[0, 10], [200, 255]],
                                                      np.uint8), 'MONOCHROME1')
    np.testing.assert_array_equal(
        load(path8, channels=1)['img'][..., 0], [[255, 245], [55, 0]])


def test_dicom_window_argument_overrides_the_file(tmp_path):
    path = write_dicom(tmp_path / 'ct.dcm', STORED, slope=2, intercept=-1000,
                       center=-500, width=401)
    # (-500, 1000), LINEAR: [-1000, 0] -> [0, 1]: y = (x + 500.5) / 999
    # + 0.5, e.g. -800 -> 0.2002 -> 51.05 -> 51.
    np.testing.assert_array_equal(
        load(path, channels=1, window=(-500, 1000))['img'][..., 0],
        [[0, 51, 102], [153, 204, 255]])
    # minmax over the rescaled HU [-1000, 1000].
    np.testing.assert_allclose(
        load(path, channels=1, window='minmax', to_uint8=False)['img'][...,
                                                                     0],
        [[0, .1, .2], [.3, .4, 1.]], atol=1e-7)
    with pytest.raises(ValueError, match=r"window='dtype' needs integer"):
        load(path, window='dtype')


def test_dicom_without_window_is_min_max_scaled(tmp_path):
    path = write_dicom(tmp_path / 'mr.dcm', STORED)  # no rescale, no window
    np.testing.assert_allclose(
        load(path, channels=1, to_uint8=False)['img'][..., 0],
        STORED / 1000., atol=1e-7)


def test_rgb_dicom_stays_colour(tmp_path):
    rgb = np.array([[[10, 20, 30], [40, 50, 60]]], np.uint8)  # 1 x 2 x 3
    path = write_dicom(tmp_path / 'photo.dcm', rgb, 'RGB')
    np.testing.assert_array_equal(load(path)['img'], rgb[..., ::-1])  # BGR
    np.testing.assert_array_equal(
        load(path, channels=None, channel_order='rgb')['img'], rgb)
    with pytest.raises(ValueError, match=r'photo.dcm.* is a colour image'):
        load(path, channels=1)


def test_dicom_without_suffix_and_multiframe(tmp_path):
    path = write_dicom(tmp_path / 'IM0001', STORED, center=500.5,
                       width=1001)
    # LINEAR: (x - 500) / 1000 + 0.5 = x / 1000.
    np.testing.assert_allclose(
        load(path, channels=1, to_uint8=False)['img'][..., 0],
        STORED / 1000., atol=1e-7)
    two = write_dicom(tmp_path / 'cine.dcm', np.stack([STORED, STORED]),
                      frames=2)
    with pytest.raises(ValueError, match=r"cine.dcm'.*2 frames"):
        load(two)


# ----------------------------------------------------------------------
# PNG / TIFF / ordinary images
# ----------------------------------------------------------------------
@pytest.mark.parametrize('suffix', ['.png', '.tif'])
def test_16bit_png_and_tiff(tmp_path, suffix):
    path = str(tmp_path / f'xray{suffix}')
    cv2.imwrite(path, np.array([[0, 1000], [3000, 4000]], np.uint16))
    # minmax [0, 4000]: 0.25 -> 63.75 -> 64, 0.75 -> 191.25 -> 191.
    img = load(path, channels=1)['img']
    assert img.shape == (2, 2, 1) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[..., 0], [[0, 64], [191, 255]])
    np.testing.assert_allclose(
        load(path, channels=1, to_uint8=False)['img'][..., 0],
        [[0, .25], [.75, 1.]])
    # The full uint16 range: 1000 / 65535 * 255 = 3.89 -> 4 ...
    np.testing.assert_array_equal(
        load(path, channels=1, window='dtype')['img'][..., 0],
        [[0, 4], [12, 16]])
    # LINEAR_EXACT outside DICOM: [1000, 3000] -> [0, 1].
    np.testing.assert_array_equal(
        load(path, channels=None, window=(2000, 2000))['img'][..., 0],
        [[0, 0], [255, 255]])
    assert load(path)['img'].shape == (2, 2, 3)


def test_8bit_files_read_as_mmcv_does(tmp_path):
    from mmcv.transforms import LoadImageFromFile
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (5, 6), np.uint8)
    colour = rng.integers(0, 256, (5, 6, 3), np.uint8)
    cv2.imwrite(str(tmp_path / 'grey.png'), grey)
    cv2.imwrite(str(tmp_path / 'colour.bmp'), colour)
    for name in ('grey.png', 'colour.bmp'):
        path = str(tmp_path / name)
        expected = LoadImageFromFile()(dict(img_path=path))['img']
        np.testing.assert_array_equal(load(path)['img'], expected)
    np.testing.assert_array_equal(
        load(tmp_path / 'grey.png', channels=1)['img'][..., 0], grey)
    assert load(tmp_path / 'colour.bmp', channels='keep')['img'].shape == \
        (5, 6, 3)
    assert load(tmp_path / 'grey.png',
                to_uint8=False)['img'].max() == grey.max() / np.float32(255)

    # channels=1 on colour: equal channels are grey stored as colour.
    cv2.imwrite(str(tmp_path / 'grey3.png'), np.repeat(grey[..., None], 3, 2))
    np.testing.assert_array_equal(
        load(tmp_path / 'grey3.png', channels=1)['img'][..., 0], grey)
    with pytest.raises(ValueError, match=r"colour.bmp' is a colour image"):
        load(tmp_path / 'colour.bmp', channels=1)
    luma = load(tmp_path / 'colour.bmp', channels=1,
                colour_to_grey=True)['img'][..., 0]
    b, g, r = (colour[..., c].astype(float) for c in range(3))
    np.testing.assert_allclose(  # rounding ties may go either way
        luma, np.floor(0.299 * r + 0.587 * g + 0.114 * b + 0.5), atol=1)


# ----------------------------------------------------------------------
# NIfTI
# ----------------------------------------------------------------------
def test_2d_nifti_and_3d_refused(tmp_path):
    data = np.array([[0, 10, 20], [30, 40, 50]], np.int16)  # (x, y)
    for name, array in (('flat.nii', data), ('slice.nii.gz', data[..., None])):
        nib.save(nib.Nifti1Image(array, np.eye(4)), str(tmp_path / name))
        img = load(tmp_path / name, channels=1, to_uint8=False)['img']
        # (x, y) -> (y, x) = (H, W), min-max [0, 50].
        assert img.shape == (3, 2, 1)
        np.testing.assert_allclose(img[..., 0], data.T / 50.)
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3), np.int16), np.eye(4)),
             str(tmp_path / 'vol.nii.gz'))
    with pytest.raises(ValueError, match=r"vol.nii.gz'.*\(4, 4, 3\).*"
                       r'LoadVolume'):
        load(tmp_path / 'vol.nii.gz')


# ----------------------------------------------------------------------
# Errors, registry
# ----------------------------------------------------------------------
def test_errors_name_the_file_and_what_was_expected(tmp_path):
    (tmp_path / 'scan.mhd').write_text('x')
    with pytest.raises(ValueError, match=r"scan.mhd'.*unknown suffix.*"
                       r"'.dcm'.*LoadVolume"):
        load(tmp_path / 'scan.mhd')
    with pytest.raises(FileNotFoundError, match='missing.dcm'):
        load(tmp_path / 'missing.dcm')
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match=r"broken.png'.*cannot decode"):
        load(tmp_path / 'broken.png')
    (tmp_path / 'broken.dcm').write_bytes(b'not a dicom')
    with pytest.raises(ValueError, match=r"cannot read '.*broken.dcm'"):
        load(tmp_path / 'broken.dcm')
    cv2.imwritemulti(str(tmp_path / 'pages.tif'),
                     [np.zeros((3, 3), np.uint8)] * 2)
    with pytest.raises(ValueError, match='2 pages'):
        load(tmp_path / 'pages.tif')
    with pytest.raises(ValueError, match='`channels`'):
        LoadMedImage(channels=2)
    with pytest.raises(ValueError, match='`window`'):
        LoadMedImage(window='auto')
    with pytest.raises(ValueError, match='width must be > 0'):
        LoadMedImage(window=(0, 0))
    with pytest.raises(ValueError, match='width >= 1'):
        apply_window(np.zeros(2), 0., 0.5, 'LINEAR')
    # SIGMOID: 1 / (1 + exp(-4 (x - c) / w)); 0.5 at the centre.
    np.testing.assert_allclose(
        apply_window(np.array([10., 15.]), 10., 20., 'SIGMOID'),
        [0.5, 1. / (1. + np.exp(-1.))])
    assert TRANSFORMS.get('LoadMedImage') is LoadMedImage
    assert 'channels=1' in repr(LoadMedImage(channels=1))


# ----------------------------------------------------------------------
# Never a silent change of channel count
# ----------------------------------------------------------------------
MOCO_VIEW = [
    dict(type='RandomResizedCrop', scale=16, crop_ratio_range=(0.3, 1.)),
    dict(type='RandomApply',
         transforms=[dict(type='MedColorJitter', brightness=0.4,
                          contrast=0.4)], prob=0.8),
    dict(type='MedGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
]


def test_2d_nifti_no_longer_becomes_64_channels(tmp_path):
    """The old failure: LoadVolume read a (64, 64, 1) NIfTI as (1, 64, 64)
    and RandomResizedCrop made it 64 channels."""
    path = str(tmp_path / 'slice.nii.gz')
    nib.save(nib.Nifti1Image(np.arange(64 * 64, dtype=np.int16).reshape(
        64, 64, 1), np.eye(4)), path)
    with pytest.raises(ValueError, match=r'holds a 2D image.*LoadMedImage'):
        LoadVolume()(dict(img_path=path))
    # Reaching the 2D wrappers anyway is refused, not cropped.
    chw = np.zeros((1, 64, 64), np.float32)
    views = MedMultiView(transforms=[MOCO_VIEW], num_views=2)
    with pytest.raises(ValueError, match=r'\(1, 64, 64\) looks channel-first'):
        views(dict(img=chw))
    with pytest.raises(ValueError, match='looks channel-first'):
        PackMedInputs()(dict(img=chw))
    # The 2D route: (64, 64, 1) -> MoCo v2 views -> (1, 16, 16) tensors.
    np.random.seed(0)
    out = PackMedInputs()(views(LoadMedImage(channels=1)(
        dict(img_path=path))))
    assert [tuple(v.shape) for v in out['inputs']] == [(1, 16, 16)] * 2


def test_2d_files_refused_by_load_volume(tmp_path):
    dcm = write_dicom(tmp_path / 'xray.dcm', STORED)
    with pytest.raises(ValueError, match=r'xray.dcm.*2D file.*LoadMedImage'):
        LoadVolume()(dict(img_path=dcm))
    series = tmp_path / 'series'
    series.mkdir()
    write_dicom(series / 'only.dcm', STORED)
    with pytest.raises(ValueError, match=r'2D image.*LoadMedImage'):
        LoadVolume()(dict(img_path=str(series)))


def test_grey_views_fail_loudly_on_colour_only_augmentations():
    grey = np.random.default_rng(0).integers(0, 256, (8, 8, 1), np.uint8)
    with pytest.raises(ValueError, match=r'saturation/hue jitter needs a '
                       r'3-channel image.*\(8, 8, 1\)'):
        MedColorJitter(brightness=0.4, hue=0.1)(dict(img=grey.copy()))
    MedColorJitter(brightness=0.4, contrast=0.4)(dict(img=grey.copy()))

    photo_jitter = MedMultiView(
        transforms=[[dict(type='ColorJitter', brightness=0.4,
                          saturation=0.4)]], num_views=1)
    with pytest.raises(ValueError, match=r'ColorJitter.*failed on a '
                       r'1-channel image.*grey_mocov2'):
        photo_jitter(dict(img=grey.copy()))
    to_grey = MedMultiView(
        transforms=[[dict(type='RandomGrayscale', prob=1.,
                          keep_channels=False)]], num_views=1)
    with pytest.raises(ValueError, match='changed the channel count from 3 '
                       'to 1'):
        to_grey(dict(img=np.repeat(grey, 3, axis=2)))
