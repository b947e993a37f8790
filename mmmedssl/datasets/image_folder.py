# Copyright (c) mmmedssl contributors. All rights reserved.
"""Unlabelled (or folder-labelled) images found by scanning a folder, with
no annotation file."""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmmedssl.registry import DATASETS
from .image_list import MedImageList
from .splits import check_split_ratios, split_by_ratios
from .utils import check_label_fraction

# Common 2D image and medical formats; matched case-insensitively.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.dcm',
                    '.nii', '.nii.gz')
LABEL_SOURCES = ('parent', )
ON_UNMATCHED = ('error', 'own_group')


def normalize_extensions(extensions: Union[str, Sequence[str]]) -> tuple:
    """``'png'`` / ``['.PNG', 'nii.gz']`` -> ``('.png', '.nii.gz')``."""
    if isinstance(extensions, str):
        extensions = (extensions, )
    result = []
    for ext in extensions:
        if not isinstance(ext, str) or not ext.strip('. '):
            raise ValueError(f'extensions: {ext!r} is not a file extension '
                             "such as '.png' or '.nii.gz'.")
        ext = ext.strip().lower()
        result.append(ext if ext.startswith('.') else '.' + ext)
    if not result:
        raise ValueError('extensions is empty; give at least one, such as '
                         "'.png'.")
    return tuple(result)


def find_images(root: str,
                extensions: Sequence[str] = IMAGE_EXTENSIONS) -> List[str]:
    """The files under ``root`` (recursively, following links to folders)
    whose names end with one of ``extensions`` (any case), as sorted paths
    relative to ``root`` with ``/`` separators. Hidden files and folders
    (names starting with ``.``, such as macOS ``._x.png`` copies) are
    skipped."""
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'image folder {root} does not exist or is not a folder '
            f'(relative paths start from {os.getcwd()}).')
    extensions = normalize_extensions(extensions)
    found = []
    visited = set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = osp.realpath(folder)
        if real in visited:  # a link back up the tree
            subfolders[:] = []
            continue
        visited.add(real)
        subfolders[:] = [d for d in subfolders if not d.startswith('.')]
        for name in files:
            if not name.startswith('.') and name.lower().endswith(
                    extensions):
                rel = osp.relpath(osp.join(folder, name), root)
                found.append(rel.replace(os.sep, '/'))
    return sorted(found)


def compile_group_regex(group_regex: Optional[str]):
    """The compiled ``group_regex``; a bad pattern is a ValueError naming
    it."""
    if group_regex is None:
        return None
    try:
        return re.compile(group_regex)
    except (re.error, TypeError) as err:
        raise ValueError(f'group_regex {group_regex!r} is not a valid '
                         f'regular expression: {err}.') from None


def group_of(path: str, pattern, on_unmatched: str = 'error') -> str:
    """The group id of ``path`` (relative, ``/``-separated): the named group
    ``group`` of the first match of ``pattern`` (``re.search``), else its
    first group, else the whole match. A path that does not match is an
    error, or its own group with ``on_unmatched='own_group'``."""
    match = pattern.search(path)
    if match is None:
        if on_unmatched == 'own_group':
            return path
        raise ValueError(
            f'{path} does not match group_regex {pattern.pattern!r}; fix the '
            "pattern, or set on_unmatched='own_group' to make each such "
            'image its own group.')
    if 'group' in pattern.groupindex:
        group = match.group('group')
    elif pattern.groups:
        group = match.group(1)
    else:
        group = match.group(0)
    if not group:
        raise ValueError(f'{path}: group_regex {pattern.pattern!r} matches '
                         'but gives an empty group id.')
    return group


