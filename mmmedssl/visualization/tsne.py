# Copyright (c) mmmedssl contributors. All rights reserved.
"""t-SNE pictures of exported features (``tools/visualization/vis_tsne.py``).

Reads the folder ``tools/analysis_tools/extract_features.py`` writes:
``embeddings.npy`` (``(N, C)`` float32), ``ids.csv`` (``index, path`` and,
when the data has them, ``group`` / ``label``; a multi-label ``label`` is
written as ``'a;b'``) and ``meta.json`` (``classes``).
"""
import csv
import json
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

WRITTEN_BY = ('tools/analysis_tools/extract_features.py writes '
              'embeddings.npy, ids.csv and meta.json')
# Above this many colour categories the picture gets no legend.
MAX_LEGEND_ENTRIES = 20


@dataclass
class FeatureSet:
    embeddings: np.ndarray
    rows: List[dict]
    classes: Optional[List[str]]
    source: str


def _need(path: str, what: str) -> str:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no {what}; {WRITTEN_BY}.')
    return path


def load_features(feature_dir: str) -> FeatureSet:
    """The embeddings, ids.csv rows and class names of ``feature_dir``."""
    if not osp.isdir(feature_dir):
        raise FileNotFoundError(f'{feature_dir}: no such folder; {WRITTEN_BY}'
                                ' into the folder given as --out.')
    embeddings = np.load(
        _need(osp.join(feature_dir, 'embeddings.npy'), 'embeddings'))
    if embeddings.ndim != 2:
        raise ValueError(f'{feature_dir}/embeddings.npy: expected shape '
                         f'(N, C), got {embeddings.shape}.')
    if not np.isfinite(embeddings).all():
        raise ValueError(f'{feature_dir}/embeddings.npy: has NaN or '
                         'infinite values.')
    ids_path = _need(osp.join(feature_dir, 'ids.csv'), 'ids.csv')
    with open(ids_path, newline='') as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = reader.fieldnames or []
    for column in ('index', 'path'):
        if column not in columns:
            raise ValueError(f'{ids_path}: no {column!r} column (columns: '
                             f'{", ".join(columns) or "none"}); '
                             f'{WRITTEN_BY}.')
    if not rows:
        raise ValueError(f'{ids_path}: no rows.')
    if len(rows) != len(embeddings):
        raise ValueError(f'{ids_path}: {len(rows)} rows but embeddings.npy '
                         f'has {len(embeddings)}; one row per embedding.')
    with open(_need(osp.join(feature_dir, 'meta.json'), 'meta.json')) as f:
        meta = json.load(f)
    return FeatureSet(embeddings.astype(np.float32), rows,
                      meta.get('classes'), feature_dir)


def colour_categories(features: FeatureSet,
                      colour_by: str) -> Tuple[np.ndarray, List[str]]:
    """``(codes, names)``: one category index per point and the category
    names. By label, category ``i < len(classes)`` is class ``i``; points
    with several labels (multi-label) form one category per combination,
    named ``a+b``. By group, one category per group in first-seen order."""
    if colour_by not in ('label', 'group'):
        raise ValueError(f"colour_by must be 'label' or 'group', got "
                         f'{colour_by!r}.')
    ids_path = osp.join(features.source, 'ids.csv')
    if colour_by not in features.rows[0]:
        hint = ('the data had no labels (a list file needs --label-key)'
                if colour_by == 'label' else
                'the data had no groups (a list file needs --group-key)')
        raise ValueError(
            f'{ids_path}: no {colour_by!r} column (columns: '
            f'{", ".join(features.rows[0])}); extract_features.py writes it '
            f'only when the data has it: {hint}.')
    values = [row[colour_by] for row in features.rows]
    if colour_by == 'group':
        groups = list(dict.fromkeys(values))
        codes = np.array([groups.index(v) for v in values])
        return codes, [g or '(no group)' for g in groups]
    classes = features.classes
    label_sets = []
    for row, value in zip(features.rows, values):
        try:
            label_set = tuple(int(v) for v in value.split(';') if v != '')
        except ValueError:
            raise ValueError(f'{ids_path}, index {row["index"]}: label '
                             f'{value!r} is not class indices.') from None
        if classes and any(not 0 <= c < len(classes) for c in label_set):
            raise ValueError(
                f'{ids_path}, index {row["index"]}: label {value!r} outside '
                f'the {len(classes)} classes of meta.json.')
        label_sets.append(label_set)
    if classes:
        num_classes = len(classes)
    else:
        num_classes = 1 + max((c for s in label_sets for c in s), default=-1)
    categories = [(c, ) for c in range(num_classes)]
    categories += sorted({s for s in label_sets if len(s) != 1},
                         key=lambda s: (len(s), s))

    def class_name(c):
        return str(classes[c]) if classes else str(c)

    names = ['+'.join(class_name(c) for c in s) or 'no label'
             for s in categories]
    codes = np.array([categories.index(s) for s in label_sets])
    return codes, names


