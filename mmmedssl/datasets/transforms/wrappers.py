# Copyright (c) mmmedssl contributors. All rights reserved.
import copy
from typing import List, Sequence, Union

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

    Args:
        transforms (list[list[dict]]): One pipeline per kind of view.
        num_views (int | list[int]): How many views each pipeline makes.
        view_meta_keys (Sequence[str]): Keys copied from each view's results
            into its ``view_metas`` entry when present.
    """

    def __init__(self,
                 transforms: List[List[dict]],
                 num_views: Union[int, List[int]],
                 view_meta_keys: Sequence[str] = (
                     'img_shape', 'crop_bbox', 'flip', 'flip_direction'),
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

    def transform(self, results: dict) -> dict:
        views, metas = [], []
        for pipeline, count in zip(self.pipelines, self.num_views):
            for _ in range(count):
                out = pipeline(copy.deepcopy(results))
                if out is None:
                    return None
                views.append(out['img'])
                metas.append({
                    k: out[k]
                    for k in self.view_meta_keys if k in out
                })
        results['img'] = views
        results['view_metas'] = metas
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_views={self.num_views}, '
                f'view_meta_keys={self.view_meta_keys}, '
                f'pipelines={self.pipelines})')