def scan_image_folder(root: str,
                      extensions: Sequence[str] = IMAGE_EXTENSIONS,
                      group_regex: Optional[str] = None,
                      on_unmatched: str = 'error',
                      label_from: Optional[str] = None,
                      split_ratios: Optional[Dict[str, float]] = None,
                      split_seed: int = 0) -> List[Dict[str, str]]:
    """One record per image file under ``root``, sorted by path, as
    :class:`MedImageList` reads them from a CSV: ``image`` (relative to
    ``root``), and ``group`` (with ``group_regex``), ``label`` (the parent
    folder's name, with ``label_from='parent'``) and ``split`` (with
    ``split_ratios``, drawn by group with ``split_seed``; each image its own
    group without ``group_regex``). See :class:`MedImageFolder`."""
    if on_unmatched not in ON_UNMATCHED:
        raise ValueError(f'on_unmatched must be one of {list(ON_UNMATCHED)}'
                         f', got {on_unmatched!r}.')
    if label_from is not None and label_from not in LABEL_SOURCES:
        raise ValueError(f'label_from must be None (unlabelled) or one of '
                         f'{list(LABEL_SOURCES)}, got {label_from!r}.')
    pattern = compile_group_regex(group_regex)
    extensions = normalize_extensions(extensions)
    images = find_images(root, extensions)
    if not images:
        raise ValueError(
            f'no image file in {root} (searched recursively for '
            f'{", ".join(extensions)}, any case; hidden files skipped). '
            'Check the folder, or set extensions.')
    rows = [dict(image=image) for image in images]
    if pattern is not None:
        for row in rows:
            try:
                row['group'] = group_of(row['image'], pattern, on_unmatched)
            except ValueError as err:
                raise ValueError(f'{root}: {err}') from None
    if label_from == 'parent':
        for row in rows:
            parts = row['image'].split('/')
            if len(parts) < 2:
                raise ValueError(
                    f"{osp.join(root, row['image'])}: label_from='parent' "
                    'takes the class from the folder holding each image '
                    f'(root/<class>/.../image), but this image is directly '
                    f'in {root}.')
            row['label'] = parts[-2]
    if split_ratios is not None:
        groups = [row.get('group', row['image']) for row in rows]
        for row, split in zip(rows,
                              split_by_ratios(groups, split_ratios,
                                              split_seed)):
            row['split'] = split
    return rows


