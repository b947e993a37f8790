# Copyright (c) mmmedssl contributors. All rights reserved.
"""DistillingSelf (Ding et al., MICCAI 2022): a semantic-preserving teacher
made from a public generic model (stage A), distilled into a MoCo v2 student
(stage B)."""
import os.path as osp
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmpretrain.structures import DataSample

from mmmedssl.models.utils import FrozenTeacher, require_views
from mmmedssl.registry import MODELS
from .base import LegacyKey, collapse_stats
from .moco import MedMoCo

_BN_TYPES = (nn.modules.batchnorm._BatchNorm, )


def _batch_norms(module: nn.Module) -> List[nn.Module]:
    return [m for m in module.modules() if isinstance(m, _BN_TYPES)]


@MODELS.register_module()
class DistillingSelfTeacher(MedMoCo):
    """Stage A of DistillingSelf: MoCo v2 on a frozen public backbone.

    The backbone starts from a public generic model (give it an
    ``init_cfg=dict(type='Pretrained', checkpoint=..., converter=...)``) and
    its parameters never change: only the projection neck learns, with the
    MoCo v2 objective, so the embedding keeps the public model's semantics
    but is organised for the target domain. The momentum encoder's backbone
    is the EMA of a constant, hence bit-identical to the query backbone.

    Args:
        freeze_backbone (bool): Keep the backbone's parameters fixed (no
            gradient, so no graph is built through it either). False gives
            an ordinary MoCo v2. Defaults to True.
        bn_stats (str): What the backbone's BatchNorm layers do.
            ``'reestimate'`` (released): running statistics are reset after
            the public weights are loaded and re-estimated on the target
            domain; training forwards use batch statistics. ``'frozen'``:
            BatchNorm stays in eval mode with the public model's statistics,
            the whole backbone is a fixed function. Defaults to
            ``'reestimate'``.
        **kwargs: As for :class:`MedMoCo` (``backbone``, ``neck``, ``head``,
            ``queue_len``, ``feat_dim``, ``momentum``...).
    """

    def __init__(self,
                 *args,
                 freeze_backbone: bool = True,
                 bn_stats: str = 'reestimate',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if bn_stats not in ('reestimate', 'frozen'):
            raise ValueError("DistillingSelfTeacher: bn_stats must be "
                             f"'reestimate' or 'frozen', got {bn_stats!r}.")
        self.freeze_backbone = freeze_backbone
        self.bn_stats = bn_stats
        if freeze_backbone:
            self.backbone.requires_grad_(False)

    def init_weights(self) -> None:
        super().init_weights()
        if self.bn_stats == 'reestimate':
            # The released code copied only parameters from the public
            # model, so its statistics started from scratch on the frames.
            for bn in _batch_norms(self.backbone):
                bn.reset_running_stats()

    def train(self, mode: bool = True) -> 'DistillingSelfTeacher':
        super().train(mode)
        if self.bn_stats == 'frozen':
            for bn in (_batch_norms(self.backbone) +
                       _batch_norms(self.momentum_encoder.module[0])):
                bn.eval()
        return self


@MODELS.register_module()
class DistillingSelf(MedMoCo):
    """Stage B of DistillingSelf: a fresh MoCo v2 student trained with
    ``contrastive_weight * L_con + distill_weight * KL(teacher || student)``.

    ``L_con`` is MoCo's InfoNCE of the student's query against its own key
    and queue. The distillation term compares (1 + K)-way distributions
    ``softmax([q.k, q.n_1, ..., q.n_K] / T)`` of the teacher and the student
    on the same views, and both are scored against the *same* keys:

    - ``negatives='teacher'`` (default, as in SEED): the teacher's key of
      view 2 and the teacher's queue, for both the teacher's query and the
      student's query.
    - ``negatives='own'`` (released): each model against its own key and
      queue. The two queues are not index-aligned (the teacher's starts from
      its stage-A state), so column j may refer to different images in the
      two distributions; kept to reproduce the released runs.

    The teacher is the stage-A model (``teacher``: its model config, e.g. a
    :class:`DistillingSelfTeacher` or :class:`MedMoCo`) in a
    :class:`FrozenTeacher`, loaded from ``teacher_checkpoint`` by
    :meth:`init_weights` (the Runner calls it before training or resuming):
    frozen, in eval mode, BatchNorm folded, channels-last, and left out of
    this model's ``state_dict``. Student checkpoints hold the student and
    the teacher's queue (``teacher.queue``), which the teacher's keys feed.

    Args:
        backbone, neck, head: The student (``head`` is a
            :class:`DistillContrastiveHead`).
        teacher (dict): Model config of the stage-A teacher.
        teacher_checkpoint (str): The stage-A checkpoint, its
            ``last_checkpoint`` pointer or its work dir.
        negatives (str): ``'teacher'`` or ``'own'``, see above.
        teacher_channels_last (bool): Run the teacher in channels-last
            memory format. Defaults to True.
        teacher_fold_bn (bool): Fold the teacher's BatchNorm layers into its
            convolutions. Defaults to True.
        queue_len, feat_dim, momentum: The student's MoCo settings
            (``momentum`` in mmengine's convention: 0.001 = the paper's
            0.999).
    """

    # Before the FrozenTeacher, the teacher's queue was ``teacher_queue``.
    legacy_keys = MedMoCo.legacy_keys + (
        LegacyKey('teacher_queue.', 'teacher.queue.'), )

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 teacher: dict,
                 teacher_checkpoint: Optional[str] = None,
                 negatives: str = 'teacher',
                 teacher_channels_last: bool = True,
                 teacher_fold_bn: bool = True,
                 queue_len: int = 2048,
                 feat_dim: int = 128,
                 momentum: float = 0.001,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            queue_len=queue_len,
            feat_dim=feat_dim,
            momentum=momentum,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if negatives not in ('teacher', 'own'):
            raise ValueError("DistillingSelf: negatives must be 'teacher' or "
                             f"'own', got {negatives!r}.")
        self.negatives = negatives
        self.teacher_checkpoint = teacher_checkpoint
        self.teacher = FrozenTeacher(
            teacher,
            channels_last=teacher_channels_last,
            fold_bn=teacher_fold_bn)
        teacher_len, teacher_dim = self.teacher.queue.keys.shape
        if negatives == 'teacher' and teacher_dim != feat_dim:
            raise ValueError(
                "DistillingSelf: with negatives='teacher' the student is "
                "scored against the teacher's keys, so feat_dim must equal "
                f"the teacher's ({teacher_dim}), got {feat_dim}.")
        if negatives == 'own' and teacher_len != queue_len:
            raise ValueError(
                "DistillingSelf: with negatives='own' both distributions "
                'need the same number of negatives; the teacher queue has '
                f'{teacher_len} keys, the student queue_len is {queue_len}.')

    def init_weights(self) -> None:
        super().init_weights()
        self.load_teacher()

    def load_teacher(self, checkpoint: Optional[str] = None) -> None:
        """Load the stage-A teacher from ``checkpoint`` (default:
        ``teacher_checkpoint``); see :meth:`FrozenTeacher.load`."""
        checkpoint = checkpoint or self.teacher_checkpoint
        if not checkpoint:
            raise ValueError(
                'DistillingSelf: set model.teacher_checkpoint to the stage-A '
                'checkpoint (see configs/distillingself/README.md).')
        checkpoint = osp.expanduser(checkpoint)
        if osp.basename(checkpoint) == 'last_checkpoint' or osp.isdir(
                checkpoint):
            # Stage A's last epoch depends on the data (data_size_recipe):
            # its work dir or last_checkpoint pointer names it.
            from mmmedssl.engine.checkpoints import resolve_checkpoint
            checkpoint = resolve_checkpoint(checkpoint)
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'DistillingSelf: teacher checkpoint {checkpoint} does not '
                'exist. Train stage A first (tools/train.py with a '
                'configs/distillingself/distillingself-teacher_*.py config) '
                'and set model.teacher_checkpoint to its epoch_N.pth.')
        self.teacher.load(checkpoint)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        require_views(inputs, 'DistillingSelf')
        im_q, im_k = inputs[0], inputs[1]
        q_t, k_t = self.teacher(im_q, im_k)  # raises if not loaded yet
        q = self.query(im_q)
        k = self.momentum_keys(im_k)

        pos, neg = (q * k).sum(1), self.queue_similarities(q)
        teacher_queue = self.teacher.queue.keys.clone()  # (K, dim)
        teacher_pos = (q_t * k_t).sum(1)
        teacher_neg = q_t @ teacher_queue.t()
        if self.negatives == 'teacher':
            student_pos = (q * k_t).sum(1)
            student_neg = q @ teacher_queue.t()
        else:
            student_pos, student_neg = pos, neg
        losses = self.head.loss(pos, neg, student_pos, student_neg,
                                teacher_pos, teacher_neg)
        self.queue.push(k)
        self.teacher.queue.push(k_t)
        # Monitoring only (no gradient): the student's embeddings and its
        # InfoNCE term (unweighted), the key among its own queue's
        # negatives and the positive.
        weight = self.head.contrastive_weight
        contrast = losses['loss_contrast'].detach() / weight \
            if weight else None
        losses.update(
            collapse_stats(q, contrast, self.queue.keys.shape[0] + 1))
        return losses
