# Copyright (c) mmmedssl contributors. All rights reserved.
"""The weight-decay rules of the linear probe (``select_weight_decay``) and
``tools/analysis_tools/probe_rules.py``, which compares them on saved
results."""
import json
import math
import sys

import pytest

from mmmedssl.downstream import compare_selection_rules, select_weight_decay
from ..conftest import run_tool


def _grid(**columns):
    """One dict per weight decay from column lists."""
    wds = columns.pop('weight_decay')
    return [dict(weight_decay=wd, **{k: v[i] for k, v in columns.items()})
            for i, wd in enumerate(wds)]


def test_select_weight_decay_rules_and_ties():
    grid = _grid(weight_decay=[1e-3, 1e-1, 1.0, 10.0],
                 loss=[0.60, 0.50, 0.50, 0.70],
                 macro_auc=[80.0, 85.0, 79.0, 85.0],
                 balanced_acc=[70.0, 71.0, 75.0, 60.0])
    assert select_weight_decay(grid) == 2  # tie 0.50: the stronger decay
    assert select_weight_decay(grid, by='loss') == 2
    assert select_weight_decay(grid, by='macro_auc') == 3  # tie: stronger
    assert select_weight_decay(grid, by='balanced_acc') == 2
    # An undefined AUC ranks last, whatever its weight decay.
    nan_grid = _grid(weight_decay=[0.1, 100.0], mean_auc=[60.0, math.nan])
    assert select_weight_decay(nan_grid, by='mean_auc') == 0
    # And so does an undefined loss.
    assert select_weight_decay(
        _grid(weight_decay=[0.1, 100.0], loss=[3.0, math.nan])) == 0
    with pytest.raises(ValueError, match="unknown rule 'top5'"):
        select_weight_decay(grid, by='top5')
    with pytest.raises(ValueError, match='empty'):
        select_weight_decay([])
    with pytest.raises(KeyError, match="weight decay 0.1.*has no 'loss'"):
        select_weight_decay(_grid(weight_decay=[0.1], macro_auc=[50.0]))


def test_compare_selection_rules_by_hand():
    result = dict(
        val_grid=_grid(weight_decay=[0.01, 0.1, 1.0],
                       loss=[0.7, 0.4, 0.5], macro_auc=[90.0, 80.0, 85.0],
                       balanced_acc=[60.0, 70.0, 65.0]),
        test_grid=_grid(weight_decay=[0.01, 0.1, 1.0],
                        macro_auc=[70.0, 78.0, 79.5]))
    out = compare_selection_rules(result, ['loss', 'macro_auc',
                                           'balanced_acc'])
    assert out['loss'] == dict(weight_decay=0.1, test=78.0,
                               given_up=pytest.approx(1.5))
    assert out['macro_auc'] == dict(weight_decay=0.01, test=70.0,
                                    given_up=pytest.approx(9.5))
    assert out['balanced_acc']['weight_decay'] == 0.1
    bad = dict(result, test_grid=result['test_grid'][:2])
    with pytest.raises(ValueError, match='different weight decays'):
        compare_selection_rules(bad, ['loss'])
    with pytest.raises(ValueError, match='no val_grid/test_grid'):
        compare_selection_rules(dict(val_grid=result['val_grid']), ['loss'])


def test_tool_sums_over_files_and_names_a_bad_one(tmp_path):
    """Two run_benchmark.py-style results; the sums and worst are over
    both; a file without grids is named and the tool exits non-zero."""
    paths = []
    for i, test_aucs in enumerate(([70.0, 78.0, 79.5], [88.0, 86.0, 80.0])):
        path = tmp_path / f'seed{i}.json'
        path.write_text(json.dumps(dict(
            weight_decay=0.1,
            val_grid=_grid(weight_decay=[0.01, 0.1, 1.0],
                           loss=[0.7, 0.4, 0.5],
                           macro_auc=[90.0, 80.0, 85.0],
                           balanced_acc=[60.0, 70.0, 65.0]),
            test_grid=_grid(weight_decay=[0.01, 0.1, 1.0],
                            macro_auc=test_aucs))))
        paths.append(str(path))
    out = tmp_path / 'rules.json'
    tool = 'tools/analysis_tools/probe_rules.py'
    proc = run_tool([sys.executable, tool, *paths, '--rules', 'loss',
                     'macro_auc', '--out', str(out)])
    assert '| by val loss' in proc.stdout
    summary = json.loads(out.read_text())['summary']
    # loss picks wd 0.1: gives up 1.5 and 2.0; macro_auc picks 0.01: 9.5, 0.
    assert summary['loss'] == dict(given_up_sum=pytest.approx(3.5),
                                   given_up_worst=pytest.approx(2.0))
    assert summary['macro_auc'] == dict(given_up_sum=pytest.approx(9.5),
                                        given_up_worst=pytest.approx(9.5))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(test=dict(macro_auc=80.0))))
    proc = run_tool([sys.executable, tool, paths[0], str(bad)], check=False)
    assert proc.returncode != 0
    assert f'{bad}: no val_grid/test_grid' in proc.stdout