@DATASETS.register_module()
class MedImageFolder(MedImageList):
    """The images found in a folder, without an annotation file: unlabelled
    data for self-supervised pretraining, or ImageNet-style class folders.

    ``data_root`` (joined with ``data_prefix['img_path']`` when given) is
    scanned recursively for files with one of ``extensions`` (any case;
    hidden files and folders skipped), in sorted path order. Each sample
    carries ``img_path``, and ``group_id`` with ``group_regex``, ``gt_label``
    with ``label_from``. Everything after the scan is :class:`MedImageList`'s
    (``group_sources``, ``label_fraction``, the leakage check), on records
    with the columns ``image``, ``group``, ``label`` and ``split``; the same
    records ``tools/dataset_converters/make_filelist.py`` writes to a CSV.

    Args:
        data_root (str): The folder of images. Required.
        extensions (Sequence[str]): File name endings to keep. Defaults to
            ``IMAGE_EXTENSIONS``: .png .jpg .jpeg .bmp .tif .tiff .dcm .nii
            .nii.gz.
        group_regex (str, optional): A regular expression searched in each
            image's path relative to the scanned folder (``/`` separators),
            whose named group ``group`` (else its first group, else the whole
            match) is the image's group: the patient, lesion or video, e.g.
            ``r'^(patient\\d+)/'`` or ``r'(?P<group>video\\d+)_frame'``.
            Splits and label fractions keep groups whole.
        on_unmatched (str): A path that ``group_regex`` does not match is an
            error (``'error'``, the default) or its own group
            (``'own_group'``).
        label_from (str, optional): None (default): unlabelled. ``'parent'``:
            the class is the name of the folder holding the image, classes
            sorted by name (ImageNet style) unless ``classes`` is given.
        split (str | Sequence[str], optional): Keep only these splits of
            ``split_ratios``. None keeps every image.
        split_ratios (dict, optional): ``dict(train=0.8, val=0.1,
            test=0.1)``: the splits, drawn by group (fractions of groups,
            not of images; each image its own group without
            ``group_regex``) by :func:`split_by_ratios`, so no group is in
            two splits and the draw depends only on ``split_seed`` and the
            set of groups. Needed by ``split``.
        split_seed (int): Defaults to 0.
        group_sources (bool): One sample per group, as in
            :class:`MedImageList`; needs ``group_regex``.
        label_fraction (float): As in :class:`MedImageList`; needs
            ``label_from``. Defaults to 1.
        fraction_seed (int): Defaults to 0.
        **kwargs: ``data_prefix``, ``pipeline``, ``classes``, ``metainfo``,
            ``test_mode``, ``lazy_init``... as in mmpretrain's
            ``BaseDataset``.
    """

    # Set from the other arguments; a CSV's columns do not apply here.
    _FIXED = ('ann_file', 'img_key', 'label_key', 'group_key', 'split_key',
              'split_file', 'mask_key', 'independent_splits')

    def __init__(self,
                 data_root: str = '',
                 extensions: Sequence[str] = IMAGE_EXTENSIONS,
                 group_regex: Optional[str] = None,
                 on_unmatched: str = 'error',
                 label_from: Optional[str] = None,
                 split: Union[None, str, Sequence[str]] = None,
                 split_ratios: Optional[Dict[str, float]] = None,
                 split_seed: int = 0,
                 group_sources: bool = False,
                 label_fraction: float = 1.0,
                 fraction_seed: int = 0,
                 **kwargs) -> None:
        name = type(self).__name__
        given = [key for key in self._FIXED if key in kwargs]
        if given:
            raise TypeError(
                f'{name} scans a folder and takes no {given}; use '
                'MedImageList for an annotation file (make one with '
                'tools/dataset_converters/make_filelist.py).')
        if not data_root:
            raise ValueError(
                f'{name}: data_root is required: the folder of images (in a '
                'config, e.g. --cfg-options '
                'train_dataloader.dataset.data_root=PATH).')
        self.extensions = normalize_extensions(extensions)
        self.group_regex = group_regex
        compile_group_regex(group_regex)
        if on_unmatched not in ON_UNMATCHED:
            raise ValueError(f'{name}: on_unmatched must be one of '
                             f'{list(ON_UNMATCHED)}, got {on_unmatched!r}.')
        self.on_unmatched = on_unmatched
        if label_from is not None and label_from not in LABEL_SOURCES:
            raise ValueError(
                f'{name}: label_from must be None (unlabelled) or one of '
                f'{list(LABEL_SOURCES)}, got {label_from!r}.')
        self.label_from = label_from
        if split is not None and split_ratios is None:
            raise ValueError(
                f'{name}: split={split!r} needs split_ratios, e.g. '
                'dict(train=0.8, val=0.1, test=0.1), to draw the splits by '
                'group.')
        try:
            self.split_ratios = None if split_ratios is None else \
                check_split_ratios(split_ratios)
        except ValueError as err:
            raise ValueError(f'{name}: {err}') from None
        self.split_seed = split_seed
        if group_sources and group_regex is None:
            raise ValueError(f'{name}: group_sources=True needs group_regex, '
                             'which gives the source of each image.')
        check_label_fraction(name, label_fraction, label_from is not None,
                             "label_from='parent'")
        super().__init__(
            ann_file='',
            data_root=data_root,
            img_key='image',
            label_key=None if label_from is None else 'label',
            group_key=None if group_regex is None else 'group',
            split=split,
            split_key='split',
            group_sources=group_sources,
            label_fraction=label_fraction,
            fraction_seed=fraction_seed,
            **kwargs)

    @property
    def image_folder(self) -> str:
        """The scanned folder: ``data_root`` joined with
        ``data_prefix['img_path']``."""
        return osp.normpath(self.data_prefix.get('img_path')
                            or self.data_root)

    def _annotation_rows(self) -> Tuple[List[Dict], str]:
        folder = self.image_folder
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'{type(self).__name__}: image folder {folder} does not exist '
                f'or is not a folder (data_root={self.data_root!r}; relative '
                f'paths start from {os.getcwd()}). In a config, set it with '
                '--cfg-options train_dataloader.dataset.data_root=PATH.')
        try:
            rows = scan_image_folder(folder, self.extensions,
                                     self.group_regex, self.on_unmatched,
                                     self.label_from, self.split_ratios,
                                     self.split_seed)
        except (ValueError, FileNotFoundError) as err:
            raise type(err)(f'{type(self).__name__}: {err}') from None
        if self.label_from is not None and 'classes' not in self._metainfo:
            # ImageNet style: classes are the sorted folder names, also when
            # they look like numbers.
            self._metainfo['classes'] = tuple(
                sorted({row['label'] for row in rows}))
        return rows, folder

    def _check_images_exist(self, data_list, rows, path) -> None:
        """Nothing to check: the samples come from listing the folder."""

    def extra_repr(self) -> List[str]:
        body = [f'Image folder: \t{self.image_folder}',
                f'Extensions: \t{" ".join(self.extensions)}']
        if self.group_regex is not None:
            body.append(f'Group regex: \t{self.group_regex}')
        if self.split_ratios is not None:
            body.append(f'Split ratios: \t{self.split_ratios} '
                        f'(split_seed={self.split_seed})')
        return body + super().extra_repr()[1:]
