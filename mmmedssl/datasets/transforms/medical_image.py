# Copyright (c) mmmedssl contributors. All rights reserved.
"""One loading transform for 2D medical files: DICOM, 2D NIfTI, 8/16-bit
PNG/TIFF and ordinary photos, to an ``H x W x C`` array with an explicit
channel count.

Intensities go through three steps, in this order:

1. Modality scaling: DICOM ``RescaleSlope``/``RescaleIntercept`` (grey
   images only, as the standard says), NIfTI ``scl_slope``/``scl_inter``.
2. A window that maps intensities to ``[0, 1]`` (see :class:`LoadMedImage`,
   ``window``), or none for 8-bit files, which stay exactly as stored.
3. ``MONOCHROME1`` DICOMs (low values shown white) are inverted, so that
   every grey image has bright = high.

Readers are imported lazily: ``import mmmedssl`` needs neither pydicom nor
nibabel.
"""
import numbers
import os.path as osp
from typing import Optional, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmmedssl.registry import TRANSFORMS

CV2_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
DICOM_SUFFIXES = ('.dcm', '.dicom')
NIFTI_SUFFIXES = ('.nii.gz', '.nii')
MED_IMAGE_SUFFIXES = CV2_SUFFIXES + DICOM_SUFFIXES + NIFTI_SUFFIXES
WINDOW_MODES = ('minmax', 'dtype')
CHANNEL_ORDERS = ('bgr', 'rgb')
# VOILUTFunction values of DICOM PS3.3 C.11.2.1.3; LINEAR is the default.
VOI_FUNCTIONS = ('LINEAR', 'LINEAR_EXACT', 'SIGMOID')

Window = Union[None, str, Tuple[float, float]]


class _Raw:
    """A file's pixels before windowing, and what the file says about
    them."""

    def __init__(self, pixels: np.ndarray, colour_order: Optional[str] = None,
                 window: Optional[Tuple[float, float]] = None,
                 voi_function: str = 'LINEAR_EXACT',
                 invert: bool = False) -> None:
        self.pixels = pixels  # (H, W) grey or (H, W, 3) colour
        self.colour_order = colour_order  # 'bgr' / 'rgb' for colour pixels
        self.window = window  # the file's (center, width), DICOM only
        self.voi_function = voi_function
        self.invert = invert  # MONOCHROME1


def med_image_kind(path: str) -> Optional[str]:
    """``'cv2'``, ``'dicom'`` or ``'nifti'`` from the suffix of ``path``;
    a file without a known suffix that holds the DICOM preamble
    (``DICM`` at byte 128) is ``'dicom'``; anything else None."""
    lower = str(path).lower()
    if lower.endswith(NIFTI_SUFFIXES):
        return 'nifti'
    if lower.endswith(DICOM_SUFFIXES):
        return 'dicom'
    if lower.endswith(CV2_SUFFIXES):
        return 'cv2'
    # DICOM files from scanners and PACS exports often have no suffix.
    if osp.isfile(path):
        with open(path, 'rb') as f:
            head = f.read(132)
        if len(head) == 132 and head[128:] == b'DICM':
            return 'dicom'
    return None


def _first(value) -> float:
    """The first value of a possibly multi-valued DICOM element."""
    if isinstance(value, (numbers.Number, str, bytes)):
        return float(value)
    return float(value[0])  # pydicom's MultiValue


