# Copyright (c) mmmedssl contributors. All rights reserved.
import random
import re
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dist import get_rank


def read_text(path: str) -> str:
    """The text of ``path`` decoded as UTF-8, a leading byte-order mark
    (Excel's "CSV UTF-8" export) dropped. A file in another encoding
    (Latin-1, Windows-1252) raises a ValueError naming the file, the line
    and the encoding tried, instead of a bare UnicodeDecodeError."""
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        return raw.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b'\n') + 1
        raise ValueError(
            f'{path}: line {line}: byte 0x{raw[err.start]:02x} is not '
            'valid UTF-8 (the encoding tried: utf-8, with or without a '
            'byte-order mark). Re-save the file as UTF-8 (in Excel: "CSV '
            'UTF-8"; or iconv -f latin1 -t utf-8).') from None


def seed_worker(worker_id: int, rank: int = None) -> None:
    """Seed numpy, ``random`` and torch in a dataloader worker from the seed
    torch gave it.

    torch gives each worker ``base_seed + worker_id`` where ``base_seed`` is
    drawn from the main process' RNG every time an epoch's iterator starts.
    Seeding from it therefore (a) changes the augmentations every epoch, which
    mmengine's default ``worker_init_fn`` does not (it reseeds every epoch with
    the same fixed numbers), and (b) stays reproducible after ``--resume``,
    because the main process' RNG state is saved in checkpoints and restored
    (see ``RNGStateHook``). The rank is mixed in so that ranks differ.

    Use it with ``worker_init_fn=dict(type='mmmedssl.datasets.seed_worker')``
    in a dataloader config.
    """
    if rank is None:
        rank = get_rank()
    sequence = np.random.SeedSequence([torch.initial_seed() % 2**63, rank])
    seed32, seed64 = sequence.generate_state(2, dtype=np.uint32)
    np.random.seed(int(seed32))
    random.seed(int(seed64))
    torch.manual_seed(int(seed32) * 2**32 + int(seed64))


_INT_RE = re.compile(r'[0-9]+')
_SIGNED_INT_RE = re.compile(r'[-+]?[0-9]+')


def is_int(value, signed: bool = False) -> bool:
    """Whether ``value`` is a string holding an integer in ASCII digits, as a
    class, frame or video index in an annotation file (``'7'``, ``'07'``);
    with ``signed`` a leading ``-`` or ``+`` is allowed too. Surrounding
    white space is not: strip the cell first."""
    pattern = _SIGNED_INT_RE if signed else _INT_RE
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def check_label_fraction(dataset: str, label_fraction: float, labelled: bool,
                         needs: str) -> None:
    """Validate the ``label_fraction`` argument every dataset with groups
    shares: in (0, 1], and below 1 only for labelled data, since the draw
    keeps the labels of part of the groups. ``needs`` names the argument
    that makes ``dataset`` labelled (``'label_key'``,
    ``'with_label=True'``)."""
    if not 0 < label_fraction <= 1:
        raise ValueError(f'{dataset}: label_fraction must be in (0, 1], '
                         f'got {label_fraction!r}.')
    if label_fraction < 1 and not labelled:
        raise ValueError(f'{dataset}: label_fraction < 1 keeps the labels '
                         f'of part of the groups and needs {needs}.')


def check_group_ids(group_ids: Sequence[str], images: Sequence[str],
                    source: str, group_key: str, why: str) -> None:
    """Raise when an image has an empty group id: it would silently form a
    group with every other image that lacks one. ``why`` says what the
    groups are used for, for the message."""
    for group, image in zip(group_ids, images):
        if not str(group).strip():
            raise ValueError(
                f'{source}: empty {group_key!r} (group_key) for image '
                f'{image!r}; {why} every image needs a group.')


