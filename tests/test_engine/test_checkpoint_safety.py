# Copyright (c) mmmedssl contributors. All rights reserved.
"""Checkpoint saves survive SIGKILL at any point, and ``--resume`` survives
broken checkpoints (issue 15, problems 1 and 6)."""
import json
import os
import os.path as osp
import stat
import sys
import textwrap

import pytest
import torch
from mmengine.logging import MessageHub, MMLogger

from mmmedssl.engine import find_resume_checkpoint
from mmmedssl.engine.hooks import CrashSafeCheckpointHook
from mmmedssl.utils import atomic_torch_save, safe_load
from mmmedssl.utils.checkpoint import (CheckpointLoadError, atomic_write,
                                       checkpoint_problem,
                                       remove_stale_temp_files)
from ..conftest import REPO_ROOT, load_tool, run_tool, tiny_config_text

# Runs tools/train.py in forked children of one interpreter (the imports
# are paid once) and SIGKILLs a child at a chosen point of the epoch-2
# save, found by watching os.replace, which the atomic writes end with.
DRIVER = textwrap.dedent('''
    import json, os, signal, sys, traceback
    sys.path.insert(0, os.path.join(sys.argv[1], 'tools'))
    import train

    def kill_inside_save(kill_at):
        real_replace = os.replace

        def replace(src, dst):
            name = os.path.basename(str(dst))
            if kill_at == 'before_rename' and name == 'epoch_2.pth':
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst)
            if kill_at == 'after_rename' and name == 'epoch_2.pth':
                os.kill(os.getpid(), signal.SIGKILL)
            if kill_at == 'after_pointer' and name == 'last_checkpoint':
                with open(dst) as f:
                    if f.read().strip().endswith('epoch_2.pth'):
                        os.kill(os.getpid(), signal.SIGKILL)
        os.replace = replace

    def run(job):
        pid = os.fork()
        if pid == 0:
            fd = os.open(job['log'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.umask(0o027)
            code = 0
            try:
                if job.get('kill_at'):
                    kill_inside_save(job['kill_at'])
                train.main(job['argv'])
            except SystemExit as err:
                code = err.code if isinstance(err.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        work_dir = job['argv'][job['argv'].index('--work-dir') + 1]
        return dict(code=os.waitstatus_to_exitcode(status),
                    files=sorted(os.listdir(work_dir)))

    jobs = json.loads(sys.argv[2])
    print(json.dumps([run(job) for job in jobs]))
''')

KILL_POINTS = ('before_rename', 'after_rename', 'after_pointer')
# Where the resumed run continues from: the checkpoint last_checkpoint
# named when the kill came.
RESUMED_EPOCH = dict(before_rename=1, after_rename=1, after_pointer=2)


@pytest.fixture(scope='module')
def killed_and_resumed(tmp_path_factory, tiny_demo_data):
    """For each kill point: a 2-epoch run with ``max_keep_ckpts=1`` killed
    inside its epoch-2 save, then ``--resume`` in the same work dir."""
    root = tmp_path_factory.mktemp('killed')
    config = root / 'tiny.py'
    config.write_text(
        tiny_config_text(
            tiny_demo_data, '''
            train_dataloader.update(batch_size=16)
            default_hooks = dict(
                logger=dict(interval=1),
                checkpoint=dict(interval=1, max_keep_ckpts=1),
                export_backbone=None)
            '''))
    jobs, dirs = [], {}
    for kill_at in KILL_POINTS:
        work_dir = str(root / kill_at)
        dirs[kill_at] = work_dir
        argv = [str(config), '--work-dir', work_dir, '--no-validate']
        jobs.append(dict(argv=argv, kill_at=kill_at,
                         log=osp.join(str(root), f'{kill_at}_killed.log')))
        jobs.append(dict(argv=argv + ['--resume'],
                         log=osp.join(str(root), f'{kill_at}_resumed.log')))
    proc = run_tool([
        sys.executable, '-c', DRIVER, REPO_ROOT,
        json.dumps(jobs)
    ], timeout=600)
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    out = {}
    for i, kill_at in enumerate(KILL_POINTS):
        killed, resumed = results[2 * i], results[2 * i + 1]
        out[kill_at] = dict(
            work_dir=dirs[kill_at],
            killed=killed,
            resumed=resumed,
            resumed_log=open(jobs[2 * i + 1]['log']).read(),
            killed_log=open(jobs[2 * i]['log']).read())
    return out


