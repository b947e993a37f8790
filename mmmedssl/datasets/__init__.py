# Copyright (c) mmmedssl contributors. All rights reserved.
from .chestxray14 import ChestXray14
from .crop_pairs import CropPairDataset
from .image_folder import MedImageFolder, scan_image_folder
from .image_list import MedImageList
from .isic2017 import ISIC2017
from .surgical_video import SurgicalVideoFrames
from .transforms import *  # noqa: F401,F403
from .splits import (draw_groups, label_fraction_indices, split_by_ratios,
                     split_groups)
from .utils import seed_worker

__all__ = [
    'ChestXray14', 'CropPairDataset', 'ISIC2017', 'MedImageFolder',
    'MedImageList', 'SurgicalVideoFrames', 'draw_groups',
    'label_fraction_indices', 'scan_image_folder', 'seed_worker',
    'split_by_ratios', 'split_groups'
]
