# Copyright (c) mmmedssl contributors. All rights reserved.
"""End-to-end runs of tools/train.py, tools/test.py and tools/dist_train.sh
on CPU with a tiny config."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmmedssl.utils import safe_load
from ..conftest import (REPO_ROOT, free_port, hang_timeout, python_tool,
                        run_dist_tool, run_tool, tiny_config_text)


def _weights(path):
    return safe_load(path)['state_dict']


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_train_then_resume_continues(tmp_path, tiny_config):
    work_dir = str(tmp_path / 'run')
    python_tool('tools/train.py', tiny_config, '--work-dir', work_dir)
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('epoch_2.pth')
    # The run validated with kNN accuracy in each epoch.
    logs = [osp.join(dp, f) for dp, _, fs in os.walk(work_dir) for f in fs
            if f.endswith('.json') and 'vis_data' in dp]
    records = [json.loads(line) for path in logs for line in open(path)]
    assert any('knn/top1' in r for r in records)

    proc = python_tool('tools/train.py', tiny_config, '--work-dir', work_dir,
                       '--resume', '--cfg-options', 'train_cfg.max_epochs=3')
    assert 'resumed epoch: 2' in proc.stdout
    assert osp.isfile(osp.join(work_dir, 'epoch_3.pth'))
    ckpt = safe_load(osp.join(work_dir, 'epoch_3.pth'))
    assert ckpt['meta']['epoch'] == 3

    # tools/test.py evaluates the checkpoint and writes the metrics.
    out = str(tmp_path / 'metrics.json')
    python_tool('tools/test.py', tiny_config,
                osp.join(work_dir, 'epoch_3.pth'), '--work-dir',
                str(tmp_path / 'test'), '--out', out)
    with open(out) as f:
        metrics = json.load(f)
    assert 0 <= metrics['knn/top1'] <= 100


def test_killed_run_resumes_to_identical_weights(tmp_path, tiny_demo_data):
    """SIGKILL mid-epoch, --resume: the final weights equal those of an
    uninterrupted run (seeded, deterministic, dataloader workers on)."""
    config = tmp_path / 'exact.py'
    config.write_text(
        tiny_config_text(
            tiny_demo_data, '''
            randomness = dict(seed=0, deterministic=True)
            max_epochs = 4
            train_cfg = dict(max_epochs=max_epochs, val_interval=2)
            train_dataloader.update(num_workers=1, persistent_workers=False)
            '''))
    full = str(tmp_path / 'full')
    python_tool('tools/train.py', str(config), '--work-dir', full)

    killed = str(tmp_path / 'killed')
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.pop('MMMEDSSL_TRUST_CHECKPOINTS', None)
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', str(config), '--work-dir',
         killed],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + hang_timeout()
    while not osp.exists(osp.join(killed, 'epoch_2.pth')):
        assert proc.poll() is None, 'training ended before it was killed'
        assert time.time() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not osp.exists(osp.join(killed, 'epoch_4.pth'))

    resumed = python_tool('tools/train.py', str(config), '--work-dir',
                          killed, '--resume')
    assert 'resumed epoch:' in resumed.stdout
    _assert_same_weights(
        _weights(osp.join(full, 'epoch_4.pth')),
        _weights(osp.join(killed, 'epoch_4.pth')))


RANK_DUMP_PLUGIN = '''
import os
import torch
from mmengine.hooks import Hook
from mmmedssl.registry import HOOKS


@HOOKS.register_module(force=True)
class DumpRankWeightsHook(Hook):
    def after_train(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') \\
            else runner.model
        path = os.path.join(runner.work_dir, f'rank{runner.rank}.pth')
        torch.save(
            dict(state_dict=model.state_dict(), world=runner.world_size,
                 wrapper=type(runner.model).__name__), path)
'''


def test_dist_train_two_cpu_processes(tmp_path, tiny_demo_data):
    (tmp_path / 'rank_dump_plugin.py').write_text(RANK_DUMP_PLUGIN)
    config = tmp_path / 'dist.py'
    config.write_text(
        tiny_config_text(
            tiny_demo_data, '''
            custom_imports = dict(imports=['rank_dump_plugin'],
                                  allow_failed_imports=False)
            custom_hooks = [dict(type='DumpRankWeightsHook')]
            train_dataloader['batch_size'] = 4
            model['queue_len'] = 24
            '''))
    work_dir = str(tmp_path / 'dist')
    run_dist_tool(['bash', 'tools/dist_train.sh', str(config), '2',
                   '--work-dir', work_dir],
                  env=dict(PYTHON=sys.executable, PORT=str(free_port()),
                           PYTHONPATH=f'{REPO_ROOT}:{tmp_path}'))
    ranks = [safe_load(osp.join(work_dir, f'rank{r}.pth')) for r in (0, 1)]
    assert [r['world'] for r in ranks] == [2, 2]
    assert ranks[0]['wrapper'] == 'MedDistributedDataParallel'
    _assert_same_weights(ranks[0]['state_dict'], ranks[1]['state_dict'])
    assert ranks[0]['state_dict']['queue.keys'].shape == (24, 8)
    # 32 training images over 2 ranks x 4 per batch: 4 steps per epoch,
    # 8 in all, each enqueuing the 8 keys gathered from both ranks.
    for rank in ranks:
        assert int(rank['state_dict']['momentum_encoder.steps']) == 8
        assert int(rank['state_dict']['queue.ptr']) == (8 * 8) % 24

    # Distributed evaluation of the checkpoint, metrics gathered over ranks.
    out = str(tmp_path / 'metrics.json')
    run_tool(['bash', 'tools/dist_test.sh', str(config),
              osp.join(work_dir, 'epoch_2.pth'), '2', '--work-dir',
              str(tmp_path / 'dist_test'), '--out', out],
             env=dict(PYTHON=sys.executable, PORT=str(free_port()),
                      PYTHONPATH=f'{REPO_ROOT}:{tmp_path}'))
    with open(out) as f:
        assert 0 <= json.load(f)['knn/top1'] <= 100


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU path')
def test_amp_on_cpu_fails_with_a_clear_message(tiny_config, tmp_path):
    proc = python_tool('tools/train.py', tiny_config, '--amp', '--work-dir',
                       str(tmp_path / 'amp'), check=False)
    assert proc.returncode != 0
    assert '--amp needs a CUDA device' in proc.stdout


def test_missing_config_and_checkpoint_errors(tmp_path, tiny_config):
    proc = python_tool('tools/train.py', str(tmp_path / 'nope.py'),
                       check=False)
    assert proc.returncode != 0 and 'nope.py does not exist' in proc.stdout
    proc = python_tool('tools/train.py', tiny_config, '--resume',
                       str(tmp_path / 'gone.pth'), check=False)
    assert proc.returncode != 0 and 'no such checkpoint' in proc.stdout


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path, ))


def test_tools_refuse_a_malicious_checkpoint(tmp_path, tiny_config):
    marker = tmp_path / 'created_by_pickle'
    evil = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': {}, 'x': _Payload(str(marker))},
               evil)
    for args in (['tools/test.py', tiny_config, evil],
                 ['tools/train.py', tiny_config, '--resume', evil]):
        proc = python_tool(*args, '--work-dir', str(tmp_path / 'w'),
                           check=False)
        assert proc.returncode != 0
        assert 'UnsafeCheckpointError' in proc.stdout
        assert 'posix.mkdir' in proc.stdout
        assert not marker.exists()


def test_print_config_applies_overrides(tiny_config):
    proc = python_tool('tools/misc/print_config.py', tiny_config,
                       '--cfg-options', 'model.queue_len=48')
    assert 'queue_len=48' in proc.stdout
    assert "type='MedMoCo'" in proc.stdout


def test_dist_resume_matches_uninterrupted_dist_run(tmp_path, tiny_demo_data):
    """Stop a 2-process run after 2 of 4 epochs, resume it with 2
    processes: every rank's RNG state is restored, so the weights equal a
    4-epoch run's. (The schedule ends at epoch 4 in both.)"""
    config = tmp_path / 'dist_resume.py'
    config.write_text(
        tiny_config_text(
            tiny_demo_data, '''
            randomness = dict(seed=0, deterministic=True)
            train_dataloader['batch_size'] = 4
            model['queue_len'] = 24
            train_cfg = dict(max_epochs=4, val_interval=2)
            '''))

    def dist_train(work_dir, *options):
        return run_dist_tool(
            ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir',
             work_dir, *options],
            env=dict(PYTHON=sys.executable, PORT=str(free_port())))

    full, split = str(tmp_path / 'full'), str(tmp_path / 'split')
    dist_train(full)
    dist_train(split, '--cfg-options', 'train_cfg.max_epochs=2')
    assert not osp.exists(osp.join(split, 'epoch_3.pth'))
    proc = dist_train(split, '--resume')
    assert 'resumed epoch: 2' in proc.stdout
    _assert_same_weights(
        _weights(osp.join(full, 'epoch_4.pth')),
        _weights(osp.join(split, 'epoch_4.pth')))