@pytest.mark.parametrize('kill_at', KILL_POINTS)
def test_kill_inside_save_leaves_a_checkpoint_resume_continues_from(
        killed_and_resumed, kill_at):
    run = killed_and_resumed[kill_at]
    killed, resumed = run['killed'], run['resumed']
    assert killed['code'] == -9, run['killed_log'][-3000:]
    # The previous checkpoint is still there (mmengine removed it first).
    assert 'epoch_1.pth' in killed['files'], killed['files']
    if kill_at == 'before_rename':
        assert [f for f in killed['files'] if f.endswith('.tmp')], \
            killed['files']

    log = run['resumed_log']
    assert resumed['code'] == 0, log[-3000:]
    assert 'starting from scratch' not in log
    resumed_epoch = RESUMED_EPOCH[kill_at]
    assert f'resumed epoch: {resumed_epoch},' in log, log[-3000:]
    assert 'Epoch(train) [1]' not in log
    assert ('Epoch(train) [2]' in log) == (resumed_epoch == 1)
    # Rotation caught up, the temporary file is gone and the log says so.
    assert resumed['files'].count('epoch_2.pth') == 1
    assert not [f for f in resumed['files']
                if f.endswith('.pth') and f != 'epoch_2.pth'], \
        resumed['files']
    assert not [f for f in resumed['files'] if f.endswith('.tmp')]
    if kill_at == 'before_rename':
        assert 'Removed 1 temporary file(s) of checkpoint saves killed' in log
        assert '.epoch_2.pth.' in log
    work_dir = run['work_dir']
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read() == osp.join(work_dir, 'epoch_2.pth')
    assert safe_load(osp.join(work_dir, 'epoch_2.pth'))['meta']['epoch'] == 2


def test_saved_files_follow_the_umask(killed_and_resumed):
    # The children ran with umask 027: 0640, not mkstemp's 0600.
    work_dir = killed_and_resumed['after_pointer']['work_dir']
    for name in ('epoch_2.pth', 'last_checkpoint'):
        mode = stat.S_IMODE(os.stat(osp.join(work_dir, name)).st_mode)
        assert mode == 0o640, (name, oct(mode))


def test_atomic_write_mode_follows_umask(tmp_path):
    old = os.umask(0o002)
    try:
        atomic_write(b'data', tmp_path / 'a')
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / 'a').st_mode) == 0o664


def test_only_our_temp_files_are_removed(tmp_path):
    ours = ['.epoch_3.pth.a1b2_c3d.tmp', '.last_checkpoint.zzzzzzzz.tmp']
    others = ['epoch_3.pth', 'notes.tmp', '.epoch_3.pth.tmp',
              '.epoch_3.pth.TOOLONG99.tmp', '.x.abc.tmp']
    for name in ours + others:
        (tmp_path / name).write_bytes(b'x')
    removed = remove_stale_temp_files(str(tmp_path))
    assert sorted(map(osp.basename, removed)) == sorted(ours)
    assert sorted(os.listdir(tmp_path)) == sorted(others)


class _Runner:
    """What CheckpointHook uses of a runner; ``save_checkpoint`` records
    which checkpoints existed while the new one was written."""

    def __init__(self, work_dir):
        self.work_dir = work_dir
        self.epoch = 0
        self.iter = 0
        self.message_hub = MessageHub.get_instance('ckpt_safety')
        self.message_hub.runtime_info.clear()
        self.logger = MMLogger.get_instance('ckpt_safety')
        self.present_during_save = []
        self.present_when_saving = {}

    def save_checkpoint(self, out_dir, filename, *args, meta=None, **kwargs):
        present = sorted(os.listdir(out_dir))
        self.present_during_save.append(present)
        self.present_when_saving.setdefault(filename, present)
        atomic_torch_save(
            dict(meta=meta,
                 keep=self.message_hub.get_info('keep_ckpt_ids')),
            osp.join(out_dir, filename))


def _pth(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith('.pth'))


@pytest.mark.parametrize('max_keep', [1, 3])
def test_rotation_removes_only_after_the_new_checkpoint(tmp_path, max_keep):
    runner = _Runner(str(tmp_path))
    hook = CrashSafeCheckpointHook(interval=1, max_keep_ckpts=max_keep)
    hook.before_train(runner)
    kept = []
    for epoch in range(5):
        runner.epoch = epoch
        hook._save_checkpoint(runner)
        # Everything kept before is still there while the new one is
        # written; afterwards the pointer names it and the oldest is gone.
        assert [f for f in runner.present_during_save[-1]
                if f.endswith('.pth')] == sorted(kept)
        kept = (kept + [f'epoch_{epoch + 1}.pth'])[-max_keep:]
        assert _pth(tmp_path) == sorted(kept)
        with open(tmp_path / 'last_checkpoint') as f:
            assert f.read() == str(tmp_path / f'epoch_{epoch + 1}.pth')
    # The last checkpoint lists the one it made obsolete, so that a resume
    # after a kill before the removal still removes it.
    keep = safe_load(str(tmp_path / 'epoch_5.pth'))['keep']
    assert keep == list(range(5 - max_keep, 6))


