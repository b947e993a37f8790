# Copyright (c) mmmedssl contributors. All rights reserved.
"""Export a backbone for other libraries, checked against their own models.

:func:`export_backbone` takes the backbone under ``prefix`` of a checkpoint,
finds its architecture (from the tensors; the checkpoint's config adds what
tensors cannot show, e.g. ``style='caffe'``), names its keys as a *target*
library does and loads the result into that library's own model. The
:class:`KeyMatchReport` lists the model's keys the export lacks (missing),
the export's keys the model lacks (unexpected) and the keys whose shapes
differ; the export is ``ok`` only when every key matched.

Targets (``C`` input channels, ``d`` depth, ``b`` base width):

- ``torchvision`` (ResNet 18-152, stem and stages at 64-512):
  ``torchvision.models.resnet<d>(weights=None)`` with ``fc = Identity()``
  (and ``conv1`` rebuilt for ``C != 3``).
- ``timm`` (ResNet, 64-wide 7x7 stem, any ``b``):
  ``timm.create_model('resnet<d>', pretrained=False, num_classes=0,
  in_chans=C)``, plus ``channels=(b, 2b, 4b, 8b)`` when ``b != 64``.
- ``smp`` (as torchvision): the ``encoder`` of
  ``segmentation_models_pytorch.Unet('resnet<d>', encoder_weights=None,
  in_channels=C)``.
- ``monai`` (ResNet with the stem as wide as stage 1):
  ``monai.networks.nets.ResNet(block, layers, [b, 2b, 4b, 8b],
  spatial_dims=2, n_input_channels=C, conv1_t_size=7, conv1_t_stride=2,
  shortcut_type='B', bias_downsample=False, feed_forward=False)``. For a
  ``UNet3DEncoder`` MONAI has no matching network (``BasicUNet`` keeps one
  width per level); ``monai`` then gives the ``plain`` export.
- ``mmpretrain`` (any mmpretrain ResNet): ``ImageClassifier(backbone=
  dict(type='ResNet', ...), neck=dict(type='GlobalAveragePooling'))``,
  keys under ``backbone.``.
- ``plain`` (``UNet3DEncoder``): :class:`~.plain_unet3d.PlainUNet3DEncoder`,
  plain PyTorch.

mmpretrain's ResNet (``style='pytorch'``, 7x7 stem) has the parameter names
of torchvision, timm, smp and MONAI's ResNets, so the 2D exports rename
nothing; what differs between the libraries is which architectures they can
build.
"""
import ast
import json
import os
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmmedssl.utils.checkpoint import atomic_torch_save, atomic_write
from .converters import first_keys, get_converter
from .loading import load_weights_file

TARGETS = ('torchvision', 'timm', 'smp', 'monai', 'mmpretrain', 'plain')
# Config types of the two backbone families mmmedssl exports.
RESNET_TYPES = ('ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNetWithStem')
UNET3D_TYPES = ('UNet3DEncoder',)
# mmpretrain ResNet.arch_settings: depth -> (bottleneck?, blocks per stage)
RESNET_DEPTHS = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
}
# Non-default mmpretrain ResNet arguments that change the computation
# without changing any key; only the mmpretrain target reproduces them.
_RESNET_BEHAVIOUR = dict(
    style='pytorch', strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
    expansion=None)
_UNET3D_NORMS = {'bn': 'batch', 'gn': 'group', 'in': 'instance_affine'}


# --------------------------------------------------------------------------
# The architecture of a backbone
# --------------------------------------------------------------------------
@dataclass
class BackboneArch:
    """What a target needs to know to rebuild a backbone.

    Attributes:
        type (str): ``'ResNet'`` or ``'UNet3DEncoder'``.
        args (dict): For ResNets, mmpretrain ``ResNet`` arguments (``depth``,
            ``in_channels``, ``stem_channels``, ``base_channels``,
            ``deep_stem``, ``avg_down`` and any non-default ``style``,
            ``strides``, ``dilations``, ``expansion``, ``norm_cfg``); for the
            3D encoder, :class:`PlainUNet3DEncoder` arguments.
        notes (list[str]): What was assumed or ignored, for the report.
    """
    type: str
    args: Dict[str, Any]
    notes: List[str] = field(default_factory=list)

    def describe(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.args.items())
        return f'{self.type}({args})'


