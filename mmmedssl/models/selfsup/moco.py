# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import ExponentialMovingAverage
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.structures import DataSample

from mmmedssl.models.utils import KeyMemory, require_views
from mmmedssl.registry import MODELS
from .base import BaseMedSelfSupervisor, LegacyKey, collapse_stats


@MODELS.register_module()
class MedMoCo(BaseMedSelfSupervisor):
    """MoCo (v1/v2) with mmmedssl's data preprocessor, ``'predict'`` mode and
    queue layout.

    The objective is mmpretrain's ``MoCo.loss``, term for term: queries from
    view 1, keys from the momentum encoder on view 2 (batch-shuffled across
    ranks), InfoNCE (``head``, a ``ContrastiveHead``) against a queue of
    ``queue_len`` keys. Two names differ from mmpretrain's class, so that
    every mmmedssl method reads the same: the momentum encoder is
    ``momentum_encoder`` (mmpretrain's MoCo v3 and PCRL name; mmpretrain's
    MoCo calls it ``encoder_k``) and the queue is a :class:`KeyMemory`
    ``(queue_len, feat_dim)`` (mmpretrain keeps a ``(feat_dim, queue_len)``
    buffer ``queue`` and a ``queue_ptr``). The initial queue is the
    transpose of mmpretrain's for the same seed, so a seeded run trains the
    same, and checkpoints with the old names still load (``legacy_keys``).
    Unlike mmpretrain's, ``queue_len`` need not be a multiple of the batch.

    ``momentum`` follows mmengine's convention: the weight of the *new*
    value (0.001 is the paper's 0.999). MoCo v2 is this class with
    ``MoCoV2Neck`` and the v2 augmentations (see ``configs/mocov2``).

    Args:
        backbone, neck, head: The query encoder and the InfoNCE head.
        queue_len (int): Keys in the queue. Defaults to 65536.
        feat_dim (int): Key dimension. Defaults to 128.
        momentum (float): Weight of the new value in the EMA update.
            Defaults to 0.001.
    """

    legacy_keys = (
        LegacyKey('encoder_k.', 'momentum_encoder.'),
        LegacyKey('queue', 'queue.keys', transpose=True),
        LegacyKey('queue_ptr', 'queue.ptr'),
    )

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 momentum: float = 0.001,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.momentum_encoder = ExponentialMovingAverage(
            nn.Sequential(self.backbone, self.neck), momentum)
        # Drawn after the encoders were built, as in mmpretrain's MoCo: the
        # random stream, hence the initial queue, is the same.
        self.queue = KeyMemory(queue_len, feat_dim, init='normal')

    def query(self, im_q: torch.Tensor) -> torch.Tensor:
        """Normalised queries ``(B, feat_dim)`` of view 1."""
        return F.normalize(self.neck(self.backbone(im_q))[0], dim=1)

    @torch.no_grad()
    def momentum_keys(self, im_k: torch.Tensor) -> torch.Tensor:
        """Update the momentum encoder, then return its normalised keys
        ``(B, feat_dim)`` of view 2 (Shuffle-BN: the batch is shuffled
        across ranks for BatchNorm and put back in order)."""
        self.momentum_encoder.update_parameters(
            nn.Sequential(self.backbone, self.neck))
        im_k, restore = batch_shuffle_ddp(im_k)
        keys = F.normalize(self.momentum_encoder(im_k)[0], dim=1)
        return batch_unshuffle_ddp(keys, restore)

    def queue_similarities(self, q: torch.Tensor) -> torch.Tensor:
        """Similarities ``(B, queue_len)`` of queries with the queue, on a
        ``(feat_dim, queue_len)`` copy, as mmpretrain's MoCo computes them
        (a product with the transposed memory rounds differently)."""
        return torch.einsum('nc,ck->nk', q, self.queue.keys.t().contiguous())

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        require_views(inputs, 'MoCo')
        q = self.query(inputs[0])
        k = self.momentum_keys(inputs[1])
        pos = torch.einsum('nc,nc->n', q, k).unsqueeze(-1)
        neg = self.queue_similarities(q)
        loss = self.head.loss(pos, neg)
        self.queue.push(k)
        losses = dict(loss=loss)
        # Monitoring only (no gradient): InfoNCE picks the key among the
        # queue's negatives and the positive.
        weight = getattr(self.head.loss_module, 'loss_weight', 1.0)
        losses.update(
            collapse_stats(q, loss.detach() / weight,
                           self.queue.keys.shape[0] + 1))
        return losses
