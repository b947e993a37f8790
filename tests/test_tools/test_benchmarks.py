# Copyright (c) mmmedssl contributors. All rights reserved.
"""The benchmark scripts run on small cases and report consistent results."""
import json

import numpy as np

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


PIPELINE = 'tools/benchmarks/pipeline_throughput.py'


def test_pipeline_throughput_against_torchvision(tmp_path, tiny_demo_data):
    out = tmp_path / 'pipe.json'
    proc = python_tool(
        PIPELINE, 'configs/_base_/datasets/demo_derm_gravis.py',
        '--reference', 'torchvision', '--num-images', '4', '--batch-size',
        '2', '--data-root', tiny_demo_data, '--breakdown', '--out', str(out))
    assert '| ours |' in proc.stdout and '| torchvision |' in proc.stdout
    (row, ) = json.loads(out.read_text())['pipelines']
    assert (row['data'], row['num_images'], row['num_views'],
            row['crop_size']) == ('real', 4, 4, 32)
    assert row['num_inputs'] == 4 and row['output_shape'] == [32, 32]
    ours, ref = row['results']['ours'], row['results']['torchvision']
    assert ref['vs_reference'] == 1.0
    assert abs(ours['vs_reference'] - ours['images_per_s'] /
               ref['images_per_s']) < 1e-9
    assert abs(ours['views_per_s'] - 4 * ours['images_per_s']) < 1e-6
    assert abs(row['ratio'] * ours['images_per_s'] -
               ref['images_per_s']) < 1e-6 * ref['images_per_s']
    names = list(row['breakdown_ms'])
    assert names[0].startswith('LoadImageFromFile')
    assert names[-1].endswith('MedCutout')


def test_pipeline_throughput_against_plain_decoding(tmp_path,
                                                    tiny_demo_data):
    out = tmp_path / 'pipe.json'
    proc = python_tool(
        PIPELINE, DEMO_CONFIG, '--num-images', '4', '--batch-size', '1',
        '--out', str(out), '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_demo_data}')
    assert '| plain |' in proc.stdout
    result = json.loads(out.read_text())
    assert result['meta']['reference'] == 'plain'
    (row, ) = result['pipelines']
    assert row['data'] == 'real' and row['num_images'] == 4
    assert row['num_inputs'] == 2 and row['output_shape'] == [32, 32]
    ours, plain = row['results']['ours'], row['results']['plain']
    assert ours['images_per_s'] > 0 and plain['images_per_s'] > 0
    # one view per image and nothing to collate in the plain reference
    assert plain['views_per_s'] == plain['images_per_s']
    assert plain['collate_normalise_ms_per_image'] == 0
    assert abs(row['ratio'] - plain['images_per_s'] /
               ours['images_per_s']) < 1e-9


def test_pipeline_throughput_on_synthetic_files(tmp_path):
    out = tmp_path / 'pipe.json'
    # No training set there: the pipeline reads synthetic JPEGs.
    python_tool(
        PIPELINE, DEMO_CONFIG, '--num-images', '2', '--img-size', '48',
        '--out', str(out), '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path / "missing"}')
    (row, ) = json.loads(out.read_text())['pipelines']
    assert row['data'] == 'synthetic' and row['output_shape'] == [32, 32]
    proc = python_tool(
        PIPELINE, DEMO_CONFIG, '--num-images', '2', '--no-synthetic',
        '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path / "missing"}',
        check=False)
    assert proc.returncode != 0 and '--no-synthetic' in proc.stdout


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


def test_step_time_rejects_bad_arguments():
    proc = python_tool(STEP_TIME, DEMO_CONFIG, '--repeats', '0', check=False)
    assert proc.returncode != 0 and '--repeats must be >= 1' in proc.stdout
    # the pipeline case moved to pipeline_throughput.py
    proc = python_tool(STEP_TIME, DEMO_CONFIG, '--pipeline', '--no-step',
                       '--num-images', '4', check=False)
    assert proc.returncode != 0 and 'pipeline_throughput.py' in proc.stdout


def test_shared_timing_helpers():
    from mmmedssl.utils.benchmarking import (cell, markdown_table,
                                             peak_rss_mb, reset_peak_rss,
                                             spatial_dims_of, take_turns,
                                             timed)
    assert take_turns('ab', 0) == ['a', 'b']
    assert take_turns('ab', 1) == ['b', 'a']
    calls = []
    seconds, out = timed(lambda: 7, sync=lambda: calls.append(1))
    assert out == 7 and seconds >= 0 and calls == [1, 1]
    assert cell(dict(t=0.0123), 't', scale=1e3) == '12.3'
    assert cell(dict(skipped='too big'), 't') == 'too big'
    assert cell({}, 't') == 'error'
    assert markdown_table(['a', 'b'], [[1, 'x']]) == \
        '| a | b |\n|---|---|\n| 1 | x |'
    wrapped = [dict(type='MedMultiView',
                    transforms=[[dict(type='PackMedInputs',
                                      spatial_dims=3)]])]
    assert spatial_dims_of(wrapped) == 3
    assert spatial_dims_of([dict(type='PackMedInputs')]) == 2
    reset_ok = reset_peak_rss()
    block = np.ones(64 * 2**20, np.uint8)  # written: 64 MiB resident
    assert peak_rss_mb(reset_ok) >= 64
    del block
