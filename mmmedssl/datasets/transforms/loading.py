# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile

from mmmedssl.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadSourceImages(LoadImageFromFile):
    """Load all images of a source (a lesion, a patient...) made of several
    images.

    Reads ``results['img_paths']`` (the samples of
    ``MedImageList(group_sources=True)``), or ``results['img_path']`` when
    that is the only path, so single-image samples work too. Each image is
    read as mmcv's ``LoadImageFromFile`` reads it (same file backends,
    decoder and colour handling: ``H x W x C`` uint8 BGR by default).

    Required Keys:

    - img_paths, or img_path

    Added Keys:

    - source_imgs: the loaded images, in ``img_paths`` order.
    - source_img_paths: their paths, in the same order.
    - img: the first of them.
    - img_shape, ori_shape: the first image's ``(H, W)``.

    Args:
        max_images (int, optional): Load at most this many images, a random
            subset (drawn with numpy's global RNG, kept in ``img_paths``
            order) when a source has more. Bounds the decoding cost of large
            groups. None loads all. Defaults to None.
        **kwargs: ``to_float32``, ``color_type``, ``imdecode_backend``,
            ``ignore_empty`` and ``backend_args`` of ``LoadImageFromFile``.
            With ``ignore_empty=True`` a source whose image fails to load is
            skipped (the transform returns None).
    """

    def __init__(self, max_images: Optional[int] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if max_images is not None and (not isinstance(max_images, int)
                                       or max_images < 1):
            raise ValueError('LoadSourceImages: max_images must be None or '
                             f'an integer >= 1, got {max_images!r}.')
        self.max_images = max_images

    def transform(self, results: dict) -> Optional[dict]:
        if 'img_paths' in results:
            paths = list(results['img_paths'])
            if not paths:
                raise ValueError('LoadSourceImages: results["img_paths"] is '
                                 'empty; a source needs at least one image.')
        elif 'img_path' in results:
            paths = [results['img_path']]
        else:
            raise KeyError('LoadSourceImages: neither "img_paths" nor '
                           f'"img_path" in the results; keys are '
                           f'{sorted(results)}.')
        if self.max_images is not None and len(paths) > self.max_images:
            chosen = np.sort(
                np.random.choice(len(paths), self.max_images, replace=False))
            paths = [paths[i] for i in chosen]

        images = []
        for path in paths:
            loaded = super().transform(dict(img_path=path))
            if loaded is None:  # ignore_empty
                return None
            images.append(loaded['img'])

        results['source_imgs'] = images
        results['source_img_paths'] = paths
        results['img'] = images[0]
        results['img_shape'] = images[0].shape[:2]
        results['ori_shape'] = images[0].shape[:2]
        return results

    def __repr__(self) -> str:
        text = super().__repr__()
        return (f'{type(self).__name__}(max_images={self.max_images}, '
                + text[text.index('(') + 1:])