def test_previous_best_is_removed_after_the_new_best(tmp_path):
    runner = _Runner(str(tmp_path))
    hook = CrashSafeCheckpointHook(
        interval=1, max_keep_ckpts=1, save_best='acc', rule='greater')
    hook.before_train(runner)
    for epoch, acc in enumerate([0.5, 0.7, 0.6]):
        runner.epoch = epoch  # as in after_train_epoch
        hook._save_checkpoint(runner)
        runner.epoch = epoch + 1  # as in after_val_epoch
        hook.after_val_epoch(runner, dict(acc=acc))
    # While the new best was written, the previous best was still there.
    assert 'best_acc_epoch_1.pth' in runner.present_when_saving[
        'best_acc_epoch_2.pth']
    assert _pth(tmp_path) == ['best_acc_epoch_2.pth', 'epoch_3.pth']


def _good(path, epoch):
    torch.save(dict(meta=dict(epoch=epoch), state_dict={}), str(path))
    return str(path)


def _truncate(path):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    return str(path)


@pytest.fixture
def warnings_logged(monkeypatch):
    messages = []
    import mmmedssl.engine.checkpoints as checkpoints
    monkeypatch.setattr(checkpoints, 'print_log',
                        lambda msg, *args, **kwargs: messages.append(msg))
    return messages


def test_resume_skips_an_empty_pointer_target(tmp_path, warnings_logged):
    epoch1 = _good(tmp_path / 'epoch_1.pth', 1)
    epoch2 = tmp_path / 'epoch_2.pth'
    epoch2.write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(epoch2))
    assert find_resume_checkpoint(str(tmp_path)) == epoch1
    assert len(warnings_logged) == 1
    assert str(epoch2) in warnings_logged[0]
    assert 'empty' in warnings_logged[0]


def test_resume_skips_truncated_checkpoints(tmp_path, warnings_logged):
    epoch1 = _good(tmp_path / 'epoch_1.pth', 1)
    epoch2 = _truncate(_good(tmp_path / 'epoch_2.pth', 2))
    epoch3 = _truncate(_good(tmp_path / 'epoch_3.pth', 3))
    (tmp_path / 'last_checkpoint').write_text(epoch3)
    assert find_resume_checkpoint(str(tmp_path)) == epoch1
    assert [epoch3 in warnings_logged[0], epoch2 in warnings_logged[1]] == \
        [True, True]
    assert 'truncated' in warnings_logged[1]
    # Without a good one: nothing to resume from.
    os.remove(epoch1)
    assert find_resume_checkpoint(str(tmp_path)) is None


def test_train_resume_auto_and_file(tmp_path, tiny_config, capsys):
    from mmengine.config import Config
    train = load_tool('tools/train.py')
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    epoch1 = _good(work_dir / 'epoch_1.pth', 1)
    epoch2 = work_dir / 'epoch_2.pth'
    epoch2.write_bytes(b'')
    (work_dir / 'last_checkpoint').write_text(str(epoch2))

    def merge(*extra):
        args = train.parse_args(
            [tiny_config, '--work-dir', str(work_dir), *extra])
        return train.merge_args(Config.fromfile(tiny_config), args)

    cfg = merge('--resume')
    assert cfg.resume and cfg.load_from == epoch1
    out = capsys.readouterr()
    assert str(epoch2) in out.out + out.err
    # A named broken file is refused, naming it and what would load.
    with pytest.raises(SystemExit) as err:
        merge('--resume', str(epoch2))
    assert str(epoch2) in str(err.value) and epoch1 in str(err.value)


def test_loading_a_truncated_checkpoint_names_it(tmp_path):
    from mmengine.runner import load_checkpoint
    path = _truncate(_good(tmp_path / 'epoch_4.pth', 4))
    with pytest.raises(CheckpointLoadError, match='epoch_4.pth.*truncated'):
        safe_load(path)
    empty = tmp_path / 'epoch_5.pth'
    empty.write_bytes(b'')
    with pytest.raises(CheckpointLoadError, match='epoch_5.pth.*empty'):
        load_checkpoint(torch.nn.Linear(1, 1), str(empty))
    # A damaged member (which torch.load alone does not notice) is found
    # by the resume check.
    damaged = str(tmp_path / 'epoch_6.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(4))), damaged)
    data = bytearray(open(damaged, 'rb').read())
    data[data.index(b'\x00\x00\x80\x3f') + 2] = 0  # 1.0 -> 0.0
    open(damaged, 'wb').write(bytes(data))
    assert checkpoint_problem(damaged) == \
        f'{damaged} is damaged: archive member epoch_6/data/0 fails its ' \
        'CRC check'


def test_configs_get_the_crash_safe_hook():
    # Runner.register_hook builds through mmengine's root registry, which
    # resolves type='CheckpointHook' in the default scope ('mmmedssl').
    from mmengine.registry import HOOKS
    hook = HOOKS.build(dict(type='CheckpointHook', interval=1))
    assert isinstance(hook, CrashSafeCheckpointHook)