def _short_type(cfg: Optional[Mapping]) -> Optional[str]:
    if not isinstance(cfg, Mapping) or not isinstance(cfg.get('type'), str):
        return None
    return cfg['type'].split('.')[-1]  # 'mmpretrain.ResNet' -> 'ResNet'


def _blocks_per_stage(state_dict: Mapping) -> List[int]:
    blocks = []
    for stage in range(1, 5):
        pattern = re.compile(rf'layer{stage}\.(\d+)\.')
        blocks.append(
            len({m.group(1)
                 for m in map(pattern.match, state_dict) if m}))
    return blocks


def infer_resnet_depth(state_dict: Mapping) -> int:
    """ResNet depth from the blocks per stage and the block type."""
    blocks = _blocks_per_stage(state_dict)
    bottleneck = 'layer1.0.conv3.weight' in state_dict
    for depth, setting in RESNET_DEPTHS.items():
        if setting == (bottleneck, tuple(blocks)):
            return depth
    raise ValueError(
        f'Cannot infer the ResNet depth: blocks per stage {blocks} '
        f"({'bottleneck' if bottleneck else 'basic'} blocks) match no "
        f'ResNet ({sorted(RESNET_DEPTHS)}). Pass --depth, or check --prefix.')


def _resnet_arch(state_dict: Mapping, cfg: Optional[Mapping],
                 depth: Optional[int]) -> BackboneArch:
    deep_stem = 'stem.0.conv.weight' in state_dict
    first = state_dict['stem.0.conv.weight' if deep_stem else 'conv1.weight']
    if first.dim() != 4:
        raise ValueError(
            f'The ResNet stem conv has {first.dim() - 2} spatial dims; only '
            '2D ResNets can be exported.')
    stem_channels = (state_dict['stem.2.conv.weight'].shape[0]
                     if deep_stem else first.shape[0])
    notes = []
    if depth is None:
        depth = keys_depth = infer_resnet_depth(state_dict)
    else:
        depth = int(depth)
        if depth not in RESNET_DEPTHS:
            raise ValueError(f'depth must be one of {sorted(RESNET_DEPTHS)},'
                             f' got {depth}.')
        notes.append(f'depth {depth} was given, not inferred')
        try:
            keys_depth = infer_resnet_depth(state_dict)
        except ValueError:
            keys_depth = None
    args = dict(
        depth=depth,
        in_channels=int(first.shape[1]),
        stem_channels=int(stem_channels),
        base_channels=int(state_dict['layer1.0.conv1.weight'].shape[0]),
        deep_stem=deep_stem,
        avg_down='layer2.0.downsample.2.weight' in state_dict)
    if _short_type(cfg) in RESNET_TYPES:
        if cfg.get('depth') != keys_depth:
            notes.append(f"the config's backbone has depth {cfg.get('depth')}"
                         f', the weights {keys_depth}: config ignored (is '
                         'the prefix another module?)')
        else:
            for key, default in _RESNET_BEHAVIOUR.items():
                if key == 'style' and not RESNET_DEPTHS[depth][0]:
                    continue  # basic blocks stride the same either way
                value = cfg.get(key, default)
                if isinstance(value, list):
                    value = tuple(value)
                if value != default:
                    args[key] = value
            norm_cfg = cfg.get('norm_cfg') or {}
            if norm_cfg.get('type', 'BN') not in ('BN', 'SyncBN'):
                args['norm_cfg'] = dict(norm_cfg)
    elif cfg is None:
        notes.append('no config: style, strides and dilations assumed '
                     'default')
    return BackboneArch('ResNet', args, notes)


