# Copyright (c) mmmedssl contributors. All rights reserved.
import copy
from typing import List, Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmmedssl.registry import TRANSFORMS


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
    """

    def __init__(self,
                 transforms: List[List[dict]],
                 num_views: Union[int, List[int]],
                 view_meta_keys: Sequence[str] = (
                     'img_shape', 'crop_bbox', 'flip', 'flip_direction'),
                 source_images_key: Optional[str] = None,
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
                    out = pipeline(copy.deepcopy(results))
                else:
                    index = int(np.random.randint(len(sources)))
                    img = sources[index]
                    view = copy.deepcopy(base)
                    view['img'] = (img.copy() if isinstance(
                        img, np.ndarray) else copy.deepcopy(img))
                    view['img_shape'] = img.shape[:2]
                    view['ori_shape'] = img.shape[:2]
                    out = pipeline(view)
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
                f'pipelines={self.pipelines})')
