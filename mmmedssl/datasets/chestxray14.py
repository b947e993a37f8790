# Copyright (c) mmmedssl contributors. All rights reserved.
import csv
import glob
import io
import os
import os.path as osp
import re
from collections import Counter
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmpretrain.datasets import BaseDataset

from mmmedssl.registry import DATASETS
from .splits import label_fraction_indices
from .utils import (check_label_fraction, check_num_classes,
                    check_split_leakage, read_text)

NIH_URL = 'https://nihcc.app.box.com/v/ChestXray-NIHCC'

# The standard order of the 14 findings (Wang et al. 2017; CheXNet).
CHESTXRAY14_CLASSES = ('Atelectasis', 'Cardiomegaly', 'Effusion',
                       'Infiltration', 'Mass', 'Nodule', 'Pneumonia',
                       'Pneumothorax', 'Consolidation', 'Edema', 'Emphysema',
                       'Fibrosis', 'Pleural_Thickening', 'Hernia')
NO_FINDING = 'No Finding'

# Tried in this order when ann_file is not given.
_CSV_NAMES = ('Data_Entry_2017.csv', 'Data_Entry_2017_v2020.csv')
# The columns read; the others (age, sex, view, sizes) are ignored. The
# official header has unquoted commas inside the last two names
# ("OriginalImage[Width,Height]"), so the column count is not checked.
_IMG_COL, _LABEL_COL, _PATIENT_COL = ('Image Index', 'Finding Labels',
                                      'Patient ID')
_LISTS = {'train_val': 'train_val_list.txt', 'test': 'test_list.txt'}
_SPLITS = ('train', 'val', 'train_val', 'test', 'all')
_NAME_RE = re.compile(r'^(\d+)_\d+$')


def _stem(entry: str) -> str:
    """``'images/00000001_000.png'`` -> ``'00000001_000'``."""
    name = osp.basename(entry.replace('\\', '/'))
    return re.sub(r'\.png$', '', name, flags=re.IGNORECASE)


def _patient_of_name(stem: str) -> str:
    """The patient of an official image name, ``00000013_005`` -> ``'13'``;
    the whole stem for other names."""
    match = _NAME_RE.match(stem)
    return str(int(match.group(1))) if match else stem


def _patient_sort_key(group: str):
    return (0, int(group), '') if group.isdigit() else (1, 0, group)


