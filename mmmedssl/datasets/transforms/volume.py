# Copyright (c) mmmedssl contributors. All rights reserved.
"""Reading 3D medical volumes, HU windowing and resampling.

Axis order: every volume read from a medical file (NIfTI, MetaImage, NRRD,
DICOM series) is returned as ``(D, H, W) = (z, y, x)`` in voxel index order,
the order of ``SimpleITK.GetArrayFromImage``; ``spacing`` follows the same
order, in mm. nibabel stores voxels as ``(x, y, z)``, so NIfTI data is
transposed. No reorientation to a canonical (RAS/LPS) frame is done: the
voxel axes are kept as stored, only their order is made uniform.

Arrays read from ``.npy`` are returned exactly as saved (same shape, axis
order and, without a ``dtype``/``to_float32`` cast, the same dtype); their
spacing is unknown. A 4D array is taken as channel-first ``(C, D, H, W)``,
e.g. the ``[2, 64, 64, 32]`` crop pairs of
``tools/dataset_converters/luna_crop_pairs.py``.

The readers are imported lazily, so ``import mmmedssl`` needs none of
nibabel, SimpleITK or pydicom.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmmedssl.registry import TRANSFORMS

Spacing = Optional[Tuple[float, ...]]

NIFTI_SUFFIXES = ('.nii.gz', '.nii')
ITK_SUFFIXES = ('.mhd', '.mha', '.nrrd', '.nhdr')
NUMPY_SUFFIXES = ('.npy', )
VOLUME_SUFFIXES = NIFTI_SUFFIXES + ITK_SUFFIXES + NUMPY_SUFFIXES
# Files LoadMedImage reads: named in the error LoadVolume gives for them.
_IMAGE_2D_SUFFIXES = ('.dcm', '.dicom', '.png', '.jpg', '.jpeg', '.bmp',
                      '.tif', '.tiff')


def volume_suffix(path: str) -> Optional[str]:
    """The known volume suffix ``path`` ends with (lower case), or None."""
    lower = str(path).lower()
    for suffix in VOLUME_SUFFIXES:
        if lower.endswith(suffix):
            return suffix
    return None


def read_volume(path: str) -> Tuple[np.ndarray, Spacing]:
    """Read a volume and its voxel spacing.

    Args:
        path (str): A ``.nii``/``.nii.gz`` file (nibabel), a ``.mhd``/
            ``.mha``/``.nrrd`` file (SimpleITK), a ``.npy`` file, or a
            directory holding one DICOM series (pydicom).

    Returns:
        tuple: ``(array, spacing)``. For medical files ``array`` is
        ``(z, y, x)`` (``(C, z, y, x)`` for 4D or vector images) in the
        file's dtype after intensity scaling (DICOM: float32 after
        ``RescaleSlope``/``RescaleIntercept``), and ``spacing`` the voxel
        size in mm in the same spatial order (``(z, y, x)``), or None when
        the file does not tell. ``.npy`` arrays are returned unchanged with
        spacing None.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Any other reason it cannot be read (unknown suffix,
            corrupt file, empty or mixed DICOM directory...); the message
            names the file and the reason.
    """
    return _read_or_explain('read_volume', path)


def _read_or_explain(owner: str, path) -> Tuple[np.ndarray, Spacing]:
    """Read ``path``; any failure becomes ``FileNotFoundError`` or
    ``ValueError`` with ``'<owner>: cannot read <path>: <reason>'``."""
    path = str(path)
    try:
        return _read_any(path)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f'{owner}: cannot read {path!r}: {e}') from e
    except MemoryError:
        raise
    except Exception as e:
        # Library errors (nibabel, SimpleITK, pydicom) come in many types;
        # one type with the path in the message is easier to handle.
        reason = str(e) if type(e) is ValueError else \
            f'{type(e).__name__}: {e}'
        raise ValueError(f'{owner}: cannot read {path!r}: {reason}') from e


def _read_any(path: str) -> Tuple[np.ndarray, Spacing]:
    if osp.isdir(path):
        return _read_dicom_series(path)
    if not osp.isfile(path):
        raise FileNotFoundError('no such file or directory')
    suffix = volume_suffix(path)
    if suffix in NIFTI_SUFFIXES:
        return _read_nifti(path)
    if suffix in ITK_SUFFIXES:
        return _read_itk(path)
    if suffix in NUMPY_SUFFIXES:
        return np.load(path, allow_pickle=False), None
    hint = ''
    if path.lower().endswith(_IMAGE_2D_SUFFIXES):
        hint = ('; this is a 2D file: load it with LoadMedImage (or '
                'LoadImageFromFile), a 2D DICOM file is not a series')
    raise ValueError(
        f'unknown suffix; expected one of {list(VOLUME_SUFFIXES)} or a '
        f'DICOM series directory{hint}')


def _read_nifti(path: str) -> Tuple[np.ndarray, Spacing]:
    import nibabel as nib
    image = nib.load(path)
    # dataobj applies scl_slope/scl_inter and keeps integer data integer
    # when there is no scaling (get_fdata would always make float64).
    data = np.asanyarray(image.dataobj)
    zooms = tuple(float(z) for z in image.header.get_zooms())
    if data.ndim == 2:
        return data.T.copy(), zooms[:2][::-1]
    if data.ndim == 3:
        return data.transpose(2, 1, 0).copy(), zooms[:3][::-1]
    if data.ndim == 4:
        # (x, y, z, c) -> channel-first (c, z, y, x).
        return data.transpose(3, 2, 1, 0).copy(), zooms[:3][::-1]
    raise ValueError(f'expected a 2D, 3D or 4D image, got shape {data.shape}')


def _read_itk(path: str) -> Tuple[np.ndarray, Spacing]:
    import SimpleITK as sitk
    image = sitk.ReadImage(path)
    data = sitk.GetArrayFromImage(image)  # already (z, y, x)
    spacing = tuple(float(s) for s in image.GetSpacing())[::-1]
    if image.GetNumberOfComponentsPerPixel() > 1:
        # Vector pixels come last: (z, y, x, c) -> (c, z, y, x).
        data = np.moveaxis(data, -1, 0).copy()
    return data, spacing


def _read_dicom_series(folder: str) -> Tuple[np.ndarray, Spacing]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    owner = 'DICOM series'
    slices = []
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if not osp.isfile(path):
            continue
        try:
            ds = pydicom.dcmread(path)
        except InvalidDicomError:
            continue  # README, DICOMDIR-less junk...: not a slice
        if 'PixelData' not in ds:
            continue  # DICOMDIR and other non-image objects
        slices.append((name, ds))
    if not slices:
        raise ValueError(f'{owner}: no DICOM image file in the directory '
                         '(expected one file per slice of one series).')

    series = sorted({str(ds.get('SeriesInstanceUID', '')) for _, ds in slices})
    if len(series) > 1:
        raise ValueError(
            f'{owner}: the directory mixes {len(series)} series '
            f'(SeriesInstanceUID {series}); put each series in its own '
            'directory.')

    slices = _sort_slices(owner, slices)
    arrays = []
    for name, ds in slices:
        pixels = ds.pixel_array
        if pixels.ndim != 2:
            raise ValueError(f'{owner}: {name} holds an image of shape '
                             f'{pixels.shape}; only single-frame grey '
                             'slices are supported.')
        slope = float(ds.get('RescaleSlope', 1) or 1)
        intercept = float(ds.get('RescaleIntercept', 0) or 0)
        arrays.append(pixels.astype(np.float64) * slope + intercept)
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) > 1:
        raise ValueError(f'{owner}: slices of different sizes {shapes}.')
    volume = np.stack(arrays).astype(np.float32)
    return volume, _dicom_spacing(slices)


def _slice_normal(ds) -> Optional[np.ndarray]:
    orientation = ds.get('ImageOrientationPatient')
    if orientation is None or len(orientation) != 6:
        return None
    row = np.asarray(orientation[:3], dtype=np.float64)
    col = np.asarray(orientation[3:], dtype=np.float64)
    return np.cross(row, col)


def _sort_slices(owner: str, slices: List[tuple]) -> List[tuple]:
    """Order slices along the slice normal (``ImagePositionPatient``
    projected on ``row x column``), falling back to ``InstanceNumber``."""
    normal = _slice_normal(slices[0][1])
    positions = [ds.get('ImagePositionPatient') for _, ds in slices]
    if normal is not None and all(p is not None and len(p) == 3
                                  for p in positions):
        keys = [float(np.dot(normal, np.asarray(p, dtype=np.float64)))
                for p in positions]
        if len(set(np.round(keys, 4))) != len(keys):
            raise ValueError(
                f'{owner}: several slices share one position along the '
                'slice normal (several acquisitions or echoes in one '
                'series?); split them into separate directories.')
    else:
        keys = [ds.get('InstanceNumber') for _, ds in slices]
        if any(k is None for k in keys):
            raise ValueError(
                f'{owner}: cannot order the slices: they have neither '
                'ImagePositionPatient + ImageOrientationPatient nor '
                'InstanceNumber.')
        keys = [int(k) for k in keys]
    order = np.argsort(keys, kind='stable')
    return [slices[i] for i in order]


def _dicom_spacing(slices: List[tuple]) -> Spacing:
    first = slices[0][1]
    pixel = first.get('PixelSpacing')
    if pixel is None or len(pixel) != 2:
        return None
    row_spacing, col_spacing = float(pixel[0]), float(pixel[1])
    normal = _slice_normal(first)
    z = None
    if len(slices) > 1 and normal is not None and all(
            ds.get('ImagePositionPatient') is not None for _, ds in slices):
        pos = [float(np.dot(normal, np.asarray(ds.ImagePositionPatient,
                                               dtype=np.float64)))
               for _, ds in slices]
        # The median is robust to one missing slice in the series.
        z = float(np.median(np.abs(np.diff(pos))))
    if z is None:
        z = first.get('SpacingBetweenSlices') or first.get('SliceThickness')
        if z is None:
            return None
        z = float(z)
    # PixelSpacing is (between rows, between columns) = (y, x).
    return (z, row_spacing, col_spacing)


def resample_volume(array: np.ndarray,
                    spacing: Sequence[float],
                    new_spacing: Sequence[float] = (1., 1., 1.),
                    order: int = 1) -> np.ndarray:
    """Resample a volume to a new voxel spacing.

    As SimpleITK's ``ResampleImageFilter`` with the same origin (what the
    released PCRL pre-processing does): output voxel ``i`` lies at
    ``i * new_spacing`` mm from the first input voxel, the output has
    ``int(n * spacing / new_spacing + 0.5)`` voxels along each axis, and
    points past the last input voxel take the value of the nearest voxel
    (SimpleITK would put 0 there).

    Args:
        array (np.ndarray): ``(D, H, W)``, or ``(C, D, H, W)`` where every
            channel is resampled alike.
        spacing (Sequence[float]): The input spacing, one value per spatial
            axis, in the array's axis order.
        new_spacing (Sequence[float]): The output spacing, same order.
            Defaults to 1 mm isotropic.
        order (int): Spline order (0 nearest, 1 linear, 3 cubic).
            Defaults to 1.

    Returns:
        np.ndarray: float32 (float64 input stays float64).
    """
    from scipy import ndimage

    array = np.asarray(array)
    if array.ndim not in (3, 4):
        raise ValueError(f'resample_volume: expected a (D, H, W) or '
                         f'(C, D, H, W) array, got shape {array.shape}.')
    spatial = array.shape[-3:]
    spacing = tuple(float(s) for s in spacing)
    new_spacing = tuple(float(s) for s in new_spacing)
    if len(spacing) != 3 or len(new_spacing) != 3 or min(
            spacing + new_spacing) <= 0:
        raise ValueError(
            f'resample_volume: spacing {spacing} and new_spacing '
            f'{new_spacing} must be three positive numbers each.')
    out_shape = tuple(
        max(1, int(n * s / t + 0.5))
        for n, s, t in zip(spatial, spacing, new_spacing))
    dtype = np.float64 if array.dtype == np.float64 else np.float32
    if out_shape == spatial and spacing == new_spacing:
        return array.astype(dtype, copy=True)
    scale = np.asarray(new_spacing) / np.asarray(spacing)

    def one(channel):
        return ndimage.affine_transform(
            channel.astype(dtype, copy=False), scale, offset=0.,
            output_shape=out_shape, order=order, mode='nearest')

    if array.ndim == 3:
        return one(array)
    return np.stack([one(c) for c in array])


def _spatial_shape(array: np.ndarray) -> tuple:
    """``img_shape`` of a volume: a 4D array is channel-first."""
    return tuple(array.shape[1:]) if array.ndim == 4 else tuple(array.shape)


def _check_not_2d(path, array: np.ndarray) -> None:
    """A 2D image read as a volume would reach 2D transforms as a
    ``(1, H, W)`` array, whose 1 they read as the height (and ``W`` as the
    channel count): refuse it by name instead."""
    spatial = _spatial_shape(array)
    if array.ndim < 3 or spatial[0] == 1:
        raise ValueError(
            f'LoadVolume: {str(path)!r} holds a 2D image (array shape '
            f'{tuple(array.shape)}, spatial shape {spatial}), not a volume; '
            'load 2D files with LoadMedImage, which gives an H x W x C '
            'image for the 2D transforms.')


@TRANSFORMS.register_module()
class LoadVolume(BaseTransform):
    """Load a 3D volume from ``results['img_path']``.

    Supports ``.nii``/``.nii.gz`` (nibabel), ``.mhd``/``.mha``/``.nrrd``
    (SimpleITK), ``.npy`` (``np.load(allow_pickle=False)``) and directories
    holding one DICOM series (pydicom; slices ordered by
    ``ImagePositionPatient`` along the slice normal, else
    ``InstanceNumber``; ``RescaleSlope``/``RescaleIntercept`` applied).
    See :func:`read_volume` and the module docstring for the axis order:
    medical files give ``(D, H, W) = (z, y, x)``, ``.npy`` arrays are kept
    as saved (4D = channel-first). Local files only. A 2D image (a 2D
    array, or a single slice: NIfTI ``(x, y, 1)``, a DICOM directory with
    one file) is an error that points to ``LoadMedImage``.

    Required Keys:

    - img_path

    Added Keys:

    - img: the array (float32 by default).
    - spacing: voxel size in mm, ``(z, y, x)``; None when unknown (npy).
    - img_shape, ori_shape: the spatial shape (``shape[1:]`` for 4D).

    Args:
        to_float32 (bool): Cast to float32. Defaults to True.
        dtype (str | np.dtype, optional): Cast to this dtype instead (takes
            precedence over ``to_float32``). Defaults to None.
    """

    def __init__(self, to_float32: bool = True, dtype=None) -> None:
        self.to_float32 = to_float32
        self.dtype = None if dtype is None else np.dtype(dtype)

    def transform(self, results: dict) -> dict:
        if 'img_path' not in results:
            raise KeyError(f'LoadVolume: no "img_path" in the results; keys '
                           f'are {sorted(results)}.')
        path = results['img_path']
        array, spacing = _read_or_explain('LoadVolume', path)
        _check_not_2d(path, array)
        if self.dtype is not None:
            array = array.astype(self.dtype, copy=False)
        elif self.to_float32:
            array = array.astype(np.float32, copy=False)
        results['img'] = array
        results['spacing'] = spacing
        results['img_shape'] = _spatial_shape(array)
        results['ori_shape'] = _spatial_shape(array)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(to_float32={self.to_float32}, '
                f'dtype={self.dtype})')


@TRANSFORMS.register_module()
class HUWindow(BaseTransform):
    """Clip intensities to a window and scale it linearly to [0, 1].

    With the defaults, CT Hounsfield units in [-1000, 1000] map to
    ``(hu + 1000) / 2000`` (air 0, water 0.5), as in Models Genesis / PCRL.

    Required Keys:

    - img

    Modified Keys:

    - img (float32)

    Args:
        low (float): Lower bound of the window. Defaults to -1000.
        high (float): Upper bound. Defaults to 1000.
        scale (bool): Map ``[low, high]`` to ``[0, 1]``; False only clips.
            Defaults to True.
    """

    def __init__(self, low: float = -1000., high: float = 1000.,
                 scale: bool = True) -> None:
        if not low < high:
            raise ValueError(f'HUWindow: low ({low}) must be smaller than '
                             f'high ({high}).')
        self.low = float(low)
        self.high = float(high)
        self.scale = scale

    def transform(self, results: dict) -> dict:
        results['img'] = hu_window(results['img'], self.low, self.high,
                                   self.scale)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(low={self.low}, high={self.high}, '
                f'scale={self.scale})')


def hu_window(array: np.ndarray, low: float = -1000., high: float = 1000.,
              scale: bool = True) -> np.ndarray:
    """Clip to ``[low, high]`` and, with ``scale``, map it to ``[0, 1]``;
    float32. See :class:`HUWindow`."""
    # One float32 copy, then in place: scans are hundreds of MB.
    out = np.asarray(array, dtype=np.float32).clip(low, high)
    if scale:
        out -= np.float32(low)
        out /= np.float32(high - low)
    return out
