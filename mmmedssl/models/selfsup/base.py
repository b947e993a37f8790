# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.structures import DataSample

from mmmedssl.models.utils import MedSelfSupDataPreprocessor


class BaseMedSelfSupervisor(BaseSelfSupervisor):
    """Base class of mmmedssl's self-supervised algorithms.

    It adds to mmpretrain's ``BaseSelfSupervisor``:

    - ``MedSelfSupDataPreprocessor`` as the default preprocessor (any channel
      count, 2D or 3D, no BGR swap);
    - a ``'predict'`` mode that returns backbone features packed into data
      samples (field ``feature``), so that validation and test loops can
      monitor pretraining with a feature metric such as ``KNNAccuracy``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 target_generator: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None or isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor or {})
            data_preprocessor.setdefault('type', MedSelfSupDataPreprocessor)
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            target_generator=target_generator,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)

    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    def extract_pooled_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled features of the backbone's last output,
        shaped ``(N, C)`` for 2D and 3D backbones alike."""
        feats = self.extract_feat(inputs)
        if isinstance(feats, (list, tuple)):
            feats = feats[-1]
        if feats.dim() > 2:
            feats = feats.flatten(2).mean(dim=2)
        return feats

    @torch.no_grad()
    def predict(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Backbone features of the first view, one data sample each."""
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        feats = self.extract_pooled_feat(inputs)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(feats.shape[0])]
        for sample, feat in zip(data_samples, feats):
            sample.set_field(feat, 'feature')
        return data_samples