def _unet3d_arch(state_dict: Mapping,
                 cfg: Optional[Mapping]) -> BackboneArch:
    first = state_dict['levels.0.0.conv.weight']
    levels = {int(k.split('.')[1]) for k in state_dict
              if k.startswith('levels.')}
    norms = {m.group(1) for m in (re.match(r'levels\.\d+\.\d+\.(\w+)\.', k)
                                  for k in state_dict) if m} - {'conv'}
    cfg = cfg if _short_type(cfg) in UNET3D_TYPES else None
    norm_cfg = (cfg or {}).get('norm_cfg', dict(type='BN3d'))
    notes = []
    if len(norms) > 1 or not norms <= set(_UNET3D_NORMS):
        raise ValueError(f'UNet3DEncoder weights with norm layers {norms}: '
                         f'expected one of {sorted(_UNET3D_NORMS)}.')
    if norms:
        norm = _UNET3D_NORMS[norms.pop()]
    elif cfg is not None and not norm_cfg:
        norm = None
    else:
        # Parameter-free: mmcv's IN3d (affine=False), or no norm at all.
        norm = 'instance'
        if cfg is None:
            notes.append('no norm parameters and no config: assumed '
                         "instance norm (norm_cfg=dict(type='IN3d'))")
    args = dict(
        in_channels=int(first.shape[1]),
        base_channels=int(first.shape[0]),
        num_levels=max(levels) + 1,
        norm=norm,
        conv_bias='levels.0.0.conv.bias' in state_dict)
    if norm == 'group':
        args['num_groups'] = int((norm_cfg or {}).get('num_groups', 8))
        if cfg is None:
            notes.append('group norm without a config: num_groups assumed 8')
    act = ((cfg or {}).get('act_cfg') or dict(type='ReLU')).get('type')
    if act != 'ReLU':
        args['act'] = act  # no target has it: reported as a problem
    return BackboneArch('UNet3DEncoder', args, notes)


def infer_arch(state_dict: Mapping,
               backbone_cfg: Optional[Mapping] = None,
               depth: Optional[int] = None) -> BackboneArch:
    """The architecture of a backbone state dict (keys without prefix).

    The tensors decide (a ResNet from ``conv1``/``stem`` and ``layer*``
    keys, the 3D U-Net encoder from ``levels.*`` 5-D convs); the config, when
    its type and depth agree, adds what tensors cannot show.

    Raises:
        ValueError: the keys are neither layout; the message lists them.
    """
    keys = set(state_dict)
    if 'levels.0.0.conv.weight' in keys and \
            state_dict['levels.0.0.conv.weight'].dim() == 5:
        return _unet3d_arch(state_dict, backbone_cfg)
    if ('conv1.weight' in keys or 'stem.0.conv.weight' in keys) and \
            'layer1.0.conv1.weight' in keys:
        return _resnet_arch(state_dict, backbone_cfg, depth)
    raise ValueError(
        'Cannot export this backbone: expected an mmpretrain ResNet '
        "('conv1.weight' or 'stem.0.conv.weight', and 'layer1.*') or an "
        "mmmedssl UNet3DEncoder ('levels.0.0.conv.weight', 5-D); its keys "
        f'are {first_keys(sorted(keys))}. Check the prefix.')


# --------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------
def _fmt(value) -> str:
    if isinstance(value, Mapping):  # dict(type=...), as configs write it
        for key in value:
            # Keys come from a checkpoint's config: only plain names may
            # reach the generated code.
            if not (isinstance(key, str) and key.isidentifier()):
                raise ValueError(f'Cannot export: config key {key!r} is not '
                                 'a plain name.')
        return 'dict(' + ', '.join(f'{k}={_fmt(v)}'
                                   for k, v in value.items()) + ')'
    if not isinstance(value, (bool, int, float, str, tuple, list,
                              type(None))):
        raise ValueError(f'Cannot export: unexpected config value {value!r}.')
    return repr(value)


def _call(func: str, *args, **kwargs) -> str:
    parts = [_fmt(a) for a in args] + [_fmt({k: v})[len('dict('):-1]
                                       for k, v in kwargs.items()]
    return f"{func}({', '.join(parts)})"