def check_num_classes(dataset: str, classes: Optional[Sequence[str]],
                      expected: Sequence[str]) -> None:
    """``classes`` (given through ``classes=`` or ``metainfo``) may rename
    the dataset's classes but must keep their number, which the annotation
    files fix."""
    if classes is None or len(classes) != len(expected):
        given = 'no' if classes is None else len(classes)
        raise ValueError(
            f'{dataset}: {given} classes given '
            f'({list(classes or [])}), expected {len(expected)} in the '
            f'order of {list(expected)}.')


def with_default_classes(metainfo, classes, default: Sequence[str]) -> dict:
    """``metainfo`` with ``classes=default`` unless the caller named classes
    (``classes=`` or ``metainfo['classes']``). For defaults that depend on an
    argument (ISIC 2017's ``label_mode``, the surgical ``protocol``), which a
    class-level ``METAINFO`` cannot hold."""
    metainfo = dict(metainfo or {})
    if classes is None and 'classes' not in metainfo:
        metainfo['classes'] = tuple(default)
    return metainfo


def check_split_leakage(group_ids: Sequence[str],
                        splits: Sequence[str],
                        source: str,
                        group_key: str,
                        independent_splits: Sequence[str] = (),
                        hint: str = '') -> None:
    """Raise when a group (lesion, patient, video) has images in two or more
    splits: evaluation would then see sources that training saw. Names the
    first few such groups and their splits.

    Empty group ids are not a group and are skipped. Splits named in
    ``independent_splits`` number their groups on their own (an official
    test set whose ids were assigned separately), so they are left out.
    ``hint`` ends the message (how to fix it for this dataset)."""
    skipped = set(independent_splits)
    splits_of = {}
    for group, split in zip(group_ids, splits):
        if split in skipped or not str(group).strip():
            continue
        splits_of.setdefault(group, set()).add(split)
    leaked = [(group, sorted(names)) for group, names in splits_of.items()
              if len(names) > 1]
    if not leaked:
        return
    shown = ', '.join(f'{group!r} in {names}' for group, names in leaked[:5])
    more = f' and {len(leaked) - 5} more' if len(leaked) > 5 else ''
    raise ValueError(
        f'{source}: {len(leaked)} group(s) of {group_key!r} are in more than '
        f'one split: {shown}{more}. All images of a group must be in one '
        'split, or evaluation sees the sources that training saw.' +
        (f' {hint}' if hint else ''))


# The argument that gives each dataset type its labels, and its default.
_LABEL_ARGUMENTS = {
    'MedImageList': ('label_key', None, 'label_key=COLUMN'),
    'MedImageFolder': ('label_from', None, "label_from='parent'"),
    'ChestXray14': ('with_label', True, 'with_label=True'),
    'ISIC2017': ('with_label', True, 'with_label=True'),
    'SurgicalVideoFrames': ('with_label', True, 'with_label=True'),
}


def missing_label_argument(dataset_cfg) -> Optional[str]:
    """What to set for the dataset that config dict ``dataset_cfg`` builds
    to have labels (``'label_key=COLUMN'``...) when its arguments say it has
    none; None when it is labelled or of a type not known here. Looks
    through wrappers (``dataset=``, ``datasets=``), so that tools needing
    labels can say so before building anything."""
    if not isinstance(dataset_cfg, dict):
        return None
    if isinstance(dataset_cfg.get('dataset'), dict):
        return missing_label_argument(dataset_cfg['dataset'])
    if isinstance(dataset_cfg.get('datasets'), (list, tuple)):
        for inner in dataset_cfg['datasets']:
            missing = missing_label_argument(inner)
            if missing:
                return missing
        return None
    kind = dataset_cfg.get('type')
    kind = getattr(kind, '__name__', kind)
    if not isinstance(kind, str):
        return None
    known = _LABEL_ARGUMENTS.get(kind.split('.')[-1])
    if known is None:
        return None
    key, default, setting = known
    value = dataset_cfg.get(key, default)
    return setting if value is None or value is False else None
