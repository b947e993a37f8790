# Copyright (c) mmmedssl contributors. All rights reserved.
"""The benchmark scripts run on small cases and report consistent results."""
import json

from ..conftest import python_tool


def test_gravis_loss_benchmark_matches_the_naive_form(tmp_path):
    out = tmp_path / 'loss.json'
    proc = python_tool('tools/benchmarks/gravis_loss.py', '--cases', '4x2',
                       '6x5', '--repeats', '1', '--out', str(out))
    assert '| 6 x 5 | 30 |' in proc.stdout
    rows = json.loads(out.read_text())['results']
    assert [(r['sources'], r['views']) for r in rows] == [(4, 2), (6, 5)]
    for row in rows:
        # the benchmark's naive form is the released arithmetic: same loss
        assert row['loss_abs_diff'] < 1e-5
        assert row['ours']['peak_mb'] >= 0 and row['naive']['time_s'] > 0


def test_gravis_loss_benchmark_rejects_bad_cases(tmp_path):
    proc = python_tool('tools/benchmarks/gravis_loss.py', '--cases', '16by20',
                       check=False)
    assert proc.returncode != 0 and 'SOURCESxVIEWS' in proc.stdout


def test_pipeline_throughput_on_the_demo_config(tmp_path, tiny_demo_data):
    out = tmp_path / 'pipe.json'
    proc = python_tool(
        'tools/benchmarks/pipeline_throughput.py',
        'configs/_base_/datasets/demo_derm_gravis.py', '--num-images', '4',
        '--batch-size', '2', '--data-root', tiny_demo_data, '--out',
        str(out))
    assert '| ours |' in proc.stdout and '| torchvision |' in proc.stdout
    result = json.loads(out.read_text())
    assert (result['num_images'], result['num_views'],
            result['crop_size']) == (4, 4, 32)
    ours, ref = result['results']['ours'], result['results']['torchvision']
    assert ref['vs_torchvision'] == 1.0
    assert abs(ours['vs_torchvision'] - ours['images_per_s'] /
               ref['images_per_s']) < 1e-9
    assert abs(ours['views_per_s'] - 4 * ours['images_per_s']) < 1e-6
