# Copyright (c) mmmedssl contributors. All rights reserved.
import numpy as np
import pytest

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
