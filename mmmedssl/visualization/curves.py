# Copyright (c) mmmedssl contributors. All rights reserved.
"""Training curves from mmengine's ``vis_data/scalars.json`` logs
(``tools/visualization/analyze_logs.py``).

mmengine's ``LocalVisBackend`` writes one JSON object per line: a training
line per logged iteration (``iter``, ``epoch`` for epoch-based loops,
``loss``, ``lr``, other loss terms, ``step``) and a validation line per
validation (the metrics, e.g. ``knn/top1``, and ``step``: the epoch, or the
iteration for iteration-based loops).
"""
import glob
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmmedssl.utils.scalars import iter_scalars

SCALARS_PATTERN = osp.join('**', 'vis_data', 'scalars.json')
# Where a line was logged, not a curve.
POSITION_KEYS = ('iter', 'epoch', 'step')
# Curves, but not drawn unless asked for.
NOT_DEFAULT_KEYS = ('time', 'data_time', 'memory')


@dataclass
class RunLog:
    """The logged scalars of one run (resumed sub-runs concatenated)."""
    name: str
    files: List[str]
    train: List[dict] = field(default_factory=list)
    val: List[dict] = field(default_factory=list)

    @property
    def by_epoch(self) -> bool:
        """Whether the training loop counted epochs (then validation
        ``step`` is an epoch, else an iteration)."""
        return any('epoch' in record for record in self.train)

    def keys(self) -> List[str]:
        """Curve keys in log order: training entries, then metrics."""
        keys = {}
        for record in self.train + self.val:
            keys.update(dict.fromkeys(
                k for k in record if k not in POSITION_KEYS))
        return list(keys)


def find_scalar_files(run: str) -> List[str]:
    """``run`` itself if it is a file, else every
    ``*/vis_data/scalars.json`` below the folder, oldest sub-run first
    (mmengine names sub-runs by their start time)."""
    if osp.isfile(run):
        return [run]
    if not osp.isdir(run):
        raise FileNotFoundError(f'{run}: no such work dir or scalars.json.')
    files = glob.glob(osp.join(run, SCALARS_PATTERN), recursive=True)
    if not files:
        raise FileNotFoundError(
            f'{run}: no */vis_data/scalars.json below this folder; give a '
            'work dir of tools/train.py (with LocalVisBackend, the default) '
            'or a scalars.json file.')
    # Sort by the timestamp folder holding vis_data, then the full path.
    return sorted(files, key=lambda p: (osp.basename(
        osp.dirname(osp.dirname(p))), p))


def read_scalars(path: str) -> List[dict]:
    """The JSON objects of a ``scalars.json`` file, one per line; each a
    training line (``iter``) or a validation line (``step``)."""
    records = []
    for lineno, record in iter_scalars(path):
        if 'iter' not in record and 'step' not in record:
            raise ValueError(
                f'{path}, line {lineno}: neither "iter" (training line) '
                'nor "step" (validation line).')
        records.append(record)
    return records


def load_run(run: str, name: Optional[str] = None) -> RunLog:
    """Read the logs of ``run`` (a work dir or a scalars.json file).

    A resumed run restarts from its last checkpoint, so iterations (and
    validations) logged after that checkpoint are logged again by the next
    sub-run: the later sub-run's records replace them."""
    log = RunLog(name=name or run, files=find_scalar_files(run))
    for path in log.files:
        records = read_scalars(path)
        train = [r for r in records if 'iter' in r]
        val = [r for r in records if 'iter' not in r]
        if train:
            restart = train[0]['iter']
            log.train = [r for r in log.train if r['iter'] < restart]
            if 'epoch' in train[0]:
                # Validation steps count epochs here.
                restart = train[0]['epoch']
            log.val = [r for r in log.val if r['step'] < restart]
        log.train += train
        log.val += val
    return log


def _epoch_ends(log: RunLog) -> Dict[int, int]:
    """The last logged iteration of each epoch."""
    ends = {}
    for record in log.train:
        if 'epoch' in record:
            ends[record['epoch']] = max(ends.get(record['epoch'], 0),
                                        record['iter'])
    return ends


