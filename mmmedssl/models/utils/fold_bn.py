# Copyright (c) mmmedssl contributors. All rights reserved.
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck, ResNet
from torch.nn.utils.fusion import fuse_conv_bn_eval

_CONV_BN = ((nn.Conv1d, nn.BatchNorm1d), (nn.Conv2d, nn.BatchNorm2d),
            (nn.Conv3d, nn.BatchNorm3d))


def _foldable(conv, bn) -> bool:
    # isinstance: mmcv's Conv2d/Conv3d wrappers subclass torch's.
    return any(
        isinstance(conv, conv_type) and isinstance(bn, bn_type)
        for conv_type, bn_type in _CONV_BN)


def fold_batch_norms(module: nn.Module) -> int:
    """Fold every BatchNorm that directly follows a convolution into that
    convolution's weight and bias, for inference with frozen statistics.

    Only pairs whose order is certain are folded: consecutive entries of an
    ``nn.Sequential`` (ResNet downsample branches), ``convN``/``normN`` of
    mmpretrain's ResNet stem, ``BasicBlock`` and ``Bottleneck``, and mmcv's
    ``ConvModule`` with ``conv`` before ``norm``. The BatchNorm is replaced by
    ``nn.Identity``. The module must be in eval mode (the statistics used are
    the running ones) and is changed in place.

    Returns:
        int: The number of BatchNorm layers folded.
    """
    if any(m.training for m in module.modules()):
        raise ValueError('fold_batch_norms: put the module in eval mode first '
                         '(folding uses the running statistics).')
    folded = 0
    for owner in list(module.modules()):
        pairs = []  # (conv name, norm name) on ``owner``
        if isinstance(owner, (ResNet, BasicBlock, Bottleneck)):
            pairs = [(f'conv{i}', getattr(owner, f'norm{i}_name', None))
                     for i in (1, 2, 3)]
        elif isinstance(owner, ConvModule) and owner.with_norm and \
                owner.order.index('conv') < owner.order.index('norm'):
            pairs = [('conv', owner.norm_name)]
        elif isinstance(owner, nn.Sequential):
            names = list(owner._modules)
            pairs = list(zip(names[:-1], names[1:]))
        for conv_name, norm_name in pairs:
            conv = getattr(owner, conv_name, None) if norm_name else None
            norm = getattr(owner, norm_name, None) if norm_name else None
            if conv is None or not _foldable(conv, norm):
                continue
            setattr(owner, conv_name, fuse_conv_bn_eval(conv, norm))
            setattr(owner, norm_name, nn.Identity())
            folded += 1
    return folded
