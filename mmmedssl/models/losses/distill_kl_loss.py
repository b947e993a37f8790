# Copyright (c) mmmedssl contributors. All rights reserved.
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmedssl.registry import MODELS


@MODELS.register_module()
class DistillKLLoss(nn.Module):
    """KL divergence ``KL(softmax(teacher) || softmax(student))`` between two
    sets of logits, summed over classes and averaged over the batch (torch's
    ``'batchmean'``): the DistillingSelf / SEED distillation term.

    Computed in float32 from log-probabilities on both sides, so a teacher
    probability that underflows to 0 still contributes exactly 0.

    Args:
        temperature (float): Extra temperature dividing both logits.
            DistillingSelf uses 1 (its logits already carry the contrastive
            temperature). Defaults to 1.
        loss_weight (float): Defaults to 1.
    """

    def __init__(self, temperature: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(
                f'DistillKLLoss: temperature must be > 0, got {temperature}.')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, student_logits: torch.Tensor,
                teacher_logits: torch.Tensor) -> torch.Tensor:
        if (student_logits.dim() != 2
                or student_logits.shape != teacher_logits.shape):
            raise ValueError(
                'DistillKLLoss: student and teacher logits must both be '
                '(B, C) with the same shape, got '
                f'{tuple(student_logits.shape)} and '
                f'{tuple(teacher_logits.shape)}.')
        log_p_student = F.log_softmax(
            student_logits.float() / self.temperature, dim=1)
        log_p_teacher = F.log_softmax(
            teacher_logits.float().detach() / self.temperature, dim=1)
        loss = F.kl_div(
            log_p_student, log_p_teacher, reduction='batchmean',
            log_target=True)
        return self.loss_weight * loss