class Target:
    """How one library rebuilds a backbone and names its keys.

    ``code(arch)`` is the Python that builds ``model`` with the library's
    own constructors; ``module`` is the expression (in terms of ``model``)
    of the module the export loads into; ``build(arch)`` runs ``code``.
    """
    name = ''
    types: Tuple[str, ...] = ('ResNet', )
    module = 'model'

    def unsupported(self, arch: BackboneArch) -> Optional[str]:
        """Why the library has no model with these keys and shapes, or
        None (a hint for the report; the key match decides)."""
        if 'norm_cfg' in arch.args:
            return (f"{self.name}'s ResNets use BatchNorm, this one "
                    f"{arch.args['norm_cfg']}; use --to mmpretrain")
        return None

    def problems(self, arch: BackboneArch) -> List[str]:
        """Behaviour the export cannot carry (fails the report)."""
        extra = [f'{k}={arch.args[k]!r}'
                 for k in ('style', 'strides', 'dilations', 'expansion')
                 if k in arch.args]
        if extra:
            return [f"{', '.join(extra)} changes the computation but no key;"
                    f' {self.name} cannot build it (only mmpretrain can)']
        return []

    def code(self, arch: BackboneArch) -> str:
        raise NotImplementedError

    def convert(self, state_dict: Mapping,
                arch: BackboneArch) -> 'OrderedDict[str, torch.Tensor]':
        return OrderedDict(state_dict)

    def file_object(self, state_dict: Mapping, meta: dict):
        return state_dict

    def load_code(self, path: str) -> str:
        return f'{self.module}.load_state_dict(torch.load({path!r}))'

    def build(self, arch: BackboneArch) -> nn.Module:
        namespace: Dict[str, Any] = {}
        # The report checks exactly the code that the README shows.
        exec(self.code(arch), namespace)  # noqa: S102 (our own template)
        return namespace['model']

    def submodule(self, model: nn.Module) -> nn.Module:
        for name in self.module.split('.')[1:]:
            model = getattr(model, name)
        return model


class _FixedWidthResNet(Target):
    """torchvision and smp: 7x7 stem, widths 64-512."""

    def unsupported(self, arch: BackboneArch) -> Optional[str]:
        a = arch.args
        if a['deep_stem'] or a['avg_down']:
            return (f'{self.name} has no deep-stem / avg-down ResNet '
                    '(ResNetV1c/V1d); use --to mmpretrain')
        if (a['stem_channels'], a['base_channels']) != (64, 64):
            return (f"{self.name}'s ResNets have a 64-wide stem and 64-512 "
                    f"wide stages; this one has stem {a['stem_channels']}, "
                    f"base {a['base_channels']}: use --to monai/mmpretrain "
                    '(or timm for a 64-wide stem)')
        return super().unsupported(arch)


class TorchvisionTarget(_FixedWidthResNet):
    name = 'torchvision'

    def code(self, arch: BackboneArch) -> str:
        a = arch.args
        lines = [
            'import torch', 'import torchvision',
            f"model = torchvision.models.resnet{a['depth']}(weights=None)",
            'model.fc = torch.nn.Identity()  # the export has no classifier'
        ]
        if a['in_channels'] != 3:
            lines.append('model.conv1 = ' + _call(
                'torch.nn.Conv2d', a['in_channels'], 64, kernel_size=7,
                stride=2, padding=3, bias=False))
        return '\n'.join(lines)


class TimmTarget(Target):
    name = 'timm'

    def unsupported(self, arch: BackboneArch) -> Optional[str]:
        a = arch.args
        if a['deep_stem'] or a['avg_down']:
            return ('mmmedssl exports only 7x7-stem ResNets to timm; use '
                    '--to mmpretrain')
        if a['stem_channels'] != 64:
            return (f"timm's 7x7 ResNet stem is 64 wide, this one "
                    f"{a['stem_channels']}: use --to monai/mmpretrain")
        return super().unsupported(arch)

    def code(self, arch: BackboneArch) -> str:
        a = arch.args
        kwargs = dict(pretrained=False, num_classes=0,
                      in_chans=a['in_channels'])
        b = a['base_channels']
        if b != 64:
            kwargs['channels'] = (b, 2 * b, 4 * b, 8 * b)
        return '\n'.join([
            'import timm', 'import torch', 'model = ' + _call(
                'timm.create_model', f"resnet{a['depth']}", **kwargs)
        ])


class SmpTarget(_FixedWidthResNet):
    name = 'smp'
    module = 'model.encoder'

    def code(self, arch: BackboneArch) -> str:
        a = arch.args
        return '\n'.join([
            'import segmentation_models_pytorch as smp', 'import torch',
            'model = ' + _call('smp.Unet', f"resnet{a['depth']}",
                               encoder_weights=None,
                               in_channels=a['in_channels'], classes=1)
        ])


