# Copyright (c) mmmedssl contributors. All rights reserved.
"""Monitoring (docs/training.md, "Monitoring"): TensorBoard, the collapse
monitor, the logging interval, the smoothed scalars and a quiet console."""
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
import time
import urllib.request
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import LoggerHook
from mmengine.logging import MessageHub
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmmedssl.engine.hooks import CollapseMonitorHook, ProgressLoggerHook
from mmmedssl.engine.hooks.logger_hook import train_log_interval
from ..conftest import (REPO_ROOT, free_port, hang_timeout, load_tool,
                        python_tool, tiny_config_text, train_records)

DOC = osp.join(REPO_ROOT, 'docs', 'training.md')
BASE_RUNTIME = osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py')

# What every run printed before: mmcv-lite's missing compiled op, mmcv's
# pillow-backend note from ColorJitter, and a GPU count on a CPU machine.
NOISE = ['MultiScaleDeformableAttention', "Only use 'alpha'",
         '"FileClient" will be deprecated', '"HardDiskBackend" is the alias']


def _monitoring_section() -> str:
    text = open(DOC).read()
    return text.split('## Monitoring', 1)[1].split('\n## ', 1)[0]


def _write_config(tmp_path, data_root, extra):
    path = tmp_path / 'tiny.py'
    path.write_text(tiny_config_text(data_root, extra))
    return str(path)


