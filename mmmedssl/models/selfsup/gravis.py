# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.dist import get_world_size
from mmpretrain.structures import DataSample

from mmmedssl.models.utils import (check_same_size, gather_no_grad,
                                   gather_with_grad, require_views,
                                   shuffle_views, source_ids, stack_views)
from mmmedssl.registry import MODELS
from .base import BaseMedSelfSupervisor, collapse_stats


@MODELS.register_module()
class GraVIS(BaseMedSelfSupervisor):
    """GraVIS: Grouping Augmented Views from Independent Sources.

    One shared encoder (backbone + projection neck) embeds every view; the
    V views of a source are homogeneous and all other views heterogeneous,
    and the head's ``GraVISLoss`` (Smooth-AP over groups) ranks homogeneous
    views above heterogeneous ones. No queue, no momentum encoder.

    Views come from ``MedMultiView`` as V batches of B sources and are laid
    out image-major (rows ``b*V .. b*V+V-1`` are source ``b``).

    Args:
        backbone, neck, head (dict): Encoder, projection MLP
            (``GraVISNeck``) and ``GraVISHead``.
        source_key (str): What defines a source: ``'sample_idx'`` (every
            dataset sample; with ``MedImageList(group_sources=True)`` a
            sample is a whole lesion/patient) or ``'group_id'`` (images of
            one lesion/patient in the batch are homogeneous too).
        shuffle_views (bool): Permute the views before the encoder and undo
            it after, so that BatchNorm on one device never sees all views of
            a source together (the released code's trick under DataParallel).
            Under DDP the permutation spans all ranks (images are gathered,
            shuffled, scattered). In one process BatchNorm sees the whole
            batch anyway, so it changes nothing there.
        data_preprocessor, init_cfg: As in ``BaseMedSelfSupervisor``.

    Under DDP the loss is computed over the views of all ranks, as the
    released DataParallel run did: embeddings are gathered with gradients,
    every rank evaluates the same global loss, and the gather's backward sums
    the ranks' gradients (xW) which DDP then averages (/W), giving exactly the
    gradient of the global loss.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 source_key: str = 'sample_idx',
                 shuffle_views: bool = True,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.source_key = source_key
        self.shuffle_views = shuffle_views

    def embed(self, views: torch.Tensor) -> torch.Tensor:
        """Embeddings of the views in input order, ``(N, d)``; under DDP,
        of the views of all ranks in rank order (gathered with gradients)."""
        distributed = get_world_size() > 1
        if distributed:
            check_same_size(views, type(self).__name__)
        if self.shuffle_views:
            views, restore = shuffle_views(views)
        emb = self.neck(self.backbone(views))[0]
        if distributed:
            emb = gather_with_grad(emb)
        if self.shuffle_views:
            emb = emb[restore]
        return emb

    def loss(self, inputs: Union[List[torch.Tensor], torch.Tensor],
             data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        require_views(inputs, 'GraVIS')
        views, _, num_views = stack_views(inputs)
        groups = source_ids(data_samples, self.source_key, num_views,
                            device=views.device)
        emb = self.embed(views)
        if get_world_size() > 1:
            groups = gather_no_grad(groups)
        losses = dict(loss=self.head.loss(emb, groups))
        # Only the spread of the embeddings: Smooth-AP is 1 - (smoothed)
        # average precision, not a cross-entropy over candidates, so its
        # ratio to ln(candidates) would mean nothing, and its value for
        # random ranking depends on the group sizes and the sigmoid
        # temperature rather than on one chance level.
        losses.update(collapse_stats(emb))
        return losses
