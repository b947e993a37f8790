# Copyright (c) mmmedssl contributors. All rights reserved.
"""Convert public ResNet weights to an mmmedssl backbone checkpoint.

    python tools/model_converters/torchvision_to_mmmedssl.py IN OUT \\
        [--converter auto] [--prefix PREFIX]

IN is a local file in any layout a registered weight converter reads (a
torchvision ResNet state dict such as ``resnet50-0676ba61.pth``, an official
MoCo release, an mmpretrain or mmmedssl checkpoint; ``--converter auto``
tells them apart). OUT gets ``{'state_dict': {'backbone.<key>': tensor},
'meta': {'source', 'converter', 'dropped'}}``, which plain mmengine loading
reads::

    init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')

The keys left out (classifier, projection head, key encoder, ...) are
printed and recorded in ``meta['dropped']``. Nothing is downloaded.
"""
import argparse
import sys
from collections import OrderedDict
from typing import Optional

# Importing mmmedssl first installs the safe checkpoint loader.
import mmmedssl  # noqa: F401
from mmmedssl.models.utils import (detect_converter, get_converter,
                                   group_keys, load_weights_file)
from mmmedssl.utils.checkpoint import atomic_torch_save

BACKBONE_PREFIX = 'backbone.'


def convert(in_path: str,
            out_path: str,
            converter: str = 'auto',
            prefix: Optional[str] = None) -> dict:
    """Convert ``in_path`` and write the mmmedssl checkpoint ``out_path``.

    Args:
        in_path (str): The public weights file.
        out_path (str): Where to write; written atomically.
        converter (str): A ``WEIGHT_CONVERTERS`` name. Defaults to 'auto'.
        prefix (str, optional): Passed to the converter. Defaults to None.

    Returns:
        dict: The ``meta`` written to ``out_path``.
    """
    checkpoint = load_weights_file(in_path)
    name = (
        detect_converter(checkpoint, prefix)
        if converter == 'auto' else converter)
    state_dict, dropped = get_converter(name)(checkpoint, prefix=prefix)
    meta = dict(source=str(in_path), converter=name, dropped=list(dropped))
    atomic_torch_save(
        dict(
            state_dict=OrderedDict(
                (BACKBONE_PREFIX + k, v) for k, v in state_dict.items()),
            meta=meta), out_path)
    print(f'{in_path} (converter {name}): wrote {len(state_dict)} tensors '
          f'under {BACKBONE_PREFIX!r} to {out_path}')
    print(f'dropped {len(dropped)} keys: {group_keys(dropped)}')
    return meta


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='public weights file (local)')
    parser.add_argument('dst', help='mmmedssl checkpoint to write')
    parser.add_argument(
        '--converter',
        default='auto',
        help='weight converter name: auto (default), torchvision_resnet, '
        'moco, mmpretrain, mmmedssl, or one you registered')
    parser.add_argument(
        '--prefix',
        default=None,
        help="key prefix of the encoder in SRC (the converter's default if "
        "omitted, e.g. 'module.encoder_q.' for moco)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    convert(args.src, args.dst, converter=args.converter, prefix=args.prefix)
    return 0


if __name__ == '__main__':
    sys.exit(main())
