# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import get_world_size
from mmengine.model import ExponentialMovingAverage
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.structures import DataSample

from mmmedssl.models.losses import InfoNCELoss
from mmmedssl.registry import MODELS
from .base import BaseMedSelfSupervisor, collapse_stats

Features = Tuple[torch.Tensor, ...]
Pairs = Dict[str, Tuple[torch.Tensor, torch.Tensor]]

#: Order of the tensors a PCRL sample carries (``PCRLViews``); the two
#: transformation targets are optional (built here from the codes).
VIEW_ORDER = ('input1', 'input2', 'clean1', 'clean2', 'target1', 'target2')


def flip_rot90(batch: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Apply transformation codes to a batch ``(B, C, *spatial)``.

    Code ``[flip_0, ..., flip_{S-1}, onehot(k)]`` (``RandomFlipRot90``):
    flip each spatial axis whose bit is set, then rotate by ``k * 90``
    degrees from the first spatial axis towards the second, as
    ``RandomFlipRot90`` does to one image.
    """
    spatial = batch.dim() - 2
    if codes.shape != (batch.shape[0], spatial + 4):
        raise ValueError(
            f'flip_rot90: expected codes shaped ({batch.shape[0]}, '
            f'{spatial + 4}) for a batch {tuple(batch.shape)}, got '
            f'{tuple(codes.shape)}.')
    out = []
    for img, code in zip(batch, codes.detach().cpu().tolist()):
        dims = [1 + i for i in range(spatial) if code[i] > 0.5]
        if dims:
            img = img.flip(dims)
        k = max(range(4), key=lambda j: code[spatial + j])
        if k:
            img = torch.rot90(img, k, dims=(1, 2))
        out.append(img)
    return torch.stack(out)


class PCRLViewBatch(NamedTuple):
    """One batch of PCRL views (see ``VIEW_ORDER``) and their codes."""
    x1: torch.Tensor
    x2: torch.Tensor
    clean1: torch.Tensor
    clean2: torch.Tensor
    target1: torch.Tensor
    target2: torch.Tensor
    code1: torch.Tensor
    code2: torch.Tensor


class PCRLBranches(NamedTuple):
    """What one forward of the PCRL branches gives the head and pictures."""
    contrast_pairs: Pairs
    recon_pairs: Pairs
    recon_inputs: Dict[str, torch.Tensor]
    query: torch.Tensor  # the student's projection of x1, not normalised


def _blend(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor],
           alpha: float) -> List[torch.Tensor]:
    return [alpha * x + (1 - alpha) * y for x, y in zip(a, b)]


@MODELS.register_module()
class PCRL(BaseMedSelfSupervisor):
    """Preservational Contrastive Representation Learning (Zhou et al.,
    ICCV 2021), 2D and 3D.

    Per iteration, with views x1, x2 of one image, their clean crops g1, g2,
    transformed targets m1, m2 and transformation codes a1, a2 (the
    targets come with the data, or are built here from x1, x2 and the codes
    with ``flip_rot90`` when the pipeline only drew the codes):

    1. momentum encoder on x2 -> key k and features F_t;
    2. student encoder on x1 -> query q and features F_s; the gate turns
       a1, a2 into channel weights g(a1), g(a2) for the bottlenecks;
       ordinary reconstruction ``D(F_s with g(a1) s5)`` of m1 and hybrid
       reconstruction ``D(alpha1 [F_s, g(a1) s5] + (1 - alpha1) [F_t,
       g(a2) t5])`` of ``alpha1 m1 + (1 - alpha1) m2``;
    3. mixup with one lambda and one permutation for every mixed tensor:
       x~1, x~2, g~1, g~2 and the mixed key k- (from the raw projections);
       momentum encoder on x~2 -> k~, F~_t; student on x~1 -> q~, F~_s,
       reconstructions of g~1 (plain) and ``alpha2 g~1 + (1 - alpha2) g~2``
       (hybrid with F~_t, no gating);
    4. ``L_c`` = mean of the memory NCE losses of (q, k), (q~, k~), (q~, k-);
       ``L_r`` = mean of the four MSE terms (``PCRLHead``).

    ``loss`` also logs ``embed_std`` of the plain queries, and with
    ``InfoNCELoss`` ``contrast_vs_chance`` of ``nce_plain``
    (``collapse_stats``; not summed into the loss). ``reconstructions``
    gives the four reconstructions of a batch without training
    (``PCRLReconVisHook``).

    lambda and the alphas are ``max(u, 1 - u)`` with ``u ~ Beta(b, b)``
    (b = 1: uniform on [0.5, 1]), drawn with torch's generator so that a
    resumed run draws the same values. The momentum encoder (backbone +
    projection, EMA of the student, BatchNorm on batch statistics) runs
    under ``no_grad``; under DDP its batch is shuffled across ranks
    (Shuffle-BN), in one process shuffling would change nothing and is
    skipped.

    Args:
        backbone (dict): Encoder returning every scale, shallow to deep
            (``ResNetWithStem`` in 2D, ``UNet3DEncoder`` in 3D).
        neck (dict): ``PCRLNeck`` (projection + transformation gate).
        decoder (dict): ``UNetDecoder``.
        head (dict): ``PCRLHead``.
        momentum (float): Weight of the *new* value in the EMA update
            (mmengine's convention: 0.001 is the paper's 0.999).
        mix_beta (float): Parameter of the Beta distribution of lambda and
            the alphas. Defaults to 1.
        shuffle_bn (bool): Shuffle the momentum encoder's batch across ranks
            under DDP. Defaults to True.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 decoder: dict,
                 head: dict,
                 momentum: float = 0.001,
                 mix_beta: float = 1.0,
                 shuffle_bn: bool = True,
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
        if mix_beta <= 0:
            raise ValueError(f'PCRL: mix_beta must be > 0, got {mix_beta}.')
        self.decoder = MODELS.build(decoder)
        self.momentum_encoder = ExponentialMovingAverage(
            nn.Sequential(self.backbone, self.neck), momentum)
        self.mix_beta = mix_beta
        self.shuffle_bn = shuffle_bn

    # -- pieces -----------------------------------------------------------
    def _draw_weight(self) -> float:
        """max(u, 1 - u), u ~ Beta(b, b)."""
        if self.mix_beta == 1.0:
            u = float(torch.rand(()))
        else:
            b = torch.tensor(float(self.mix_beta))
            u = float(torch.distributions.Beta(b, b).sample())
        return max(u, 1. - u)

    def _encode(self, x: torch.Tensor) -> Tuple[Features, torch.Tensor]:
        feats = self.backbone(x)
        return feats, self.neck([feats[-1]])[0]

    @torch.no_grad()
    def _encode_momentum(self, x: torch.Tensor
                         ) -> Tuple[Features, torch.Tensor]:
        encoder, projection = self.momentum_encoder.module
        shuffle = self.shuffle_bn and get_world_size() > 1
        if shuffle:
            x, restore = batch_shuffle_ddp(x)
        feats = encoder(x)
        key = projection([feats[-1]])[0]
        if shuffle:
            feats = tuple(batch_unshuffle_ddp(f, restore) for f in feats)
            key = batch_unshuffle_ddp(key, restore)
        return feats, key

    def _gate(self, feats: Features, weights: torch.Tensor) -> List:
        shape = weights.shape + (1, ) * (feats[-1].dim() - 2)
        return list(feats[:-1]) + [feats[-1] * weights.view(shape)]

    def _codes(self, data_samples: List[DataSample],
               device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        try:
            codes = [torch.as_tensor(np.asarray(s.aug_code))
                     for s in data_samples]
        except AttributeError:
            raise KeyError(
                'PCRL: data samples carry no `aug_code`; the train pipeline '
                "needs PCRLViews and PackMedInputs(algorithm_keys="
                "['aug_code']).") from None
        codes = torch.stack(codes).to(device=device, dtype=torch.float32)
        if codes.dim() != 3 or codes.shape[1] != 2:
            raise ValueError('PCRL: each sample needs one code per view, '
                             f'shaped (2, code_dim); got {tuple(codes.shape)}.')
        return codes[:, 0], codes[:, 1]

    def _views(self, inputs: List[torch.Tensor],
               data_samples: List[DataSample]) -> PCRLViewBatch:
        """Check the inputs; build the targets from the codes when the
        pipeline gave only 4 tensors."""
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (4,
                                                                         6):
            got = len(inputs) if isinstance(inputs, (list, tuple)) else 1
            raise ValueError(
                f'PCRL needs 6 tensors per sample {VIEW_ORDER}, or the first '
                f'4 (PCRLViews), got {got}.')
        x1, x2, clean1, clean2 = inputs[:4]
        code1, code2 = self._codes(data_samples, x1.device)
        if len(inputs) == 6:
            target1, target2 = inputs[4:]
        else:
            target1, target2 = flip_rot90(x1, code1), flip_rot90(x2, code2)
        return PCRLViewBatch(x1, x2, clean1, clean2, target1, target2, code1,
                             code2)

    def _branches(self, views: PCRLViewBatch) -> PCRLBranches:
        """Every forward of one iteration after the momentum update: the
        (query, key) pairs of the contrastive terms and the (prediction,
        target) pairs of the four reconstructions, in the order the head
        takes them. Draws alpha1, lambda, the permutation and alpha2 from
        torch's generator, in that order."""
        x1, x2, clean1, clean2, target1, target2, code1, code2 = views

        # Ordinary and hybrid reconstructions of the transformed views.
        feats_t, key_raw = self._encode_momentum(x2)
        feats_s, query = self._encode(x1)
        alpha1 = self._draw_weight()
        gated_s = self._gate(feats_s, self.neck.gate(code1))
        gated_t = self._gate(feats_t, self.neck.gate(code2))
        rec_ordinary = self.decoder(gated_s)
        rec_hybrid = self.decoder(_blend(gated_s, gated_t, alpha1))

        # Mixup: one lambda and one permutation for every mixed tensor.
        lam = self._draw_weight()
        perm = torch.randperm(x1.shape[0], device=x1.device)

        def mix(t: torch.Tensor) -> torch.Tensor:
            return lam * t + (1 - lam) * t[perm]

        feats_mt, key_mix = self._encode_momentum(mix(x2))
        x1_mix = mix(x1)
        feats_ms, query_mix = self._encode(x1_mix)
        alpha2 = self._draw_weight()
        rec_mix = self.decoder(feats_ms)
        rec_mix_hybrid = self.decoder(_blend(feats_ms, feats_mt, alpha2))
        clean1_mix, clean2_mix = mix(clean1), mix(clean2)

        normalize = F.normalize
        query_mix = normalize(query_mix, dim=1)
        return PCRLBranches(
            contrast_pairs=dict(
                plain=(normalize(query, dim=1), normalize(key_raw, dim=1)),
                mixup=(query_mix, normalize(key_mix, dim=1)),
                mixed_key=(query_mix, normalize(mix(key_raw), dim=1))),
            recon_pairs=dict(
                ordinary=(rec_ordinary, target1),
                mixup=(rec_mix, clean1_mix),
                hybrid=(rec_hybrid,
                        alpha1 * target1 + (1 - alpha1) * target2),
                mixup_hybrid=(rec_mix_hybrid, alpha2 * clean1_mix +
                              (1 - alpha2) * clean2_mix)),
            # The student's input of each reconstruction (the hybrids also
            # take the momentum encoder's features of x2 / mixed x2).
            recon_inputs=dict(ordinary=x1, mixup=x1_mix, hybrid=x1,
                              mixup_hybrid=x1_mix),
            query=query)

    def _collapse_stats(self, query: torch.Tensor,
                        losses: Dict[str, torch.Tensor]
                        ) -> Dict[str, torch.Tensor]:
        # ln(memory + 1) is the chance level of a softmax over the
        # candidates (InfoNCE); the C2L NCE's binary terms have another, so
        # only the embedding spread is logged with it.
        contrast_loss = self.head.contrast_loss
        plain = None
        if isinstance(contrast_loss, InfoNCELoss) and \
                contrast_loss.loss_weight > 0 and 'nce_plain' in losses:
            plain = losses['nce_plain'] / contrast_loss.loss_weight
        return collapse_stats(query, plain, self.head.memory.size + 1)

    # -- training ---------------------------------------------------------
    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        views = self._views(inputs, data_samples)
        with torch.no_grad():
            self.momentum_encoder.update_parameters(
                nn.Sequential(self.backbone, self.neck))
        branches = self._branches(views)
        losses = self.head.loss(contrast_pairs=branches.contrast_pairs,
                                recon_pairs=branches.recon_pairs)
        # Logged beside the terms (no 'loss' in their names: not summed).
        losses.update(self._collapse_stats(branches.query, losses))
        return losses

    # -- pictures ---------------------------------------------------------
    @torch.no_grad()
    def reconstructions(self, inputs: List[torch.Tensor],
                        data_samples: List[DataSample]
                        ) -> Dict[str, Dict[str, torch.Tensor]]:
        """The four reconstructions of a preprocessed batch, as ``loss``
        computes them, without training anything.

        Runs the forward of ``loss`` in the model's current mode but skips
        the momentum update and the memory, and puts the BatchNorm running
        statistics (every buffer outside the head) back afterwards, so the
        model is left as it was. It draws from torch's generator as
        ``loss`` does: save and restore the RNG states around it to keep a
        run reproducible (``PCRLReconVisHook`` does).

        Returns:
            dict: For each branch (``ordinary``, ``mixup``, ``hybrid``,
            ``mixup_hybrid``) a dict of ``input`` (the student's input),
            ``target`` and ``reconstruction``, each ``(B, C, *spatial)`` in
            the normalised space of the data preprocessor.
        """
        views = self._views(inputs, data_samples)
        saved = {name: buf.clone() for name, buf in self.named_buffers()
                 if not name.startswith('head.')}
        try:
            branches = self._branches(views)
        finally:
            for name, buf in self.named_buffers():
                if name in saved:
                    buf.copy_(saved[name])
        return {
            name: dict(input=branches.recon_inputs[name], target=target,
                       reconstruction=prediction)
            for name, (prediction, target) in branches.recon_pairs.items()
        }
