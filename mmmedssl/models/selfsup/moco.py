# Copyright (c) mmmedssl contributors. All rights reserved.
from mmpretrain.models.selfsup import MoCo

from mmmedssl.registry import MODELS
from .base import BaseMedSelfSupervisor


@MODELS.register_module()
class MedMoCo(MoCo, BaseMedSelfSupervisor):
    """mmpretrain's MoCo (v1/v2) with mmmedssl's data preprocessor and
    ``'predict'`` mode.

    The training objective is mmpretrain's, unchanged: queries from view 1,
    keys from the momentum encoder on view 2 (batch-shuffled across ranks),
    InfoNCE against a queue of ``queue_len`` keys. ``momentum`` follows
    mmengine's convention: the weight of the *new* value (0.001 is the
    paper's 0.999). MoCo v2 is this class with ``MoCoV2Neck`` and the v2
    augmentations (see ``configs/mocov2``).
    """
