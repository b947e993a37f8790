# Copyright (c) mmmedssl contributors. All rights reserved.
"""t-SNE pictures of an exported feature folder (vis_tsne.py), checked as
pictures: size, class colours and where they lie."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from matplotlib import colormaps
from matplotlib.image import imread
from threadpoolctl import threadpool_limits

from mmmedssl.downstream.feature_export import _id_rows
from mmmedssl.visualization.tsne import (colour_categories, embed_tsne,
                                         load_features, plot_tsne,
                                         subsample)

from .helpers import axes_crop, doc_commands, pixels_of
from ..conftest import load_tool, python_tool

# Colour tolerance per channel of the pixel checks.
TOL = 0.02

CLASSES = ['benign', 'malignant']
# One OpenMP thread: t-SNE on a few dozen points is fastest so, above all
# on a busy machine.
ONE_THREAD = {'OMP_NUM_THREADS': '1'}


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def write_features(folder, labels, groups=None, dim=8, seed=0, spread=10.):
    """A feature folder as extract_features.py writes it (rows through its
    own writer): one Gaussian cluster per class, ``spread`` apart."""
    rng = np.random.default_rng(seed)
    labels = torch.as_tensor(labels)
    centres = rng.normal(size=(len(CLASSES), dim)) * spread
    first = labels if labels.dim() == 1 else labels.argmax(1)
    feats = centres[first.numpy()] + rng.normal(size=(len(labels), dim))
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    np.save(osp.join(folder, 'embeddings.npy'), feats.astype(np.float32))
    paths = [f'images/img_{i}.png' for i in range(len(labels))]
    rows = _id_rows(paths, groups or [None] * len(labels), labels)
    with open(osp.join(folder, 'ids.csv'), 'w') as f:
        f.write(','.join(rows[0]) + '\n')
        f.writelines(','.join(str(v) for v in r.values()) + '\n'
                     for r in rows)
    with open(osp.join(folder, 'meta.json'), 'w') as f:
        json.dump(dict(classes=CLASSES, num_samples=len(labels)), f)
    return folder


def test_two_clusters_get_two_separate_colours(tmp_path):
    labels = [0] * 20 + [1] * 20
    features = load_features(write_features(tmp_path / 'f', labels))
    out = str(tmp_path / 'tsne.png')
    fig, info = plot_tsne(features, [5, 15], 'label', seed=0, out=out,
                          fig_size=(6, 3), dpi=80)
    image = imread(out)
    assert image.shape[:2] == (3 * 80, 6 * 80)
    assert info['points'] == 40 and set(info['kl_divergence']) == {5, 15}
    tab10 = colormaps['tab10']
    for ax in fig.axes:
        crop = axes_crop(ax, image)
        assert crop.std() > 0.05  # not blank
        ys0, xs0 = pixels_of(crop, tab10(0), TOL)
        ys1, xs1 = pixels_of(crop, tab10(1), TOL)
        assert len(ys0) > 40 and len(ys1) > 40
        # A line separates the classes: along the direction between their
        # centres, every pixel of one class lies before every pixel of the
        # other.
        p0 = np.stack([xs0, ys0], 1).astype(float)
        p1 = np.stack([xs1, ys1], 1).astype(float)
        direction = p1.mean(0) - p0.mean(0)
        assert (p0 @ direction).max() < (p1 @ direction).min()
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == CLASSES


def test_mixed_classes_are_not_separated(tmp_path):
    # The separation check above can fail: same centres for both classes.
    labels = [0, 1] * 20
    folder = write_features(tmp_path / 'f', labels, spread=0.)
    out = str(tmp_path / 'tsne.png')
    fig, _ = plot_tsne(load_features(folder), [10], 'label', out=out,
                       fig_size=(4, 4), dpi=60)
    crop = axes_crop(fig.axes[0], imread(out))
    tab10 = colormaps['tab10']
    p0 = np.stack(pixels_of(crop, tab10(0), TOL)[::-1], 1).astype(float)
    p1 = np.stack(pixels_of(crop, tab10(1), TOL)[::-1], 1).astype(float)
    direction = p1.mean(0) - p0.mean(0)
    assert (p0 @ direction).max() > (p1 @ direction).min()


def test_categories_multi_label_and_groups(tmp_path):
    multi = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]])
    features = load_features(write_features(tmp_path / 'm', multi))
    assert features.rows[2]['label'] == '0;1'
    codes, names = colour_categories(features, 'label')
    assert names == ['benign', 'malignant', 'no label', 'benign+malignant']
    assert codes.tolist() == [0, 1, 3, 2, 0]

    groups = [f'patient_{i // 2}' for i in range(50)]
    folder = write_features(tmp_path / 'g', [0] * 25 + [1] * 25, groups)
    features = load_features(folder)
    codes, names = colour_categories(features, 'group')
    assert len(names) == 25 and names[3] == 'patient_3'
    assert codes[7] == 3
    # 25 groups: colours repeat (tab20) and there is no legend.
    fig, info = plot_tsne(features, [5], 'group', max_points=30,
                          fig_size=(3, 3), dpi=50)
    assert not fig.legends and info['categories'] == 25
    assert info['points'] == 30


def test_same_seed_same_picture():
    x = np.random.default_rng(1).normal(size=(30, 6)).astype(np.float32)
    a, kl = embed_tsne(x, 5, seed=3)
    b, _ = embed_tsne(x, 5, seed=3)
    assert a.shape == (30, 2) and kl > 0
    np.testing.assert_array_equal(a, b)
    assert subsample(100, 10, 0).tolist() == subsample(100, 10, 0).tolist()
    assert len(set(subsample(100, 10, 0))) == 10
    assert subsample(100, None, 0).tolist() == list(range(100))


def test_errors_name_the_file_and_the_fix(tmp_path):
    folder = write_features(tmp_path / 'f', [0, 1] * 5)
    features = load_features(folder)
    with pytest.raises(ValueError, match=r"perplexity 30 must be .*below "
                       r'the number of points \(10\); try --perplexity 3'):
        plot_tsne(features, [5, 30])
    with pytest.raises(ValueError, match=r"ids.csv: no 'group' column "
                       r'\(columns: index, path, label\).*--group-key'):
        colour_categories(features, 'group')
    with pytest.raises(FileNotFoundError, match=r'no_such: no such folder; '
                       r'tools/analysis_tools/extract_features.py writes'):
        load_features(str(tmp_path / 'no_such'))
    np.save(osp.join(folder, 'embeddings.npy'), np.zeros((9, 4), 'f4'))
    with pytest.raises(ValueError, match='10 rows but embeddings.npy has 9'):
        load_features(folder)
    os.remove(osp.join(folder, 'meta.json'))
    np.save(osp.join(folder, 'embeddings.npy'), np.zeros((10, 4), 'f4'))
    with pytest.raises(FileNotFoundError,
                       match=r'meta.json: no meta.json; .*extract_features'):
        load_features(folder)




def test_doc_commands(tmp_path, capsys):
    commands = doc_commands('t-SNE of features')
    assert len(commands) == 2
    labels = [0] * 18 + [1] * 18
    groups = [f'lesion_{i // 3}' for i in range(36)]
    folder = write_features(tmp_path / 'features', labels, groups)
    commands = [[a.replace('work_dirs/demo', str(tmp_path)) for a in args]
                for args in commands]
    first = python_tool(*commands[0], env=ONE_THREAD).stdout
    assert 't-SNE of 36 points coloured by label (2 categories' in first
    image = imread(str(tmp_path / 'tsne.png'))
    # Default size: two 4.5-inch subplots and the legend, at 100 dpi.
    assert image.shape[:2] == (450, 1100)

    tool = load_tool(commands[1][0])
    assert tool.main(commands[1][1:]) == 0
    assert 'coloured by group (12 categories' in capsys.readouterr().out
    assert osp.isfile(osp.join(folder, 'tsne.png'))
    with pytest.raises(SystemExit, match=r'vis_tsne.py: perplexity 50 must '
                       r'.*below the number of points \(36\)'):
        tool.main([folder, '--perplexity', '50'])
