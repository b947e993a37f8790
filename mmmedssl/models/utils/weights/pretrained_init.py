# Copyright (c) mmmedssl contributors. All rights reserved.
"""The ``Pretrained`` initializer of the mmmedssl scope: mmengine's, plus an
optional weight converter."""
from typing import Optional

import re
from collections import OrderedDict

from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_with_prefix)

from mmmedssl.registry import WEIGHT_INITIALIZERS
from .converters import get_converter
from .loading import (check_min_match, load_converted_weights,
                      load_state_dict_with_report)


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
            ``'moco'``, ``'auto'``). None (the default): mmengine's reading
            and key handling, with ``min_match`` checked.
        strict (bool): With a converter, raise on missing or unexpected
            keys. Defaults to False.
        min_match (float): Raise unless at least this share of the
            module's tensors is loaded from the file with the right shape
            (a file of another architecture would otherwise load nothing
            with only a warning). Defaults to 1: every tensor of the
            module; 0 accepts any file.
    """

    def __init__(self,
                 checkpoint,
                 prefix=None,
                 map_location='cpu',
                 converter: Optional[str] = None,
                 strict: bool = False,
                 min_match: float = 1.):
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)
        if not 0 <= min_match <= 1:
            raise ValueError("init_cfg type='Pretrained': min_match must be "
                             f'a share between 0 and 1, got {min_match!r}.')
        self.min_match = min_match
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
            self._load_plain(module)
        else:
            load_converted_weights(
                module,
                self.checkpoint,
                converter=self.converter,
                prefix=self.prefix,
                strict=self.strict,
                map_location=self.map_location,
                min_match=self.min_match)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _load_plain(self, module) -> None:
        """mmengine's loading (same reader, same key handling) with the
        matched / missing / unexpected / shape-mismatched tensors counted
        and checked against ``min_match``."""
        if self.prefix is None:
            checkpoint = _load_checkpoint(
                self.checkpoint, map_location=self.map_location)
            state_dict = checkpoint.get('state_dict', checkpoint)
            metadata = getattr(state_dict, '_metadata', None)
            state_dict = OrderedDict(
                (re.sub(r'^module\.', '', k), v)
                for k, v in state_dict.items())
            if metadata is not None:
                state_dict._metadata = metadata
        else:
            state_dict = _load_checkpoint_with_prefix(
                self.prefix, self.checkpoint, map_location=self.map_location)
        report = load_state_dict_with_report(module, state_dict)
        what = f'Pretrained {self.checkpoint}'
        if self.prefix is not None:
            what += f' (prefix {self.prefix!r})'
        what += f' into {type(module).__name__}'
        check_min_match(report, self.min_match, what,
                        "init_cfg type='Pretrained' min_match")
        print_log(f'{what}: {report.summary()}.', logger='current')

    def _get_init_info(self):
        # Same wording as mmengine's, whose class name it would print.
        info = f'PretrainedInit: load from {self.checkpoint}'
        if self.converter is not None:
            info += f' (converter {self.converter})'
        return info
