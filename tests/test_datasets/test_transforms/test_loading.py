# Copyright (c) mmmedssl contributors. All rights reserved.
import cv2
import numpy as np
import pytest

from mmmedssl.datasets.transforms import LoadSourceImages
from mmmedssl.registry import TRANSFORMS


@pytest.fixture
def images(tmp_path):
    """Three PNGs of different sizes, filled with 0, 100 and 200 in blue."""
    paths = []
    for k, (h, w) in enumerate([(4, 5), (6, 7), (8, 9)]):
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = 100 * k
        path = str(tmp_path / f'img{k}.png')
        assert cv2.imwrite(path, img)
        paths.append(path)
    return paths


def test_loads_every_image_of_the_source(images):
    out = LoadSourceImages()(dict(img_paths=images, group_id='L1'))
    assert [im.shape for im in out['source_imgs']] == [(4, 5, 3), (6, 7, 3),
                                                       (8, 9, 3)]
    assert all(im.dtype == np.uint8 for im in out['source_imgs'])
    # BGR, as mmcv's LoadImageFromFile.
    assert [int(im[0, 0, 0]) for im in out['source_imgs']] == [0, 100, 200]
    assert out['source_img_paths'] == images
    assert out['img'] is out['source_imgs'][0]
    assert out['img_shape'] == (4, 5) and out['ori_shape'] == (4, 5)
    assert out['group_id'] == 'L1'


def test_single_image_sample_and_loader_options(images):
    t = TRANSFORMS.build(
        dict(type='LoadSourceImages', to_float32=True,
             color_type='grayscale'))
    out = t(dict(img_path=images[1]))
    assert len(out['source_imgs']) == 1
    assert out['img'].shape == (6, 7) and out['img'].dtype == np.float32
    assert 'max_images=None' in repr(t) and 'to_float32=True' in repr(t)


def test_max_images_draws_a_subset_in_order(images):
    t = LoadSourceImages(max_images=2)
    drawn = set()
    np.random.seed(0)
    for _ in range(30):
        out = t(dict(img_paths=images))
        paths = out['source_img_paths']
        assert len(out['source_imgs']) == 2
        assert paths == sorted(paths)  # kept in img_paths order
        drawn.add(tuple(paths))
    assert len(drawn) == 3  # every pair appears
    # Fewer images than max_images: all loaded.
    assert len(LoadSourceImages(max_images=5)(
        dict(img_paths=images))['source_imgs']) == 3


def test_errors(images, tmp_path):
    with pytest.raises(ValueError, match='max_images'):
        LoadSourceImages(max_images=0)
    with pytest.raises(ValueError, match=r'"img_paths"\] is empty'):
        LoadSourceImages()(dict(img_paths=[]))
    with pytest.raises(KeyError, match='neither "img_paths" nor "img_path"'):
        LoadSourceImages()(dict(img=np.zeros((2, 2))))
    missing = str(tmp_path / 'missing.png')
    with pytest.raises(FileNotFoundError):
        LoadSourceImages()(dict(img_paths=[images[0], missing]))
    assert LoadSourceImages(ignore_empty=True)(
        dict(img_paths=[images[0], missing])) is None