def test_slurm_scripts_build_the_srun_command(tmp_path):
    fake = tmp_path / 'srun'
    fake.write_text('#!/bin/bash\necho "SRUN $@"\n')
    fake.chmod(0o755)
    path = f"{tmp_path}:{os.environ['PATH']}"
    proc = run_tool(
        ['bash', 'tools/slurm_train.sh', 'part', 'job', 'cfg.py', 'wd',
         '--cfg-options', 'a=1'],
        env=dict(PATH=path, GPUS='2', GPUS_PER_NODE='0', PYTHON='py'))
    line = [x for x in proc.stdout.splitlines() if x.startswith('SRUN')][0]
    assert line.split() == [
        'SRUN', '-p', 'part', '--job-name=job', '--ntasks=2',
        '--ntasks-per-node=1', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        'py', '-u', 'tools/train.py', 'cfg.py', '--work-dir=wd',
        '--cfg-options', 'a=1', '--launcher=slurm'
    ]
    proc = run_tool(['bash', 'tools/slurm_test.sh', 'part', 'job', 'cfg.py',
                     'ck.pth'], env=dict(PATH=path, PYTHON='py'))
    line = [x for x in proc.stdout.splitlines() if x.startswith('SRUN')][0]
    assert '--gres=gpu:8 --ntasks=8 --ntasks-per-node=8' in line
    assert line.endswith('py -u tools/test.py cfg.py ck.pth --launcher=slurm')
