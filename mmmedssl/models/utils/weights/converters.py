# Copyright (c) mmmedssl contributors. All rights reserved.
"""Converters: public checkpoint layouts to mmpretrain ``ResNet`` keys.

A *converter* turns a loaded checkpoint of some public layout into a state
dict with mmpretrain ``ResNet`` keys, and names the keys it left out on
purpose (classifier, projection heads, momentum copies, ...). Converters are
registered in :data:`mmmedssl.registry.WEIGHT_CONVERTERS`:

- ``'torchvision_resnet'``: a torchvision ResNet state dict
  (``resnet50-0676ba61.pth``), bare or under ``state_dict``/``model``.
- ``'mmpretrain'``: an mmpretrain checkpoint, backbone under ``backbone.``.
- ``'mmmedssl'``: an mmmedssl checkpoint, backbone under ``backbone.`` or any
  other ``prefix`` (e.g. a momentum encoder's).
- ``'moco'``: an official MoCo v1/v2 release
  (``moco_v2_800ep_pretrain.pth.tar``), query encoder under
  ``module.encoder_q.``.
- ``'auto'``: one of the above, chosen from the keys.

mmpretrain's ResNet (``style='pytorch'``, ``deep_stem=False``) uses the same
parameter names as torchvision's, so the converters select and strip prefixes
and drop what is not backbone; they rename nothing.

Converters work on loaded checkpoints; files are read by
:func:`~mmmedssl.models.utils.weights.loading.load_weights_file`.
"""
import inspect
from collections import OrderedDict
from typing import Callable, List, Mapping, NamedTuple, Optional, Tuple, Union

import torch

from mmmedssl.registry import WEIGHT_CONVERTERS

# How many keys a message lists before it only counts.
_SHOW = 10


class ConvertedWeights(NamedTuple):
    """What a converter returns.

    Attributes:
        state_dict (OrderedDict): Tensors under mmpretrain ``ResNet`` keys.
        dropped (list[str]): Keys of the file deliberately left out
            (classifier ``fc.*``, ``head.*``, ``neck.*``, projection heads,
            momentum encoders, queues), as they are named in the file.
    """
    state_dict: 'OrderedDict[str, torch.Tensor]'
    dropped: List[str]


def first_keys(keys, n: int = _SHOW) -> str:
    """``'[a, b, ... (12 in all)]'``: the first ``n`` keys, for messages."""
    keys = list(keys)
    shown = ', '.join(keys[:n])
    more = f', ... ({len(keys)} in all)' if len(keys) > n else ''
    return f'[{shown}{more}]'


def _state_dict_of(checkpoint) -> Mapping[str, torch.Tensor]:
    """The state dict inside a loaded checkpoint: ``checkpoint['state_dict']``
    or ``checkpoint['model']`` if one is a mapping, else the checkpoint
    itself when it holds tensors only."""
    if not isinstance(checkpoint, Mapping):
        raise TypeError('A checkpoint must be a dict (a state dict, or a dict '
                        "holding one under 'state_dict' or 'model'), got "
                        f'{type(checkpoint).__name__}.')
    for key in ('state_dict', 'model'):
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping):
            return inner
    if checkpoint and all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    raise ValueError(
        "The checkpoint has no state dict: expected tensors, or a dict under "
        f"'state_dict' or 'model'; its keys are {first_keys(checkpoint)}.")


def _normalise_prefix(prefix: str) -> str:
    # '' selects every key; anything else names a sub-module, as in mmengine.
    return prefix if not prefix or prefix.endswith('.') else prefix + '.'


def _select(
        state_dict: Mapping[str, torch.Tensor], prefix: str
) -> Tuple['OrderedDict[str, torch.Tensor]', List[str], str]:
    """Keys under ``prefix`` with the prefix stripped, the other keys, and
    the prefix as the file spells it.

    A checkpoint saved from a ``DataParallel``/DDP-wrapped model has every
    key under an extra ``module.``; the prefix is tried with and without it.
    """
    prefix = _normalise_prefix(prefix)
    if prefix.startswith('module.'):
        candidates = [prefix, prefix[len('module.'):]]
    else:
        candidates = [prefix, 'module.' + prefix]
    for candidate in candidates:
        kept = OrderedDict((k[len(candidate):], v)
                           for k, v in state_dict.items()
                           if k.startswith(candidate))
        if kept:
            dropped = [k for k in state_dict if not k.startswith(candidate)]
            return kept, dropped, candidate
    tops = sorted({k.split('.', 1)[0] + '.' for k in state_dict})
    raise ValueError(
        f"No key of the checkpoint starts with prefix '{prefix}'. Its "
        f'top-level prefixes are {first_keys(tops, 20)}; first keys: '
        f'{first_keys(state_dict)}.')


