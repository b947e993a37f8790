# Copyright (c) mmmedssl contributors. All rights reserved.
import copy
import json
import os.path as osp

import pytest
from mmengine.config import Config

from mmmedssl.engine.data_size import (apply_data_size_recipe, epochs_for,
                                       memory_length)


def test_memory_length_rule():
    # The held-out case: 1,600 images, batch 64 -> 200 keys allowed -> 192.
    assert memory_length(1600, 64, 1 / 8, 4096) == 192
    # Large sets keep the configured (paper) length as the cap.
    assert memory_length(1_000_000, 64, 1 / 8, 4096) == 4096
    # Tiny sets still get one batch of keys.
    assert memory_length(100, 64, 1 / 8, 4096) == 64
    assert memory_length(6977, 32, 1 / 8, 16384) == 864


def test_epochs_for_rule():
    assert epochs_for(3000, 25, 20) == 120
    assert epochs_for(3000, 109, 20) == 28  # 27.5 rounded up
    # A large set keeps the configured epochs.
    assert epochs_for(2000, 109, 20) == 20


def recipe_config(tiny_config, **recipe) -> Config:
    cfg = Config.fromfile(tiny_config)
    cfg.data_size_recipe = recipe
    return cfg


def test_recipe_rewrites_epochs_schedule_memory_and_lr(tiny_config):
    cfg = recipe_config(tiny_config, min_steps=12, memory_fraction=0.5)
    # The tiny schedule ends at epoch 4 while training ends at 2: only a
    # scheduler that ends with training is stretched. Add one that does.
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.5, by_epoch=True, begin=0,
             end=1),
        dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0,
             end=2)
    ]
    cfg.train_cfg.val_interval = 1
    lines = apply_data_size_recipe(cfg)
    # 32 training images (4 classes x 4 lesions x 2), batch 8, drop_last.
    assert lines[0] == ('32 training samples, total batch 8 -> 4 steps per '
                        'epoch')
    assert cfg.model.queue_len == 16  # 32 keys in the config, <= 0.5 * 32
    assert cfg.train_cfg.max_epochs == 3  # 12 steps / 4 per epoch
    assert cfg.param_scheduler[0].end == 1  # warm-up left alone
    assert cfg.param_scheduler[1].end == 3
    assert cfg.param_scheduler[1].T_max == 3
    assert cfg.auto_scale_lr.enable is True
    assert any('model.queue_len: 32 -> 16' in line for line in lines)


def test_recipe_off_leaves_config_alone(tiny_config):
    cfg = recipe_config(tiny_config, min_steps=12)
    cfg.data_size_recipe = None
    before = cfg.to_dict()
    assert apply_data_size_recipe(cfg) == []
    assert cfg.to_dict() == before


@pytest.mark.parametrize('recipe, message', [
    (dict(steps=3), "unknown keys ['steps']"),
    (dict(memory_fraction=1.5), 'memory_fraction must be in (0, 1)'),
])
def test_recipe_errors(tiny_config, recipe, message):
    cfg = recipe_config(tiny_config, **recipe)
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(
            ')', r'\)').replace('[', r'\[').replace(']', r'\]')):
        apply_data_size_recipe(cfg)


def test_recipe_needs_epoch_loop(tiny_config):
    cfg = recipe_config(tiny_config, min_steps=12)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=20)
    with pytest.raises(ValueError, match='epoch-based'):
        apply_data_size_recipe(cfg)


def test_recipe_trains_and_tests_with_the_derived_settings(tiny_config,
                                                          tmp_path):
    """tools/train.py's runner trains the derived number of steps with the
    derived queue and scaled lr; the test runner sizes the queue the same
    way, so the checkpoint loads strictly into it."""
    from mmmedssl.apis import build_runner, run_test
    cfg = recipe_config(tiny_config, min_steps=16, memory_fraction=0.5)
    cfg.train_cfg.max_epochs = 1
    cfg.train_dataloader.batch_size = 4  # lr x 4/32
    cfg.work_dir = str(tmp_path / 'run')
    runner = build_runner(cfg)
    runner.train()
    assert runner.model.queue.size == 16
    # 32 // 4 = 8 steps per epoch: 1 configured epoch -> 2 for 16 steps.
    assert runner.train_loop.max_epochs == 2
    assert runner.iter == 16
    base_lr = Config.fromfile(tiny_config).optim_wrapper.optimizer.lr
    lr = runner.optim_wrapper.optimizer.param_groups[0]['initial_lr']
    assert lr == pytest.approx(base_lr * 4 / 32)
    log = open(osp.join(runner.log_dir, f'{runner.timestamp}.log')).read()
    assert 'data_size_recipe: 32 training samples' in log

    test_cfg = recipe_config(tiny_config, min_steps=16, memory_fraction=0.5)
    test_cfg.train_dataloader.batch_size = 4
    test_cfg.work_dir = str(tmp_path / 'test')
    metrics = run_test(test_cfg, osp.join(cfg.work_dir, 'epoch_2.pth'))
    assert 0 <= metrics['knn/top1'] <= 100
    json.dumps(metrics)


def test_keep_leaves_named_settings_alone(tiny_config):
    cfg = recipe_config(tiny_config, min_steps=12, memory_fraction=0.5,
                        keep=['model.queue_len', 'train_cfg.max_epochs'])
    lines = apply_data_size_recipe(cfg)
    assert cfg.model.queue_len == 32 and cfg.train_cfg.max_epochs == 2
    assert len(lines) == 2  # the data line and the lr line
    assert cfg.auto_scale_lr.enable is True


def test_train_tool_keeps_command_line_settings(tiny_config, tmp_path):
    """--cfg-options train_cfg.max_epochs=1 means one epoch, even when the
    recipe's min_steps would make more."""
    from ..conftest import load_tool
    train = load_tool('tools/train.py')
    config = tmp_path / 'recipe.py'
    config.write_text(f"_base_ = [{tiny_config!r}]\n"
                      "data_size_recipe = dict(min_steps=100)\n")
    args = train.parse_args([str(config), '--work-dir', str(tmp_path / 'w'),
                             '--cfg-options', 'train_cfg.max_epochs=1'])
    cfg = train.merge_args(Config.fromfile(str(config)), args)
    assert cfg.data_size_recipe.keep == ['train_cfg.max_epochs']
    apply_data_size_recipe(cfg)
    assert cfg.train_cfg.max_epochs == 1
    assert cfg.model.queue_len == 8  # not kept: 32 images / 8 -> one batch


def test_evaluation_runner_goes_on_without_the_training_set(tiny_config,
                                                           tmp_path):
    """Feature extraction reads other data: a training set that is not
    there must not stop it (training still fails on it)."""
    from mmmedssl.apis import build_runner
    cfg = recipe_config(tiny_config, min_steps=12)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'absent')
    cfg.work_dir = str(tmp_path / 'eval')
    runner = build_runner(copy.deepcopy(cfg), training=False)
    assert runner.model.queue.size == 32  # the config's length
    log = open(osp.join(runner.log_dir, f'{runner.timestamp}.log')).read()
    assert 'data_size_recipe: not applied' in log
    cfg.work_dir = str(tmp_path / 'train')
    with pytest.raises(Exception, match='absent'):
        build_runner(cfg)
