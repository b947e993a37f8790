# Copyright (c) mmmedssl contributors. All rights reserved.
"""Initialise a backbone from a local file of a public generic model.

A *converter* turns a loaded checkpoint of some public layout into a state
dict with mmpretrain ``ResNet`` keys, and names the keys it left out on
purpose (classifier, projection heads, momentum copies, ...). Converters are
registered in :data:`mmmedssl.registry.WEIGHT_CONVERTERS`:

- ``'torchvision_resnet'``: a torchvision ResNet state dict
  (``resnet50-0676ba61.pth``), bare or under ``state_dict``/``model``.
- ``'mmpretrain'``: an mmpretrain checkpoint, backbone under ``backbone.``.
- ``'mmmedssl'``: an mmmedssl checkpoint, backbone under ``backbone.`` or any
  other ``prefix`` (e.g. MoCo's key encoder ``'encoder_k.module.0.'``).
- ``'moco'``: an official MoCo v1/v2 release
  (``moco_v2_800ep_pretrain.pth.tar``), query encoder under
  ``module.encoder_q.``.
- ``'auto'``: one of the above, chosen from the keys.

mmpretrain's ResNet (``style='pytorch'``, ``deep_stem=False``) uses the same
parameter names as torchvision's, so the converters select and strip prefixes
and drop what is not backbone; they rename nothing.

Files are read only through :func:`mmmedssl.utils.safe_load` (weights-only
unpickling with an allowlist), and nothing is ever downloaded.
"""
import logging
import os
import os.path as osp
from collections import OrderedDict
from typing import (Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple,
                    Union)

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info

from mmmedssl.registry import WEIGHT_CONVERTERS, WEIGHT_INITIALIZERS
from mmmedssl.utils.checkpoint import safe_load

# Public files whose keys the converters understand. Shown when a file is
# missing: mmmedssl never downloads, the user fetches them once.
PUBLIC_WEIGHTS: Dict[str, Tuple[str, str]] = OrderedDict([
    ('resnet18-f37072fd.pth',
     ('https://download.pytorch.org/models/resnet18-f37072fd.pth',
      'torchvision ResNet18_Weights.IMAGENET1K_V1')),
    ('resnet34-b627a593.pth',
     ('https://download.pytorch.org/models/resnet34-b627a593.pth',
      'torchvision ResNet34_Weights.IMAGENET1K_V1')),
    ('resnet50-0676ba61.pth',
     ('https://download.pytorch.org/models/resnet50-0676ba61.pth',
      'torchvision ResNet50_Weights.IMAGENET1K_V1, the DistillingSelf '
      'teacher')),
    ('resnet50-11ad3fa6.pth',
     ('https://download.pytorch.org/models/resnet50-11ad3fa6.pth',
      'torchvision ResNet50_Weights.IMAGENET1K_V2')),
    ('resnet101-63fe2227.pth',
     ('https://download.pytorch.org/models/resnet101-63fe2227.pth',
      'torchvision ResNet101_Weights.IMAGENET1K_V1')),
    ('resnet152-394f9c45.pth',
     ('https://download.pytorch.org/models/resnet152-394f9c45.pth',
      'torchvision ResNet152_Weights.IMAGENET1K_V1')),
    ('moco_v2_800ep_pretrain.pth.tar',
     ('https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v2_800ep/'
      'moco_v2_800ep_pretrain.pth.tar',
      'official MoCo v2, 800 epochs; converter moco')),
])
PRETRAINED_DIR = 'data/pretrained'

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


def _first_keys(keys, n: int = _SHOW) -> str:
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
        f"'state_dict' or 'model'; its keys are {_first_keys(checkpoint)}.")


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
        f'top-level prefixes are {_first_keys(tops, 20)}; first keys: '
        f'{_first_keys(state_dict)}.')


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
            f'keys); first keys: {_first_keys(state_dict)}.')
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
            ``'backbone.'`` (the online/query encoder); MoCo's momentum
            encoder is ``'encoder_k.module.0.'``, PCRL's
            ``'momentum_encoder.module.0.'``.

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
        f'(torchvision_resnet). First keys: {_first_keys(keys)}. Name a '
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
    if found is None:
        raise KeyError(f'Unknown weight converter {converter!r}; registered: '
                       f'{_converter_names()}.')
    return found


