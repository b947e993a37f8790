# Copyright (c) mmmedssl contributors. All rights reserved.
"""Failures a user meets, as docs/reliability.md lists them, that are not
pinned elsewhere: Ctrl-C, a corrupt image, a mistyped config key and a
killed rank each end the run with a non-zero exit and a message that names
the cause, and finished checkpoints stay loadable."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmmedssl.utils.checkpoint import safe_load
from .conftest import (REPO_ROOT, free_port, hang_timeout,
                       process_running, run_tool, tiny_config_text)


def _env():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.pop('MMMEDSSL_TRUST_CHECKPOINTS', None)
    return env


def _config(tmp_path, data_root, extra=''):
    path = tmp_path / 'cfg.py'
    path.write_text(tiny_config_text(data_root, extra))
    return str(path)


def _children(pid):
    """Pids whose parent is ``pid`` (data loader workers)."""
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    fields = f.read().rsplit(') ', 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.skipif(not osp.isdir('/proc'), reason='reads /proc')
@pytest.mark.parametrize('signum, marker', [
    (signal.SIGINT, 'KeyboardInterrupt'), (signal.SIGTERM, None)])
def test_ctrl_c_exits_non_zero_and_keeps_checkpoints(tmp_path,
                                                     tiny_demo_data, signum,
                                                     marker):
    """Ctrl-C and SIGTERM (kill PID, a scheduler's limit): non-zero exit
    (143 for SIGTERM), checkpoints intact, no data loader worker left
    behind (Python's default SIGTERM left them blocked, holding memory)."""
    # Far more epochs than the test waits for: on a starved machine the
    # run must still be going when the signal comes (200 epochs once ended
    # before this process got to send it).
    config = _config(tmp_path, tiny_demo_data, '''
        max_epochs = 100000
        train_cfg = dict(max_epochs=max_epochs, val_interval=50000)
        train_dataloader.update(num_workers=2, persistent_workers=True)
        ''')
    work = str(tmp_path / 'work')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', config, '--work-dir', work],
        cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + hang_timeout()
        while not osp.exists(osp.join(work, 'epoch_2.pth')):
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.time() < deadline
            time.sleep(0.05)
        workers = _children(proc.pid)
        assert len(workers) >= 2
        proc.send_signal(signum)
        out = proc.communicate(timeout=hang_timeout())[0]
    finally:
        # A run that failed the test must not train its 100,000 epochs on.
        if proc.poll() is None:
            for pid in _children(proc.pid) + [proc.pid]:
                os.kill(pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0, out[-3000:]
    if marker:
        assert marker in out
    else:
        assert proc.returncode == 128 + signum, out[-3000:]
    deadline = time.time() + 30
    while any(process_running(w) for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if process_running(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, 'data loader workers outlived the run'
    state = safe_load(osp.join(work, 'epoch_2.pth'))['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point())


def test_corrupt_image_names_the_file(tmp_path, tiny_demo_data):
    import shutil
    data = tmp_path / 'data'
    shutil.copytree(tiny_demo_data, data)
    bad = data / 'images' / sorted(os.listdir(data / 'images'))[0]
    bad.write_bytes(b'not an image')
    proc = run_tool(
        [sys.executable, 'tools/train.py', _config(tmp_path, str(data)),
         '--work-dir', str(tmp_path / 'work')], check=False)
    assert proc.returncode != 0
    assert f'failed to load image: {bad}' in proc.stdout


def test_missing_val_image_fails_before_training(tmp_path, tiny_demo_data):
    """A validation image that is gone is found when the loaders are built,
    before the first iteration: no epoch of training is spent first."""
    import csv
    import shutil
    data = tmp_path / 'data'
    shutil.copytree(tiny_demo_data, data)
    with open(data / 'labels.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    line, gone = next((i, r['image']) for i, r in enumerate(rows, 2)
                      if r['split'] == 'val')
    os.remove(data / gone)
    work = tmp_path / 'work'
    proc = run_tool(
        [sys.executable, 'tools/train.py', _config(tmp_path, str(data)),
         '--work-dir', str(work)], check=False)
    assert proc.returncode != 0
    assert f"line {line}: {gone!r}" in proc.stdout, proc.stdout[-3000:]
    assert "split ['val']" in proc.stdout
    assert 'Epoch(train)' not in proc.stdout
    assert not list(work.rglob('*.pth'))


def test_mistyped_config_key_names_the_key(tmp_path, tiny_demo_data):
    proc = run_tool(
        [sys.executable, 'tools/train.py',
         _config(tmp_path, tiny_demo_data), '--work-dir',
         str(tmp_path / 'work'), '--cfg-options', 'model.backbone.depht=18'],
        check=False)
    assert proc.returncode != 0
    assert "unexpected keyword argument 'depht'" in proc.stdout


def _signal_rank_one_config(tmp_path, data_root, signal_name, extra=''):
    """A 2-process config whose rank 1 sends itself ``signal_name`` after
    iteration 2 (writing its pid to $RANK_ONE_PID_FILE first, if set)."""
    (tmp_path / 'signal_rank_plugin.py').write_text(f'''
import os
import signal

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmmedssl.registry import HOOKS


@HOOKS.register_module()
class SignalRankOneHook(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if get_rank() == 1 and runner.iter >= 2:
            if os.environ.get('RANK_ONE_PID_FILE'):
                with open(os.environ['RANK_ONE_PID_FILE'], 'w') as f:
                    f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.{signal_name})
''')
    return _config(tmp_path, data_root, '''
        custom_imports = dict(imports=['signal_rank_plugin'],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='SignalRankOneHook')]
        train_dataloader['batch_size'] = 4
        model['queue_len'] = 24
        max_epochs = 50
        train_cfg = dict(max_epochs=max_epochs, val_interval=100)
        ''' + extra)


def _dist_env(tmp_path, **extra):
    return dict(PYTHON=sys.executable, PORT=str(free_port()),
                PYTHONPATH=f'{REPO_ROOT}:{tmp_path}', **extra)


def test_killed_rank_ends_the_job(tmp_path, tiny_demo_data):
    """SIGKILL of rank 1 mid-run: torchrun stops rank 0 and exits
    non-zero, naming the failed rank."""
    config = _signal_rank_one_config(tmp_path, tiny_demo_data, 'SIGKILL')
    proc = run_tool(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
         str(tmp_path / 'work')], env=_dist_env(tmp_path), check=False)
    assert proc.returncode != 0
    assert 'rank      : 1' in proc.stdout and 'SIGKILL' in proc.stdout


def test_stopped_rank_ends_the_job_naming_it(tmp_path, tiny_demo_data):
    """SIGSTOP of rank 1 (a frozen process: no exit for torchrun to see):
    rank 0's collective times out after env_cfg.dist_cfg.timeout and the
    error names rank 1 as the one that stopped answering."""
    config = _signal_rank_one_config(
        tmp_path, tiny_demo_data, 'SIGSTOP',
        "env_cfg = dict(dist_cfg=dict(timeout=5))\n")
    pid_file = tmp_path / 'stopped.pid'
    env = dict(_env(), **_dist_env(tmp_path, MMMEDSSL_HEARTBEAT_S='1',
                                   RANK_ONE_PID_FILE=str(pid_file)))
    proc = subprocess.Popen(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
         str(tmp_path / 'work')], cwd=REPO_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    try:
        for line in proc.stdout:
            out.append(line)
            if 'DistributedTimeoutError' in line and pid_file.exists():
                # Named: let the frozen rank take torchrun's SIGTERM now
                # instead of after torchrun's 30 s grace.
                os.kill(int(pid_file.read_text()), signal.SIGCONT)
        proc.wait(timeout=hang_timeout())
    finally:
        if proc.poll() is None:
            proc.kill()
        if pid_file.exists():  # never leave a frozen process behind
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    text = ''.join(out)
    assert proc.returncode != 0
    error = [line for line in out
             if 'DistributedTimeoutError: rank 0 waited 5 s' in line]
    assert error, text[-4000:]
    assert 'Stopped answering' in text
    assert 'rank 1 (silent for' in text


def test_every_case_in_docs_reliability_names_an_existing_test():
    import re
    with open(osp.join(REPO_ROOT, 'docs', 'reliability.md')) as f:
        text = f.read()
    refs = re.findall(r'`((?:test_[\w/]+/)?test_\w+\.py)(?:::(\w+))?`', text)
    assert len(refs) >= 15
    for path, name in refs:
        full = osp.join(REPO_ROOT, 'tests', path)
        assert osp.isfile(full), path
        if name:
            with open(full) as f:
                assert f'def {name}(' in f.read(), f'{path}::{name}'
