# Copyright (c) mmmedssl contributors. All rights reserved.
import os
import os.path as osp
from typing import List, Optional

from mmpretrain.datasets import BaseDataset

from mmmedssl.registry import DATASETS
from .utils import read_text


@DATASETS.register_module()
class CropPairDataset(BaseDataset):
    """Pre-computed 3D crop pairs saved as ``.npy`` files (PCRL 3D).

    Each sample carries ``img_path``; read it with ``LoadVolume``, which
    gives the saved array as it is, e.g. the ``[2, 64, 64, 32]`` pairs of
    ``tools/dataset_converters/luna_crop_pairs.py`` (two views, ``(x, y,
    z)`` axes) or the ``[2, 32, 32, 16]`` demo pairs of
    ``tools/dataset_converters/make_demo_volumes.py``.

    Without ``ann_file`` every ``*.npy`` under ``data_root`` (and
    ``data_prefix``), sub-folders included, is listed in sorted order.
    With ``ann_file`` (relative to ``data_root``, such as the converter's
    ``index.txt``) the files listed there, one path relative to
    ``data_root``/``data_prefix`` per line, in that order.

    Args:
        data_root (str): The folder of the pairs.
        ann_file (str, optional): A text index, or None/``''`` to list
            the folder. Defaults to None.
        **kwargs: ``data_prefix``, ``pipeline``, ``test_mode``,
            ``lazy_init``, ``indices``... as in mmpretrain's
            ``BaseDataset``.
    """

    def __init__(self, data_root: str, ann_file: Optional[str] = None,
                 **kwargs) -> None:
        if not data_root:
            raise ValueError('CropPairDataset: data_root is required (the '
                             'folder of the .npy crop pairs).')
        super().__init__(ann_file=ann_file or '', data_root=data_root,
                         **kwargs)

    @property
    def _folder(self) -> str:
        return self.data_prefix.get('img_path') or self.data_root

    def load_data_list(self) -> List[dict]:
        folder = self._folder
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'CropPairDataset: folder {folder!r} does not exist (make '
                'the pairs with tools/dataset_converters/luna_crop_pairs.py '
                'or make_demo_volumes.py).')
        if self.ann_file:
            paths = self._read_index(folder)
        else:
            paths = []
            for root, dirs, files in os.walk(folder):
                dirs.sort()
                paths.extend(
                    osp.join(root, name) for name in sorted(files)
                    if name.lower().endswith('.npy'))
            if not paths:
                raise ValueError(
                    f'CropPairDataset: no .npy file under {folder!r}; '
                    'expected crop pairs made by luna_crop_pairs.py or '
                    'make_demo_volumes.py.')
        return [dict(img_path=p) for p in paths]

    def _read_index(self, folder: str) -> List[str]:
        path = self.ann_file
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'CropPairDataset: ann_file {path!r} does not exist '
                f'(ann_file is relative to data_root={self.data_root!r}).')
        paths = []
        for lineno, line in enumerate(read_text(path).splitlines(), 1):
            entry = line.strip()
            if not entry:
                continue
            if not entry.lower().endswith('.npy'):
                raise ValueError(f'{path}: line {lineno}: {entry!r} is '
                                 'not a .npy file.')
            full = osp.join(folder, entry)
            if not osp.isfile(full):
                raise FileNotFoundError(
                    f'{path}: line {lineno}: {full} does not exist.')
            paths.append(full)
        if not paths:
            raise ValueError(f'{path}: no .npy file listed.')
        return paths

    def extra_repr(self) -> List[str]:
        body = [f'Data root: \t{self.data_root}']
        if self.ann_file:
            body.append(f'Index: \t{self.ann_file}')
        return body