class PlainTarget(Target):
    name = 'plain'
    types = ('UNet3DEncoder', )

    def problems(self, arch: BackboneArch) -> List[str]:
        if 'act' in arch.args:
            return [f"act_cfg type {arch.args['act']!r}: "
                    'PlainUNet3DEncoder has ReLU only']
        return []

    def unsupported(self, arch: BackboneArch) -> Optional[str]:
        return None

    def code(self, arch: BackboneArch) -> str:
        args = {k: v for k, v in arch.args.items() if k != 'act'}
        return '\n'.join([
            'import torch',
            'from mmmedssl.models.utils.weights.plain_unet3d import '
            'PlainUNet3DEncoder',
            'model = ' + _call('PlainUNet3DEncoder', **args)
        ])

    def convert(self, state_dict, arch):
        # mmcv names the norm layer after its type; the plain module 'norm'.
        return OrderedDict(
            (re.sub(r'^(levels\.\d+\.\d+\.)(bn|gn|in)\.', r'\1norm.', k), v)
            for k, v in state_dict.items())


class MonaiTarget(Target):
    name = 'monai'
    types = ('ResNet', 'UNet3DEncoder')
    # MONAI has no Models Genesis encoder: the 3D export is the plain one.
    _plain = PlainTarget()

    def _delegate(self, arch: BackboneArch) -> Optional[Target]:
        return self._plain if arch.type == 'UNet3DEncoder' else None

    def unsupported(self, arch: BackboneArch) -> Optional[str]:
        if self._delegate(arch):
            return None
        a = arch.args
        if a['deep_stem'] or a['avg_down']:
            return ('MONAI has no deep-stem / avg-down ResNet; use --to '
                    'mmpretrain')
        if a['stem_channels'] != a['base_channels']:
            return (f"MONAI's ResNet stem is as wide as its first stage; "
                    f"this one has stem {a['stem_channels']}, base "
                    f"{a['base_channels']}: use --to mmpretrain")
        return super().unsupported(arch)

    def problems(self, arch: BackboneArch) -> List[str]:
        plain = self._delegate(arch)
        return plain.problems(arch) if plain else super().problems(arch)

    def code(self, arch: BackboneArch) -> str:
        plain = self._delegate(arch)
        if plain:
            return plain.code(arch)
        a = arch.args
        b = a['base_channels']
        bottleneck, layers = RESNET_DEPTHS[a['depth']]
        return '\n'.join([
            'import torch', 'from monai.networks.nets import ResNet',
            'model = ' + _call(
                'ResNet', 'bottleneck' if bottleneck else 'basic',
                list(layers), [b, 2 * b, 4 * b, 8 * b], spatial_dims=2,
                n_input_channels=a['in_channels'], conv1_t_size=7,
                conv1_t_stride=2, shortcut_type='B', bias_downsample=False,
                feed_forward=False)
        ])

    def convert(self, state_dict, arch):
        plain = self._delegate(arch)
        return plain.convert(state_dict, arch) if plain else \
            super().convert(state_dict, arch)


class MmpretrainTarget(Target):
    name = 'mmpretrain'

    def unsupported(self, arch: BackboneArch) -> Optional[str]:
        return None

    def problems(self, arch: BackboneArch) -> List[str]:
        return []

    def code(self, arch: BackboneArch) -> str:
        defaults = dict(in_channels=3, stem_channels=64, base_channels=64,
                        deep_stem=False, avg_down=False)
        args = dict(type='ResNet')
        args.update((k, v) for k, v in arch.args.items()
                    if k not in defaults or defaults[k] != v)
        return '\n'.join([
            'from mmengine.runner import load_checkpoint',
            'from mmpretrain.models import ImageClassifier',
            'model = ' + _call(
                'ImageClassifier', backbone=args,
                neck=dict(type='GlobalAveragePooling'))
        ])

    def convert(self, state_dict, arch):
        return OrderedDict(
            ('backbone.' + k, v) for k, v in state_dict.items())

    def file_object(self, state_dict, meta):
        return dict(meta=meta, state_dict=state_dict)

    def load_code(self, path: str) -> str:
        return f'load_checkpoint(model, {path!r})'


TARGET_CLASSES: Dict[str, Target] = OrderedDict(
    (t.name, t) for t in (TorchvisionTarget(), TimmTarget(), SmpTarget(),
                          MonaiTarget(), MmpretrainTarget(), PlainTarget()))


def get_target(name: str) -> Target:
    if name not in TARGET_CLASSES:
        raise ValueError(f'Unknown export target {name!r}; choose from '
                         f"{', '.join(TARGETS)}.")
    return TARGET_CLASSES[name]