def _split_off(
    state_dict: Mapping[str, torch.Tensor],
    head: str,
    names_in_file: Optional[Callable[[str], str]] = None
) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Remove the keys under ``head`` (e.g. ``'fc.'``); return what is kept
    and the removed keys as the file names them."""
    names_in_file = names_in_file or (lambda k: k)
    kept = OrderedDict(
        (k, v) for k, v in state_dict.items() if not k.startswith(head))
    dropped = [names_in_file(k) for k in state_dict if k.startswith(head)]
    return kept, dropped


def _looks_like_torchvision_resnet(keys) -> bool:
    keys = set(keys)
    return 'conv1.weight' in keys and any(
        k.startswith('layer1.') for k in keys)


def _strip_module(state_dict: Mapping[str, torch.Tensor]) -> 'OrderedDict':
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())


@WEIGHT_CONVERTERS.register_module(name='torchvision_resnet')
def convert_torchvision_resnet(checkpoint,
                               prefix: Optional[str] = None
                               ) -> ConvertedWeights:
    """A torchvision ResNet state dict (``torchvision.models.resnet*``, e.g.
    ``resnet50-0676ba61.pth``).

    Args:
        checkpoint (dict): A state dict, or a dict holding one under
            ``state_dict`` or ``model``. A leading ``module.`` (DataParallel)
            is stripped.
        prefix (str, optional): Only keys under this prefix, stripped (for a
            torchvision ResNet nested in a bigger model). Defaults to None.

    Returns:
        ConvertedWeights: ``fc.*`` (the ImageNet classifier) is dropped.
    """
    state_dict = _state_dict_of(checkpoint)
    dropped: List[str] = []
    if prefix:
        state_dict, dropped, _ = _select(state_dict, prefix)
    else:
        state_dict = _strip_module(state_dict)
    if not _looks_like_torchvision_resnet(state_dict):
        raise ValueError(
            'converter torchvision_resnet: the state dict does not look like '
            "a torchvision ResNet (expected 'conv1.weight' and 'layer1.*' "
            f'keys); first keys: {first_keys(state_dict)}.')
    state_dict, classifier = _split_off(state_dict, 'fc.')
    return ConvertedWeights(state_dict, dropped + classifier)


def _convert_backbone_prefix(checkpoint, prefix: Optional[str],
                             default_prefix: str) -> ConvertedWeights:
    prefix = default_prefix if prefix is None else prefix
    state_dict, dropped, _ = _select(_state_dict_of(checkpoint), prefix)
    return ConvertedWeights(state_dict, dropped)


@WEIGHT_CONVERTERS.register_module(name='mmpretrain')
def convert_mmpretrain(checkpoint,
                       prefix: Optional[str] = None) -> ConvertedWeights:
    """An mmpretrain checkpoint (classifier or self-supervised).

    Args:
        checkpoint (dict): ``{'state_dict': ..., 'meta': ...}`` or a bare
            state dict.
        prefix (str, optional): The backbone's prefix. Defaults to
            ``'backbone.'``.

    Returns:
        ConvertedWeights: everything outside ``prefix`` (``head.*``,
        ``neck.*``, ``data_preprocessor.*``, ...) is dropped.
    """
    return _convert_backbone_prefix(checkpoint, prefix, 'backbone.')


@WEIGHT_CONVERTERS.register_module(name='mmmedssl')
def convert_mmmedssl(checkpoint,
                     prefix: Optional[str] = None) -> ConvertedWeights:
    """An mmmedssl checkpoint (a Runner checkpoint of any algorithm).

    The same key handling as ``'mmpretrain'``, kept as its own name so that
    configs and logs say where the weights come from.

    Args:
        checkpoint (dict): ``{'state_dict': ..., 'meta': ...}`` or a bare
            state dict.
        prefix (str, optional): The encoder to take. Defaults to
            ``'backbone.'`` (the online/query encoder); give the prefix of
            another encoder of the model (e.g. a momentum encoder's) to take
            that one instead.

    Returns:
        ConvertedWeights: everything outside ``prefix`` is dropped.
    """
    return _convert_backbone_prefix(checkpoint, prefix, 'backbone.')


@WEIGHT_CONVERTERS.register_module(name='moco')
def convert_moco(checkpoint, prefix: Optional[str] = None) -> ConvertedWeights:
    """An official MoCo v1/v2 release (``moco_v2_800ep_pretrain.pth.tar``)
    or a release in the same layout (DistillingSelf).

    Args:
        checkpoint (dict): ``{'state_dict': {'module.encoder_q.*',
            'module.encoder_k.*', 'module.queue', ...}, ...}``.
        prefix (str, optional): The encoder to take. Defaults to
            ``'module.encoder_q.'`` (the query encoder, as MoCo's own linear
            evaluation does); ``'module.encoder_k.'`` takes the key encoder.

    Returns:
        ConvertedWeights: the other encoder, the queue and the encoder's
        ``fc.*`` (the v1 linear projection / v2 MLP head) are dropped.
    """
    if prefix is None:
        prefix = 'module.encoder_q.'
    prefix = _normalise_prefix(prefix)
    state_dict, dropped, in_file = _select(_state_dict_of(checkpoint), prefix)
    state_dict, projection = _split_off(state_dict, 'fc.',
                                        lambda k: in_file + k)
    return ConvertedWeights(state_dict, dropped + projection)


def _is_moco_release(keys) -> bool:
    return any(
        k.startswith('encoder_q.') or k.startswith('module.encoder_q.')
        for k in keys)


def _written_by_mmmedssl(checkpoint) -> bool:
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    if not isinstance(meta, Mapping):
        return False
    # Runner checkpoints keep the config text, whose default_scope names
    # the package; files from tools/model_converters record a converter.
    return 'mmmedssl' in str(meta.get('cfg', '')) or 'converter' in meta


def detect_converter(checkpoint, prefix: Optional[str] = None) -> str:
    """The name of the converter that fits a loaded checkpoint.

    Checked in this order: a MoCo release (``encoder_q.`` keys) is
    ``'moco'``; a checkpoint with ``backbone.`` keys (or keys under the given
    ``prefix``) is ``'mmmedssl'`` when its meta says mmmedssl wrote it, else
    ``'mmpretrain'`` (the two behave the same); a torchvision ResNet state
    dict is ``'torchvision_resnet'``.

    Raises:
        ValueError: if none fits; the message lists the first keys.
    """
    state_dict = _state_dict_of(checkpoint)
    keys = list(state_dict)
    if _is_moco_release(keys):
        return 'moco'
    prefixes = ['backbone.']
    if prefix:
        prefixes.append(_normalise_prefix(prefix))
    for p in prefixes:
        if any(k.startswith(p) or k.startswith('module.' + p) for k in keys):
            return ('mmmedssl'
                    if _written_by_mmmedssl(checkpoint) else 'mmpretrain')
    if _looks_like_torchvision_resnet(_strip_module(state_dict)):
        return 'torchvision_resnet'
    raise ValueError(
        'Cannot tell the layout of the checkpoint: it has no '
        "'encoder_q.' keys (moco), no 'backbone.' keys (mmpretrain, "
        "mmmedssl) and no 'conv1.weight' + 'layer1.*' keys "
        f'(torchvision_resnet). First keys: {first_keys(keys)}. Name a '
        f'converter ({_converter_names()}) and a prefix, or register one '
        'for this layout in mmmedssl.registry.WEIGHT_CONVERTERS.')


@WEIGHT_CONVERTERS.register_module(name='auto')
def convert_auto(checkpoint, prefix: Optional[str] = None) -> ConvertedWeights:
    """Whichever converter :func:`detect_converter` picks."""
    name = detect_converter(checkpoint, prefix)
    return WEIGHT_CONVERTERS.get(name)(checkpoint, prefix=prefix)


def _converter_names() -> str:
    return ', '.join(sorted(WEIGHT_CONVERTERS.module_dict))


def get_converter(converter: Union[str, Callable]) -> Callable:
    """A registered converter by name (a callable is returned as is)."""
    if callable(converter):
        return converter
    found = WEIGHT_CONVERTERS.get(converter)
    # mmengine's Registry.get falls back to importing the name, so an
    # installed package called like the key ('timm') would come back.
    if found is None or not callable(found) or inspect.ismodule(found):
        raise KeyError(f'Unknown weight converter {converter!r}; registered: '
                       f'{_converter_names()}.')
    return found