def _missing_file_message(filename: str) -> str:
    base = osp.basename(filename)
    lines = [f'Pretrained weights file {filename} does not exist.']
    if base in PUBLIC_WEIGHTS:
        url, what = PUBLIC_WEIGHTS[base]
        lines.append(f'{base} is {what}; download it from {url}')
    lines.append(
        'mmmedssl never downloads weights at run time: download the file '
        f'once and put it there; we suggest {PRETRAINED_DIR}/ (e.g. '
        f'{PRETRAINED_DIR}/resnet50-0676ba61.pth) with the config pointing '
        'at it. Known public files:')
    width = max(len(name) for name in PUBLIC_WEIGHTS)
    for name, (url, what) in PUBLIC_WEIGHTS.items():
        lines.append(f'  {name:<{width}}  {url}  ({what})')
    return '\n'.join(lines)


def load_weights_file(filename: Union[str, os.PathLike], map_location='cpu'):
    """Read a local weights file with :func:`mmmedssl.utils.safe_load`.

    Raises:
        FileNotFoundError: if the file does not exist (or is a URL); the
            message says where the known public files come from.
        UnsafeCheckpointError: if the file needs globals outside the
            allowlist.
    """
    filename = osp.expanduser(str(filename))
    if '://' in filename or not osp.isfile(filename):
        raise FileNotFoundError(_missing_file_message(filename))
    return safe_load(filename, map_location=map_location)


def group_keys(keys: List[str]) -> str:
    """``'fc (2), module.encoder_k (320)'``: dropped keys by sub-module."""
    counts: Dict[str, int] = OrderedDict()
    for key in keys:
        parts = key.split('.')
        # 'module.' (DataParallel) alone says nothing: keep the next name.
        depth = 2 if parts[0] == 'module' and len(parts) > 1 else 1
        head = '.'.join(parts[:depth])
        counts[head] = counts.get(head, 0) + 1
    return ', '.join(f'{k} ({n})' for k, n in counts.items()) or 'nothing'


