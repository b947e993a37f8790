# Copyright (c) mmmedssl contributors. All rights reserved.
import csv
import io
import os
import os.path as osp
import re
from collections import Counter
from typing import Dict, List, Optional

from mmpretrain.datasets import BaseDataset

from mmmedssl.registry import DATASETS
from .splits import label_fraction_indices
from .utils import (check_label_fraction, check_num_classes,
                    read_text, with_default_classes)

ISIC_URL = 'https://challenge.isic-archive.com/data/#2017'

# split -> the word the official archives use for it.
_SPLIT_TAGS = {'train': 'Training', 'val': 'Validation', 'test': 'Test_v2'}
_IMAGE_RE = re.compile(r'^(ISIC_\d+)\.jpe?g$', re.IGNORECASE)
_CSV_COLUMNS = ('image_id', 'melanoma', 'seborrheic_keratosis')

MULTICLASS_CLASSES = ('nevus', 'melanoma', 'seborrheic_keratosis')
MULTILABEL_CLASSES = ('melanoma', 'seborrheic_keratosis')
_CLASSES = dict(multiclass=MULTICLASS_CLASSES, multilabel=MULTILABEL_CLASSES)


@DATASETS.register_module()
class ISIC2017(BaseDataset):
    """The ISIC 2017 challenge "Skin Lesion Analysis Towards Melanoma
    Detection", read from the official archives unpacked under ``data_root``.

    Expected layout (one set of entries per split; ``Training``,
    ``Validation`` and ``Test_v2``)::

        data_root/
            ISIC-2017_Training_Data/
                ISIC_0000000.jpg
                ISIC_0000000_superpixels.png     (ignored)
                ISIC-2017_Training_Data_metadata.csv   (ignored)
            ISIC-2017_Training_Part1_GroundTruth/
                ISIC_0000000_segmentation.png    (with_mask=True)
            ISIC-2017_Training_Part3_GroundTruth.csv   (with_label=True)

    Each sample carries ``img_path`` and ``image_id`` (``'ISIC_0000000'``);
    with labels ``gt_label``; with masks ``gt_seg_map_path`` (and the same
    path as ``seg_map_path``, the key mmcv's ``LoadAnnotations`` reads).

    Samples follow the order of the Part 3 CSV when ``with_label=True`` and
    the sorted image ids otherwise, unless ``ann_file`` gives an order.

    Args:
        data_root (str): The folder holding the unpacked archives (configs
            use ``'data/ISIC2017'``).
        split (str): ``'train'``, ``'val'`` or ``'test'`` (the ``Test_v2``
            archives). Defaults to ``'train'``.
        with_label (bool): Read the Part 3 ground truth CSV and set
            ``gt_label``. With False (unlabelled pretraining) every
            ``ISIC_*.jpg`` in the split's image folder is listed and no CSV
            is needed. Defaults to True.
        with_mask (bool): Set ``gt_seg_map_path`` to the Part 1 lesion
            mask of each image; all masks must exist. Defaults to False.
        label_mode (str): ``'multiclass'``: ``gt_label`` is one index among
            ``('nevus', 'melanoma', 'seborrheic_keratosis')``, 0 when neither
            flag is set; a row with both flags set is an error.
            ``'multilabel'``: ``gt_label`` is the list of positive indices
            among ``('melanoma', 'seborrheic_keratosis')`` (``[]``, ``[0]``,
            ``[1]`` or ``[0, 1]``), the form mmpretrain's ``MultiLabelDataset``
            uses and its ``MultiLabelMetric``/``AveragePrecision`` turn into
            one-hot targets. Defaults to ``'multiclass'``.
        ann_file (str, optional): A text file (relative to ``data_root``)
            with one image per line, as a file name (``ISIC_0000000.jpg``),
            a path ending in one, or an id (``ISIC_0000000``). It restricts
            the samples to these images and orders them as listed; every
            listed image must be in the split. None or ``''`` keeps the whole
            split. GraVIS' released ``isic_seg_train.txt`` (shipped as
            ``icsc_seg_train.txt``) lists the 2,000 training images.
        label_fraction (float): Keep about this fraction of the images of
            each class (at least one per class), drawn with
            ``fraction_seed`` by ``label_fraction_indices``, after
            ``ann_file``: low-label fine-tuning (1 %, 10 %). ISIC 2017 gives
            no lesion ids, so each image is its own group. In
            ``'multilabel'`` mode about this fraction of all images, plus
            the first image of the draw for each finding none of them has.
            The draw depends only on the seed and the split's images and
            labels. Needs ``with_label``. Defaults to 1 (everything).
        fraction_seed (int): Defaults to 0.
        **kwargs: ``pipeline``, ``classes`` (renames the classes; the number
            must match ``label_mode``), ``metainfo``, ``test_mode``,
            ``lazy_init``, ``indices``... as in mmpretrain's ``BaseDataset``.
            ``data_prefix`` is not used: the official layout fixes the
            folders.
    """

    # The classes of the default label_mode ('multiclass').
    METAINFO = dict(classes=MULTICLASS_CLASSES)

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 with_label: bool = True,
                 with_mask: bool = False,
                 label_mode: str = 'multiclass',
                 ann_file: Optional[str] = None,
                 label_fraction: float = 1.0,
                 fraction_seed: int = 0,
                 **kwargs) -> None:
        if split not in _SPLIT_TAGS:
            raise ValueError(f'ISIC2017: split must be one of '
                             f'{list(_SPLIT_TAGS)}, got {split!r}.')
        if label_mode not in ('multiclass', 'multilabel'):
            raise ValueError('ISIC2017: label_mode must be "multiclass" or '
                             f'"multilabel", got {label_mode!r}.')
        if not data_root:
            raise ValueError('ISIC2017: data_root is required (the folder '
                             'holding the unpacked ISIC-2017_* archives, '
                             'e.g. data/ISIC2017).')
        check_label_fraction('ISIC2017', label_fraction, with_label,
                             'with_label=True')
        self.split = split
        self.with_label = with_label
        self.with_mask = with_mask
        self.label_mode = label_mode
        self.label_fraction = label_fraction
        self.fraction_seed = fraction_seed

        default_classes = _CLASSES[label_mode]
        if default_classes != self.METAINFO['classes']:
            kwargs['metainfo'] = with_default_classes(
                kwargs.get('metainfo'), kwargs.get('classes'),
                default_classes)
        super().__init__(
            ann_file=ann_file or '', data_root=data_root, **kwargs)
        check_num_classes(f'ISIC2017(label_mode={label_mode!r})',
                          self.CLASSES, default_classes)

    # ------------------------------------------------------------------
    # The official names
    # ------------------------------------------------------------------
    @property
    def _tag(self) -> str:
        return _SPLIT_TAGS[self.split]

    @property
    def image_dir(self) -> str:
        return osp.join(self.data_root, f'ISIC-2017_{self._tag}_Data')

    @property
    def label_file(self) -> str:
        return osp.join(self.data_root,
                        f'ISIC-2017_{self._tag}_Part3_GroundTruth.csv')

    @property
    def mask_dir(self) -> str:
        return osp.join(self.data_root,
                        f'ISIC-2017_{self._tag}_Part1_GroundTruth')

    def _missing(self, path: str, archive: str, what: str) -> str:
        return (f'ISIC2017(split={self.split!r}): {what} {path} does not '
                f'exist. Download {archive} from {ISIC_URL} and unpack it '
                f'into {self.data_root} (data_root; relative paths start '
                f'from {os.getcwd()}).')

    # ------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        if not osp.isdir(self.image_dir):
            raise FileNotFoundError(
                self._missing(self.image_dir,
                              f'ISIC-2017_{self._tag}_Data.zip',
                              'image folder'))
        if self.with_label:
            records = self._read_labels()
        else:
            records = self._list_images()
        if not records:
            raise ValueError(
                f'{self.label_file}: no rows.' if self.with_label else
                f'ISIC2017(split={self.split!r}): no ISIC_*.jpg image in '
                f'{self.image_dir}.')
        if self.ann_file:
            records = self._restrict(records)

        ids = [r['image_id'] for r in records]
        paths = [osp.join(self.image_dir, r['file']) for r in records]
        if self.with_label:
            # Unlabelled lists come from the folder itself.
            missing = [p for p in paths if not osp.isfile(p)]
            if missing:
                raise FileNotFoundError(
                    f'ISIC2017(split={self.split!r}): {len(missing)} '
                    f'image(s) listed in {self.label_file} are missing, '
                    f'e.g. {missing[0]}. Re-download '
                    f'ISIC-2017_{self._tag}_Data.zip from {ISIC_URL}.')

        mask_paths = None
        if self.with_mask:
            mask_paths = self._mask_paths(ids)

        data_list = []
        for k, (record, path) in enumerate(zip(records, paths)):
            info = dict(img_path=path, image_id=record['image_id'])
            if self.with_label:
                info['gt_label'] = record['gt_label']
            if mask_paths is not None:
                info['gt_seg_map_path'] = mask_paths[k]
                info['seg_map_path'] = mask_paths[k]
            data_list.append(info)
        if self.label_fraction < 1:
            kept = label_fraction_indices(
                [info['gt_label'] for info in data_list], None,
                self.label_fraction, self.fraction_seed)
            data_list = [data_list[i] for i in kept]
        return data_list

    def _list_images(self) -> List[Dict]:
        """Records of the ``ISIC_*.jpg`` files in the image folder, sorted
        by id; superpixel maps and metadata files are skipped."""
        files = {}
        for name in os.listdir(self.image_dir):
            match = _IMAGE_RE.match(name)
            if match:
                files[match.group(1)] = name
        return [dict(image_id=i, file=files[i]) for i in sorted(files)]

    def _read_labels(self) -> List[Dict]:
        path = self.label_file
        if not osp.isfile(path):
            raise FileNotFoundError(
                self._missing(path, osp.basename(path),
                              'Part 3 ground truth file') +
                ' Use with_label=False for unlabelled pretraining.')
        with io.StringIO(read_text(path), newline='') as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            absent = [c for c in _CSV_COLUMNS if c not in fields]
            if absent:
                raise ValueError(
                    f'{path}: no column(s) {absent}; expected a header '
                    f'{",".join(_CSV_COLUMNS)}, found {fields}.')
            rows = list(reader)

        records, seen = [], {}
        for lineno, row in enumerate(rows, 2):
            image_id = (row['image_id'] or '').strip()
            if not re.fullmatch(r'ISIC_\d+', image_id):
                raise ValueError(
                    f'{path}: line {lineno}: image_id {row["image_id"]!r} is '
                    'not of the form ISIC_0000000.')
            if image_id in seen:
                raise ValueError(
                    f'{path}: line {lineno}: {image_id} already listed on '
                    f'line {seen[image_id]}.')
            seen[image_id] = lineno
            flags = [
                self._flag(row[c], path, lineno, c) for c in _CSV_COLUMNS[1:]
            ]
            if self.label_mode == 'multilabel':
                label = [i for i, f in enumerate(flags) if f]
            elif all(flags):
                raise ValueError(
                    f'{path}: line {lineno} ({image_id}) has both melanoma '
                    'and seborrheic_keratosis set, which is not one class; '
                    "use label_mode='multilabel' to keep both.")
            else:
                label = 1 if flags[0] else 2 if flags[1] else 0
            records.append(
                dict(image_id=image_id, file=f'{image_id}.jpg',
                     gt_label=label))
        return records

    @staticmethod
    def _flag(value, path: str, lineno: int, column: str) -> bool:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if number not in (0.0, 1.0):
            raise ValueError(
                f'{path}: line {lineno}: {column} is {value!r}, expected 0 '
                'or 1 (e.g. 0.0 / 1.0).')
        return number == 1.0

    def _restrict(self, records: List[Dict]) -> List[Dict]:
        """Keep and order the records listed in ``ann_file``."""
        path = self.ann_file
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'ISIC2017: ann_file {path} does not exist (ann_file is '
                f'relative to data_root={self.data_root!r}; relative paths '
                f'start from {os.getcwd()}).')
        by_id = {r['image_id']: r for r in records}
        source = (self.label_file if self.with_label else self.image_dir)
        kept, seen = [], {}
        for lineno, line in enumerate(read_text(path).splitlines(), 1):
            entry = line.strip()
            if not entry:
                continue
            image_id = re.sub(r'\.(jpe?g|png)$', '',
                              osp.basename(entry.replace('\\', '/')),
                              flags=re.IGNORECASE)
            if image_id in seen:
                raise ValueError(
                    f'{path}: line {lineno}: {entry!r} already listed '
                    f'on line {seen[image_id]}.')
            seen[image_id] = lineno
            if image_id not in by_id:
                raise ValueError(
                    f'{path}: line {lineno}: {entry!r} is not an image '
                    f'of split {self.split!r} (not in {source}).')
            kept.append(by_id[image_id])
        if not kept:
            raise ValueError(f'{path}: no image listed.')
        return kept

    def _mask_paths(self, ids: List[str]) -> List[str]:
        if not osp.isdir(self.mask_dir):
            raise FileNotFoundError(
                self._missing(self.mask_dir,
                              f'ISIC-2017_{self._tag}_Part1_GroundTruth.zip',
                              'mask folder'))
        paths = [
            osp.join(self.mask_dir, f'{i}_segmentation.png') for i in ids
        ]
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            raise FileNotFoundError(
                f'ISIC2017(split={self.split!r}): {len(missing)} mask(s) '
                f'missing in {self.mask_dir}, e.g. {missing[0]}. Re-download '
                f'ISIC-2017_{self._tag}_Part1_GroundTruth.zip from '
                f'{ISIC_URL}.')
        return paths

    # ------------------------------------------------------------------
    def get_cat_ids(self, idx: int) -> List[int]:
        label = self.get_data_info(idx)['gt_label']
        if self.label_mode == 'multilabel':
            return list(label)
        return [int(label)]

    def extra_repr(self) -> List[str]:
        body = [f'Data root: \t{self.data_root}',
                f'Split: \t{self.split} ({self._tag})']
        if self.ann_file:
            body.append(f'Image list: \t{self.ann_file}')
        if self.label_fraction < 1:
            body.append(f'Label fraction: \t{self.label_fraction} of the '
                        f'images (fraction_seed={self.fraction_seed})')
        if self.with_label and self._fully_initialized:
            counts = Counter()
            for i in range(len(self)):
                label = self.get_data_info(i)['gt_label']
                counts.update(label if isinstance(label, list) else [label])
            body.append(f'Label mode: \t{self.label_mode}')
            for index, name in enumerate(self.CLASSES):
                body.append(f'    {name}: \t{counts[index]}')
        body.append(f'With masks: \t{self.with_mask}')
        return body
