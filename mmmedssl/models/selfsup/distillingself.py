# Copyright (c) mmmedssl contributors. All rights reserved.
"""DistillingSelf (Ding et al., MICCAI 2022): a semantic-preserving teacher
made from a public generic model (stage A), distilled into a MoCo v2 student
(stage B)."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.runner.checkpoint import load_checkpoint
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.structures import DataSample

from mmmedssl.models.utils import KeyMemory, fold_batch_norms
from mmmedssl.registry import MODELS
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
                       _batch_norms(self.encoder_k.module[0])):
                bn.eval()
        return self


def _freeze_as_buffers(module: nn.Module) -> None:
    """Turn every parameter of ``module`` into a buffer of the same name.

    The state-dict keys stay the same (so checkpoints load), but the tensors
    are no longer parameters: no optimiser, DDP bucket or weight decay can
    reach them."""
    for sub in module.modules():
        for name, param in list(sub.named_parameters(recurse=False)):
            delattr(sub, name)
            sub.register_buffer(name, param.detach().requires_grad_(False))


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
    :class:`DistillingSelfTeacher` or :class:`MedMoCo`), loaded from
    ``teacher_checkpoint`` by :meth:`init_weights` (the Runner calls it
    before training or resuming). Its weights become buffers, it stays in
    eval mode and runs under ``torch.inference_mode`` (BatchNorm folded into
    the convolutions, channels-last by default), and its weights are left out
    of this model's ``state_dict``: student checkpoints hold the student
    only, plus the teacher's queue (``teacher_queue``), which changes during
    training and is needed to resume exactly. When the teacher's query and
    key backbones are identical (a frozen stage-A backbone), one backbone
    pass on both views serves both teacher encoders.

    Args:
        backbone, neck, head: The student (``head`` is a
            :class:`DistillContrastiveHead`).
        teacher (dict): Model config of the stage-A teacher; it needs
            ``backbone``, ``neck``, ``encoder_k`` and ``queue``.
        teacher_checkpoint (str): The stage-A checkpoint.
        negatives (str): ``'teacher'`` or ``'own'``, see above.
        teacher_channels_last (bool): Run the teacher in channels-last
            memory format (its weights and inputs), which makes inference
            convolutions faster on CPUs (oneDNN) and on tensor-core GPUs.
            The values are unchanged up to float rounding. Defaults to True.
        teacher_fold_bn (bool): Fold the teacher backbone's BatchNorm layers
            (eval mode, frozen statistics) into the preceding convolutions:
            the same function with fewer passes over the activations.
            Defaults to True.
        queue_len, feat_dim, momentum: The student's MoCo settings
            (``momentum`` in mmengine's convention: 0.001 = the paper's
            0.999).
    """

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
        self.teacher_channels_last = teacher_channels_last
        self.teacher_fold_bn = teacher_fold_bn
        self.teacher_checkpoint = teacher_checkpoint
        self._teacher_cfg = copy.deepcopy(teacher)
        self.teacher = self._build_teacher()
        teacher_dim, teacher_len = self.teacher.queue.shape
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
        self._freeze_teacher()
        self.teacher_queue = KeyMemory(teacher_len, teacher_dim, 'normal')
        self._teacher_loaded = False
        self._shared_teacher_backbone = False
        self._register_state_dict_hook(_drop_teacher_weights)
        self.register_load_state_dict_post_hook(_ignore_missing_teacher)

    def init_weights(self) -> None:
        super().init_weights()
        self.load_teacher()

    def _build_teacher(self) -> nn.Module:
        teacher = MODELS.build(copy.deepcopy(self._teacher_cfg))
        missing = [
            name for name in ('backbone', 'neck', 'encoder_k', 'queue')
            if not hasattr(teacher, name)
        ]
        if missing:
            raise TypeError(
                'DistillingSelf: the teacher must be a MoCo-style model with '
                'backbone, neck, encoder_k and queue (e.g. '
                f'DistillingSelfTeacher); {type(teacher).__name__} has '
                f'no {", ".join(missing)}.')
        # Its weights come from teacher_checkpoint: init_weights must not
        # initialise it (nor read the public file its config names).
        teacher._is_init = True
        return teacher.eval()

    def _freeze_teacher(self) -> None:
        _freeze_as_buffers(self.teacher)
        # Identical on every rank: SyncFloatBuffersHook need not average it.
        self.teacher.sync_buffers = False

    def load_teacher(self, checkpoint: Optional[str] = None) -> None:
        """Load the stage-A teacher (strictly), prepare it for inference and
        seed ``teacher_queue`` with its queue."""
        checkpoint = checkpoint or self.teacher_checkpoint
        if not checkpoint:
            raise ValueError(
                'DistillingSelf: set model.teacher_checkpoint to the stage-A '
                'checkpoint (see configs/distillingself/README.md).')
        if not osp.isfile(osp.expanduser(checkpoint)):
            raise FileNotFoundError(
                f'DistillingSelf: teacher checkpoint {checkpoint} does not '
                'exist. Train stage A first (tools/train.py with a '
                'configs/distillingself/distillingself-teacher_*.py config) '
                'and set model.teacher_checkpoint to its epoch_N.pth.')
        # A fresh copy: a loaded teacher has been folded and frozen.
        teacher = self._build_teacher()
        load_checkpoint(
            teacher, checkpoint, map_location='cpu', strict=True,
            logger='current')
        # The key backbone's weights are the EMA of the query backbone's; when
        # they are equal (frozen in stage A) one backbone serves both views.
        # Its BN statistics then are the query backbone's (the key copy's
        # differ by one update from the last key batch of stage A).
        key_backbone = dict(teacher.encoder_k.module[0].named_parameters())
        shared = all(
            torch.equal(value, key_backbone[name])
            for name, value in teacher.backbone.named_parameters())
        folded = 0
        if self.teacher_fold_bn:
            folded = fold_batch_norms(teacher.backbone)
            if not shared:
                folded += fold_batch_norms(teacher.encoder_k.module[0])
        device = self.queue.device
        self.teacher = teacher.to(device)
        self._freeze_teacher()
        if self.teacher_channels_last:
            self.teacher.to(memory_format=self._teacher_format(
                max(b.dim() for b in teacher.buffers())))
        self.teacher_queue.keys.copy_(teacher.queue.t())
        self.teacher_queue.ptr.copy_(teacher.queue_ptr)
        self._shared_teacher_backbone = shared
        self._teacher_loaded = True
        print_log(
            f'DistillingSelf: teacher loaded from {checkpoint} (one backbone '
            f'pass for both views: {shared}; {folded} BatchNorms folded).',
            logger='current')

    def train(self, mode: bool = True) -> 'DistillingSelf':
        super().train(mode)
        self.teacher.eval()
        return self

    @staticmethod
    def _teacher_format(dim: int) -> torch.memory_format:
        return torch.channels_last_3d if dim == 5 else torch.channels_last

    def _teacher_embeddings(
            self, im_q: torch.Tensor,
            im_k: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The teacher's normalised query (view 1) and key (view 2)."""
        teacher = self.teacher
        key_neck = teacher.encoder_k.module[1]
        if self.teacher_channels_last:
            layout = self._teacher_format(im_q.dim())
            im_q = im_q.contiguous(memory_format=layout)
            im_k = im_k.contiguous(memory_format=layout)
        with torch.inference_mode():
            if self._shared_teacher_backbone:
                feats = teacher.backbone(torch.cat([im_q, im_k]))
                n = im_q.shape[0]
                q = teacher.neck(tuple(f[:n] for f in feats))[0]
                k = key_neck(tuple(f[n:] for f in feats))[0]
            else:
                q = teacher.neck(teacher.backbone(im_q))[0]
                k = key_neck(teacher.encoder_k.module[0](im_k))[0]
            q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        # Clones made outside inference mode may be saved by autograd.
        return q.clone(), k.clone()

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        if not self._teacher_loaded:
            raise RuntimeError(
                'DistillingSelf: the teacher has not been loaded; call '
                'init_weights() (the Runner does) or load_teacher().')
        im_q, im_k = inputs[0], inputs[1]
        q = F.normalize(self.neck(self.backbone(im_q))[0], dim=1)
        with torch.no_grad():
            self.encoder_k.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            shuffled, unshuffle = batch_shuffle_ddp(im_k)
            k = F.normalize(self.encoder_k(shuffled)[0], dim=1)
            k = batch_unshuffle_ddp(k, unshuffle)
        q_t, k_t = self._teacher_embeddings(im_q, im_k)

        queue = self.queue.clone().detach()
        teacher_queue = self.teacher_queue.keys.clone()
        pos = (q * k).sum(1)
        neg = q @ queue
        teacher_pos = (q_t * k_t).sum(1)
        teacher_neg = q_t @ teacher_queue.t()
        if self.negatives == 'teacher':
            student_pos = (q * k_t).sum(1)
            student_neg = q @ teacher_queue.t()
        else:
            student_pos, student_neg = pos, neg
        losses = self.head.loss(pos, neg, student_pos, student_neg,
                                teacher_pos, teacher_neg)
        self._dequeue_and_enqueue(k)
        self.teacher_queue.push(k_t)
        return losses


def _drop_teacher_weights(module, state_dict, prefix, local_metadata):
    """State-dict hook: the teacher's weights are not part of the student."""
    for key in [k for k in state_dict if k.startswith(prefix + 'teacher.')]:
        del state_dict[key]
    return state_dict


def _ignore_missing_teacher(module, incompatible_keys):
    """Load hook: student checkpoints have no teacher keys by design."""
    keys = incompatible_keys.missing_keys
    keys[:] = [k for k in keys if '.teacher.' not in '.' + k]
