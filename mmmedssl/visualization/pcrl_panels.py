# Copyright (c) mmmedssl contributors. All rights reserved.
"""PCRL reconstruction panels: for a batch, one row per sample and, for each
of PCRL's four reconstruction branches (ordinary, mixup, hybrid,
mixup_hybrid), the student's input, the target and the reconstruction
(``PCRLReconVisHook`` draws them during training)."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .views import caption_lines, choose_window, render_grid, to_display

#: Columns of each branch, left to right.
PANEL_COLUMNS = ('input', 'target', 'reconstruction')
_SHORT = dict(input='input', target='target', reconstruction='recon')


def denormalize(batch: torch.Tensor, mean: Optional[Sequence[float]] = None,
                std: Optional[Sequence[float]] = None) -> torch.Tensor:
    """Undo a data preprocessor's ``(x - mean) / std`` on a ``(B, C,
    *spatial)`` batch; without ``mean`` the batch is returned as it is."""
    if mean is None:
        return batch
    mean = torch.as_tensor(mean, dtype=torch.float64).flatten()
    std = torch.as_tensor(std, dtype=torch.float64).flatten()
    if mean.numel() != batch.shape[1]:
        raise ValueError(f'denormalize: {mean.numel()} mean value(s) for a '
                         f'batch of {batch.shape[1]} channel(s) '
                         f'{tuple(batch.shape)}.')
    shape = (1, -1) + (1, ) * (batch.dim() - 2)
    return batch.detach().double().cpu() * std.view(shape) + mean.view(
        shape)


def render_pcrl_panel(recons: Dict[str, Dict[str, torch.Tensor]],
                      data_samples: Optional[List] = None,
                      mean: Optional[Sequence[float]] = None,
                      std: Optional[Sequence[float]] = None,
                      clip_range: Optional[Sequence[float]] = None,
                      max_samples: int = 4,
                      scale: Optional[int] = None) -> np.ndarray:
    """Lay out ``PCRL.reconstructions`` output as one RGB picture.

    Rows: the first ``max_samples`` samples (captioned with their file name
    and group when ``data_samples`` are given). Columns: for each branch,
    in the order given, ``input``, ``target``, ``reconstruction``. The
    tensors are in the preprocessor's space: ``mean``/``std`` undo its
    normalisation (channels are then in RGB order: the preprocessor swaps
    BGR images); the range shown is 0..255 for normalised photos, else
    chosen from the inputs and targets (:func:`choose_window`; 3D: [0, 1]).
    Volumes show their three mid slices.
    """
    if not recons:
        raise ValueError('render_pcrl_panel: no reconstructions given.')
    branches = list(recons)
    for name in branches:
        missing = [c for c in PANEL_COLUMNS if c not in recons[name]]
        if missing:
            raise KeyError(f'render_pcrl_panel: branch {name!r} lacks '
                           f'{missing}; expected {list(PANEL_COLUMNS)}.')
    batch = recons[branches[0]]['input'].shape[0]
    count = min(max_samples, batch)
    raw = {
        name: {
            column: denormalize(recons[name][column][:count].float(), mean,
                                std)
            for column in PANEL_COLUMNS
        }
        for name in branches
    }
    if mean is not None and max(float(m) for m in mean) > 1:
        window = (0., 255.)
    else:
        # Reconstructions may overshoot; the data sets the range.
        window = choose_window(
            [raw[n][c] for n in branches for c in ('input', 'target')],
            clip_range)
    rows = [[to_display(raw[name][column][i], window, 'rgb')
             for name in branches for column in PANEL_COLUMNS]
            for i in range(count)]
    if data_samples is not None:
        captions = [caption_lines(s.metainfo, i)
                    for i, s in enumerate(data_samples[:count])]
    else:
        captions = [[f'#{i}'] for i in range(count)]
    header = [[name if j == 0 else '', _SHORT[column]]
              for name in branches
              for j, column in enumerate(PANEL_COLUMNS)]
    return render_grid(rows, captions, header, scale)


def pcrl_recon_panel(model, data_batch: dict, max_samples: int = 4,
                     scale: Optional[int] = None) -> np.ndarray:
    """The reconstruction panel of a PCRL ``model`` (unwrapped) on a
    dataloader batch: its data preprocessor, then
    :meth:`~mmmedssl.models.PCRL.reconstructions`.

    The forward draws from torch's RNG like a training step; save and
    restore the RNG states around this call to leave a run unchanged.
    """
    if not hasattr(model, 'reconstructions'):
        raise TypeError('pcrl_recon_panel needs a PCRL model (with '
                        f'`reconstructions`), got {type(model).__name__}.')
    preprocessor = model.data_preprocessor
    with torch.no_grad():
        data = preprocessor(data_batch, training=True)
        recons = model.reconstructions(data['inputs'], data['data_samples'])
    normalised = getattr(preprocessor, '_enable_normalize', False)
    mean = preprocessor.mean.tolist() if normalised else None
    std = preprocessor.std.tolist() if normalised else None
    return render_pcrl_panel(recons, data['data_samples'], mean, std,
                             getattr(preprocessor, 'clip_range', None),
                             max_samples, scale)
