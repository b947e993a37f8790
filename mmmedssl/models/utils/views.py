# Copyright (c) mmmedssl contributors. All rights reserved.
"""Grouping of multi-view batches by source."""
import hashlib
from typing import List, Sequence, Tuple, Union

import torch


def stack_views(inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> Tuple[torch.Tensor, int, int]:
    """Lay out a multi-view batch image-major.

    ``inputs`` is a list of V view batches ``(B, C, ...)`` (as collated from
    ``MedMultiView``) or one ``(B, V, C, ...)`` tensor. Returns the
    ``(B * V, C, ...)`` batch in which the V views of source ``b`` are rows
    ``b * V ... b * V + V - 1``, and ``B``, ``V``.
    """
    if isinstance(inputs, torch.Tensor):
        if inputs.dim() < 4:
            raise ValueError('stack_views: expected (B, V, C, ...) views, got '
                             f'shape {tuple(inputs.shape)}.')
        views = inputs
    else:
        shapes = {tuple(v.shape) for v in inputs}
        if len(shapes) != 1:
            raise ValueError('stack_views: all views must have one shape to '
                             f'be batched together, got {sorted(shapes)}.')
        views = torch.stack(list(inputs), dim=1)
    batch, num_views = views.shape[:2]
    return views.flatten(0, 1), batch, num_views


def require_views(inputs, algorithm: str, needed: int = 2) -> None:
    """Raise, naming the setting to change, when a batch brings fewer views
    per image than a contrastive ``algorithm`` compares (a one-view
    pipeline would otherwise fail with an index error, or train nothing)."""
    if isinstance(inputs, torch.Tensor):
        got = inputs.shape[1] if inputs.dim() >= 5 else 1
    else:
        got = len(inputs)
    if got < needed:
        raise ValueError(
            f'{algorithm} compares {needed} or more augmented views of every '
            f'image, but the batch has {got}: the train pipeline needs '
            f"dict(type='MedMultiView', num_views={needed}, ...) (or more "
            'views) before PackMedInputs.')


def _as_int(value) -> int:
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        # Stable across processes and ranks (unlike hash()).
        digest = hashlib.blake2b(value.encode('utf-8'), digest_size=8).digest()
        return int.from_bytes(digest, 'little', signed=True)
    raise TypeError


def source_ids(data_samples: List, key: str, num_views: int,
               device=None) -> torch.Tensor:
    """One id per view (image-major) from each sample's ``key`` metainfo or
    field: ``'sample_idx'`` makes every image its own source,
    ``'group_id'`` makes all images of a lesion/patient one source. String
    ids are hashed stably so that ranks agree."""
    ids = []
    for i, sample in enumerate(data_samples):
        if key not in sample:
            raise KeyError(
                f'source_ids: data sample {i} has no {key!r}; it has '
                f'{sorted(sample.all_keys())}. Keep {key!r} in PackMedInputs('
                'meta_keys=...) and, for group_id, set group_key in the '
                'dataset.')
        try:
            ids.append(_as_int(sample.get(key)))
        except TypeError:
            raise TypeError(
                f'source_ids: {key!r} of data sample {i} is '
                f'{sample.get(key)!r}; expected an int or a string.') from None
    ids = torch.tensor(ids, dtype=torch.long, device=device)
    return ids.repeat_interleave(num_views)