def _read_dicom(path: str) -> _Raw:
    import pydicom
    ds = pydicom.dcmread(path)
    if 'PixelData' not in ds:
        raise ValueError('the DICOM file holds no pixel data (a DICOMDIR '
                         'or a structured report?)')
    frames = int(ds.get('NumberOfFrames', 1) or 1)
    if frames > 1:
        raise ValueError(
            f'the DICOM file holds {frames} frames; LoadMedImage reads '
            'single-frame 2D images (load a series of slices, one file '
            'each, as a volume with LoadVolume on their directory)')
    photometric = str(ds.get('PhotometricInterpretation', 'MONOCHROME2'))
    pixels = ds.pixel_array  # pydicom 3 converts YBR_* to RGB
    if photometric in ('MONOCHROME1', 'MONOCHROME2'):
        if pixels.ndim != 2:
            raise ValueError(f'a {photometric} image of shape '
                             f'{pixels.shape}; expected (rows, columns)')
        slope = float(ds.get('RescaleSlope', 1) or 1)
        intercept = float(ds.get('RescaleIntercept', 0) or 0)
        if slope != 1 or intercept != 0:
            # Window centre/width are in rescaled units (PS3.3 C.11.2.1.2).
            pixels = pixels.astype(np.float64) * slope + intercept
        window = None
        if 'WindowCenter' in ds and 'WindowWidth' in ds:
            window = (_first(ds.WindowCenter), _first(ds.WindowWidth))
        voi_function = str(ds.get('VOILUTFunction', 'LINEAR') or 'LINEAR')
        if voi_function not in VOI_FUNCTIONS:
            raise ValueError(f'VOILUTFunction {voi_function!r} is not one '
                             f'of {VOI_FUNCTIONS}')
        return _Raw(pixels, window=window, voi_function=voi_function,
                    invert=photometric == 'MONOCHROME1')
    if photometric == 'RGB' or photometric.startswith('YBR'):
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f'a colour ({photometric}) image of shape '
                             f'{pixels.shape}; expected (rows, columns, 3)')
        # The VOI LUT (window) applies to grey images only (PS3.3 C.11.2).
        return _Raw(pixels, colour_order='rgb', voi_function='LINEAR_EXACT')
    raise ValueError(f'PhotometricInterpretation {photometric!r} is not '
                     'supported; expected MONOCHROME1, MONOCHROME2, RGB or '
                     'YBR_*')


def _read_nifti(path: str) -> _Raw:
    import nibabel as nib
    image = nib.load(path)
    # dataobj applies scl_slope/scl_inter and keeps unscaled integers.
    data = np.asanyarray(image.dataobj)
    if data.dtype.names or not np.issubdtype(data.dtype, np.number):
        raise ValueError(f'NIfTI voxels of type {data.dtype}; expected grey '
                         'numbers (RGB NIfTI is not supported)')
    if data.ndim < 2 or any(n != 1 for n in data.shape[2:]):
        raise ValueError(
            f'a NIfTI image of shape {data.shape} (x, y, ...); LoadMedImage '
            'reads 2D images, (x, y) or (x, y, 1). Load 3D volumes with '
            'LoadVolume')
    # (x, y) -> (y, x) = (H, W), the order LoadVolume gives its slices.
    return _Raw(data.reshape(data.shape[:2]).T.copy())