def default_targets(arch: BackboneArch,
                    preferred: Sequence[str] = ('torchvision', 'timm')
                    ) -> List[str]:
    """``'auto'`` targets: those of ``preferred`` that fit a ResNet exactly
    (else ``mmpretrain``, which fits any); ``plain`` for the 3D encoder."""
    if arch.type == 'UNet3DEncoder':
        return ['plain']
    fitting = [
        t for t in preferred if arch.type in get_target(t).types
        and get_target(t).unsupported(arch) is None
        and not get_target(t).problems(arch)
    ]
    return fitting or ['mmpretrain']


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------
@dataclass
class KeyMatchReport:
    """The export loaded into the target library's model.

    Attributes:
        target (str): The target's name.
        model (str): The Python code that built the target model.
        module (str): The module the export was loaded into.
        total (int): Keys of that module (num_batches_tracked included).
        matched (int): Keys loaded with equal shapes.
        missing (list[str]): Keys of the module the export lacks.
        unexpected (list[str]): Keys of the export the module lacks.
        mismatched (list[tuple]): ``(key, export shape, model shape)``.
        problems (list[str]): Behaviour the export cannot carry.
        notes (list[str]): Assumptions and hints; they do not fail.
        error (str, optional): Why no model could be built or no export
            made (unsupported backbone, library not installed).
    """
    target: str
    model: str = ''
    module: str = 'model'
    total: int = 0
    matched: int = 0
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]] = \
        field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return not (self.error or self.missing or self.unexpected
                    or self.mismatched or self.problems)

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out['mismatched'] = [[k, list(a), list(b)]
                             for k, a, b in self.mismatched]
        out['ok'] = self.ok
        return out

    def details(self, limit: int = 20) -> str:
        """The key lists and messages, one per line (empty when clean)."""
        lines = []
        if self.error:
            lines.append(f'  error: {self.error}')
        for kind, keys in (('missing', self.missing), ('unexpected',
                                                       self.unexpected)):
            if keys:
                lines.append(f'  {kind} ({len(keys)}): ' +
                             ', '.join(keys[:limit]) +
                             (' ...' if len(keys) > limit else ''))
        if self.mismatched:
            lines.append(f'  shape mismatch ({len(self.mismatched)}), key: '
                         'export shape vs model shape:')
            lines += [f'    {k}: {tuple(a)} vs {tuple(b)}'
                      for k, a, b in self.mismatched[:limit]]
            if len(self.mismatched) > limit:
                lines.append('    ...')
        lines += [f'  problem: {p}' for p in self.problems]
        lines += [f'  note: {n}' for n in self.notes]
        return '\n'.join(lines)


def match_keys(module: nn.Module, state_dict: Mapping,
               report: KeyMatchReport) -> KeyMatchReport:
    """Fill ``report`` by loading ``state_dict`` into ``module``
    (``strict=False``; tensors with another shape are left out)."""
    own = module.state_dict()
    report.total = len(own)
    report.mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                         for k, v in state_dict.items()
                         if k in own and v.shape != own[k].shape]
    bad = {k for k, _, _ in report.mismatched}
    # torch fills a missing BatchNorm counter itself (old checkpoints).
    report.missing = [k for k in own if k not in state_dict
                      and not k.endswith('num_batches_tracked')]
    report.unexpected = [k for k in state_dict if k not in own]
    loadable = {k: v for k, v in state_dict.items()
                if k in own and k not in bad}
    module.load_state_dict(loadable, strict=False)
    report.matched = len(loadable)
    return report


