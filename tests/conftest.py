# Copyright (c) mmmedssl contributors. All rights reserved.
import logging
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'mocov2',
                       'mocov2_resnet18_1xb32-coslr-40e_demo.py')

# A shell that starts pytest in the background (`nohup make test &`) makes it
# ignore SIGINT, and every process it starts inherits that: the Ctrl-C tests
# would then wait out their timeouts. A handled signal is reset to the
# default in a child, so handling it here gives the children a real Ctrl-C.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _mmmedssl_scope():
    """Every test runs with mmmedssl registered and as the default scope,
    and leaves no loggers or scopes behind."""
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope

    from mmmedssl.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmmedssl'):
        yield
    logging.shutdown()
    MMLogger._instance_dict.clear()


@pytest.fixture(scope='session')
def tiny_demo_data(tmp_path_factory):
    """A tiny copy of the demo set: 4 classes x 4+2 lesions x 2 images,
    32x32 pixels."""
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
    from make_demo_data import make_demo_data
    out = tmp_path_factory.mktemp('demo_derm')
    make_demo_data(str(out), size=32, train_lesions=4, val_lesions=2,
                   images_per_lesion=2, seed=0)
    return str(out)


def tiny_config_text(data_root: str, extra: str = '') -> str:
    """A config that inherits the demo config and shrinks everything: a
    ResNet-18 with 8 base channels at 32x32, batch 8, 2 epochs.

    ``extra`` is appended: modify the loaders in place there
    (``train_dataloader.update(...)``), since assigning a new dict would drop
    the ``data_root`` set here."""
    return textwrap.dedent(f'''
        _base_ = [{DEMO_CONFIG!r}]
        data_root = {data_root!r}
        model = dict(
            queue_len=32,
            feat_dim=8,
            backbone=dict(stem_channels=8, base_channels=8),
            neck=dict(in_channels=64, hid_channels=16, out_channels=8))
        train_dataloader = dict(
            batch_size=8, dataset=dict(data_root=data_root))
        val_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root))
        test_dataloader = val_dataloader
        max_epochs = 2
        param_scheduler = [dict(type='CosineAnnealingLR', T_max=4,
                                by_epoch=True, begin=0, end=4)]
        train_cfg = dict(max_epochs=max_epochs, val_interval=1)
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval=1, max_keep_ckpts=-1))
    ''') + textwrap.dedent(extra)


@pytest.fixture
def tiny_config(tmp_path, tiny_demo_data):
    path = tmp_path / 'tiny_mocov2.py'
    path.write_text(tiny_config_text(tiny_demo_data))
    return str(path)


def train_records(work_dir: str) -> list:
    """The logged training iterations (``scalars.json`` entries with a
    ``loss``) of a run under ``work_dir``."""
    import json
    logs = [osp.join(dp, f) for dp, _, fs in os.walk(work_dir) for f in fs
            if f == 'scalars.json']
    records = [json.loads(line) for path in logs for line in open(path)]
    return [r for r in records if 'loss' in r]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# A subprocess (or a wait for one) that takes longer than this has hung: the
# bound is far above any test's normal run, so that a busy shared machine
# (CI beside other jobs) slows tests down without failing them. Scale it with
# MMMEDSSL_TEST_TIMEOUT_SCALE (e.g. 3 on a very slow machine).
HANG_TIMEOUT_S = 1800


def hang_timeout(seconds: float = HANG_TIMEOUT_S) -> float:
    """``seconds`` (at least ``HANG_TIMEOUT_S``) times
    ``MMMEDSSL_TEST_TIMEOUT_SCALE``: the time after which a test may declare
    a subprocess hung. Never use a shorter bound to test speed."""
    scale = os.environ.get('MMMEDSSL_TEST_TIMEOUT_SCALE', '1')
    try:
        factor = float(scale)
    except ValueError:
        raise ValueError('MMMEDSSL_TEST_TIMEOUT_SCALE must be a number, got '
                         f'{scale!r}.') from None
    return max(seconds, HANG_TIMEOUT_S) * factor


def run_tool(args, env=None, timeout=None, check=True):
    """Run a repository script with this interpreter; returns the process.

    ``timeout`` only catches hangs: it is raised to at least
    ``HANG_TIMEOUT_S`` and scaled (see :func:`hang_timeout`)."""
    timeout = hang_timeout(timeout or HANG_TIMEOUT_S)
    full_env = dict(os.environ)
    full_env.pop('MMMEDSSL_TRUST_CHECKPOINTS', None)
    full_env['PYTHONPATH'] = REPO_ROOT + os.pathsep + full_env.get(
        'PYTHONPATH', '')
    full_env.update(env or {})
    proc = subprocess.run(
        args,
        cwd=REPO_ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited with {proc.returncode}:\n'
                             f'{proc.stdout[-5000:]}')
    return proc


def run_dist_tool(args, env=None, timeout=None):
    """``run_tool`` for a multi-process launch: one retry when a gloo process
    aborted (SIGABRT) at teardown without a Python error, which happens now
    and then on a loaded 2-core machine after a finished run."""
    for _ in range(2):
        proc = run_tool(args, env=env, timeout=timeout, check=False)
        if proc.returncode == 0 or 'SIGABRT' not in proc.stdout:
            break
    if proc.returncode != 0:
        raise AssertionError(f'{args} exited with {proc.returncode}:\n'
                             f'{proc.stdout[-5000:]}')
    return proc


def python_tool(script, *args, **kwargs):
    return run_tool([sys.executable, osp.join(REPO_ROOT, script), *args],
                    **kwargs)


def load_tool(script: str):
    """A tool's module (``script`` relative to the repository), to run its
    ``main`` or its helpers in this process."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(script))[0], osp.join(REPO_ROOT, script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_surgical_frames(root, num_videos: int, video_size: int, seconds,
                         fps: float, frame_size: int) -> str:
    """Synthetic surgical videos (real MJPG files) under ``root`` and their
    frames extracted at ``fps`` into ``root/frames``; returns ``root``."""
    root = str(root)
    python_tool('tools/dataset_converters/make_demo_surgical_videos.py',
                '--out', root, '--num-videos', str(num_videos), '--size',
                str(video_size), '--seconds', *map(str, seconds))
    python_tool('tools/dataset_converters/extract_frames.py',
                osp.join(root, 'videos'), '--out', osp.join(root, 'frames'),
                '--fps', str(fps), '--size', str(frame_size),
                str(frame_size))
    return root


def process_running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (exited, not yet reaped)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(') ', 1)[1][0] != 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return False