# -- a healthy tiny MoCo run -------------------------------------------------
def test_tiny_run_console_scalars_and_tensorboard(tmp_path, tiny_demo_data):
    """4 iterations per epoch, logger.interval=50: a line per iteration;
    the smoothed and epoch-mean scalars checked against the per-iteration
    values; TensorBoard holds the same losses; no noise and no collapse
    warning (a healthy run)."""
    base = Config.fromfile(BASE_RUNTIME).log_processor
    window = base.window_size
    # Per-iteration values beside the configured ones, for the checks.
    now = [dict(data_src=key, log_name=f'{key}_now', method_name='current')
           for key in ('loss', 'embed_std', 'contrast_vs_chance')]
    config = _write_config(
        tmp_path, tiny_demo_data, f'''
        default_hooks['logger'] = dict(interval=50)
        default_hooks['export_backbone'] = None
        log_processor = dict(
            custom_cfg={[dict(c) for c in base.custom_cfg] + now!r})
        ''')
    work_dir = str(tmp_path / 'run')
    out = python_tool('tools/train.py', config, '--work-dir', work_dir,
                      '--tensorboard').stdout

    for noise in NOISE:
        assert noise not in out
    if not torch.cuda.is_available():
        assert 'GPU number' not in out
        assert 'Processes: 1 (CPU)' in out
    # The tiny set's 32-key queue is as long as its 32 training images:
    # warned once before training; no collapse warning after.
    monitor = [line for line in out.splitlines()
               if 'CollapseMonitorHook:' in line]
    assert len(monitor) == 1 and 'the key memory queue holds 32 keys' in \
        monitor[0]
    # mmengine alone would log each epoch once (4 iterations < 50).
    assert re.findall(r'Epoch\(train\) +\[1\]\[(\d)/4\]', out) == list('1234')

    records = train_records(work_dir)
    assert [r['step'] for r in records] == list(range(1, 9))
    losses = [r['loss_now'] for r in records]
    stds = [r['embed_std_now'] for r in records]
    for i, r in enumerate(records):
        last = slice(max(0, i + 1 - window), i + 1)
        assert r['loss'] == pytest.approx(
            sum(losses[last]) / len(losses[last]), rel=1e-9)
        assert r['embed_std'] == pytest.approx(
            sum(stds[last]) / len(stds[last]), rel=1e-9)
        epoch_start = 0 if i < 4 else 4
        epoch = losses[epoch_start:i + 1]
        assert r['loss_epoch'] == pytest.approx(sum(epoch) / len(epoch),
                                                rel=1e-9)
        # InfoNCE over the 32 queued keys and the positive.
        assert r['contrast_vs_chance_now'] == pytest.approx(
            r['loss_now'] / math.log(33), rel=1e-6)
        # Healthy: spread embeddings, a loss below chance (smoothed; the
        # raw ratio of this tiny net nears 1 once the queue is full).
        assert 0.1 < r['embed_std'] < 1.5
        assert 0 < r['contrast_vs_chance'] < 0.95

    from tensorboard.backend.event_processing import event_accumulator
    events = [dp for dp, _, fs in os.walk(work_dir)
              if any(f.startswith('events.out.tfevents') for f in fs)]
    assert len(events) == 1
    acc = event_accumulator.EventAccumulator(events[0])
    acc.Reload()
    assert {'loss', 'loss_epoch', 'embed_std', 'contrast_vs_chance'} <= set(
        acc.Tags()['scalars'])
    logged = {e.step: e.value for e in acc.Scalars('loss')}
    assert sorted(logged) == list(range(1, 9))
    for r in records:
        assert logged[r['step']] == pytest.approx(r['loss'], rel=1e-6)

    # The documented viewer serves those scalars.
    commands = re.findall(r'^tensorboard --logdir WORK_DIR.*$',
                          _monitoring_section(), re.M)
    assert commands == ['tensorboard --logdir WORK_DIR']
    port = free_port()
    server = subprocess.Popen(
        [osp.join(osp.dirname(sys.executable), 'tensorboard'), '--logdir',
         work_dir, '--port', str(port), '--host', '127.0.0.1'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + hang_timeout()
        tags = {}
        while not tags and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                        f'http://127.0.0.1:{port}/data/plugin/scalars/tags',
                        timeout=10) as reply:
                    tags = json.loads(reply.read())
            except OSError:
                time.sleep(0.2)
        (run_tags, ) = tags.values()
        assert {'loss', 'embed_std', 'contrast_vs_chance'} <= set(run_tags)
    finally:
        server.terminate()
        server.wait()


# -- collapsed embeddings ----------------------------------------------------
def test_constant_embeddings_warn(tmp_path, tiny_demo_data):
    """A neck that outputs one constant vector (zero weights, bias 1, lr 0):
    embed_std is 0 from the first iteration, and once the queue holds only
    that key the loss is exactly chance (ln 33)."""
    config = _write_config(
        tmp_path, tiny_demo_data, '''
        model['neck']['init_cfg'] = dict(type='Constant', layer='Linear',
                                         val=0, bias=1)
        optim_wrapper = dict(optimizer=dict(lr=0., weight_decay=0.))
        default_hooks['export_backbone'] = None
        log_processor = dict(window_size=1)
        ''')
    work_dir = str(tmp_path / 'run')
    out = python_tool('tools/train.py', config, '--work-dir', work_dir,
                      '--no-validate').stdout
    records = train_records(work_dir)
    assert all(r['embed_std'] == 0 for r in records)
    # Iterations 1-4 fill the 32-key queue with the constant key.
    assert [r['contrast_vs_chance'] for r in records[4:]] == pytest.approx(
        [1.] * 4, abs=1e-6)

    warnings = [line for line in out.splitlines()
                if 'WARNING - CollapseMonitorHook:' in line]
    assert len(warnings) == 3, out[-3000:]
    assert 'the key memory queue holds 32 keys, not fewer than the 32 ' \
        'training samples' in warnings.pop(0)
    assert ('at iteration 3 (epoch 1) the embeddings are collapsing: '
            'embed_std 0.0000 < min_embed_std 0.05 for 3 log lines in a row'
            in warnings[0])
    assert ('at iteration 7 (epoch 2) the contrastive loss sits at chance: '
            'contrast_vs_chance 1.0000 > max_contrast_vs_chance 0.98'
            in warnings[1])
    # The queue is as long as the 32 training images: named first.
    assert ('Likely causes: the queue (32 keys, model.queue_len) is not '
            'shorter than the training set (32 images)' in warnings[0])
    assert 'learning rate' in warnings[0] and 'views' in warnings[0]
    assert 'default_hooks.collapse_monitor=None' in warnings[0]


class _Loader(list):
    """A training loader (one entry per batch) over a 10-image set."""
    dataset = list(range(10))


def _fake_runner(values, logger_interval=1, window=1, queue_len=None):
    """What CollapseMonitorHook reads of a runner: the message hub, the log
    processor's window, the hooks, the loader, the model and the logger."""
    warnings = []
    model = torch.nn.Module()
    if queue_len:
        model.queue = SimpleNamespace(keys=torch.zeros(queue_len, 4))
    loader = _Loader(values)
    runner = SimpleNamespace(
        message_hub=MessageHub(f'monitor-{id(values)}'),
        log_processor=SimpleNamespace(window_size=window),
        hooks=[LoggerHook(interval=logger_interval)],
        train_dataloader=loader, model=model, iter=0, epoch=0,
        logger=SimpleNamespace(warning=warnings.append))
    return runner, warnings


def _feed(hook, runner, values, scalar='embed_std'):
    hook.before_train(runner)
    for i, value in enumerate(values):
        runner.message_hub.update_scalar(f'train/{scalar}', value)
        runner.iter = i
        hook.after_train_iter(runner, i)


def test_monitor_patience_streaks_and_causes():
    values = [0.01, 0.01, 0.5, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01]
    runner, warnings = _fake_runner(values, queue_len=64)
    _feed(CollapseMonitorHook(patience=3), runner, values)
    # The healthy third value resets the streak: one warning, at the third
    # low value in a row, once per streak.
    assert len(warnings) == 1
    assert 'at iteration 6 (epoch 1)' in warnings[0]
    assert 'embed_std 0.0100 < min_embed_std 0.05' in warnings[0]
    assert ('the queue (64 keys, model.queue_len) is not shorter than the '
            'training set (10 images)' in warnings[0])

    # Smoothed over log_processor.window_size: 0.01 and 0.5 average above
    # the threshold, and only every 2nd iteration (the log lines) counts.
    values = [0.01, 0.5] * 3 + [0.01] * 6
    runner, warnings = _fake_runner(values, logger_interval=2, window=2)
    _feed(CollapseMonitorHook(patience=3), runner, values)
    assert len(warnings) == 1 and 'at iteration 12 ' in warnings[0]
    assert 'a queue (model.queue_len) longer than the data set' in \
        warnings[0]

    with pytest.raises(ValueError, match='patience must be an int >= 1'):
        CollapseMonitorHook(patience=0)


def test_contrast_at_chance_counts_only_past_stuck_after():
    """A run starts near chance while its memory fills: contrast_vs_chance
    above the threshold in the first half of a 20-iteration run warns
    nothing; staying there into the second half warns at the third log
    line past iteration 10."""
    def run(values, **kwargs):
        runner, warnings = _fake_runner(values)
        runner.max_iters = len(values)
        _feed(CollapseMonitorHook(patience=3, **kwargs), runner, values,
              scalar='contrast_vs_chance')
        return warnings

    assert run([0.995] * 10 + [0.95] * 10) == []
    warnings = run([0.995] * 20)
    assert len(warnings) == 1
    assert 'at iteration 13 (epoch 1) the contrastive loss sits at chance' \
        in warnings[0]
    # A collapse late in the run: back at chance from iteration 15.
    warnings = run([0.995] * 5 + [0.9] * 9 + [1.0] * 6)
    assert len(warnings) == 1 and 'at iteration 17 ' in warnings[0]
    # stuck_after moves the start of the check.
    assert len(run([0.995] * 10 + [0.95] * 10, stuck_after=0.1)) == 1


# -- the logging interval ----------------------------------------------------
def test_train_log_interval_about_a_tenth_of_an_epoch():
    assert train_log_interval(50, 15) == 2
    assert train_log_interval(50, 4) == 1
    assert train_log_interval(50, 1) == 1
    assert train_log_interval(50, 200) == 20
    assert train_log_interval(50, 5000) == 50
    assert train_log_interval(3, 200) == 3

    def before_train(loop_class, iters):
        hook = ProgressLoggerHook(interval=50)
        runner = SimpleNamespace(
            train_loop=object.__new__(loop_class),
            train_dataloader=[None] * iters,
            logger=SimpleNamespace(info=lambda msg: None))
        hook.before_train(runner)
        return hook

    hook = before_train(EpochBasedTrainLoop, 15)
    assert (hook.train_interval, hook.interval) == (2, 50)  # val keeps 50
    assert before_train(IterBasedTrainLoop, 15).train_interval == 50


# -- switches ----------------------------------------------------------------
def test_tensorboard_flag_config_way_and_monitor_off(tmp_path,
                                                     tiny_demo_data):
    from mmmedssl.apis import build_runner
    tool = load_tool('tools/train.py')
    config = _write_config(tmp_path, tiny_demo_data, '')

    def merged(*argv):
        args = tool.parse_args([config, '--work-dir', str(tmp_path / 'w'),
                                *argv])
        return tool.merge_args(Config.fromfile(config), args)

    both = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
    assert merged('--tensorboard').visualizer.vis_backends == both
    assert merged().visualizer.vis_backends == both[:1]
    # The config way of docs/training.md gives the same backends.
    snippet = re.search(r'```python\n(visualizer = .*?)```',
                        _monitoring_section(), re.S).group(1)
    by_config = tmp_path / 'tensorboard.py'
    by_config.write_text(f'_base_ = [{config!r}]\n{snippet}')
    cfg = Config.fromfile(str(by_config))
    assert cfg.visualizer.vis_backends == both
    assert cfg.visualizer.type == 'UniversalVisualizer'

    # Every algorithm gets the monitor; the documented option removes it.
    assert 'default_hooks.collapse_monitor=None' in _monitoring_section()
    runner = build_runner(
        merged('--cfg-options', 'default_hooks.collapse_monitor=None'))
    names = [type(hook).__name__ for hook in runner.hooks]
    assert 'CollapseMonitorHook' not in names
    assert 'ProgressLoggerHook' in names
    assert Config.fromfile(BASE_RUNTIME).default_hooks.collapse_monitor[
        'type'] == 'CollapseMonitorHook'


def test_memory_not_shorter_than_the_data_warns_before_training():
    from mmmedssl.models.utils import KeyMemory
    runner, warnings = _fake_runner([])
    runner.model.queue = KeyMemory(10, 4)  # 10 images
    runner.model.head = torch.nn.Module()
    runner.model.head.memory = KeyMemory(4, 4)
    CollapseMonitorHook().before_train(runner)
    assert len(warnings) == 1
    assert ('the key memory queue holds 10 keys, not fewer than the 10 '
            'training samples' in warnings[0])
    runner.model.queue = KeyMemory(9, 4)
    warnings.clear()
    CollapseMonitorHook().before_train(runner)
    assert warnings == []


def test_loss_still_near_chance_half_way_warns_once():
    """The epoch mean of contrast_vs_chance, once, at the first epoch end
    past stuck_after of the run."""
    def run(epoch_values, max_epochs=4, **kwargs):
        runner, warnings = _fake_runner(epoch_values[0])
        runner.max_epochs = max_epochs
        hook = CollapseMonitorHook(**kwargs)
        hook.before_train(runner)
        for epoch, values in enumerate(epoch_values):
            runner.epoch = epoch
            for value in values:
                runner.message_hub.update_scalar('train/contrast_vs_chance',
                                                 value)
            hook.after_train_epoch(runner)
        return warnings

    # Epoch 2 of 4 is half-way: its mean (0.99) is checked, not epoch 1's
    # 1.0 nor the later ones.
    stuck = [[1.0] * 10, [0.98, 1.0] * 5, [1.0] * 10, [1.0] * 10]
    warnings = run(stuck)
    assert len(warnings) == 1
    assert 'after epoch 2 of 4 the contrastive loss is still at chance: ' \
        '0.990 of chance level' in warnings[0]
    assert 'data_size_recipe.min_steps' in warnings[0]
    # A run below the threshold half-way (0.96) passes, whatever comes
    # later.
    assert run([[1.0] * 10, [0.96] * 10, [1.0] * 10, [1.0] * 10]) == []
    assert run(stuck, stuck_contrast=None) == []
    assert len(run(stuck, stuck_after=0.75)) == 1
    # Only the epoch's iterations count: a high epoch before a learning one.
    assert run([[1.0] * 10, [0.90] * 10], max_epochs=2, stuck_after=1) == []
    with pytest.raises(ValueError, match='stuck_after must be a share'):
        CollapseMonitorHook(stuck_after=50)
