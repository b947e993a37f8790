# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from mmmedssl.registry import MODELS


@MODELS.register_module()
class MedUNetSegmentor(BaseModel):
    """A U-Net for semantic segmentation of 2D images or 3D volumes: a
    (pretrained) encoder and ``UNetDecoder`` producing one logit map per
    class, trained with cross-entropy + soft Dice.

    The downstream protocol of the U-Net pretraining methods (PCRL, Models
    Genesis): ``ResNetWithStem`` in 2D (its keys are mmpretrain ResNet's, so
    the ``backbone.*`` of MoCo, GraVIS, PCRL or DistillingSelf checkpoints
    load into it through ``backbone.init_cfg``) or ``UNet3DEncoder`` in 3D.
    Binary masks are two classes (background, foreground).

    Modes of ``forward``:

    - ``'tensor'``: the logits ``(N, C, *spatial)`` at the input size.
    - ``'loss'``: ``dict(loss_ce=..., loss_dice=...)`` against the samples'
      ``gt_seg_map`` (``(H, W)`` or ``(D, H, W)``, the input's size).
    - ``'predict'``: each data sample gets ``pred_seg_map`` (int64 class
      indices) and, with ``predict_scores``, ``seg_scores`` (``(C, ...)``
      softmax probabilities). When a sample has a ``gt_seg_map`` of another
      size than the input (evaluation at the mask's original resolution:
      the image was resized, the mask was not), the logits are first
      resized to it (bilinear / trilinear), as mmseg does.

    Args:
        backbone (dict): The encoder; its outputs, shallow to deep, are the
            decoder's inputs.
        decoder (dict): A ``UNetDecoder`` whose ``out_channels`` is the
            number of classes (>= 2) and without output activation.
        data_preprocessor (dict, optional): Defaults to
            ``MedSelfSupDataPreprocessor`` (no normalisation); masks stay in
            the data samples and are stacked here.
        ce_weight (float): Weight of the cross-entropy. Defaults to 1.
        class_weight (Sequence[float], optional): Cross-entropy class
            weights.
        loss_dice (dict, optional): The Dice loss, e.g.
            ``dict(type='SoftDiceLoss', loss_weight=1.)``; None for none.
        ignore_index (int): Mask value left out of the losses. Defaults to
            255.
        freeze_backbone (bool): Keep the encoder fixed (no gradients,
            BatchNorm in eval mode); only the decoder learns, the
            segmentation counterpart of linear evaluation. Defaults to False.
        predict_scores (bool): Put ``seg_scores`` in predictions. Defaults
            to True.
        init_cfg (dict, optional): Of the whole model; a pretrained encoder
            goes in ``backbone.init_cfg``.
    """

    def __init__(self,
                 backbone: dict,
                 decoder: dict,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 ce_weight: float = 1.0,
                 class_weight: Optional[Sequence[float]] = None,
                 loss_dice: Optional[dict] = dict(
                     type='SoftDiceLoss', loss_weight=1.0),
                 ignore_index: int = 255,
                 freeze_backbone: bool = False,
                 predict_scores: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='MedSelfSupDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone) if isinstance(
            backbone, dict) else backbone
        self.decoder = MODELS.build(decoder) if isinstance(decoder,
                                                           dict) else decoder
        out_conv = getattr(self.decoder, 'out_conv', None)
        if out_conv is None:
            raise TypeError('MedUNetSegmentor: the decoder must be a '
                            'UNetDecoder (with an out_conv).')
        self.num_classes = out_conv.out_channels
        if self.num_classes < 2:
            raise ValueError(
                'MedUNetSegmentor: decoder.out_channels is the number of '
                f'classes and must be >= 2 (got {self.num_classes}); a '
                'binary mask is 2 classes, background and foreground.')
        if getattr(self.decoder, 'out_activation', None) is not None:
            raise ValueError('MedUNetSegmentor: the decoder must output '
                             'logits (out_activation=None), got '
                             f'{self.decoder.out_activation!r}.')
        self.dims = getattr(self.decoder, 'dims', 2)
        self.ce_weight = ce_weight
        if class_weight is not None:
            if len(class_weight) != self.num_classes:
                raise ValueError(
                    f'MedUNetSegmentor: class_weight has {len(class_weight)} '
                    f'values for {self.num_classes} classes.')
            self.register_buffer(
                'class_weight', torch.tensor(class_weight).float(), False)
        else:
            self.class_weight = None
        self.loss_dice = MODELS.build(loss_dice) if loss_dice else None
        self.ignore_index = ignore_index
        self.freeze_backbone = freeze_backbone
        self.predict_scores = predict_scores
        if freeze_backbone:
            for param in self.backbone.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'MedUNetSegmentor':
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    # ------------------------------------------------------------------
    def extract_feat(self, inputs: torch.Tensor):
        """The encoder's feature maps, shallow to deep."""
        return self.backbone(inputs)

    def _forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != self.dims + 2:
            raise ValueError(
                f'MedUNetSegmentor ({self.dims}D): expected inputs shaped '
                f'(N, C, {"D, " if self.dims == 3 else ""}H, W), got '
                f'{tuple(inputs.shape)}.')
        return self.decoder(self.extract_feat(inputs))

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self._forward(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'MedUNetSegmentor: invalid mode {mode!r}; '
                           "expected 'tensor', 'loss' or 'predict'.")

    def _targets(self, data_samples: Optional[List[DataSample]],
                 logits: torch.Tensor) -> torch.Tensor:
        if not data_samples or any('gt_seg_map' not in s
                                   for s in data_samples):
            raise KeyError(
                "MedUNetSegmentor: mode='loss' needs a gt_seg_map in every "
                'data sample (LoadMedSegMap + PackMedInputs in the '
                'pipeline).')
        size = tuple(logits.shape[2:])
        for sample in data_samples:
            if tuple(sample.gt_seg_map.shape) != size:
                raise ValueError(
                    f'MedUNetSegmentor: mask {tuple(sample.gt_seg_map.shape)}'
                    f' of {sample.get("seg_map_path", "a sample")!r} does '
                    f'not match the input size {size}; training pipelines '
                    'must transform image and mask together.')
        return torch.stack([s.gt_seg_map for s in data_samples]).to(
            logits.device).long()

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        logits = self._forward(inputs)
        target = self._targets(data_samples, logits)
        losses = dict(
            loss_ce=self.ce_weight * F.cross_entropy(
                logits,
                target,
                weight=self.class_weight,
                ignore_index=self.ignore_index))
        if self.loss_dice is not None:
            losses['loss_dice'] = self.loss_dice(logits, target)
        return losses

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        logits = self._forward(inputs)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(logits.shape[0])]
        mode = 'bilinear' if self.dims == 2 else 'trilinear'
        for i, sample in enumerate(data_samples):
            logit = logits[i:i + 1]
            if 'gt_seg_map' in sample:
                size = tuple(sample.gt_seg_map.shape[-self.dims:])
                if size != tuple(logit.shape[2:]):
                    logit = F.interpolate(
                        logit, size=size, mode=mode, align_corners=False)
            scores = logit[0].softmax(dim=0)
            sample.set_field(scores.argmax(dim=0), 'pred_seg_map')
            if self.predict_scores:
                sample.set_field(scores, 'seg_scores')
        return data_samples
