# Copyright (c) mmmedssl contributors. All rights reserved.
import cv2
import numpy as np
import pytest
from mmcv.transforms import Compose

from mmmedssl.datasets.transforms import MedMultiView


def _pipeline(direction):
    return [dict(type='RandomFlip', prob=1.0, direction=direction)]


def test_views_and_their_metadata_in_order():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    wrapper = MedMultiView(
        transforms=[_pipeline('horizontal'), _pipeline('vertical')],
        num_views=[2, 1])
    out = wrapper(dict(img=img, img_shape=(2, 3), group_id='L1'))
    assert len(out['img']) == 3
    np.testing.assert_array_equal(out['img'][0], img[:, ::-1])
    np.testing.assert_array_equal(out['img'][2], img[::-1])
    assert [m['flip_direction'] for m in out['view_metas']] == [
        'horizontal', 'horizontal', 'vertical']
    assert all(m['flip'] for m in out['view_metas'])
    assert out['group_id'] == 'L1'


def test_random_views_differ_and_argument_errors():
    rng_img = np.random.randint(0, 255, (32, 32, 3), dtype=np.uint8)
    wrapper = MedMultiView(
        transforms=[[dict(type='RandomResizedCrop', scale=8)]], num_views=4)
    out = wrapper(dict(img=rng_img))
    shapes = [tuple(m['img_shape'][:2]) for m in out['view_metas']]
    assert shapes == [(8, 8)] * 4
    assert len({v.tobytes() for v in out['img']}) > 1
    with pytest.raises(ValueError, match='one count per pipeline'):
        MedMultiView(transforms=[[], []], num_views=[1])
    with pytest.raises(TypeError, match='list of pipelines'):
        MedMultiView(transforms=[dict(type='RandomFlip')], num_views=1)


def test_views_drawn_from_several_source_images():
    black = np.zeros((4, 5, 3), np.uint8)
    white = np.full((6, 7, 3), 255, np.uint8)
    sources = [black, white]
    wrapper = MedMultiView(
        transforms=[_pipeline('horizontal'), _pipeline('vertical')],
        num_views=[10, 10],
        source_images_key='source_imgs')
    np.random.seed(1)
    out = wrapper(
        dict(img=black, source_imgs=sources, img_shape=(4, 5),
             group_id='L1'))
    indices = [m['source_index'] for m in out['view_metas']]
    assert set(indices) == {0, 1}
    for view, meta, index in zip(out['img'], out['view_metas'], indices):
        # The view's pixels and shape come from the drawn image.
        assert view.shape == sources[index].shape
        assert int(view.mean()) == (0 if index == 0 else 255)
        assert tuple(meta['img_shape'][:2]) == sources[index].shape[:2]
    # The source list is handed on, not copied or modified.
    assert out['source_imgs'] is sources
    assert out['source_imgs'][0] is black and black.max() == 0
    assert out['group_id'] == 'L1'


def test_source_images_key_missing_keeps_single_image_behaviour():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    wrapper = MedMultiView(
        transforms=[_pipeline('horizontal')], num_views=2,
        source_images_key='source_imgs')
    out = wrapper(dict(img=img, img_shape=(2, 3)))
    assert len(out['img']) == 2
    np.testing.assert_array_equal(out['img'][1], img[:, ::-1])
    assert all('source_index' not in m for m in out['view_metas'])
    with pytest.raises(ValueError, match="results\\['source_imgs'\\] "
                       r'\(source_images_key\) must be a non-empty list'):
        wrapper(dict(img=img, source_imgs=[]))
    assert "source_images_key='source_imgs'" in repr(wrapper)


def test_sources_pipeline_with_loading(tmp_path):
    paths = []
    for k, value in enumerate([0, 255]):
        path = str(tmp_path / f'{k}.png')
        cv2.imwrite(path, np.full((8, 8, 3), value, np.uint8))
        paths.append(path)
    pipeline = Compose([
        dict(type='LoadSourceImages'),
        dict(type='MedMultiView',
             transforms=[[dict(type='RandomResizedCrop', scale=4)]],
             num_views=16, source_images_key='source_imgs'),
        dict(type='PackMedInputs'),
    ])
    np.random.seed(0)
    out = pipeline(dict(img_paths=paths, group_id='L7'))
    metas = out['data_samples'].view_metas
    assert {m['source_index'] for m in metas} == {0, 1}
    for view, meta in zip(out['inputs'], metas):
        assert tuple(view.shape) == (3, 4, 4)
        assert int(view.float().mean()) == 255 * meta['source_index']
    assert out['data_samples'].group_id == 'L7'
