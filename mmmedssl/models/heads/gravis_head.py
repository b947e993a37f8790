# Copyright (c) mmmedssl contributors. All rights reserved.
import torch
from mmengine.model import BaseModule

from mmmedssl.registry import MODELS


@MODELS.register_module()
class GraVISHead(BaseModule):
    """Applies the grouping loss to view embeddings.

    Args:
        loss (dict): The loss config. Defaults to ``GraVISLoss`` with the
            released temperature 0.2.
    """

    def __init__(self,
                 loss: dict = dict(type='GraVISLoss', temperature=0.2),
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.loss_module = MODELS.build(loss)

    def loss(self, embeddings: torch.Tensor,
             group_ids: torch.Tensor) -> torch.Tensor:
        """``embeddings (N, d)`` of N views; ``group_ids (N,)`` their
        sources."""
        return self.loss_module(embeddings, group_ids)
