# Copyright (c) mmmedssl contributors. All rights reserved.
"""The benchmark scripts run on small cases and report consistent results."""
import json

from ..conftest import DEMO_CONFIG, python_tool


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


STEP_TIME = 'tools/benchmarks/step_time.py'


def test_step_time_on_the_demo_config_with_synthetic_inputs(tmp_path):
    out = tmp_path / 'step.json'
    # No training set there: the batch is made from synthetic images.
    proc = python_tool(
        STEP_TIME, DEMO_CONFIG, '--img-size', '32', '--batch-size', '4',
        '--repeats', '1', '--warmup', '0', '--threads', '1', '--out',
        str(out), '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path / "missing"}')
    assert '| mocov2_resnet18_1xb32-coslr-40e_demo.py |' in proc.stdout
    result = json.loads(out.read_text())
    assert result['meta']['batch_size'] == 4 and result['meta']['threads'] == 1
    (row, ) = result['steps']
    model, backbone = row['model'], row['backbone']
    assert model['data'] == backbone['data'] == 'synthetic'
    assert model['input_shapes'] == [[4, 3, 32, 32]] * 2
    assert backbone['input_shapes'] == [4, 3, 32, 32]
    assert model['model_type'] == 'MedMoCo'
    assert backbone['model_type'] == 'ResNet'
    for case in (model, backbone):
        assert case['time_s'] > 0 and case['peak_mb'] >= 0
        assert case['optimizer'] == 'SGD'
    assert row['ratio'] == model['time_s'] / backbone['time_s']


def test_step_time_pipeline_on_the_demo_set(tmp_path, tiny_demo_data):
    out = tmp_path / 'pipe.json'
    proc = python_tool(
        STEP_TIME, DEMO_CONFIG, '--pipeline', '--no-step', '--num-images',
        '4', '--out', str(out), '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_demo_data}')
    assert 'Training pipeline, 4 images' in proc.stdout
    result = json.loads(out.read_text())
    assert result['steps'] == []
    (row, ) = result['pipelines']
    assert row['data'] == 'real' and row['num_images'] == 4
    assert row['num_inputs'] == 2 and row['output_shape'] == [32, 32]
    pipe, plain = row['pipeline'], row['plain']
    assert pipe['images_per_s'] > 0 and plain['images_per_s'] > 0
    assert abs(row['ratio'] - plain['images_per_s'] /
               pipe['images_per_s']) < 1e-9


def test_step_time_rejects_bad_arguments():
    proc = python_tool(STEP_TIME, DEMO_CONFIG, '--no-step', check=False)
    assert proc.returncode != 0 and '--no-step needs --pipeline' in \
        proc.stdout
