# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseDataPreprocessor

from mmmedssl.registry import MODELS


@MODELS.register_module()
class MedSelfSupDataPreprocessor(BaseDataPreprocessor):
    """Normalise batches of 2D images or 3D volumes, one or many views.

    Unlike mmpretrain's ``SelfSupDataPreprocessor`` it accepts any number of
    channels, works on ``(N, C, H, W)`` and ``(N, C, D, H, W)`` batches alike,
    and swaps channels only when asked to (``bgr_to_rgb`` for colour photos
    loaded by OpenCV; grey-level scans and volumes have no channel order).

    Grey images kept as one channel (``LoadMedImage(channels=1)``) take
    one ``mean`` and one ``std`` value and ``bgr_to_rgb=False``.

    Args:
        mean (Sequence[float], optional): Per-channel mean subtracted from the
            input, one value per channel. None skips normalisation.
        std (Sequence[float], optional): Per-channel standard deviation; must
            have as many values as ``mean``.
        clip_range (tuple[float, float], optional): Clamp raw intensities to
            this range before normalising (e.g. a CT HU window).
        bgr_to_rgb (bool): Reverse the channel order of 3-channel inputs
            (before normalising, so ``mean``/``std`` are in RGB order).
            Defaults to False.
        non_blocking (bool): Copy to the device asynchronously.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 clip_range: Optional[Tuple[float, float]] = None,
                 bgr_to_rgb: bool = False,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if (mean is None) != (std is None):
            raise ValueError('MedSelfSupDataPreprocessor: give both `mean` '
                             'and `std`, or neither.')
        self._enable_normalize = mean is not None
        if self._enable_normalize:
            if len(mean) != len(std):
                raise ValueError(
                    f'MedSelfSupDataPreprocessor: `mean` has {len(mean)} '
                    f'values but `std` has {len(std)}; give one per channel.')
            if any(s <= 0 for s in std):
                raise ValueError('MedSelfSupDataPreprocessor: every `std` '
                                 f'value must be > 0, got {list(std)}.')
            self.register_buffer('mean', torch.tensor(mean).float(), False)
            self.register_buffer('std', torch.tensor(std).float(), False)
        if clip_range is not None and clip_range[0] >= clip_range[1]:
            raise ValueError('MedSelfSupDataPreprocessor: `clip_range` must '
                             f'be (low, high) with low < high, got '
                             f'{clip_range}.')
        self.clip_range = clip_range
        self.bgr_to_rgb = bgr_to_rgb

    def _process(self, batch: torch.Tensor) -> torch.Tensor:
        if not isinstance(batch, torch.Tensor) or batch.dim() not in (4, 5):
            shape = tuple(batch.shape) if isinstance(
                batch, torch.Tensor) else type(batch).__name__
            raise ValueError(
                'MedSelfSupDataPreprocessor expects batches shaped '
                '(N, C, H, W) or (N, C, D, H, W) (one tensor, or a list with '
                'one such tensor per view, as collate_fn=dict(type='
                f"'default_collate') makes them), got {shape}.")
        if self.bgr_to_rgb:
            if batch.shape[1] != 3:
                raise ValueError(
                    'MedSelfSupDataPreprocessor: bgr_to_rgb needs 3-channel '
                    f'inputs, got shape {tuple(batch.shape)} (set '
                    'bgr_to_rgb=False for grey images).')
            out = batch.flip(1)
        else:
            out = batch
        # One float copy that we own, then in-place ops: a 20-view batch is
        # large, and each out-of-place op would allocate it again.
        out = out.to(torch.float32, copy=out is batch)
        if self.clip_range is not None:
            out.clamp_(*self.clip_range)
        if self._enable_normalize:
            channels = out.shape[1]
            if channels != self.mean.numel():
                raise ValueError(
                    f'MedSelfSupDataPreprocessor: mean/std have '
                    f'{self.mean.numel()} values but the input has '
                    f'{channels} channel(s) (shape {tuple(out.shape)}; '
                    'grey images take one value each, e.g. mean=[127.5], '
                    'std=[64.]).')
            view = (1, channels) + (1, ) * (out.dim() - 2)
            out.sub_(self.mean.view(view)).div_(self.std.view(view))
        return out

    def forward(self, data: dict, training: bool = False) -> dict:
        if not isinstance(data, dict) or 'inputs' not in data:
            raise TypeError('MedSelfSupDataPreprocessor expects a dict with '
                            "an 'inputs' key (use collate_fn=dict("
                            "type='default_collate')).")
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs: List[torch.Tensor] = [self._process(v) for v in inputs]
        else:
            inputs = self._process(inputs)
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
