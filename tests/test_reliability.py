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

import torch

from mmmedssl.utils.checkpoint import safe_load
from .conftest import (REPO_ROOT, free_port, hang_timeout, run_tool,
                       tiny_config_text)


def _env():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.pop('MMMEDSSL_TRUST_CHECKPOINTS', None)
    return env


def _config(tmp_path, data_root, extra=''):
    path = tmp_path / 'cfg.py'
    path.write_text(tiny_config_text(data_root, extra))
    return str(path)


def test_ctrl_c_exits_non_zero_and_keeps_checkpoints(tmp_path,
                                                     tiny_demo_data):
    config = _config(tmp_path, tiny_demo_data, '''
        max_epochs = 200
        train_cfg = dict(max_epochs=max_epochs, val_interval=100)
        ''')
    work = str(tmp_path / 'work')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', config, '--work-dir', work],
        cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + hang_timeout()
    while not osp.exists(osp.join(work, 'epoch_2.pth')):
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=hang_timeout())[0]
    assert proc.returncode != 0, out[-3000:]
    assert 'KeyboardInterrupt' in out
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


def test_mistyped_config_key_names_the_key(tmp_path, tiny_demo_data):
    proc = run_tool(
        [sys.executable, 'tools/train.py',
         _config(tmp_path, tiny_demo_data), '--work-dir',
         str(tmp_path / 'work'), '--cfg-options', 'model.backbone.depht=18'],
        check=False)
    assert proc.returncode != 0
    assert "unexpected keyword argument 'depht'" in proc.stdout


def test_killed_rank_ends_the_job(tmp_path, tiny_demo_data):
    """SIGKILL of rank 1 mid-run: torchrun stops rank 0 and exits
    non-zero, naming the failed rank."""
    plugin = tmp_path / 'kill_rank_plugin.py'
    plugin.write_text('''
import os
import signal

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmmedssl.registry import HOOKS


@HOOKS.register_module()
class KillRankOneHook(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if get_rank() == 1 and runner.iter >= 2:
            os.kill(os.getpid(), signal.SIGKILL)
''')
    config = _config(tmp_path, tiny_demo_data, '''
        custom_imports = dict(imports=['kill_rank_plugin'],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='KillRankOneHook')]
        train_dataloader['batch_size'] = 4
        model['queue_len'] = 24
        max_epochs = 50
        train_cfg = dict(max_epochs=max_epochs, val_interval=100)
        ''')
    start = time.time()
    proc = run_tool(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
         str(tmp_path / 'work')],
        env=dict(PYTHON=sys.executable, PORT=str(free_port()),
                 PYTHONPATH=f'{REPO_ROOT}:{tmp_path}'), check=False)
    assert proc.returncode != 0
    assert 'rank      : 1' in proc.stdout and 'SIGKILL' in proc.stdout
    assert time.time() - start < 600


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
