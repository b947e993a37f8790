# Copyright (c) mmmedssl contributors. All rights reserved.
import pytest
import torch

from mmmedssl.models import MedSelfSupDataPreprocessor


@pytest.mark.parametrize('shape', [(2, 1, 8, 8), (2, 2, 6, 5),
                                   (2, 4, 8, 8), (2, 3, 4, 6, 5),
                                   (2, 1, 4, 4, 4), (2, 5, 3, 4, 4)])
def test_normalises_any_channel_count_in_2d_and_3d(shape):
    channels = shape[1]
    mean = [float(10 * c + 1) for c in range(channels)]
    std = [float(c + 2) for c in range(channels)]
    pre = MedSelfSupDataPreprocessor(mean=mean, std=std)
    x = torch.randint(0, 255, shape, dtype=torch.uint8)
    out = pre(dict(inputs=x, data_samples=None))['inputs']
    assert out.dtype == torch.float32 and out.shape == shape
    for c in range(channels):
        expected = (x[:, c].float() - mean[c]) / std[c]
        torch.testing.assert_close(out[:, c], expected)


def test_views_bgr_swap_and_clipping():
    pre = MedSelfSupDataPreprocessor(
        mean=[1., 2., 3.], std=[1., 1., 2.], bgr_to_rgb=True,
        clip_range=(0, 100))
    views = [torch.rand(2, 3, 4, 4) * 300 for _ in range(3)]
    out = pre(dict(inputs=views, data_samples=['a', 'b']))
    assert out['data_samples'] == ['a', 'b']
    assert len(out['inputs']) == 3
    for view, result in zip(views, out['inputs']):
        rgb = view.flip(1).clamp(0, 100)
        expected = (rgb - torch.tensor([1., 2., 3.]).view(1, 3, 1, 1)) / \
            torch.tensor([1., 1., 2.]).view(1, 3, 1, 1)
        torch.testing.assert_close(result, expected)


def test_without_normalisation_only_casts():
    pre = MedSelfSupDataPreprocessor()
    x = torch.randint(0, 255, (1, 7, 3, 3), dtype=torch.uint8)
    torch.testing.assert_close(pre(dict(inputs=x))['inputs'], x.float())


def test_errors_are_explicit():
    pre = MedSelfSupDataPreprocessor(mean=[0., 0., 0.], std=[1., 1., 1.])
    with pytest.raises(ValueError, match='3 values but the input has 1'):
        pre(dict(inputs=torch.zeros(2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        pre(dict(inputs=torch.zeros(3, 4, 4)))
    with pytest.raises(ValueError, match='one per channel'):
        MedSelfSupDataPreprocessor(mean=[0., 0.], std=[1.])
    with pytest.raises(ValueError, match='both `mean` and `std`'):
        MedSelfSupDataPreprocessor(mean=[0.])
    with pytest.raises(ValueError, match='bgr_to_rgb needs 3-channel'):
        MedSelfSupDataPreprocessor(bgr_to_rgb=True)(
            dict(inputs=torch.zeros(1, 1, 2, 2)))


def test_inputs_are_not_modified_in_place():
    from mmmedssl.models.utils import MedSelfSupDataPreprocessor
    for bgr_to_rgb in (False, True):
        pre = MedSelfSupDataPreprocessor(mean=[1., 2., 3.], std=[2., 2., 2.],
                                         clip_range=(0., 100.),
                                         bgr_to_rgb=bgr_to_rgb)
        for dtype in (torch.float32, torch.uint8):
            x = (torch.rand(2, 3, 4, 4) * 200).to(dtype)
            before = x.clone()
            out = pre(dict(inputs=[x, x]))['inputs']
            assert torch.equal(x, before)
            ref = before.float()
            if bgr_to_rgb:
                ref = ref.flip(1)
            ref = (ref.clamp(0, 100) - torch.tensor([1., 2., 3.]).view(
                1, 3, 1, 1)) / 2.0
            torch.testing.assert_close(out[0], ref)
            assert out[0].data_ptr() != out[1].data_ptr()