def load_converted_weights(module: nn.Module,
                           checkpoint,
                           converter: Union[str, Callable] = 'auto',
                           prefix: Optional[str] = None,
                           strict: bool = False,
                           map_location='cpu',
                           logger='current') -> Tuple[List[str], List[str]]:
    """Load a public checkpoint into ``module`` through a converter.

    Args:
        module (nn.Module): Usually an mmpretrain ``ResNet``.
        checkpoint (str | os.PathLike | dict): A local file, or an already
            loaded checkpoint.
        converter (str | callable): A name registered in
            ``WEIGHT_CONVERTERS`` or a callable
            ``(checkpoint, prefix=None) -> ConvertedWeights``.
            Defaults to ``'auto'``.
        prefix (str, optional): Passed to the converter. Defaults to None
            (the converter's default).
        strict (bool): Raise if any key is missing or unexpected.
            Defaults to False.
        map_location: As in ``torch.load``. Defaults to ``'cpu'``.
        logger: As in ``print_log``. Defaults to ``'current'``.

    Returns:
        tuple[list[str], list[str]]: The missing keys (of ``module``, not in
        the converted weights) and the unexpected keys (converted but not
        in ``module``). Keys the converter dropped are neither.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the file is not plain data.
        ValueError: a tensor's shape differs from the module's.
        RuntimeError: ``strict`` and keys are missing or unexpected.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        source = str(checkpoint)
        checkpoint = load_weights_file(source, map_location)
    elif isinstance(checkpoint, Mapping):
        source = '<loaded checkpoint>'
    else:
        raise TypeError('checkpoint must be a file path or a loaded dict, '
                        f'got {type(checkpoint).__name__}.')

    if converter == 'auto':
        # Resolved here rather than by the 'auto' converter so that the log
        # names the layout that was detected.
        name = detect_converter(checkpoint, prefix)
        convert, label = get_converter(name), f'auto -> {name}'
    else:
        convert = get_converter(converter)
        label = converter if isinstance(converter, str) else getattr(
            converter, '__name__', repr(converter))
    converted = convert(checkpoint, prefix=prefix)
    if not isinstance(converted, ConvertedWeights):
        raise TypeError(f'Weight converter {label} returned '
                        f'{type(converted).__name__}, expected '
                        'ConvertedWeights(state_dict, dropped).')
    state_dict, dropped = converted
    what = f'{source} (converter {label})'

    own = module.state_dict()
    mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                  for k, v in state_dict.items()
                  if k in own and v.shape != own[k].shape]
    if mismatched:
        rows = '\n'.join(f'  {k}: file {f}, model {m}'
                         for k, f, m in mismatched[:20])
        more = (f'\n  ... {len(mismatched)} in all'
                if len(mismatched) > 20 else '')
        raise ValueError(
            f'{what} does not fit {type(module).__name__}: shape mismatch '
            f'(key: file shape, model shape):\n{rows}{more}')

    # Old checkpoints lack BatchNorm's num_batches_tracked; torch fills it
    # in itself, so it is not reported.
    missing = [
        k for k in own
        if k not in state_dict and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        problems = [
            f'{len(keys)} {kind} key(s) {_first_keys(keys)}'
            for kind, keys in (('missing', missing), ('unexpected',
                                                      unexpected)) if keys
        ]
        print_log(
            f'Loading {what} into {type(module).__name__}: '
            f'{"; ".join(problems)}.',
            logger=logger,
            level=logging.WARNING)
        if strict:
            raise RuntimeError(
                f'strict loading of {what} into {type(module).__name__} '
                f'failed: missing keys {_first_keys(missing)}, unexpected '
                f'keys {_first_keys(unexpected)}.')

    module.load_state_dict(state_dict, strict=False)
    print_log(
        f'Loaded {len(state_dict) - len(unexpected)} tensors into '
        f'{type(module).__name__} from {what}; dropped {len(dropped)} '
        f'keys: {group_keys(dropped)}.',
        logger=logger,
        level=logging.INFO)
    return missing, unexpected


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class ConvertedPretrainedInit(PretrainedInit):
    """mmengine's ``Pretrained`` initializer with an optional converter.

    Example::

        backbone = dict(
            type='ResNet', depth=50,
            init_cfg=dict(type='Pretrained',
                          checkpoint='data/pretrained/resnet50-0676ba61.pth',
                          converter='torchvision_resnet'))

    This class is registered as ``'Pretrained'`` in mmmedssl's
    ``WEIGHT_INITIALIZERS``, shadowing mmengine's ``PretrainedInit`` in the
    ``mmmedssl`` scope (the default scope of mmmedssl configs), rather than
    under a new name, because two checks compare the type *string*:
    mmengine's ``BaseModule.init_weights`` applies an init_cfg whose
    ``type == 'Pretrained'`` after the children have been initialised (so
    the loaded weights are not overwritten), and mmpretrain's
    ``ResNet.init_weights`` skips ``zero_init_residual`` only for that type.
    Another name would lose both. Outside the mmmedssl scope (another
    default scope, or none) mmengine's class is built and rejects
    ``converter``; add ``_scope_='mmmedssl'`` to the init_cfg there.

    Args:
        checkpoint (str): Path of the weights file.
        prefix (str, optional): As in mmengine without a converter; with one,
            passed to the converter. Defaults to None.
        map_location (str): As in ``torch.load``. Defaults to ``'cpu'``.
        converter (str, optional): A ``WEIGHT_CONVERTERS`` name
            (``'torchvision_resnet'``, ``'mmpretrain'``, ``'mmmedssl'``,
            ``'moco'``, ``'auto'``). None (the default) is exactly mmengine's
            behaviour.
        strict (bool): With a converter, raise on missing or unexpected
            keys. Defaults to False.
    """

    def __init__(self,
                 checkpoint,
                 prefix=None,
                 map_location='cpu',
                 converter: Optional[str] = None,
                 strict: bool = False):
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)
        if converter is None and strict:
            raise ValueError(
                "init_cfg type='Pretrained': strict=True needs a converter "
                "(e.g. converter='auto'); without one mmengine's loading, "
                'which is never strict, is used.')
        if converter is not None:
            get_converter(converter)  # an unknown name fails at build time
        self.converter = converter
        self.strict = strict

    def __call__(self, module):
        if self.converter is None:
            return super().__call__(module)
        load_converted_weights(
            module,
            self.checkpoint,
            converter=self.converter,
            prefix=self.prefix,
            strict=self.strict,
            map_location=self.map_location)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self):
        # Same wording as mmengine's, whose class name it would print.
        info = f'PretrainedInit: load from {self.checkpoint}'
        if self.converter is not None:
            info += f' (converter {self.converter})'
        return info