def category_colours(num: int) -> np.ndarray:
    """RGBA colour of each category: ``tab10`` up to 10 categories, else
    ``tab20``, repeated beyond 20."""
    from matplotlib import colormaps
    cmap = colormaps['tab10' if num <= 10 else 'tab20']
    return np.array([cmap(i % cmap.N) for i in range(num)])


def check_perplexity(perplexity: float, num: int) -> None:
    # An error rather than clamping: the picture's titles then always show
    # the perplexity asked for.
    if not 0 < perplexity < num:
        raise ValueError(
            f'perplexity {perplexity:g} must be above 0 and below the number '
            f'of points ({num}); try --perplexity {max(1, (num - 1) // 3)}.')


def embed_tsne(embeddings: np.ndarray, perplexity: float,
               seed: int = 0) -> Tuple[np.ndarray, float]:
    """2D t-SNE of ``embeddings`` (PCA initialisation; the same output for
    the same seed) and its final KL divergence."""
    from sklearn.manifold import TSNE
    check_perplexity(perplexity, len(embeddings))
    tsne = TSNE(n_components=2, perplexity=perplexity, init='pca',
                learning_rate='auto', random_state=seed)
    points = tsne.fit_transform(embeddings)
    return points, float(tsne.kl_divergence_)


def subsample(num: int, max_points: Optional[int], seed: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``num`` points, in order."""
    if max_points is None or max_points >= num:
        return np.arange(num)
    if max_points < 2:
        raise ValueError(f'max_points must be at least 2, got {max_points}.')
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num, size=max_points, replace=False))


def plot_tsne(features: FeatureSet, perplexities: Sequence[float] = (30, ),
              colour_by: Optional[str] = None, seed: int = 0,
              max_points: Optional[int] = None, out: Optional[str] = None,
              fig_size: Optional[Tuple[float, float]] = None,
              dpi: int = 100):
    """One t-SNE subplot per perplexity, points coloured by ``colour_by``
    (``'label'``, ``'group'`` or None: one colour); writes ``out`` (PNG) if
    given. Returns ``(figure, info)``; ``info`` holds the points drawn and
    the KL divergence of each embedding."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not perplexities:
        raise ValueError('no perplexity given.')
    keep = subsample(len(features.embeddings), max_points, seed)
    for perplexity in perplexities:
        check_perplexity(perplexity, len(keep))
    if colour_by is None:
        codes, names = np.zeros(len(features.rows), int), []
    else:
        codes, names = colour_categories(features, colour_by)
    codes = codes[keep]
    colours = category_colours(max(len(names), 1))
    show_legend = 0 < len(names) <= MAX_LEGEND_ENTRIES
    fig = Figure(figsize=fig_size or (4.5 * len(perplexities) +
                                      (2 if show_legend else 0), 4.5),
                 dpi=dpi, layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(perplexities), squeeze=False)[0]
    info = dict(points=len(keep), categories=len(names), kl_divergence={})
    for ax, perplexity in zip(axes, perplexities):
        points, kl = embed_tsne(features.embeddings[keep], perplexity, seed)
        info['kl_divergence'][perplexity] = kl
        for code in np.unique(codes):
            mask = codes == code
            ax.scatter(points[mask, 0], points[mask, 1], s=16,
                       color=colours[code], edgecolors='none',
                       label=names[code] if names else None)
        ax.set_title(f'perplexity {perplexity:g}')
        ax.set_xticks([])
        ax.set_yticks([])
    if show_legend:
        # Every category, in category order, even if one subplot lacks it.
        from matplotlib.lines import Line2D
        handles = [Line2D([], [], marker='o', linestyle='', color=c)
                   for c in colours[:len(names)]]
        fig.legend(handles, names, loc='outside right upper',
                   title=colour_by, frameon=False)
    if out:
        fig.savefig(out, dpi=dpi)
    return fig, info
