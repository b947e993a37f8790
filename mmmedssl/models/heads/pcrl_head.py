# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmedssl.models.utils import KeyMemory
from mmmedssl.registry import MODELS


@MODELS.register_module()
class PCRLHead(BaseModule):
    """PCRL's objective: a contrastive term against a key memory plus MSE
    reconstruction terms, ``contrast_weight * L_c + recon_weight * L_r``.

    ``L_c`` is the mean of the contrastive losses of the (query, key) pairs
    it is given, each scored against the memory as it stands and then
    enqueued (released behaviour: the three pairs of one iteration each push
    their keys, so the second pair already sees the first pair's keys).
    ``L_r`` is the mean of the MSE of the (prediction, target) pairs.
    Every term is also returned under its own name (without ``loss`` in the
    key, so that logging shows it but it is not summed twice).

    Args:
        contrast_loss (dict): ``C2LNCELoss`` (released) or ``InfoNCELoss``.
        memory_size (int): Keys in the memory. Defaults to 16384.
        feat_dim (int): Key dimension. Defaults to 128.
        memory_init (str): See ``KeyMemory``. Defaults to ``'uniform'``.
        contrast_weight (float): Weight of ``L_c``. Defaults to 1.
        recon_weight (float): Weight of ``L_r``. Defaults to 1.
    """

    def __init__(self,
                 contrast_loss: dict = dict(type='C2LNCELoss'),
                 memory_size: int = 16384,
                 feat_dim: int = 128,
                 memory_init: str = 'uniform',
                 contrast_weight: float = 1.0,
                 recon_weight: float = 1.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.contrast_loss = MODELS.build(contrast_loss)
        self.memory = KeyMemory(memory_size, feat_dim, memory_init)
        self.contrast_weight = contrast_weight
        self.recon_weight = recon_weight

    def contrast(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """Contrastive loss of L2-normalised queries against their keys and
        the memory; then the keys are enqueued."""
        query, key = query.float(), key.detach().float()
        pos = (query * key).sum(1)
        neg = self.memory.similarities(query)
        loss = self.contrast_loss(pos, neg)
        self.memory.push(key)
        return loss

    def loss(self, contrast_pairs: Dict[str, Tuple[torch.Tensor,
                                                   torch.Tensor]],
             recon_pairs: Dict[str, Tuple[torch.Tensor, torch.Tensor]]
             ) -> Dict[str, torch.Tensor]:
        """Losses from named (query, key) and (prediction, target) pairs, in
        the order given (the memory is updated pair after pair)."""
        losses = {}
        contrast_terms = self._terms('nce', contrast_pairs, self.contrast)
        recon_terms = self._terms(
            'mse', recon_pairs,
            lambda pred, target: F.mse_loss(pred.float(), target.float()))
        for prefix, terms, weight in (('contrast', contrast_terms,
                                       self.contrast_weight),
                                      ('recon', recon_terms,
                                       self.recon_weight)):
            if not terms:
                continue
            total = torch.stack(list(terms.values())).mean()
            losses[f'loss_{prefix}'] = weight * total
            losses.update({k: v.detach() for k, v in terms.items()})
        return losses

    @staticmethod
    def _terms(prefix: str, pairs: Dict[str, Sequence[torch.Tensor]],
               fn) -> Dict[str, torch.Tensor]:
        return {f'{prefix}_{name}': fn(a, b) for name, (a, b) in pairs.items()}
