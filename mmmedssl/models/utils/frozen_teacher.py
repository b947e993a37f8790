# Copyright (c) mmmedssl contributors. All rights reserved.
import copy
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.runner.checkpoint import load_checkpoint

from mmmedssl.registry import MODELS
from .fold_bn import fold_batch_norms
from .memory import KeyMemory

#: What a teacher model must have (a :class:`MedMoCo` has all of it).
TEACHER_PARTS = ('backbone', 'neck', 'momentum_encoder', 'queue')


def _freeze_as_buffers(module: nn.Module) -> None:
    """Turn every parameter of ``module`` into a buffer of the same name.

    The state-dict keys stay the same (so checkpoints load), but the tensors
    are no longer parameters: no optimiser, DDP bucket or weight decay can
    reach them."""
    for sub in module.modules():
        for name, param in list(sub.named_parameters(recurse=False)):
            delattr(sub, name)
            sub.register_buffer(name, param.detach().requires_grad_(False))


def _channels_last(dim: int) -> torch.memory_format:
    return torch.channels_last_3d if dim == 5 else torch.channels_last


class FrozenTeacher(nn.Module):
    """A trained MoCo-style model (e.g. DistillingSelf's stage-A
    :class:`DistillingSelfTeacher`) as a fixed function for distillation.

    :meth:`load` builds the model from its config (``model``), loads a
    checkpoint strictly (mmmedssl's safe loader; files with older key names
    load through the model's ``legacy_keys``) and prepares it for inference:

    - its weights become buffers of the same names: no optimiser, DDP
      bucket or weight decay reaches them, and ``SyncFloatBuffersHook``
      skips them (``sync_buffers = False``);
    - it stays in eval mode and runs under ``torch.inference_mode``;
    - ``fold_bn``: BatchNorm is folded into the convolutions (the same
      function with fewer passes over the activations);
    - ``channels_last``: weights and inputs in channels-last memory format
      (faster inference convolutions with oneDNN and tensor cores; the same
      values up to float rounding);
    - when the momentum encoder's backbone equals the query backbone (frozen
      in stage A), one backbone pass on both views serves both encoders.

    Calling it gives the teacher's normalised query of view 1 and key of
    view 2. ``queue`` is the teacher's queue, a :class:`KeyMemory` seeded
    from the checkpoint; its user feeds it with the teacher's keys. The
    weights are left out of ``state_dict`` (they come from the checkpoint),
    the queue is kept: it changes during training and is needed to resume
    exactly.

    Args:
        model (dict): Model config of the teacher; it needs ``backbone``,
            ``neck``, ``momentum_encoder`` and a ``queue`` (a KeyMemory).
        channels_last (bool): Defaults to True.
        fold_bn (bool): Defaults to True.
    """

    def __init__(self,
                 model: dict,
                 channels_last: bool = True,
                 fold_bn: bool = True) -> None:
        super().__init__()
        self.model_cfg = copy.deepcopy(model)
        self.channels_last = channels_last
        self.fold_bn = fold_bn
        # An unloaded copy until load(): it gives the shapes.
        self.model = self._frozen(self._build())
        self.queue = KeyMemory(*self.model.queue.keys.shape, init='normal')
        self.loaded = False
        self.shared_backbone = False
        self._register_state_dict_hook(_drop_teacher_weights)

    def _build(self) -> nn.Module:
        model = MODELS.build(copy.deepcopy(self.model_cfg))
        missing = [name for name in TEACHER_PARTS if not hasattr(model, name)]
        if missing or not isinstance(model.queue, KeyMemory):
            raise TypeError(
                'FrozenTeacher: the teacher must be a MoCo-style model with '
                'backbone, neck, momentum_encoder and a KeyMemory queue (e.g. '
                f'DistillingSelfTeacher); {type(model).__name__} has '
                f'no {", ".join(missing or ["KeyMemory queue"])}.')
        # Its weights come from the checkpoint: init_weights must not
        # initialise it (nor read the public file its config names).
        model._is_init = True
        return model.eval()

    @staticmethod
    def _frozen(model: nn.Module) -> nn.Module:
        _freeze_as_buffers(model)
        # Identical on every rank: SyncFloatBuffersHook need not average it.
        model.sync_buffers = False
        return model

    def load(self, checkpoint: str) -> None:
        """Load the teacher from ``checkpoint`` (strictly), prepare it for
        inference and seed ``queue`` with its queue."""
        # A fresh copy: a loaded teacher has been folded and frozen.
        model = self._build()
        load_checkpoint(
            model, checkpoint, map_location='cpu', strict=True,
            logger='current')
        key_backbone = model.momentum_encoder.module[0]
        # The key backbone's weights are the EMA of the query backbone's;
        # when they are equal one backbone serves both views. Its BN
        # statistics then are the query backbone's (the key copy's differ by
        # one update from the last key batch of stage A).
        key_params = dict(key_backbone.named_parameters())
        shared = all(
            torch.equal(value, key_params[name])
            for name, value in model.backbone.named_parameters())
        folded = 0
        if self.fold_bn:
            folded = fold_batch_norms(model.backbone)
            if not shared:
                folded += fold_batch_norms(key_backbone)
        self.model = self._frozen(model.to(self.queue.keys.device))
        if self.channels_last:
            self.model.to(memory_format=_channels_last(
                max(b.dim() for b in self.model.buffers())))
        self.queue.keys.copy_(model.queue.keys)
        self.queue.ptr.copy_(model.queue.ptr)
        self.shared_backbone = shared
        self.loaded = True
        print_log(
            f'FrozenTeacher: loaded {checkpoint} (one backbone pass for both '
            f'views: {shared}; {folded} BatchNorms folded).',
            logger='current')

    def train(self, mode: bool = True) -> 'FrozenTeacher':
        # Frozen: BatchNorm keeps its statistics whatever the student does.
        return super().train(False)

    def forward(self, im_q: torch.Tensor,
                im_k: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The teacher's normalised query (view 1) and key (view 2)."""
        if not self.loaded:
            raise RuntimeError(
                'FrozenTeacher: the teacher has not been loaded; call '
                'load() (DistillingSelf.init_weights, which the Runner '
                'calls, does).')
        model = self.model
        key_backbone, key_neck = model.momentum_encoder.module
        if self.channels_last:
            layout = _channels_last(im_q.dim())
            im_q = im_q.contiguous(memory_format=layout)
            im_k = im_k.contiguous(memory_format=layout)
        with torch.inference_mode():
            if self.shared_backbone:
                feats = model.backbone(torch.cat([im_q, im_k]))
                n = im_q.shape[0]
                q = model.neck(tuple(f[:n] for f in feats))[0]
                k = key_neck(tuple(f[n:] for f in feats))[0]
            else:
                q = model.neck(model.backbone(im_q))[0]
                k = key_neck(key_backbone(im_k))[0]
            q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        # Clones made outside inference mode may be saved by autograd.
        return q.clone(), k.clone()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints of the user hold no teacher weights (they come from
        # the teacher's checkpoint): its current ones stand in for them.
        weights = self.model.state_dict(prefix=prefix + 'model.',
                                        keep_vars=True)
        for name, value in weights.items():
            state_dict.setdefault(name, value)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _drop_teacher_weights(module, state_dict, prefix, local_metadata):
    """State-dict hook: the teacher's weights are not part of its user's
    checkpoints, its queue is."""
    for key in [k for k in state_dict if k.startswith(prefix + 'model.')]:
        del state_dict[key]
    return state_dict
