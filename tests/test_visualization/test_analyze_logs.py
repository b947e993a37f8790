# Copyright (c) mmmedssl contributors. All rights reserved.
"""Training curves from mmengine logs (analyze_logs.py). The logs are
written by mmengine's own ``LocalVisBackend`` the way ``LoggerHook`` calls
it (a training tag with ``epoch`` and ``iter`` at ``step=iter``, metrics at
``step=epoch``), as in a real work dir."""
import os.path as osp
import re

import numpy as np
import pytest
from matplotlib.image import imread
from mmengine.visualization import LocalVisBackend

from mmmedssl.visualization.curves import (default_keys, find_scalar_files,
                                           load_run, plot_curves, series,
                                           summary)

from .helpers import axes_crop, doc_commands, pixels_of
from ..conftest import load_tool, python_tool

# Colour tolerance per channel of the pixel checks.
TOL = 0.03

ITERS_PER_EPOCH = 5


def write_run(work_dir, timestamp, losses, first_iter=1, epochs_with_val=(),
              top1=lambda epoch: 10.0 * epoch, by_epoch=True):
    """Log ``losses`` from iteration ``first_iter`` on, and a validation at
    the end of each epoch in ``epochs_with_val``, into
    ``work_dir/timestamp/vis_data/scalars.json``; returns its path."""
    backend = LocalVisBackend(osp.join(str(work_dir), timestamp, 'vis_data'))
    for offset, loss in enumerate(losses):
        it = first_iter + offset
        epoch = (it - 1) // ITERS_PER_EPOCH + 1
        tag = dict(lr=0.1 / epoch, data_time=0.01, loss=float(loss),
                   time=0.05)
        tag.update(dict(epoch=epoch, iter=it) if by_epoch else dict(iter=it))
        backend.add_scalars(tag, step=it)
        if it % ITERS_PER_EPOCH == 0 and epoch in epochs_with_val:
            metrics = {'knn/top1': top1(epoch), 'knn/balanced_acc': 1.0,
                       'data_time': 0.01, 'time': 0.02}
            backend.add_scalars(metrics, step=epoch if by_epoch else it)
    return backend._scalar_save_file


def left_right_rows(crop, colour):
    """Mean image row of ``colour`` in the left and the right third (a row
    further down means a smaller value)."""
    rows, cols = pixels_of(crop, colour, TOL)
    third = crop.shape[1] / 3
    return rows[cols < third].mean(), rows[cols > 2 * third].mean()


def test_falling_and_rising_loss_two_colours(tmp_path):
    falling = np.linspace(3, 1, 20)
    write_run(tmp_path / 'a', 't0', falling, epochs_with_val=(1, 2, 3, 4))
    write_run(tmp_path / 'b', 't0', falling[::-1], epochs_with_val=(2, 4))
    logs = [load_run(str(tmp_path / 'a'), 'a'),
            load_run(str(tmp_path / 'b'), 'b')]
    out = str(tmp_path / 'curves.png')
    fig = plot_curves(logs, ['loss', 'knn/top1'], out=out, fig_size=(6, 3),
                      dpi=80)
    image = imread(out)
    assert image.shape[:2] == (3 * 80, 6 * 80)
    loss_ax = fig.axes[0]
    assert loss_ax.get_title() == 'loss'
    crop = axes_crop(loss_ax, image)
    assert crop.std() > 0.05  # not blank
    left, right = left_right_rows(crop, 'C0')
    assert left < right - crop.shape[0] / 3  # run a falls
    left, right = left_right_rows(crop, 'C1')
    assert left > right + crop.shape[0] / 3  # run b rises
    # One run alone: only its colour.
    fig = plot_curves(logs[:1], ['loss'], out=out, fig_size=(3, 3), dpi=60)
    crop = axes_crop(fig.axes[0], imread(out))
    assert len(pixels_of(crop, 'C0', TOL)[0]) > 50
    assert len(pixels_of(crop, 'C1', TOL)[0]) == 0
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ['a']


