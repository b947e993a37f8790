# Copyright (c) mmmedssl contributors. All rights reserved.
import copy
from typing import List, Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmmedssl.registry import TRANSFORMS
from .formatting import check_channel_last


def _channels(img) -> Optional[int]:
    """Channel count of a numpy 2D image, ``(H, W)`` counting as 1; None
    for anything else (tensors are not checked)."""
    if isinstance(img, np.ndarray) and img.ndim in (2, 3):
        return 1 if img.ndim == 2 else img.shape[2]
    return None


@TRANSFORMS.register_module()
class MedMultiView(BaseTransform):
    """Make several augmented views of one sample and keep each view's
    metadata.

    mmpretrain's ``MultiView`` keeps only ``img`` from each view; spatial or
    pixel-level methods also need what a view's pipeline computed (crop box,
    flip, rotation, intensity parameters). This wrapper stores those under
    ``results['view_metas']``, one dict per view, in view order.

    With ``source_images_key`` (e.g. ``'source_imgs'``, set by
    ``LoadSourceImages``) each view starts from an image of the source drawn
    uniformly at random (numpy's global RNG, as mmcv's transforms), so that
    views of one lesion/patient may come from different images of it; the
    drawn index is stored as ``source_index`` in the view's ``view_metas``
    entry. The image list itself is not copied for each view.

    Args:
        transforms (list[list[dict]]): One pipeline per kind of view.
        num_views (int | list[int]): How many views each pipeline makes.
        view_meta_keys (Sequence[str]): Keys copied from each view's results
            into its ``view_metas`` entry when present.
        source_images_key (str, optional): Key of a list of images to draw
            each view's starting image from. When None, or when the key is
            not in the results, every view starts from ``results['img']``.
            Defaults to None.
        spatial_dims (int): 2 (default) checks the 2D images: each starting
            image must be ``(H, W)`` or ``(H, W, C)`` (a channel-first
            ``(C, H, W)`` array with ``C <= 4``, e.g. a 2D file read by
            ``LoadVolume``, is an error, not ``W`` channels), and no view
            transform may change the channel count (``(H, W)`` counts as
            one channel, as cv2 drops a trailing axis of 1) or fail on a
            grey image without saying which transform. 3 skips the checks.
    """

    def __init__(self,
                 transforms: List[List[dict]],
                 num_views: Union[int, List[int]],
                 view_meta_keys: Sequence[str] = (
                     'img_shape', 'crop_bbox', 'flip', 'flip_direction'),
                 source_images_key: Optional[str] = None,
                 spatial_dims: int = 2,
                 ) -> None:
        if not transforms or not all(
                isinstance(t, (list, tuple)) for t in transforms):
            raise TypeError('MedMultiView: `transforms` must be a list of '
                            'pipelines (a list of lists of transform dicts).')
        if isinstance(num_views, int):
            num_views = [num_views] * len(transforms)
        if len(num_views) != len(transforms):
            raise ValueError(
                f'MedMultiView: {len(num_views)} view counts for '
                f'{len(transforms)} pipelines; give one count per pipeline.')
        if any(n < 1 for n in num_views):
            raise ValueError(f'MedMultiView: view counts must be >= 1, got '
                             f'{num_views}.')
        self.pipelines = [Compose(t) for t in transforms]
        self.num_views = list(num_views)
        self.view_meta_keys = tuple(view_meta_keys)
        self.source_images_key = source_images_key
        if spatial_dims not in (2, 3):
            raise ValueError('MedMultiView: spatial_dims must be 2 or 3, '
                             f'got {spatial_dims}.')
        self.spatial_dims = spatial_dims

    def _run(self, pipeline: Compose, results: dict) -> Optional[dict]:
        """``pipeline(results)``, one transform at a time so that a change
        of channel count, or a failure on a grey image, names its
        transform."""
        if self.spatial_dims != 2:
            return pipeline(results)
        check_channel_last('MedMultiView', results.get('img'))
        for step in pipeline.transforms:
            before = _channels(results.get('img'))
            try:
                results = step(results)
            except Exception as e:
                if before != 1:
                    raise
                raise ValueError(
                    f'MedMultiView: {step!r} failed on a 1-channel image '
                    f'({type(e).__name__}: {e}). mmcv/mmpretrain colour '
                    'transforms (ColorJitter, GaussianBlur, ...) need 3 '
                    'channels: use grey-safe ones (MedColorJitter with '
                    'brightness/contrast, MedGaussianBlur; see configs/'
                    '_base_/datasets/grey_mocov2.py) or load with '
                    'LoadMedImage(channels=3).') from e
            if results is None:
                return None
            after = _channels(results.get('img'))
            if before is not None and after is not None and after != before:
                raise ValueError(
                    f'MedMultiView: {step!r} changed the channel count from '
                    f'{before} to {after}; views must keep the channels of '
                    'the loaded image (choose them when loading, e.g. '
                    'LoadMedImage(channels=...), or use transforms that '
                    'keep them, e.g. RandomGrayscale(keep_channels=True)).')
        return results

    def _sources(self, results: dict) -> Optional[list]:
        key = self.source_images_key
        if key is None or key not in results:
            return None
        sources = results[key]
        if not isinstance(sources, (list, tuple)) or not sources:
            raise ValueError(
                f'MedMultiView: results[{key!r}] (source_images_key) must be '
                f'a non-empty list of images, got {type(sources).__name__}'
                + (' of length 0' if isinstance(sources,
                                                (list, tuple)) else '') + '.')
        return sources

    def transform(self, results: dict) -> dict:
        sources = self._sources(results)
        if sources is not None:
            # Everything but the images, deep-copied once per view below.
            base = {
                k: v
                for k, v in results.items()
                if k not in (self.source_images_key, 'img')
            }
        views, metas = [], []
        for pipeline, count in zip(self.pipelines, self.num_views):
            for _ in range(count):
                if sources is None:
                    out = self._run(pipeline, copy.deepcopy(results))
                else:
                    index = int(np.random.randint(len(sources)))
                    img = sources[index]
                    view = copy.deepcopy(base)
                    view['img'] = (img.copy() if isinstance(
                        img, np.ndarray) else copy.deepcopy(img))
                    view['img_shape'] = img.shape[:2]
                    view['ori_shape'] = img.shape[:2]
                    out = self._run(pipeline, view)
                if out is None:
                    return None
                views.append(out['img'])
                meta = {k: out[k] for k in self.view_meta_keys if k in out}
                if sources is not None:
                    meta['source_index'] = index
                metas.append(meta)
        results['img'] = views
        results['view_metas'] = metas
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_views={self.num_views}, '
                f'view_meta_keys={self.view_meta_keys}, '
                f'source_images_key={self.source_images_key!r}, '
                f'spatial_dims={self.spatial_dims}, '
                f'pipelines={self.pipelines})')
