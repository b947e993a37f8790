# Copyright (c) mmmedssl contributors. All rights reserved.
import csv
import io
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmpretrain.datasets import BaseDataset

from mmmedssl.registry import DATASETS
from .splits import label_fraction_indices
from .utils import (check_group_ids, check_label_fraction,
                    check_split_leakage, is_int, read_text)

# How many missing files an error names.
_MISSING_SHOWN = 5


class _Row(dict):
    """A record of an annotation file that remembers its line (None where
    it is unknown), so that messages can point at it."""
    line: Optional[int] = None


def _at_line(row: Dict, line: Optional[int]) -> '_Row':
    row = _Row(row)
    row.line = line
    return row


def _as_tuple(value: Union[None, str, Sequence[str]]) -> Optional[tuple]:
    if value is None:
        return None
    if isinstance(value, str):
        return (value, )
    return tuple(value)


@DATASETS.register_module()
class MedImageList(BaseDataset):
    """A list of medical images read from a CSV, TSV, TXT or JSON file.

    Each sample carries ``img_path``, and optionally ``gt_label`` (from
    ``label_key``), ``group_id`` (from ``group_key``: the lesion, patient or
    video an image belongs to, so that several images of one source can be
    treated together and split together) and ``seg_map_path`` (from
    ``mask_key``: the segmentation mask or label map that ``LoadMedSegMap``
    reads).

    With ``group_sources=True`` a sample is a whole group instead (a source
    made of several images, as in MICLe): one sample per distinct group id,
    in order of first appearance, carrying ``img_paths`` (all the group's
    images, in file order), ``group_id`` and, with ``label_key``,
    ``gt_label`` (all images of a group must have the same label). Load them
    with ``LoadSourceImages`` and draw each view from one of them with
    ``MedMultiView(source_images_key='source_imgs')``.

    Supported annotation files (``ann_file``, relative to ``data_root``):

    - ``.csv`` / ``.tsv``: a header row; columns named by ``img_key``,
      ``label_key``, ``group_key`` and ``split_key``.
    - ``.txt``: one sample per line, ``path`` or ``path label`` separated by
      white space (mmpretrain's format); no header, no groups or splits.
    - ``.json``: OpenMMLab 2.0 ``{"metainfo": ..., "data_list": [...]}`` or a
      plain list of objects with the same keys as the CSV columns.

    Args:
        ann_file (str): The annotation file.
        img_key (str): Column/key with the image path, relative to
            ``data_root/data_prefix``. Defaults to ``'image'``.
        label_key (str, optional): Column with the class label: an integer
            index or a class name (mapped through ``classes``, or the sorted
            unique names when ``classes`` is not given). None for unlabelled
            self-supervised data.
        group_key (str, optional): Column with the group id (lesion_id,
            patient_id, video id), stored as ``group_id`` in each sample.
        split (str | Sequence[str], optional): Keep only rows whose split is
            one of these values. None keeps all rows. With ``group_key``, a
            group found in two splits of the whole file is an error (a
            leakage check naming the groups).
        split_key (str): Column with the split name. Defaults to ``'split'``.
        split_file (str, optional): A second CSV (relative to ``data_root``)
            that holds the split column, joined on ``img_key``. Use it when
            splits live beside the labels, as in ``../shared/data``.
        group_sources (bool): Make one sample per group (needs
            ``group_key``) with ``img_paths`` instead of one per image with
            ``img_path``. Splits are applied before grouping. Defaults to
            False.
        label_fraction (float): Keep the images of about this fraction of
            the groups of each class (at least one group per class; whole
            groups, so no lesion or patient is split), drawn with
            ``fraction_seed``, after the split: low-label fine-tuning.
            Needs ``label_key``. Defaults to 1 (everything).
        fraction_seed (int): Defaults to 0.
        independent_splits (Sequence[str]): Splits whose group ids are
            numbered on their own, so that an id they share with another
            split is not the same source (the Kermany chest X-rays' official
            test folder): the leakage check leaves them out. Defaults to ().
        mask_key (str, optional): Column with the path of each image's
            segmentation mask, relative to ``data_root`` (or to
            ``data_prefix['seg_map_path']`` when given), stored as
            ``seg_map_path``. Every listed mask must exist (checked when the
            list is loaded). Not with ``group_sources``.
        **kwargs: ``data_root``, ``data_prefix``, ``pipeline``, ``classes``,
            ``metainfo``, ``test_mode``, ``lazy_init``... as in mmpretrain's
            ``BaseDataset``.
        check_files (bool): Check when the dataset is built that every
            image of the split exists (one stat per file), naming the first
            missing ones and their lines, so that a missing validation image
            fails before training rather than after an epoch. False skips
            it for huge sets on slow file systems: a missing file then fails
            only when it is loaded. Defaults to True.
    """

    def __init__(self,
                 ann_file: str,
                 img_key: str = 'image',
                 label_key: Optional[str] = None,
                 group_key: Optional[str] = None,
                 split: Union[None, str, Sequence[str]] = None,
                 split_key: str = 'split',
                 split_file: Optional[str] = None,
                 group_sources: bool = False,
                 label_fraction: float = 1.0,
                 fraction_seed: int = 0,
                 mask_key: Optional[str] = None,
                 independent_splits: Sequence[str] = (),
                 check_files: bool = True,
                 **kwargs) -> None:
        self.check_files = check_files
        check_label_fraction(
            type(self).__name__, label_fraction, label_key is not None,
            'label_key')
        self.label_fraction = label_fraction
        self.fraction_seed = fraction_seed
        if group_sources and group_key is None:
            raise ValueError(
                f'{type(self).__name__}: group_sources=True needs group_key, '
                'the column naming the source (lesion_id, patient_id...) '
                'whose images form one sample.')
        if group_sources and mask_key is not None:
            raise ValueError(f'{type(self).__name__}: mask_key gives one mask '
                             'per image; it cannot be combined with '
                             'group_sources=True.')
        self.group_sources = group_sources
        self.mask_key = mask_key
        self.img_key = img_key
        self.label_key = label_key
        self.group_key = group_key
        self.split = _as_tuple(split)
        self.split_key = split_key
        self.split_file = split_file
        self.independent_splits = _as_tuple(independent_splits) or ()
        super().__init__(ann_file=ann_file, **kwargs)

    # ------------------------------------------------------------------
    # Reading rows
    # ------------------------------------------------------------------
    def _read_rows(self, path: str) -> List[Dict]:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{type(self).__name__}: annotation file {path} does not '
                f'exist (ann_file={self.ann_file!r}, data_root='
                f'{self.data_root!r}; relative paths start from '
                f'{os.getcwd()}).')
        ext = osp.splitext(path)[1].lower()
        if ext not in ('.csv', '.tsv', '.txt', '.json'):
            raise ValueError(
                f'{type(self).__name__}: unsupported annotation file {path}; '
                'expected .csv, .tsv, .txt or .json.')
        text = read_text(path)
        if ext in ('.csv', '.tsv'):
            reader = csv.DictReader(
                io.StringIO(text, newline=''),
                delimiter='\t' if ext == '.tsv' else ',')
            if not reader.fieldnames:
                raise ValueError(f'{path}: empty file, expected a header '
                                 'row with column names.')
            # line_num is the last line read: right for quoted line breaks.
            rows = [_at_line(row, reader.line_num) for row in reader]
            for row in rows:
                lineno = row.line
                # csv fills short lines with None and puts extra fields
                # under the key None.
                if None in row.values() or None in row:
                    raise ValueError(
                        f'{path}: line {lineno} has '
                        f'{len([v for v in row.values() if v is not None])} '
                        f'fields, expected {len(reader.fieldnames)} '
                        f'({", ".join(reader.fieldnames)}).')
            return rows
        if ext == '.txt':
            rows = []
            for lineno, line in enumerate(text.splitlines(), 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) > 2:
                    raise ValueError(
                        f'{path}: line {lineno} has {len(parts)} '
                        'fields, expected "path" or "path label".')
                row = {self.img_key: parts[0]}
                if len(parts) == 2:
                    row[self.label_key or 'label'] = parts[1]
                rows.append(_at_line(row, lineno))
            return rows
        if ext == '.json':
            try:
                content = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}: invalid JSON ({err}).') from None
            if isinstance(content, dict):
                if 'data_list' not in content:
                    raise ValueError(
                        f'{path}: a JSON object must have a "data_list" key '
                        '(OpenMMLab 2.0 format); found keys '
                        f'{sorted(content)}.')
                content = content['data_list']
            if not isinstance(content, list) or not all(
                    isinstance(r, dict) for r in content):
                raise ValueError(f'{path}: expected a list of objects.')
            return self._json_rows(content, text)

    def _json_rows(self, records: List[Dict], text: str) -> List['_Row']:
        """JSON records with the line of their image path, found by
        searching the encoded path in the text in record order (None when
        it is not written as json.dumps would)."""
        rows, pos = [], 0
        for record in records:
            line = None
            value = record.get(self.img_key)
            if isinstance(value, str):
                found = text.find(json.dumps(value), pos)
                if found < 0:
                    found = text.find(json.dumps(value, ensure_ascii=False),
                                      pos)
                if found >= 0:
                    line = text.count('\n', 0, found) + 1
                    pos = found + 1
            rows.append(_at_line(record, line))
        return rows

    def _check_key(self, rows: List[Dict], key: str, arg: str,
                   path: str) -> None:
        for lineno, row in enumerate(rows):
            if key not in row:
                available = ', '.join(sorted(map(str, row)))
                raise KeyError(
                    f'{path}: no column/key {key!r} (given as {arg}) in '
                    f'record {lineno}; available: {available}.')

    def _splits_by_image(self) -> Dict[str, str]:
        path = self.split_file
        if not osp.isabs(path):
            path = osp.join(self.data_root, path)
        rows = self._read_rows(path)
        self._check_key(rows, self.img_key, 'img_key', path)
        self._check_key(rows, self.split_key, 'split_key', path)
        return {row[self.img_key]: row[self.split_key] for row in rows}

    # ------------------------------------------------------------------
    def _annotation_rows(self) -> Tuple[List[Dict], str]:
        """The records (dicts keyed by column) and the name of their
        source, for messages. Subclasses with another source override it."""
        return self._read_rows(self.ann_file), self.ann_file

    def load_data_list(self) -> List[dict]:
        rows, path = self._annotation_rows()
        if not rows:
            raise ValueError(f'{path}: no samples.')
        self._check_key(rows, self.img_key, 'img_key', path)
        if self.label_key is not None:
            self._check_key(rows, self.label_key, 'label_key', path)
        if self.group_key is not None:
            self._check_key(rows, self.group_key, 'group_key', path)
        if self.mask_key is not None:
            self._check_key(rows, self.mask_key, 'mask_key', path)

        if self.split is not None:
            if self.split_file is not None:
                splits = self._splits_by_image()
                missing = [r[self.img_key] for r in rows
                           if r[self.img_key] not in splits]
                if missing:
                    raise KeyError(
                        f'{self.split_file}: no split for {len(missing)} '
                        f'image(s) of {path}, e.g. {missing[0]!r}.')
                row_splits = [splits[r[self.img_key]] for r in rows]
            else:
                self._check_key(rows, self.split_key, 'split_key', path)
                row_splits = [r[self.split_key] for r in rows]
            if self.group_key is not None:
                # On the whole file: a leak involves the splits left out.
                check_split_leakage(
                    [str(r[self.group_key]) for r in rows], row_splits,
                    path if self.split_file is None else
                    f'{path} with splits from {self.split_file}',
                    self.group_key, self.independent_splits,
                    hint='Fix the split, or name a split whose group ids '
                    'are numbered separately in independent_splits.')
            # Classes from every split, so that each split maps a name to
            # the same index.
            to_index = self._label_mapping(rows, path)
            kept = [r for r, s in zip(rows, row_splits) if s in self.split]
            if not kept:
                raise ValueError(
                    f'{path}: no sample in split {list(self.split)}; the '
                    f'splits present are {sorted(set(row_splits))}.')
            rows = kept
        else:
            to_index = self._label_mapping(rows, path)
        img_prefix = self.data_prefix.get('img_path', '')
        # mmengine joins data_root only to the prefixes given, so a missing
        # mask prefix means data_root itself.
        mask_prefix = self.data_prefix.get('seg_map_path', self.data_root
                                           or '')
        data_list = []
        for row in rows:
            img = str(row[self.img_key]).strip()
            if not img:
                raise ValueError(f'{path}: empty {self.img_key!r} in record '
                                 f'{row}.')
            info = dict(img_path=osp.join(img_prefix, img))
            if self.label_key is not None:
                info['gt_label'] = to_index(row[self.label_key])
            if self.group_key is not None:
                info['group_id'] = str(row[self.group_key])
            if self.mask_key is not None:
                mask = str(row[self.mask_key] or '').strip()
                if not mask:
                    raise ValueError(
                        f'{path}: image {img!r} has no mask (empty '
                        f'{self.mask_key!r} column, given as mask_key).')
                info['seg_map_path'] = osp.join(mask_prefix, mask)
            data_list.append(info)
        if self.mask_key is not None:
            missing = [d['seg_map_path'] for d in data_list
                       if not osp.exists(d['seg_map_path'])]
            if missing:
                raise FileNotFoundError(
                    f'{path}: {len(missing)} mask(s) listed in column '
                    f'{self.mask_key!r} do not exist, e.g. {missing[0]} '
                    f'(data_root={self.data_root!r}).')
        if self.check_files:
            self._check_images_exist(data_list, rows, path)
        if self.group_key is not None and (self.group_sources
                                           or self.label_fraction < 1):
            check_group_ids(
                [d['group_id'] for d in data_list],
                [r[self.img_key] for r in rows], path, self.group_key,
                'with group_sources=True' if self.group_sources else
                'with label_fraction < 1')
        if self.label_fraction < 1:
            kept = label_fraction_indices(
                [d['gt_label'] for d in data_list],
                [d['group_id'] for d in data_list]
                if self.group_key is not None else None,
                self.label_fraction, self.fraction_seed)
            rows = [rows[i] for i in sorted(kept)]
            data_list = [data_list[i] for i in sorted(kept)]
        if self.group_sources:
            data_list = self._group(data_list, rows, path)
        return data_list

    def _check_images_exist(self, data_list: List[dict], rows: List[Dict],
                            path: str) -> None:
        """Raise naming the first missing images of the split and their
        lines in ``path``."""
        missing = [(row, info['img_path'])
                   for info, row in zip(data_list, rows)
                   if not osp.isfile(info['img_path'])]
        if not missing:
            return
        shown = '; '.join(
            (f'line {row.line}: ' if getattr(row, 'line', None) else '') +
            f'{row[self.img_key]!r} -> {full}'
            for row, full in missing[:_MISSING_SHOWN])
        more = (f' and {len(missing) - _MISSING_SHOWN} more'
                if len(missing) > _MISSING_SHOWN else '')
        split = f' of split {list(self.split)}' if self.split else ''
        raise FileNotFoundError(
            f'{path}: {len(missing)} of the {len(data_list)} image(s)'
            f'{split} do not exist: {shown}{more} (data_root='
            f'{self.data_root!r}, data_prefix={self.data_prefix!r}; relative '
            f'paths start from {os.getcwd()}). Fix the list or the paths; '
            'check_files=False skips this check (a missing file then fails '
            'when it is loaded).')

    def _group(self, data_list: List[dict], rows: List[Dict],
               path: str) -> List[dict]:
        """One sample per group id, in order of first appearance."""
        groups: Dict[str, dict] = {}
        raw_labels: Dict[str, list] = {}
        for info, row in zip(data_list, rows):
            group = info['group_id']
            if group not in groups:
                groups[group] = dict(img_paths=[], group_id=group)
                if 'gt_label' in info:
                    groups[group]['gt_label'] = info['gt_label']
                raw_labels[group] = []
            sample = groups[group]
            sample['img_paths'].append(info['img_path'])
            if 'gt_label' in info:
                raw_labels[group].append(
                    (row[self.img_key], row[self.label_key]))
                if info['gt_label'] != sample['gt_label']:
                    pairs = ', '.join(f'{img} -> {label!r}'
                                      for img, label in raw_labels[group])
                    raise ValueError(
                        f'{path}: group {group!r} ({self.group_key!r}) has '
                        f'images with different labels ({self.label_key!r}): '
                        f'{pairs}; with group_sources=True all images of a '
                        'group must share one label.')
        return list(groups.values())

    def _label_mapping(self, rows: List[Dict], path: str):
        """Return a function from a label cell to a class index, and set
        ``self._metainfo['classes']`` when it was not given."""
        if self.label_key is None:
            return None
        values = [str(r[self.label_key]).strip() for r in rows]
        classes = self._metainfo.get('classes')
        if classes is None and all(is_int(v, signed=True) for v in values):
            return lambda v: int(str(v).strip())
        if classes is None:
            classes = tuple(sorted(set(values)))
            self._metainfo['classes'] = classes
        index = {name: i for i, name in enumerate(classes)}

        def to_index(value):
            value = str(value).strip()
            if value in index:
                return index[value]
            if is_int(value) and int(value) < len(classes):
                return int(value)
            raise ValueError(
                f'{path}: label {value!r} (column {self.label_key!r}) is '
                f'neither one of the classes {list(classes)} nor an index '
                f'below {len(classes)}.')

        return to_index

    def extra_repr(self) -> List[str]:
        body = [f'Annotation file: \t{self.ann_file}']
        if self.split is not None:
            body.append(f'Split: \t{list(self.split)}')
        if self.group_sources:
            images = sum(
                len(self.get_data_info(i)['img_paths'])
                for i in range(len(self)))
            body.append(f'Grouped sources ({self.group_key}): \t'
                        f'{len(self)} groups of {images} images')
        elif self.group_key is not None:
            groups = {self.get_data_info(i).get('group_id')
                      for i in range(len(self))}
            body.append(f'Number of groups ({self.group_key}): \t'
                        f'{len(groups)}')
        return body
