# Copyright (c) mmmedssl contributors. All rights reserved.
"""Export an mmmedssl/mmpretrain ResNet backbone as a torchvision state dict.

    python tools/model_converters/mmmedssl_to_torchvision.py IN OUT \\
        [--prefix backbone.] [--depth auto]

The torchvision-only form of ``export_backbone.py IN --to torchvision --out
OUT`` (same library code). IN is a checkpoint file, a ``last_checkpoint``
pointer or a work dir; the backbone under ``--prefix`` (``backbone.`` by
default; e.g. ``momentum_encoder.module.0.`` for MoCo's key encoder) is
exported. With ``--depth auto`` the depth is inferred from the blocks per
stage.

The result must load into ``torchvision.models.resnet<depth>()`` (with
``fc`` replaced by ``Identity``) with every key matching, or nothing is
written (e.g. a deep-stem ResNetV1c or a narrowed ResNet has no torchvision
counterpart); OUT is a plain state dict without ``fc``, written atomically.
"""
import argparse
import sys
from typing import Union

# Importing mmmedssl first installs the safe checkpoint loader.
import mmmedssl  # noqa: F401
from mmmedssl.apis import export_checkpoint
from mmmedssl.models.utils.weights.export import (RESNET_DEPTHS,
                                                  infer_resnet_depth)

infer_depth = infer_resnet_depth  # the name this tool always had


def convert(in_path: str,
            out_path: str,
            prefix: str = 'backbone.',
            depth: Union[int, str] = 'auto') -> int:
    """Export the backbone of ``in_path`` to ``out_path``.

    Returns:
        int: The depth of the exported ResNet.

    Raises:
        ValueError: if the backbone does not fit torchvision's ResNet of
            that depth exactly; the message lists the keys.
    """
    if depth != 'auto' and int(depth) not in RESNET_DEPTHS:
        raise ValueError(f'--depth must be one of {sorted(RESNET_DEPTHS)} '
                         f'or auto, got {depth}.')
    source, (result, ) = export_checkpoint(
        in_path, 'torchvision', prefix=prefix,
        depth=None if depth == 'auto' else int(depth))
    if not result.ok:
        what = (f'torchvision resnet{result.arch.args["depth"]}'
                if result.arch else 'torchvision')
        raise ValueError(
            f'The backbone under {prefix!r} in {source} does not fit '
            f'{what} (missing = torchvision keys not in the file, '
            'unexpected = file keys torchvision lacks):\n'
            f'{result.report.details()}')
    result.save(out_path)
    depth = result.arch.args['depth']
    print(f'{source}: wrote the {len(result.state_dict)} tensors of a '
          f'torchvision resnet{depth} (no fc) to {out_path}')
    return depth


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'src', help='checkpoint file, last_checkpoint file or work dir')
    parser.add_argument('dst', help='torchvision state dict to write')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help="the backbone's key prefix (default: backbone.)")
    parser.add_argument(
        '--depth',
        default='auto',
        help='18, 34, 50, 101, 152 or auto (inferred from the keys)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    convert(args.src, args.dst, prefix=args.prefix, depth=args.depth)
    return 0


if __name__ == '__main__':
    sys.exit(main())
