# Copyright (c) mmmedssl contributors. All rights reserved.
"""What the visualization tests share: the commands of a section of
docs/visualization.md and where a colour lies in a saved figure."""
import os.path as osp
import re
import shlex

import numpy as np
from matplotlib.colors import to_rgb

from ..conftest import REPO_ROOT


def doc_commands(section: str) -> list:
    """The argument lists (without ``python``) of the ``python ...`` lines
    in the code blocks of ``## section`` of docs/visualization.md."""
    with open(osp.join(REPO_ROOT, 'docs', 'visualization.md')) as f:
        text = f.read()
    body = text.split(f'## {section}\n')[1].split('\n## ')[0]
    blocks = re.findall(r'```\n(.*?)```', body, re.S)
    return [shlex.split(line)[1:] for block in blocks
            for line in block.splitlines() if line.startswith('python ')]



def pixels_of(image, colour, tol):
    """``(rows, cols)`` of the pixels of ``colour`` (a matplotlib colour:
    'C0', an RGB(A) tuple in [0, 1]) within ``tol`` per channel."""
    mask = np.abs(image[..., :3] - np.asarray(to_rgb(colour))).max(-1) <= tol
    return np.nonzero(mask)


def axes_crop(ax, image):
    """The part of the saved ``image`` inside ``ax``."""
    box = ax.get_window_extent()
    height = image.shape[0]
    return image[int(height - box.y1) + 2:int(height - box.y0) - 2,
                 int(box.x0) + 2:int(box.x1) - 2]