def test_resumed_run_is_joined_in_order(tmp_path):
    # The first sub-run logged iterations 1-12 and validated epochs 1 and 2,
    # then stopped; the resumed one restarts at epoch 3 (iteration 11).
    losses = np.linspace(2, 1, 20)
    write_run(tmp_path, '20240101_000000', losses[:12] + 5,
              epochs_with_val=(1, 2))
    write_run(tmp_path, '20240102_000000', losses[10:], first_iter=11,
              epochs_with_val=(3, 4))
    log = load_run(str(tmp_path))
    assert [osp.basename(osp.dirname(osp.dirname(f)))
            for f in log.files] == ['20240101_000000', '20240102_000000']
    xs, ys = series(log, 'loss')
    assert xs.tolist() == list(range(1, 21))
    np.testing.assert_allclose(ys, np.r_[losses[:10] + 5, losses[10:]])
    xs, ys = series(log, 'knn/top1')
    assert xs.tolist() == [5, 10, 15, 20]  # last iteration of each epoch
    assert ys.tolist() == [10, 20, 30, 40]
    xs, ys = series(log, 'knn/top1', x='epoch')
    assert xs.tolist() == [1, 2, 3, 4]
    xs, ys = series(log, 'loss', x='epoch')
    assert xs.tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(ys[3], losses[15:].mean())
    assert default_keys([log]) == ['loss', 'lr', 'knn/top1',
                                   'knn/balanced_acc']


def test_iteration_based_run(tmp_path):
    path = write_run(tmp_path, 't0', np.ones(10), epochs_with_val=(1, 2),
                     by_epoch=False)
    log = load_run(path)  # a scalars.json file
    assert series(log, 'knn/top1')[0].tolist() == [5, 10]
    with pytest.raises(ValueError, match='no "epoch".*--x iter'):
        series(log, 'loss', x='epoch')


def test_summary_numbers(tmp_path):
    write_run(tmp_path, 't0', [3.0, 1.0, 2.0, 0.5, 4.0],
              epochs_with_val=(1, ))
    text = summary([load_run(str(tmp_path), 'run')], ['loss', 'knn/top1'])
    rows = [line.split() for line in text.splitlines()]
    assert rows[0] == ['key', 'run', 'points', 'first', 'last', 'min', 'max']
    assert rows[1] == ['loss', 'run', '5', '3', '4', '0.5', '4']
    assert rows[2] == ['knn/top1', 'run', '1', '10', '10', '10', '10']


def test_errors_name_file_line_and_keys(tmp_path):
    path = write_run(tmp_path, 't0', [1.0, 2.0])
    with open(path, 'a') as f:
        f.write('{"loss": 1.0, "iter": 3\n')
    with pytest.raises(ValueError,
                       match=r'scalars.json, line 3: not valid JSON'):
        load_run(str(tmp_path))
    write_run(tmp_path / 'ok', 't0', [1.0, 2.0])
    log = load_run(str(tmp_path / 'ok'))
    with pytest.raises(KeyError, match='key.s. acc in none of the runs; keys '
                       r'available: lr, data_time, loss, time\.'):
        plot_curves([log], ['loss', 'acc'])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError,
                       match=r'empty: no \*/vis_data/scalars.json below'):
        find_scalar_files(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='no such work dir'):
        find_scalar_files(str(tmp_path / 'missing'))




def test_doc_commands(tmp_path, capsys):
    commands = doc_commands('Training curves')
    assert len(commands) == 2
    demo, long = str(tmp_path / 'demo'), str(tmp_path / 'demo_long')
    write_run(demo, 't0', np.linspace(3, 1, 10), epochs_with_val=(1, 2))
    write_run(long, 't0', np.linspace(3, 0.5, 20),
              epochs_with_val=(1, 2, 3, 4))

    def replace(arg):
        arg = arg.replace('work_dirs/demo', str(tmp_path / 'demo'))
        return str(tmp_path / arg) if arg.endswith('.png') and \
            not osp.isabs(arg) else arg

    commands = [[replace(a) for a in args] for args in commands]
    out = python_tool(*commands[0]).stdout
    assert re.search(r'loss +\S+/demo +10 +3 +1 +1 +3\n', out)
    assert re.search(r'knn/top1 +\S+/demo +2 +10 +20 +10 +20\n', out)
    assert '4 curves of 1 run(s)' in out
    image = imread(osp.join(demo, 'curves.png'))
    # Default size: 3 columns x 2 rows of subplots at 100 dpi.
    assert image.shape[:2] == (int(3.2 * 2 * 100 + 60), 3 * 450)

    tool = load_tool(commands[1][0])
    assert tool.main(commands[1][1:]) == 0
    out = capsys.readouterr().out
    assert re.search(r'knn/top1 +long +4 +10 +40 +10 +40\n', out)
    assert '2 curves of 2 run(s)' in out
    assert imread(str(tmp_path / 'compare.png')).shape[:2] == (380, 900)
    with pytest.raises(SystemExit,
                       match='--legend gives 1 names for 2 runs'):
        tool.main([demo, long, '--legend', 'one'])
    with pytest.raises(SystemExit, match='key.s. top5 in none of the runs'):
        tool.main([demo, '--keys', 'top5'])
