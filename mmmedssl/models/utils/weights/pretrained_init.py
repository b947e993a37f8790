# Copyright (c) mmmedssl contributors. All rights reserved.
"""The ``Pretrained`` initializer of the mmmedssl scope: mmengine's, plus an
optional weight converter."""
from typing import Optional

from mmengine.model.weight_init import PretrainedInit, update_init_info

from mmmedssl.registry import WEIGHT_INITIALIZERS
from .converters import get_converter
from .loading import load_converted_weights


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
