# Copyright (c) mmmedssl contributors. All rights reserved.
"""Export an mmmedssl/mmpretrain ResNet backbone as a torchvision state dict.

    python tools/model_converters/mmmedssl_to_torchvision.py IN OUT \\
        [--prefix backbone.] [--depth auto]

IN is an mmmedssl or mmpretrain checkpoint; the backbone under ``--prefix``
(``backbone.`` by default; another encoder's prefix, e.g. a momentum
encoder's, exports that one) is exported. mmpretrain's ResNet
(``style='pytorch'``, no deep stem) has torchvision's parameter names, so
no key is renamed. With ``--depth auto`` the depth is inferred from the
blocks per stage.

The result is checked to load into ``torchvision.models.resnet<depth>()``
with only ``fc.weight`` and ``fc.bias`` missing (anything else is an error,
e.g. a deep-stem ResNetV1c or a narrowed ResNet), then OUT is written, as a
plain state dict without ``fc``, atomically.
"""
import argparse
import re
import sys
from collections import OrderedDict
from typing import Mapping, Union

# Importing mmmedssl first installs the safe checkpoint loader.
import mmmedssl  # noqa: F401
import torch
import torchvision

from mmmedssl.models.utils import get_converter, load_weights_file
from mmmedssl.utils.checkpoint import atomic_torch_save

# (bottleneck?, blocks per stage) -> depth, as torchvision builds them.
DEPTHS = {
    (False, (2, 2, 2, 2)): 18,
    (False, (3, 4, 6, 3)): 34,
    (True, (3, 4, 6, 3)): 50,
    (True, (3, 4, 23, 3)): 101,
    (True, (3, 8, 36, 3)): 152,
}
CLASSIFIER_KEYS = {'fc.weight', 'fc.bias'}


def infer_depth(state_dict: Mapping[str, torch.Tensor]) -> int:
    """ResNet depth from the blocks per stage and the block type."""
    blocks = []
    for stage in range(1, 5):
        indices = {
            int(m.group(1))
            for m in (re.match(rf'layer{stage}\.(\d+)\.', k)
                      for k in state_dict) if m
        }
        blocks.append(len(indices))
    bottleneck = 'layer1.0.conv3.weight' in state_dict
    key = (bottleneck, tuple(blocks))
    if key not in DEPTHS:
        raise ValueError(
            f'Cannot infer the ResNet depth: blocks per stage {blocks} '
            f"({'bottleneck' if bottleneck else 'basic'} blocks) match no "
            f'torchvision ResNet ({sorted(set(DEPTHS.values()))}). Pass '
            '--depth, or check --prefix.')
    return DEPTHS[key]


def convert(in_path: str,
            out_path: str,
            prefix: str = 'backbone.',
            depth: Union[int, str] = 'auto') -> int:
    """Export the backbone of ``in_path`` to ``out_path``.

    Args:
        in_path (str): An mmmedssl or mmpretrain checkpoint.
        out_path (str): The torchvision state dict to write.
        prefix (str): The backbone's key prefix in ``in_path``.
            Defaults to 'backbone.'.
        depth (int | str): 18, 34, 50, 101, 152 or 'auto'.

    Returns:
        int: The depth of the exported ResNet.

    Raises:
        ValueError: if the backbone does not load into torchvision's ResNet
            of that depth with only ``fc`` missing.
    """
    state_dict, _ = get_converter('mmmedssl')(
        load_weights_file(in_path), prefix=prefix)
    if depth == 'auto':
        depth = infer_depth(state_dict)
    depth = int(depth)
    if depth not in DEPTHS.values():
        raise ValueError(f'--depth must be one of '
                         f'{sorted(set(DEPTHS.values()))} or auto, got '
                         f'{depth}.')
    model = getattr(torchvision.models, f'resnet{depth}')(weights=None)
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(f'The backbone under {prefix!r} in {in_path} does '
                         f'not fit torchvision resnet{depth}: {err}') from None
    missing = set(result.missing_keys)
    if result.unexpected_keys or missing != CLASSIFIER_KEYS:
        raise ValueError(
            f'The backbone under {prefix!r} in {in_path} does not fit '
            f'torchvision resnet{depth}: missing (besides fc) '
            f'{sorted(missing - CLASSIFIER_KEYS)}, unexpected '
            f'{sorted(result.unexpected_keys)}. Only ResNets with '
            "style='pytorch' and no deep stem have torchvision "
            'counterparts.')
    atomic_torch_save(OrderedDict(state_dict), out_path)
    print(f'{in_path}: wrote the {len(state_dict)} tensors of a torchvision '
          f'resnet{depth} (no fc) to {out_path}')
    return depth


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='mmmedssl or mmpretrain checkpoint')
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
