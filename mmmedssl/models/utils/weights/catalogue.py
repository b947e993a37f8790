# Copyright (c) mmmedssl contributors. All rights reserved.
"""The public weights files the converters understand, and where to get
them. mmmedssl never downloads: the user fetches a file once."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, Tuple

# file name -> (URL, what it is)
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


def missing_file_message(filename: str) -> str:
    """Why ``filename`` cannot be loaded, and where the known public files
    come from."""
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