def _read_cv2(path: str) -> _Raw:
    lower = path.lower()
    if lower.endswith(('.tif', '.tiff')) and cv2.imcount(path) > 1:
        raise ValueError(
            f'the TIFF file holds {cv2.imcount(path)} pages; LoadMedImage '
            'reads single-page images (OpenCV would silently keep the '
            'first)')
    # ANYDEPTH keeps 16-bit and float pixels, ANYCOLOR keeps grey as one
    # channel; unlike IMREAD_UNCHANGED, EXIF orientation is applied, as in
    # mmcv's LoadImageFromFile, and alpha is dropped.
    pixels = cv2.imdecode(
        np.fromfile(path, dtype=np.uint8),
        cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if pixels is None:
        raise ValueError('OpenCV cannot decode it (corrupt or not an image)')
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim == 3 and pixels.shape[2] != 3:
        raise ValueError(f'an image with {pixels.shape[2]} channels; '
                         'expected 1 or 3')
    return _Raw(pixels, colour_order='bgr' if pixels.ndim == 3 else None)


_READERS = dict(cv2=_read_cv2, dicom=_read_dicom, nifti=_read_nifti)


def apply_window(pixels: np.ndarray, center: float, width: float,
                 function: str = 'LINEAR_EXACT') -> np.ndarray:
    """Map intensities to ``[0, 1]`` (float64) with a DICOM VOI function.

    - ``'LINEAR_EXACT'``: ``[center - width / 2, center + width / 2]`` to
      ``[0, 1]`` linearly, clipped; ``width > 0``.
    - ``'LINEAR'`` (DICOM's default, PS3.3 C.11.2.1.2.1, made for integer
      pixels): ``(x - (center - 0.5)) / (width - 1) + 0.5``, clipped; i.e.
      ``[center - width / 2, center + width / 2 - 1]`` to ``[0, 1]``;
      ``width >= 1`` (``width == 1`` is a threshold at ``center - 0.5``).
    - ``'SIGMOID'``: ``1 / (1 + exp(-4 (x - center) / width))``.
    """
    x = np.asarray(pixels, dtype=np.float64)
    if function == 'LINEAR':
        if width < 1:
            raise ValueError(f'the LINEAR window function needs width >= 1, '
                             f'got {width}')
        if width == 1:
            return (x > center - 0.5).astype(np.float64)
        return np.clip((x - (center - 0.5)) / (width - 1) + 0.5, 0., 1.)
    if width <= 0:
        raise ValueError(f'window width must be > 0, got {width}')
    if function == 'LINEAR_EXACT':
        return np.clip((x - (center - width / 2)) / width, 0., 1.)
    if function == 'SIGMOID':
        return 1. / (1. + np.exp(-4. * (x - center) / width))
    raise ValueError(f'unknown window function {function!r}; expected one '
                     f'of {VOI_FUNCTIONS}')


def _scale_range(pixels: np.ndarray, low: float, high: float) -> np.ndarray:
    x = np.asarray(pixels, dtype=np.float64)
    low, high = float(low), float(high)  # numpy integer scalars overflow
    if high <= low:
        return np.zeros_like(x)  # a constant image: nothing to stretch
    return np.clip((x - low) / (high - low), 0., 1.)


def _luma(img: np.ndarray, order: str) -> np.ndarray:
    """ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B), as PIL's ``L``."""
    weights = (0.114, 0.587, 0.299) if order == 'bgr' else (0.299, 0.587,
                                                            0.114)
    grey = img.astype(np.float64) @ np.asarray(weights)
    if img.dtype == np.uint8:
        return np.floor(grey + 0.5).clip(0, 255).astype(np.uint8)
    return grey.astype(img.dtype)


@TRANSFORMS.register_module()
class LoadMedImage(BaseTransform):
    """Load a 2D medical image from ``results['img_path']`` as an
    ``H x W x C`` array with an explicit channel count.

    Files (by suffix, case-insensitive; a file without a known suffix that
    holds the DICOM preamble is read as DICOM):

    - ``.png``, ``.jpg``/``.jpeg``, ``.bmp``, ``.tif``/``.tiff`` (OpenCV):
      8-bit files as mmcv's ``LoadImageFromFile`` reads them (colour in BGR
      order, EXIF orientation applied, alpha dropped); 16-bit and float
      PNG/TIFF keep their depth until the window. Multi-page TIFFs are an
      error.
    - ``.dcm``/``.dicom`` (pydicom): single-frame images. Grey images
      (``MONOCHROME1``/``MONOCHROME2``) get ``RescaleSlope``/
      ``RescaleIntercept``, the window, and ``MONOCHROME1`` is inverted.
      Colour images (``RGB``, ``YBR_*``, the latter converted to RGB by
      pydicom) stay colour and are not windowed unless ``window`` is given.
      VOI LUT and Modality LUT *sequences* are not applied.
    - ``.nii``/``.nii.gz`` (nibabel): 2D images, ``(x, y)`` or
      ``(x, y, 1)`` (``scl_slope``/``scl_inter`` applied), returned as
      ``(y, x)`` = ``(H, W)``, the slice order of ``LoadVolume``. A 3D
      volume is an error: use ``LoadVolume``.

    Window (intensities to ``[0, 1]``):

    - ``None`` (default): DICOM grey images use the file's
      ``WindowCenter``/``WindowWidth`` (the first pair when multi-valued)
      with the file's ``VOILUTFunction``; 8-bit images (and DICOMs without
      a window whose pixels are 8-bit and unscaled) are kept exactly as
      stored; everything else (16-bit, float, rescaled) uses ``'minmax'``.
    - ``(center, width)``: a linear window. On DICOM grey images it uses
      the file's ``VOILUTFunction`` (DICOM's ``LINEAR``, made for integer
      pixels: ``[c - w/2, c + w/2 - 1]`` to ``[0, 1]``, ``w >= 1``); on
      other files ``LINEAR_EXACT``: ``[c - w/2, c + w/2]`` to ``[0, 1]``.
      See :func:`apply_window`. Values outside are clipped.
    - ``'minmax'``: the image's own minimum and maximum (a constant image
      becomes 0).
    - ``'dtype'``: the full range of the stored integer type (0..65535 for
      uint16); an error for float pixels (e.g. rescaled DICOMs).

    Required Keys:

    - img_path

    Added Keys:

    - img: ``(H, W, C)``, uint8 (``to_uint8``) or float32 in ``[0, 1]``.
    - img_shape, ori_shape: ``(H, W)``, as ``LoadImageFromFile`` sets them.

    Args:
        channels (int | str, optional): ``1``: ``(H, W, 1)``; a colour file
            is an error unless its channels are equal (grey stored as
            colour: one channel kept, exactly) or ``colour_to_grey``.
            ``3``: grey is repeated to 3 equal channels (an explicit
            repeat, as ``LoadImageFromFile`` does for grey files).
            ``None`` or ``'keep'``: what the file holds, 1 or 3.
            Defaults to 3 (a drop-in for ``LoadImageFromFile``).
        to_uint8 (bool): Map ``[0, 1]`` to 0..255 (rounded) so the 2D
            augmentations, which expect uint8, work; 8-bit files are then
            unchanged. False gives float32 in ``[0, 1]``. Defaults to True.
        window (str | tuple[float, float], optional): See above.
            Defaults to None.
        channel_order (str): ``'bgr'`` (as ``LoadImageFromFile``) or
            ``'rgb'``, for colour images of every format (RGB DICOMs become
            BGR by default, like photos). Defaults to ``'bgr'``.
        colour_to_grey (bool): With ``channels=1``, convert colour images to
            ITU-R 601-2 luma instead of raising. Defaults to False.
    """

    def __init__(self,
                 channels: Union[None, int, str] = 3,
                 to_uint8: bool = True,
                 window: Window = None,
                 channel_order: str = 'bgr',
                 colour_to_grey: bool = False) -> None:
        name = type(self).__name__
        if channels == 'keep':
            channels = None
        if channels not in (None, 1, 3) or isinstance(channels, bool):
            raise ValueError(f"{name}: `channels` must be 1, 3, None or "
                             f"'keep', got {channels!r}.")
        if isinstance(window, str):
            if window not in WINDOW_MODES:
                raise ValueError(f'{name}: `window` must be None, '
                                 f'(center, width) or one of {WINDOW_MODES},'
                                 f' got {window!r}.')
        elif window is not None:
            if (not isinstance(window, (tuple, list)) or len(window) != 2
                    or not all(isinstance(v, numbers.Real)
                               and not isinstance(v, bool) for v in window)):
                raise TypeError(f'{name}: `window` must be None, (center, '
                                f'width) or one of {WINDOW_MODES}, got '
                                f'{window!r}.')
            if window[1] <= 0:
                raise ValueError(f'{name}: window width must be > 0, got '
                                 f'{window[1]}.')
            window = (float(window[0]), float(window[1]))
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'{name}: `channel_order` must be one of '
                             f'{CHANNEL_ORDERS}, got {channel_order!r}.')
        self.channels = channels
        self.to_uint8 = bool(to_uint8)
        self.window = window
        self.channel_order = channel_order
        self.colour_to_grey = bool(colour_to_grey)

    def read(self, path: str) -> _Raw:
        """Read ``path``; errors name the file and what was expected."""
        name = type(self).__name__
        if not osp.isfile(path):
            raise FileNotFoundError(f'{name}: no such file: {path!r}.')
        kind = med_image_kind(path)
        if kind is None:
            raise ValueError(
                f'{name}: cannot read {path!r}: unknown suffix; expected one '
                f'of {list(MED_IMAGE_SUFFIXES)} or a DICOM file (DICM '
                'preamble). Load 3D volumes (.mhd, .nrrd, .npy, DICOM '
                'series directories) with LoadVolume.')
        try:
            return _READERS[kind](path)
        except MemoryError:
            raise
        except Exception as e:
            # Library errors come in many types; one type naming the file.
            reason = str(e) if type(e) is ValueError else \
                f'{type(e).__name__}: {e}'
            raise ValueError(f'{name}: cannot read {path!r}: {reason}.') \
                from e

    def _intensities(self, raw: _Raw, path: str) -> np.ndarray:
        """uint8 pixels kept as stored, or float64 in [0, 1]."""
        pixels = raw.pixels
        window = self.window
        if window is None:
            if raw.window is not None:
                window = raw.window
            elif pixels.dtype == np.uint8:
                return pixels
            else:
                window = 'minmax'
        if window == 'minmax':
            return _scale_range(pixels, pixels.min(), pixels.max())
        if window == 'dtype':
            if not np.issubdtype(pixels.dtype, np.integer):
                raise ValueError(
                    f"{type(self).__name__}: window='dtype' needs integer "
                    f'pixels, but {path!r} gives {pixels.dtype} (float '
                    "files, rescaled DICOMs); use 'minmax' or "
                    '(center, width).')
            info = np.iinfo(pixels.dtype)
            return _scale_range(pixels, info.min, info.max)
        try:
            return apply_window(pixels, window[0], window[1],
                                raw.voi_function)
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {path!r}: {e}.') \
                from e

    def transform(self, results: dict) -> dict:
        name = type(self).__name__
        if 'img_path' not in results:
            raise KeyError(f'{name}: no "img_path" in the results; keys are '
                           f'{sorted(results)}.')
        path = str(results['img_path'])
        raw = self.read(path)
        img = self._intensities(raw, path)
        if raw.invert:
            img = 255 - img if img.dtype == np.uint8 else 1. - img
        if img.dtype != np.uint8:
            img = (np.floor(img * 255. + 0.5).astype(np.uint8)
                   if self.to_uint8 else img.astype(np.float32))
        elif not self.to_uint8:
            img = img.astype(np.float32) / np.float32(255)

        if img.ndim == 3 and raw.colour_order != self.channel_order:
            img = img[..., ::-1]
        if img.ndim == 2:
            img = img[..., None]
        if self.channels == 3 and img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        elif self.channels == 1 and img.shape[2] == 3:
            if np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(
                    img[..., 0], img[..., 2]):
                img = img[..., :1]
            elif self.colour_to_grey:
                img = _luma(img, self.channel_order)[..., None]
            else:
                raise ValueError(
                    f'{name}(channels=1): {path!r} is a colour image; use '
                    'channels=3 (or None), or colour_to_grey=True to '
                    'convert it to grey.')
        img = np.ascontiguousarray(img)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(channels={self.channels}, '
                f'to_uint8={self.to_uint8}, window={self.window!r}, '
                f'channel_order={self.channel_order!r}, '
                f'colour_to_grey={self.colour_to_grey})')
