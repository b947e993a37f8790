# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Dict

import torch
from mmengine.model import BaseModule

from mmmedssl.registry import MODELS


def _logits(pos: torch.Tensor, neg: torch.Tensor,
            temperature: float) -> torch.Tensor:
    """``[pos, neg] / T`` as a (B, 1 + K) float32 tensor; the positive
    similarity may be given as (B,) or (B, 1)."""
    pos = pos.reshape(-1, 1)
    if neg.dim() != 2 or neg.shape[0] != pos.shape[0]:
        raise ValueError(
            'DistillContrastiveHead: expected positive similarities (B,) or '
            f'(B, 1) and negative ones (B, K), got {tuple(pos.shape)} and '
            f'{tuple(neg.shape)}.')
    return torch.cat([pos, neg], dim=1).float() / temperature


@MODELS.register_module()
class DistillContrastiveHead(BaseModule):
    """MoCo's InfoNCE plus a distillation term over (1 + K)-way similarity
    distributions (DistillingSelf, stage B).

    The total is ``contrastive_weight * L_con + distill_weight * L_dis``
    with ``L_con`` the cross-entropy of the positive among the student's own
    ``[pos, neg] / T`` and ``L_dis = KL(p_teacher || p_student)`` where both
    distributions are softmaxes of ``[pos, neg] / T`` scored against the
    *same* keys and negatives. The released code computed
    ``2 * L_con + 5 * L_dis`` (a ``loss += loss + ...`` slip); set the two
    weights to 2 and 5 to reproduce it.

    Args:
        loss_contrast (dict): Cross-entropy over logits with target 0.
            Defaults to ``CrossEntropyLoss``.
        loss_distill (dict): Defaults to ``DistillKLLoss``.
        temperature (float): T, shared by both terms. Defaults to 0.2.
        contrastive_weight (float): Defaults to 1.
        distill_weight (float): Defaults to 1.
    """

    def __init__(self,
                 loss_contrast: dict = dict(type='CrossEntropyLoss'),
                 loss_distill: dict = dict(type='DistillKLLoss'),
                 temperature: float = 0.2,
                 contrastive_weight: float = 1.0,
                 distill_weight: float = 1.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if temperature <= 0:
            raise ValueError('DistillContrastiveHead: temperature must be > '
                             f'0, got {temperature}.')
        self.loss_contrast = MODELS.build(loss_contrast)
        self.loss_distill = MODELS.build(loss_distill)
        self.temperature = temperature
        self.contrastive_weight = contrastive_weight
        self.distill_weight = distill_weight

    def loss(self, pos: torch.Tensor, neg: torch.Tensor,
             student_pos: torch.Tensor, student_neg: torch.Tensor,
             teacher_pos: torch.Tensor,
             teacher_neg: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Loss terms.

        Args:
            pos, neg: The student's similarities with its own key (B,) or
                (B, 1) and its own queue (B, K): the contrastive term.
            student_pos, student_neg: The student's similarities with the
                keys the distillation scores against.
            teacher_pos, teacher_neg: The teacher's similarities with the
                same keys, column for column.

        Returns:
            dict: ``loss_contrast`` and ``loss_distill``, each weighted.
        """
        logits = _logits(pos, neg, self.temperature)
        target = torch.zeros(
            logits.shape[0], dtype=torch.long, device=logits.device)
        student = _logits(student_pos, student_neg, self.temperature)
        teacher = _logits(teacher_pos, teacher_neg, self.temperature)
        if student.shape != teacher.shape:
            raise ValueError(
                'DistillContrastiveHead: the student and the teacher must be '
                'scored against the same keys, got student logits '
                f'{tuple(student.shape)} and teacher logits '
                f'{tuple(teacher.shape)}.')
        return dict(
            loss_contrast=self.contrastive_weight *
            self.loss_contrast(logits, target),
            loss_distill=self.distill_weight *
            self.loss_distill(student, teacher))