@dataclass
class ExportResult:
    """One export: ``state_dict`` (the target's keys), what to save
    (``file_object``) and the :class:`KeyMatchReport`."""
    target: str
    arch: Optional[BackboneArch]
    state_dict: Optional['OrderedDict[str, torch.Tensor]']
    report: KeyMatchReport
    meta: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def file_object(self):
        return get_target(self.target).file_object(self.state_dict,
                                                   self.meta)

    def build_model(self) -> nn.Module:
        """A fresh target model (random weights), built by the code in
        ``report.model``."""
        return get_target(self.target).build(self.arch)

    def load_snippet(self, path: str) -> str:
        """Python that builds the target model and loads ``path``."""
        target = get_target(self.target)
        return f'{self.report.model}\n{target.load_code(path)}'

    def save(self, path: str) -> None:
        """Write the export atomically (a plain ``torch.save`` file)."""
        if osp.dirname(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
        atomic_torch_save(self.file_object, path)


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------
_UNPARSED = '<not a literal>'


def _literal(node: ast.AST):
    """A config value from its syntax tree: literals, lists, tuples and
    ``dict(...)``; anything else (names, calls) is ``_UNPARSED``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id == 'dict' and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords
                if kw.arg is not None}
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys,
                                                          node.values)
                if k is not None}
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _UNPARSED


def _config_backbone(checkpoint: Mapping) -> Optional[Mapping]:
    """``model.backbone`` of the config text in ``meta['cfg']``, if any.

    The text is parsed, never run (``Config.fromstring`` would execute
    whatever a downloaded checkpoint carries): mmengine saves the final
    values, so the backbone is a literal ``dict(...)``.
    """
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    text = meta.get('cfg') if isinstance(meta, Mapping) else None
    if not isinstance(text, str) or 'backbone' not in text:
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:  # an unreadable config only loses the extra checks
        return None
    model = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'model'
                for t in node.targets):
            model = _literal(node.value)
    backbone = model.get('backbone') if isinstance(model, dict) else None
    return backbone if isinstance(backbone, dict) else None


def backbone_state_dict(checkpoint: Union[str, Mapping],
                        prefix: str = 'backbone.'
                        ) -> Tuple['OrderedDict[str, torch.Tensor]',
                                   Optional[Mapping]]:
    """The tensors under ``prefix`` (stripped) and the config's backbone.

    ``checkpoint`` is a checkpoint file or a loaded checkpoint (a state
    dict, or a dict with one under ``state_dict``/``model``).
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = load_weights_file(checkpoint)
    state_dict, _ = get_converter('mmmedssl')(checkpoint, prefix=prefix)
    return state_dict, _config_backbone(checkpoint)


def export_state_dict(state_dict: Mapping,
                      target: str,
                      backbone_cfg: Optional[Mapping] = None,
                      depth: Optional[int] = None,
                      meta: Optional[dict] = None) -> ExportResult:
    """Export a backbone state dict (keys without prefix) to ``target``
    and check it in the target library's model.

    Raises:
        ValueError: unknown target, a backbone that cannot be exported or
            that ``target`` has no model for.
        ImportError: the target library is not installed.
    """
    spec = get_target(target)
    arch = infer_arch(state_dict, backbone_cfg, depth)
    if arch.type not in spec.types:
        fitting = [t for t in TARGETS if arch.type in get_target(t).types]
        raise ValueError(f'{target} has no {arch.type}; export it with '
                         f"--to {' / '.join(fitting)}.")
    exported = spec.convert(state_dict, arch)
    report = KeyMatchReport(
        target=target,
        model=spec.code(arch),
        module=spec.module,
        problems=spec.problems(arch),
        notes=list(arch.notes))
    if target == 'monai' and arch.type == 'UNet3DEncoder':
        report.notes.append(
            'MONAI has no Models Genesis encoder (BasicUNet keeps one width '
            'per level): this is the plain PyTorch export')
    hint = spec.unsupported(arch)
    if hint:
        report.notes.append(hint)
    model = spec.build(arch)
    match_keys(spec.submodule(model), exported, report)
    meta = dict(meta or {}, target=target, backbone=arch.describe())
    return ExportResult(target, arch, exported, report, meta)


def export_backbone(checkpoint: Union[str, Mapping],
                    target: str,
                    prefix: str = 'backbone.',
                    backbone_cfg: Optional[Mapping] = None,
                    depth: Optional[int] = None) -> ExportResult:
    """Export the backbone under ``prefix`` of ``checkpoint`` to
    ``target`` (one of :data:`TARGETS`).

    Args:
        checkpoint (str | dict): A checkpoint file or a loaded checkpoint.
            For a ``last_checkpoint`` pointer or a work dir use
            :func:`mmmedssl.apis.export_checkpoint`.
        target (str): The library whose model the export loads into.
        prefix (str): The backbone's prefix, e.g.
            ``'momentum_encoder.module.0.'`` for MoCo's key encoder.
            Defaults to ``'backbone.'``.
        backbone_cfg (dict, optional): The backbone's config; by default
            ``model.backbone`` of the config saved in the checkpoint.
        depth (int, optional): Build the target at this ResNet depth
            instead of the inferred one.

    Returns:
        ExportResult: check ``result.ok``; ``result.report`` lists the
        missing, unexpected and shape-mismatched keys.
    """
    state_dict, saved_cfg = backbone_state_dict(checkpoint, prefix)
    meta = dict(prefix=prefix)
    if isinstance(checkpoint, (str, os.PathLike)):
        meta['source'] = str(checkpoint)
    return export_state_dict(state_dict, target,
                             backbone_cfg if backbone_cfg is not None else
                             saved_cfg, depth, meta)


def try_export(state_dict: Mapping,
               targets: Sequence[str],
               backbone_cfg: Optional[Mapping] = None,
               depth: Optional[int] = None,
               meta: Optional[dict] = None) -> List[ExportResult]:
    """:func:`export_state_dict` for each target; a target that cannot be
    exported gives a result whose ``report.error`` says why."""
    results = []
    for target in targets:
        try:
            results.append(
                export_state_dict(state_dict, target, backbone_cfg, depth,
                                  meta))
        except (ValueError, ImportError) as err:
            results.append(
                ExportResult(target, None, None,
                             KeyMatchReport(target, error=str(err)),
                             dict(meta or {})))
    return results


def resolve_targets(targets: Union[str, Sequence[str]],
                    arch: BackboneArch) -> List[str]:
    """Expand ``'auto'`` (see :func:`default_targets`); check the names."""
    names = [targets] if isinstance(targets, str) else list(targets)
    out: List[str] = []
    for name in names:
        for t in (default_targets(arch) if name == 'auto' else [name]):
            get_target(t)
            if t not in out:
                out.append(t)
    return out


# --------------------------------------------------------------------------
# Writing: <target>.pth, report.json, README.md
# --------------------------------------------------------------------------
def format_table(results: Sequence[ExportResult]) -> str:
    """The reports as a text table, followed by each failure's details."""
    header = ('target', 'matched', 'missing', 'unexpected', 'shape', 'ok')
    rows = [header] + [
        (r.target, f'{r.report.matched}/{r.report.total}',
         str(len(r.report.missing)), str(len(r.report.unexpected)),
         str(len(r.report.mismatched)),
         'yes' if r.ok else ('ERROR' if r.report.error else 'NO'))
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    for r in results:
        details = r.report.details()
        if details:
            lines.append(f'{r.target}:\n{details}')
    return '\n'.join(lines)


def _readme(results: Sequence[ExportResult], files: Mapping[str, str],
            source: Mapping) -> str:
    lines = ['# Exported backbone', '']
    lines += [f'- {k}: {v}' for k, v in source.items()]
    arch = next((r.arch for r in results if r.arch), None)
    if arch is not None:
        lines.append(f'- backbone: `{arch.describe()}`')
    lines += ['', 'Key-match report (each export loaded into its library\'s '
              'model): `report.json`.', '']
    for r in results:
        if r.target not in files:
            lines += [f'## {r.target}: not exported', '', '```',
                      r.report.details() or 'failed', '```', '']
            continue
        lines += [f'## {r.target}: `{files[r.target]}`', '',
                  f'{r.report.matched}/{r.report.total} keys matched'
                  + ('' if r.ok else ' (partial)') + '.', '', '```python',
                  r.load_snippet(files[r.target]), '```', '']
    return '\n'.join(lines)


def write_exports(results: Sequence[ExportResult],
                  out_dir: str,
                  source: Optional[Mapping] = None,
                  allow_partial: bool = False) -> Dict[str, str]:
    """Write ``<out_dir>/<target>.pth`` for every ok export (every export
    with a state dict when ``allow_partial``), then ``report.json`` and a
    ``README.md`` with the Python that loads each file. All atomically.

    Returns:
        dict: target -> file written.
    """
    os.makedirs(out_dir, exist_ok=True)
    files = {}
    for r in results:
        if r.state_dict is not None and (r.ok or allow_partial):
            path = osp.join(out_dir, f'{r.target}.pth')
            r.save(path)
            files[r.target] = path
    source = dict(source or {})
    report = dict(
        source=source,
        backbone=next((r.arch.describe() for r in results if r.arch), None),
        exports={
            r.target: dict(r.report.to_dict(), file=files.get(r.target))
            for r in results
        })
    atomic_write(
        (json.dumps(report, indent=2, default=str) + '\n').encode(),
        osp.join(out_dir, 'report.json'))
    atomic_write(_readme(results, files, source).encode(),
                 osp.join(out_dir, 'README.md'))
    return files