def series(log: RunLog, key: str, x: str = 'iter') -> Tuple[np.ndarray,
                                                            np.ndarray]:
    """``(xs, ys)`` of ``key`` in ``log`` (empty if the run lacks it).

    ``x='iter'``: training entries at their iteration; metrics of an
    epoch-based run at the last logged iteration of their epoch.
    ``x='epoch'``: metrics at their epoch; training entries averaged over
    each epoch."""
    if x not in ('iter', 'epoch'):
        raise ValueError(f"x must be 'iter' or 'epoch', got {x!r}.")
    if x == 'epoch' and not log.by_epoch:
        raise ValueError(
            f'{log.name}: the training lines have no "epoch" (an '
            'iteration-based loop); plot against --x iter.')
    train = [r for r in log.train if key in r]
    val = [r for r in log.val if key in r]
    points = []
    if x == 'iter':
        points += [(r['iter'], r[key]) for r in train]
        ends = _epoch_ends(log)
        for r in val:
            if not log.by_epoch:
                points.append((r['step'], r[key]))
            elif r['step'] in ends:
                points.append((ends[r['step']], r[key]))
    else:
        per_epoch = {}
        for r in train:
            per_epoch.setdefault(r['epoch'], []).append(r[key])
        points += [(e, float(np.mean(v))) for e, v in per_epoch.items()]
        points += [(r['step'], r[key]) for r in val]
    points.sort(key=lambda p: p[0])
    xs = np.array([p[0] for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    return xs, ys


def default_keys(logs: Sequence[RunLog]) -> List[str]:
    """``loss`` and ``lr`` (where logged), then every validation metric."""
    keys = [k for k in ('loss', 'lr') if any(k in log.keys() for log in logs)]
    for log in logs:
        for record in log.val:
            keys += [k for k in record if k not in keys
                     and k not in POSITION_KEYS + NOT_DEFAULT_KEYS]
    return keys


def check_keys(logs: Sequence[RunLog], keys: Sequence[str]) -> None:
    available = []
    for log in logs:
        available += [k for k in log.keys() if k not in available]
    unknown = [k for k in keys if k not in available]
    if unknown:
        raise KeyError(
            f'key(s) {", ".join(unknown)} in none of the runs; keys '
            f'available: {", ".join(available) or "(none: empty logs)"}.')


def summary(logs: Sequence[RunLog], keys: Sequence[str],
            x: str = 'iter') -> str:
    """A text table: points, first, last, min and max of each key per
    run."""
    name_width = max([len(log.name) for log in logs] + [3])
    key_width = max([len(k) for k in keys] + [3])
    lines = [f'{"key":<{key_width}}  {"run":<{name_width}}  {"points":>6}  '
             f'{"first":>10}  {"last":>10}  {"min":>10}  {"max":>10}']
    for key in keys:
        for log in logs:
            _, ys = series(log, key, x)
            if len(ys):
                values = [f'{v:>10.4g}' for v in (ys[0], ys[-1], ys.min(),
                                                   ys.max())]
            else:
                values = [f'{"-":>10}'] * 4
            lines.append(f'{key:<{key_width}}  {log.name:<{name_width}}  '
                         f'{len(ys):>6}  ' + '  '.join(values))
    return '\n'.join(lines)


def plot_curves(logs: Sequence[RunLog], keys: Sequence[str],
                x: str = 'iter', out: Optional[str] = None,
                fig_size: Optional[Tuple[float, float]] = None,
                dpi: int = 100):
    """One subplot per key, one line per run (colours ``C0``, ``C1``, ...
    of matplotlib's default cycle, in run order); writes ``out`` (PNG) if
    given. Returns the matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not keys:
        raise ValueError('no keys to plot.')
    check_keys(logs, keys)
    cols = min(len(keys), 3)
    rows = -(-len(keys) // cols)
    fig = Figure(figsize=fig_size or (4.5 * cols, 3.2 * rows + 0.6),
                 dpi=dpi, layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, key in zip(axes, keys):
        for index, log in enumerate(logs):
            xs, ys = series(log, key, x)
            # Sparse curves (metrics) get markers so single points show.
            style = 'o-' if 0 < len(xs) <= 30 else '-'
            ax.plot(xs, ys, style, color=f'C{index % 10}', linewidth=1.5,
                    markersize=4, label=log.name)
        ax.set_title(key)
        ax.set_xlabel(x)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='outside upper center',
               ncols=min(len(logs), 4), frameon=False)
    if out:
        fig.savefig(out, dpi=dpi)
    return fig
