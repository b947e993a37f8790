# Copyright (c) mmmedssl contributors. All rights reserved.
import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.structures import DataSample

from mmmedssl.models.utils import MedSelfSupDataPreprocessor


class LegacyKey(NamedTuple):
    """A state-dict name of older mmmedssl checkpoints and its current one.

    A name ending in ``'.'`` renames every key under it, any other name one
    key. ``transpose``: the old file stores the tensor transposed (MoCo's
    ``(dim, K)`` queue, now a ``(K, dim)`` :class:`KeyMemory`).
    """
    old: str
    new: str
    transpose: bool = False


def rename_legacy_keys(state_dict: Dict[str, torch.Tensor], prefix: str,
                       legacy_keys: Sequence[LegacyKey]) -> None:
    """Rename, in place, the keys under ``prefix`` that older checkpoints
    wrote under their old names. A key whose new name is already present is
    left alone (strict loading then reports it as unexpected)."""
    for rule in legacy_keys:
        old = prefix + rule.old
        if rule.old.endswith('.'):
            keys = [k for k in state_dict if k.startswith(old)]
        else:
            keys = [old] if old in state_dict else []
        for key in keys:
            new = prefix + rule.new + key[len(old):]
            if new not in state_dict:
                value = state_dict.pop(key)
                state_dict[new] = value.t() if rule.transpose else value


def collapse_stats(embeddings: torch.Tensor,
                   contrastive_loss: Optional[torch.Tensor] = None,
                   num_candidates: Optional[int] = None
                   ) -> Dict[str, torch.Tensor]:
    """Scalars that show a collapsing run, logged beside the losses (their
    names hold no 'loss', so mmengine logs them without adding them to the
    objective; computed without gradient).

    - ``embed_std``: the mean per-dimension standard deviation over the batch
      of the L2-normalised embeddings, times sqrt(dim): about 1 when they
      spread over the sphere, 0 when every sample maps to one point.
    - ``contrast_vs_chance`` (with a contrastive loss and its number of
      candidates, e.g. queue length + 1): the loss over its chance level
      ln(candidates), the loss of uniform guessing; near 1 the positive is
      no longer told apart.
    """
    stats = {}
    with torch.no_grad():
        flat = embeddings.detach().float().flatten(1)
        if flat.shape[0] > 1:
            normed = F.normalize(flat, dim=1)
            stats['embed_std'] = (normed.std(dim=0).mean() *
                                  math.sqrt(normed.shape[1]))
        if contrastive_loss is not None and num_candidates and \
                num_candidates > 1:
            stats['contrast_vs_chance'] = (contrastive_loss.detach().float()
                                           / math.log(num_candidates))
    return stats


class BaseMedSelfSupervisor(BaseSelfSupervisor):
    """Base class of mmmedssl's self-supervised algorithms.

    It adds to mmpretrain's ``BaseSelfSupervisor``:

    - ``MedSelfSupDataPreprocessor`` as the default preprocessor (any channel
      count, 2D or 3D, no BGR swap);
    - a ``'predict'`` mode that returns backbone features packed into data
      samples (field ``feature``), so that validation and test loops can
      monitor pretraining with a feature metric such as ``KNNAccuracy``;
    - ``legacy_keys``: names older checkpoints gave to this model's tensors,
      renamed when a state dict is loaded, so that those files still load
      strictly (resume, evaluation, a DistillingSelf teacher).
    """

    legacy_keys: Sequence[LegacyKey] = ()

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

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Runs before the children load: they see the current names.
        rename_legacy_keys(state_dict, prefix, self.legacy_keys)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

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