@DATASETS.register_module()
class ChestXray14(BaseDataset):
    """NIH ChestX-ray14: 112,120 frontal chest X-rays of 30,805 patients
    with 14 text-mined findings (multi-label), read from the official
    download (``NIH_URL``) unpacked under ``data_root``.

    Expected layout::

        data_root/
            Data_Entry_2017.csv       (or Data_Entry_2017_v2020.csv)
            train_val_list.txt        (86,524 names, one per line)
            test_list.txt             (25,596 names, one per line)
            images/
                00000001_000.png
                ...

    The images may also stay as the archives unpack them,
    ``images_001/images/ ... images_012/images/``; these folders are then
    listed once at init to find each image. ``images/`` wins when both exist.

    Each sample carries ``img_path``, ``image_id`` (``'00000001_000'``) and
    ``group_id``, the ``Patient ID`` (``'1'``; from the file name,
    ``00000001_...``, when the CSV is not read), so that label fractions and
    grouped splits keep a patient's images together. With labels,
    ``gt_label`` is the list of positive class indices (``[]`` for
    ``No Finding``), the form mmpretrain's ``MultiLabelDataset`` uses and
    its ``MultiLabelMetric``/``AveragePrecision`` turn into one-hot targets,
    and ``gt_score`` the same as a 14-d 0/1 float32 array (which mmpretrain's
    ``PackInputs`` packs into ``DataSample.gt_score``).

    Splits (``split``):

    - ``'test'``: ``test_list.txt``, in its order.
    - ``'train_val'``: ``train_val_list.txt``, in its order.
    - ``'train'`` / ``'val'``: a split of ``train_val_list.txt`` by patient:
      the patients of the list are sorted, shuffled with
      ``numpy.random.RandomState(split_seed)`` and the first
      ``round(val_fraction * #patients)`` of them (at least one) are ``val``.
      Deterministic, no patient in both, and the test list is never used.
      The official split keeps patients apart too, so ``val`` never shares
      a patient with ``test``.
    - ``'all'``: every image of the CSV in CSV order (without the CSV: every
      PNG found in the image folders, sorted), e.g. with an ``image_list``
      that defines its own split (PCRL's ``chest_train.txt``).

    Args:
        data_root (str): The folder holding the download (configs use
            ``'data/ChestXray14'``).
        split (str): One of ``'train'``, ``'val'``, ``'train_val'``,
            ``'test'`` and ``'all'``. Defaults to ``'train'``.
        with_label (bool): Read the labels from the CSV and set ``gt_label``
            and ``gt_score``. With False (unlabelled pretraining) the CSV is
            optional: when present it still gives the patients and checks
            the lists; without it the image folders are listed and the
            patient comes from the file name. Defaults to True.
        ann_file (str, optional): The CSV, relative to ``data_root``. None
            or ``''`` takes ``Data_Entry_2017.csv``, else
            ``Data_Entry_2017_v2020.csv``.
        val_fraction (float): Fraction of the patients of
            ``train_val_list.txt`` put in ``'val'``, in (0, 1). Defaults to
            0.1; the share of images is close to it, not equal, as patients
            have different numbers of images.
        split_seed (int): Seed of the train/val split. Defaults to 0.
        image_list (str, optional): A text file (relative to ``data_root``)
            restricting the samples of ``split`` to the images it lists, in
            its order. Each line's first white-space separated token is an
            image name or a path ending in one (the rest, e.g. the labels of
            PCRL's ``images/00000001_000.png 0 1 0 ...`` lines, is ignored:
            labels come from the CSV). Every listed image must be in the
            split, and none listed twice.
        check_files (bool): Check at init that every image file exists. It
            lists each image folder once (no stat per file). With False a
            missing file only fails when it is loaded. The archive layout is
            always listed, to find the files. Defaults to True.
        label_fraction (float): Keep the images of about this fraction of
            the patients of ``split`` (whole patients, so none is split;
            plus, for each finding that no drawn patient has, the next
            patient of the draw that has it), drawn with ``fraction_seed``
            by ``label_fraction_indices``: low-label fine-tuning (1 %, 10 %).
            The draw depends only on the seed and the split's patients and
            findings. Needs ``with_label``. Defaults to 1 (everything).
        fraction_seed (int): Defaults to 0.
        **kwargs: ``pipeline``, ``classes`` (renames the 14 classes),
            ``metainfo``, ``test_mode``, ``lazy_init``, ``indices``... as in
            mmpretrain's ``BaseDataset``. ``data_prefix`` is not used: the
            official layout fixes the folders.
    """

    METAINFO = dict(classes=CHESTXRAY14_CLASSES)

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 with_label: bool = True,
                 ann_file: Optional[str] = None,
                 val_fraction: float = 0.1,
                 split_seed: int = 0,
                 image_list: Optional[str] = None,
                 check_files: bool = True,
                 label_fraction: float = 1.0,
                 fraction_seed: int = 0,
                 **kwargs) -> None:
        if split not in _SPLITS:
            raise ValueError(f'ChestXray14: split must be one of '
                             f'{list(_SPLITS)}, got {split!r}.')
        if not 0 < val_fraction < 1:
            raise ValueError('ChestXray14: val_fraction must be in (0, 1), '
                             f'got {val_fraction!r}.')
        if not data_root:
            raise ValueError('ChestXray14: data_root is required (the folder '
                             'holding Data_Entry_2017.csv, the split lists '
                             'and images/, e.g. data/ChestXray14).')
        check_label_fraction('ChestXray14', label_fraction, with_label,
                             'with_label=True')
        self.label_fraction = label_fraction
        self.fraction_seed = fraction_seed
        self.split = split
        self.with_label = with_label
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.image_list = image_list or None
        self.check_files = check_files
        self._csv_given = bool(ann_file)

        super().__init__(
            ann_file=ann_file or '', data_root=data_root, **kwargs)
        check_num_classes('ChestXray14', self.CLASSES, CHESTXRAY14_CLASSES)

    # ------------------------------------------------------------------
    # Files
    # ------------------------------------------------------------------
    def _root_file(self, name: str) -> str:
        return name if osp.isabs(name) else osp.join(self.data_root, name)

    def _csv_path(self) -> Optional[str]:
        """The CSV to read; None when it is absent and not needed."""
        if self._csv_given:
            candidates = [self.ann_file]
        else:
            candidates = [self._root_file(n) for n in _CSV_NAMES]
        for path in candidates:
            if osp.isfile(path):
                return path
        if not self.with_label and not self._csv_given:
            return None
        raise FileNotFoundError(
            f'ChestXray14: annotation file {" or ".join(candidates)} does '
            f'not exist. Download the Data_Entry_2017 CSV from {NIH_URL} '
            f'into {self.data_root} (data_root; relative paths start from '
            f'{os.getcwd()}). Use with_label=False for unlabelled '
            'pretraining.')

    def _image_files(self) -> Tuple[Optional[str], Optional[Dict[str, str]]]:
        """``(folder, None)`` for ``images/``, skipping the listing when
        ``check_files`` is False, or ``(folder or None, {stem: path})``."""
        single = osp.join(self.data_root, 'images')
        if osp.isdir(single):
            if not self.check_files and not self._need_listing:
                return single, None
            return single, self._list_pngs([single])
        archives = sorted(
            d for d in glob.glob(osp.join(self.data_root, 'images_*',
                                          'images')) if osp.isdir(d))
        if not archives:
            raise FileNotFoundError(
                f'ChestXray14: no image folder in {self.data_root} '
                f'(data_root; relative paths start from {os.getcwd()}): '
                'expected images/ or the unpacked archives images_001/images/'
                f' ... images_012/images/. Download images_*.tar.gz from '
                f'{NIH_URL}.')
        return None, self._list_pngs(archives)

    @staticmethod
    def _list_pngs(folders: List[str]) -> Dict[str, str]:
        files: Dict[str, str] = {}
        for folder in folders:
            for name in os.listdir(folder):
                if not name.lower().endswith('.png'):
                    continue
                stem = _stem(name)
                path = osp.join(folder, name)
                if stem in files:
                    raise ValueError(
                        f'ChestXray14: image {name} is in two folders: '
                        f'{files[stem]} and {path}.')
                files[stem] = path
        return files

    # ------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        csv_path = self._csv_path()
        self._csv_used = csv_path
        # Without the CSV the images on disk are the catalogue.
        self._need_listing = csv_path is None
        folder, files = self._image_files()

        if csv_path is not None:
            table = self._read_csv(csv_path)
            source = csv_path
        else:
            table = {
                stem: dict(file=osp.basename(path),
                           group=_patient_of_name(stem))
                for stem, path in sorted(files.items())
            }
            source = 'the image folders'
            if not table:
                raise ValueError(
                    f'ChestXray14: no PNG image in {folder or self.data_root}'
                    '.')

        stems = self._split_stems(table, source)
        if self.image_list:
            stems = self._restrict(stems, table, source)

        data_list = []
        missing = []
        for stem in stems:
            record = table[stem]
            if files is not None:
                path = files.get(stem)
                if path is None:
                    missing.append(record['file'])
                    continue
            else:
                path = osp.join(folder, record['file'])
            info = dict(img_path=path, image_id=stem, group_id=record['group'])
            if self.with_label:
                info['gt_label'] = list(record['label'])
                score = np.zeros(len(CHESTXRAY14_CLASSES), dtype=np.float32)
                score[record['label']] = 1
                info['gt_score'] = score
            data_list.append(info)
        if missing:
            where = folder or osp.join(self.data_root, 'images_*', 'images')
            raise FileNotFoundError(
                f'ChestXray14(split={self.split!r}): {len(missing)} image(s) '
                f'of the split are missing in {where}, e.g. {missing[0]}. '
                f'Download and unpack all images_*.tar.gz from {NIH_URL}, '
                'or restrict the samples with image_list (check_files=False '
                'skips this check for images/).')
        if self.label_fraction < 1 and data_list:
            kept = label_fraction_indices(
                [info['gt_label'] for info in data_list],
                [info['group_id'] for info in data_list],
                self.label_fraction, self.fraction_seed)
            data_list = [data_list[i] for i in kept]
        return data_list

    def _read_csv(self, path: str) -> Dict[str, dict]:
        """``{stem: dict(file, group, label)}`` in CSV order."""
        with io.StringIO(read_text(path), newline='') as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            absent = [c for c in (_IMG_COL, _LABEL_COL, _PATIENT_COL)
                      if c not in header]
            if absent:
                raise ValueError(
                    f'{path}: no column(s) {absent}; expected the header of '
                    f'NIH\'s Data_Entry_2017.csv ("{_IMG_COL},{_LABEL_COL},'
                    f'Follow-up #,{_PATIENT_COL},..."), found {header}.')
            cols = [header.index(c)
                    for c in (_IMG_COL, _LABEL_COL, _PATIENT_COL)]
            rows = list(enumerate(reader, 2))
        index = {name: i for i, name in enumerate(CHESTXRAY14_CLASSES)}
        table: Dict[str, dict] = {}
        lines: Dict[str, int] = {}
        for lineno, row in rows:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(cols):
                raise ValueError(
                    f'{path}: line {lineno} has {len(row)} fields, too few '
                    f'for the columns {_IMG_COL!r}, {_LABEL_COL!r} and '
                    f'{_PATIENT_COL!r}.')
            name, findings, patient = (row[c].strip() for c in cols)
            if not name:
                raise ValueError(f'{path}: line {lineno}: empty '
                                 f'{_IMG_COL!r}.')
            stem = _stem(name)
            if stem in lines:
                raise ValueError(f'{path}: line {lineno}: {name} already '
                                 f'listed on line {lines[stem]}.')
            lines[stem] = lineno
            if not patient:
                raise ValueError(f'{path}: line {lineno} ({name}): empty '
                                 f'{_PATIENT_COL!r}.')
            names = [n.strip() for n in findings.split('|')]
            if names == [NO_FINDING]:
                label = []
            elif not findings:
                raise ValueError(
                    f'{path}: line {lineno} ({name}): empty {_LABEL_COL!r}; '
                    f'expected {NO_FINDING!r} or findings.')
            elif NO_FINDING in names:
                raise ValueError(
                    f'{path}: line {lineno} ({name}): {_LABEL_COL!r} '
                    f'{findings!r} has {NO_FINDING!r} with other findings.')
            else:
                unknown = [n for n in names if n not in index]
                if unknown:
                    raise ValueError(
                        f'{path}: line {lineno} ({name}): unknown finding '
                        f'{unknown[0]!r} in {_LABEL_COL!r} {findings!r}; '
                        f'expected {NO_FINDING!r} or "|"-separated names '
                        f'among {list(CHESTXRAY14_CLASSES)}.')
                label = sorted({index[n] for n in names})
            table[stem] = dict(
                file=osp.basename(name.replace('\\', '/')),
                group=str(int(patient)) if patient.isdigit() else patient,
                label=label)
        if not table:
            raise ValueError(f'{path}: no rows.')
        return table

    def _read_names(self, path: str, what: str) -> List[Tuple[int, str]]:
        """``(lineno, first token)`` of the non-blank lines of a list."""
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'ChestXray14: {what} {path} does not exist (data_root='
                f'{self.data_root!r}; relative paths start from '
                f'{os.getcwd()}).' + (
                    f' Download {osp.basename(path)} from {NIH_URL}.'
                    if what == 'split list' else ''))
        entries = []
        for lineno, line in enumerate(read_text(path).splitlines(), 1):
            parts = line.split()
            if parts:
                entries.append((lineno, parts[0]))
        if not entries:
            raise ValueError(f'{path}: no image listed.')
        return entries

    def _check_listed(self, path: str, entries: List[Tuple[int, str]],
                      table: Dict[str, dict], source: str) -> List[str]:
        stems, seen = [], {}
        for lineno, entry in entries:
            stem = _stem(entry)
            if stem in seen:
                raise ValueError(f'{path}: line {lineno}: {entry!r} already '
                                 f'listed on line {seen[stem]}.')
            seen[stem] = lineno
            if stem not in table:
                raise ValueError(f'{path}: line {lineno}: {entry!r} is not '
                                 f'an image of {source}.')
            stems.append(stem)
        return stems

    def _split_stems(self, table: Dict[str, dict], source: str) -> List[str]:
        if self.split == 'all':
            return list(table)
        key = 'test' if self.split == 'test' else 'train_val'
        path = self._root_file(_LISTS[key])
        stems = self._check_listed(path,
                                   self._read_names(path, 'split list'),
                                   table, source)
        self._check_lists_leakage(key, path, stems, table)
        if self.split in ('test', 'train_val'):
            return stems
        val = set(self.val_patients(table[s]['group'] for s in stems))
        want_val = self.split == 'val'
        return [s for s in stems if (table[s]['group'] in val) == want_val]

    def _check_lists_leakage(self, key: str, path: str, stems: List[str],
                             table: Dict[str, dict]) -> None:
        """No patient in both the train_val and the test list (when the
        other list is there), whichever split is read."""
        other_key = 'train_val' if key == 'test' else 'test'
        other = self._root_file(_LISTS[other_key])
        if not osp.isfile(other):
            return
        other_stems = [_stem(e) for _, e in self._read_names(other,
                                                            'split list')]
        # The other list may name images that are not downloaded.
        groups = [table[s]['group'] if s in table else _patient_of_name(s)
                  for s in stems + other_stems]
        names = [key] * len(stems) + [other_key] * len(other_stems)
        lists = (path, other) if key == 'train_val' else (other, path)
        check_split_leakage(
            groups, names, f'ChestXray14: {lists[0]} and {lists[1]}',
            _PATIENT_COL,
            hint="The official lists keep each patient's images together; "
            f'use the files from {NIH_URL}.')

    def val_patients(self, groups) -> List[str]:
        """The patients of ``groups`` that the train/val split puts in
        ``'val'``, sorted."""
        patients = sorted(set(groups), key=_patient_sort_key)
        if len(patients) < 2:
            raise ValueError(
                f'ChestXray14(split={self.split!r}): {_LISTS["train_val"]} '
                f'has {len(patients)} patient(s); a train/val split needs '
                "two or more (use split='train_val').")
        order = np.random.RandomState(self.split_seed).permutation(
            len(patients))
        n_val = min(max(1, round(self.val_fraction * len(patients))),
                    len(patients) - 1)
        return sorted((patients[i] for i in order[:n_val]),
                      key=_patient_sort_key)

    def _restrict(self, stems: List[str], table: Dict[str, dict],
                  source: str) -> List[str]:
        """Keep and order the images listed in ``image_list``."""
        path = self._root_file(self.image_list)
        entries = self._read_names(path, 'image_list')
        listed = self._check_listed(path, entries, table, source)
        in_split = set(stems)
        for (lineno, entry), stem in zip(entries, listed):
            if stem not in in_split:
                raise ValueError(
                    f'{path}: line {lineno}: {entry!r} is not an image of '
                    f'split {self.split!r}; use split=\'all\' when the list '
                    'defines its own split (as PCRL\'s chest_train.txt).')
        return listed

    # ------------------------------------------------------------------
    def get_cat_ids(self, idx: int) -> List[int]:
        return list(self.get_data_info(idx)['gt_label'])

    def extra_repr(self) -> List[str]:
        body = [f'Data root: \t{self.data_root}']
        split = f'Split: \t{self.split}'
        if self.split in ('train', 'val'):
            split += (f' (val_fraction={self.val_fraction}, '
                      f'split_seed={self.split_seed})')
        body.append(split)
        if self.label_fraction < 1:
            body.append(f'Label fraction: \t{self.label_fraction} of the '
                        f'patients (fraction_seed={self.fraction_seed})')
        if getattr(self, '_csv_used', None):
            body.append(f'Annotation file: \t{self._csv_used}')
        if self.image_list:
            body.append(f'Image list: \t{self.image_list}')
        if self._fully_initialized:
            patients = {self.get_data_info(i)['group_id']
                        for i in range(len(self))}
            body.append(f'Number of patients: \t{len(patients)}')
            if self.with_label:
                counts = Counter()
                for i in range(len(self)):
                    counts.update(self.get_data_info(i)['gt_label'] or
                                  [NO_FINDING])
                for index, name in enumerate(self.CLASSES):
                    body.append(f'    {name}: \t{counts[index]}')
                body.append(f'    {NO_FINDING}: \t{counts[NO_FINDING]}')
        return body
