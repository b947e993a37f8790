# Copyright (c) mmmedssl contributors. All rights reserved.
"""PCRL reconstruction panels: ``PCRL.reconstructions`` gives what ``loss``
reconstructs and leaves the model alone, the panel lays out and
de-normalises them pixel-exactly, and ``PCRLReconVisHook`` draws them
during training without changing a single logged loss."""
import glob
import os.path as osp
import random
import re
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from mmmedssl.engine.hooks import PCRLReconVisHook
from mmmedssl.visualization.pcrl_panels import (pcrl_recon_panel,
                                                render_pcrl_panel)
from mmmedssl.visualization.views import BACKGROUND, GAP, LINE_H

from ..conftest import REPO_ROOT, load_tool, train_records
from ..test_models.test_selfsup.test_pcrl import make_batch, tiny_pcrl
from ..test_tools.test_pcrl_train import tiny_2d_config

BRANCHES = ('ordinary', 'mixup', 'hybrid', 'mixup_hybrid')
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
PREPROCESSOR = dict(type='MedSelfSupDataPreprocessor', mean=MEAN, std=STD,
                    bgr_to_rgb=True)


def grid_shape(rows, cols, cell_h, cell_w, caption_lines, header_lines=2):
    return (LINE_H * header_lines + rows *
            (LINE_H * caption_lines + cell_h + GAP),
            GAP + cols * (cell_w + GAP), 3)


def cell(picture, row, col, cell_h, cell_w, caption_lines, header_lines=2):
    top = LINE_H * header_lines + row * (
        LINE_H * caption_lines + cell_h + GAP) + LINE_H * caption_lines
    left = GAP + col * (cell_w + GAP)
    return picture[top:top + cell_h, left:left + cell_w]


def test_reconstructions_are_the_loss_branches_and_change_nothing(
        monkeypatch):
    torch.manual_seed(0)
    model = tiny_pcrl()
    inputs, samples = make_batch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    recons = model.reconstructions(inputs, samples)
    assert list(recons) == list(BRANCHES)
    # No momentum update, memory push or BatchNorm statistics change.
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(not t.requires_grad for b in recons.values()
               for t in b.values())

    # `loss` from the same RNG state (its momentum update made a no-op)
    # reconstructs exactly the same tensors.
    monkeypatch.setattr(model.momentum_encoder, 'update_parameters',
                        lambda *args: None)
    seen = {}
    head_loss = model.head.loss

    def record(contrast_pairs, recon_pairs):
        seen.update(recon_pairs)
        return head_loss(contrast_pairs, recon_pairs)

    monkeypatch.setattr(model.head, 'loss', record)
    torch.set_rng_state(rng)
    model(inputs, samples, mode='loss')
    for name in BRANCHES:
        prediction, target = seen[name]
        assert torch.equal(recons[name]['reconstruction'], prediction)
        assert torch.equal(recons[name]['target'], target)


def test_reconstruction_inputs_are_the_student_inputs(monkeypatch):
    torch.manual_seed(0)
    model = tiny_pcrl()
    inputs, samples = make_batch()
    weights = iter([0.8, 0.7, 0.6])  # alpha1, lambda, alpha2
    monkeypatch.setattr(model, '_draw_weight', lambda: next(weights))
    perm = torch.tensor([2, 0, 3, 1])
    monkeypatch.setattr(torch, 'randperm', lambda n, **kw: perm)
    recons = model.reconstructions(inputs, samples)
    x1 = inputs[0]
    mixed = 0.7 * x1 + 0.3 * x1[perm]
    assert torch.equal(recons['ordinary']['input'], x1)
    assert torch.equal(recons['hybrid']['input'], x1)
    torch.testing.assert_close(recons['mixup']['input'], mixed)
    torch.testing.assert_close(recons['mixup_hybrid']['input'], mixed)
    torch.testing.assert_close(recons['hybrid']['target'],
                               0.8 * inputs[4] + 0.2 * inputs[5])


def test_collapse_scalars_are_logged_not_summed():
    torch.manual_seed(0)
    model = tiny_pcrl(head=dict(type='PCRLHead', memory_size=16, feat_dim=8,
                                contrast_loss=dict(type='InfoNCELoss')))
    losses = model(*make_batch(), mode='loss')
    # InfoNCE over the memory (16 keys) and the positive: chance ln(17).
    torch.testing.assert_close(losses['contrast_vs_chance'],
                               losses['nce_plain'] / np.log(17))
    assert 0 < float(losses['embed_std']) < 2
    assert not any('loss' in k for k in ('embed_std', 'contrast_vs_chance'))


def constant_recons(raw_rgb, batch=3, size=8):
    """Every (branch, column) a constant colour, normalised as the data
    preprocessor does; ``raw_rgb[(branch, column)]`` is the colour."""
    recons = {}
    for name in BRANCHES:
        recons[name] = {}
        for column in ('input', 'target', 'reconstruction'):
            colour = torch.tensor(raw_rgb[(name, column)], dtype=torch.float32)
            norm = (colour - torch.tensor(MEAN)) / torch.tensor(STD)
            recons[name][column] = norm.view(1, 3, 1, 1).expand(
                batch, 3, size, size).clone()
    return recons


def test_panel_layout_and_colours():
    rng = np.random.default_rng(0)
    raw = {(n, c): tuple(int(v) for v in rng.integers(0, 256, 3))
           for n in BRANCHES for c in ('input', 'target', 'reconstruction')}
    picture = render_pcrl_panel(constant_recons(raw), mean=MEAN, std=STD,
                                max_samples=2)
    # 2 of the 3 samples; 12 columns; 8 px enlarged 12x to 96 px; a
    # two-line header (branch, column) and a one-line caption per row.
    assert picture.shape == grid_shape(2, 12, 96, 96, caption_lines=1)
    for row in range(2):
        col = 0
        for name in BRANCHES:
            for column in ('input', 'target', 'reconstruction'):
                block = cell(picture, row, col, 96, 96, 1)
                assert (block == raw[(name, column)]).all(), (name, column)
                col += 1
    header = picture[:2 * LINE_H]
    assert (header != BACKGROUND).any(axis=-1).sum() > 100  # labels drawn


def test_panel_of_volumes_shows_mid_slices():
    volume = torch.zeros(1, 1, 8, 8, 4)
    volume[0, 0, 4] = 1.  # the slice across the first axis is white
    recons = {name: dict(input=volume, target=volume * 0.5,
                         reconstruction=volume * 0.25) for name in BRANCHES}
    picture = render_pcrl_panel(recons, scale=1)
    # Slices 8x4 (axis 1: white), 8x4 (axis 2: one white row), 8x8
    # (axis 3: one white row) with 1 px gaps: a 8 x 18 tile.
    assert picture.shape == grid_shape(1, 12, 8, 18, caption_lines=1)
    tile = cell(picture, 0, 1, 8, 18, 1)[..., 0]  # the target, grey 128
    assert (tile[:, :4] == 128).all()
    assert (tile[4, 5:9] == 128).all() and (tile[:4, 5:9] == 0).all()
    assert (tile[4, 10:18] == 128).all() and (tile[5:, 10:18] == 0).all()
    assert (tile[:, 4] == BACKGROUND[0]).all()


def _draws():
    return (random.random(), float(np.random.rand()), float(torch.rand(1)))


class _Visualizer:

    def __init__(self):
        self.images = []

    def add_image(self, name, image, step):
        self.images.append((name, image, step))


def test_hook_draws_at_its_interval_and_restores_rng(tmp_path):
    torch.manual_seed(0)
    model = tiny_pcrl(data_preprocessor=PREPROCESSOR)
    inputs, samples = make_batch()
    batch = dict(inputs=[(t * 40 + 128).clamp(0, 255) for t in inputs],
                 data_samples=samples)
    runner = SimpleNamespace(model=model, work_dir=str(tmp_path), iter=0,
                             visualizer=_Visualizer())
    hook = PCRLReconVisHook(interval=2, max_samples=3)
    hook.before_train(runner)
    state = {k: v.clone() for k, v in model.state_dict().items()}

    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    expected = [_draws() for _ in range(2)]
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    for it in range(4):
        runner.iter = it
        hook.after_train_iter(runner, it, batch)
    assert [_draws() for _ in range(2)] == expected
    assert all(torch.equal(state[k], v)
               for k, v in model.state_dict().items())
    # Without the hook's restore the forward would move torch's RNG.
    before = torch.get_rng_state()
    pcrl_recon_panel(model, batch)
    assert not torch.equal(before, torch.get_rng_state())

    assert [(n, s) for n, _, s in runner.visualizer.images] == [
        ('pcrl_recon', 2), ('pcrl_recon', 4)]
    for _, image, step in runner.visualizer.images:
        written = cv2.imread(
            osp.join(str(tmp_path), 'vis', f'pcrl_recon_iter_{step}.png'))
        np.testing.assert_array_equal(written[..., ::-1], image)
        # 3 rows (group-less samples: one caption line), 12 columns of
        # 32 px crops enlarged 3x.
        assert image.shape == grid_shape(3, 12, 96, 96, caption_lines=1)

    # Per epoch (2 batches an epoch), always the run's first batch.
    other = dict(batch, inputs=[t.flip(0) for t in batch['inputs']])
    runner = SimpleNamespace(model=model, work_dir=str(tmp_path), iter=0,
                             epoch=0, train_dataloader=[batch, other],
                             visualizer=_Visualizer())
    hook = PCRLReconVisHook(interval=1, by_epoch=True, fixed_batch=True)
    torch.manual_seed(5)
    for index, data in enumerate([batch, other]):
        runner.iter = index
        hook.after_train_iter(runner, index, data)
    assert [s for _, _, s in runner.visualizer.images] == [2]
    torch.manual_seed(5)
    np.testing.assert_array_equal(runner.visualizer.images[0][1],
                                  pcrl_recon_panel(model, batch))
    torch.manual_seed(5)
    assert not np.array_equal(runner.visualizer.images[0][1],
                              pcrl_recon_panel(model, other))

    with pytest.raises(TypeError, match='custom_hooks: PCRLReconVisHook .* '
                       'model is Linear'):
        hook.before_train(SimpleNamespace(model=torch.nn.Linear(2, 2)))



def _doc_section(path, heading):
    with open(osp.join(REPO_ROOT, path)) as f:
        text = f.read()
    # Up to the next second-level heading ('#' lines in code blocks are
    # comments).
    return text.split(f'{heading}\n')[1].split('\n## ')[0]


def test_training_with_the_hook_logs_the_same_losses(tmp_path,
                                                     tiny_demo_data):
    """The documented config and command, on a tiny PCRL 2D run (2
    iterations): the same losses as without the hook, pictures written and
    in TensorBoard."""
    section = _doc_section('docs/visualization.md', '## PCRL reconstructions')
    snippet = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    command = re.search(r'```\n(python tools/train.py .*?)\n```', section,
                        re.S).group(1).split()
    hooks_line = next(line for line in snippet.splitlines()
                      if line.startswith('custom_hooks'))
    readme = _doc_section('configs/pcrl/README.md',
                          '### Reconstruction pictures')
    assert hooks_line in readme

    tiny = tmp_path / 'tiny_pcrl.py'
    tiny.write_text(tiny_2d_config(tiny_demo_data, epochs=1, extra='''
        # 16 of the 32 images, batch 8: 2 iterations.
        train_dataloader['dataset']['indices'] = 16
        val_cfg = val_dataloader = val_evaluator = None  # no validation
        test_cfg = test_dataloader = test_evaluator = None
        default_hooks['export_backbone'] = None
    '''))
    with_hook = tmp_path / osp.basename(command[2])
    with_hook.write_text(snippet.replace(
        'configs/pcrl/pcrl_resnet18-unet_1xb16-coslr-20e_demo.py',
        str(tiny)).replace('interval=60', 'interval=1'))

    # Both runs in this process (tools/train.py's main): two interpreter
    # start-ups would double the test's time.
    plain_dir, hook_dir = str(tmp_path / 'plain'), str(tmp_path / 'hook')
    tool = load_tool(command[1])
    tool.main([str(tiny), '--work-dir', plain_dir])
    tool.main([str(with_hook), *command[3:], '--work-dir', hook_dir])

    def logged(work_dir):
        return [{k: v for k, v in r.items() if 'time' not in k
                 and k not in ('eta', 'memory')}
                for r in train_records(work_dir)]

    plain = logged(plain_dir)
    assert len(plain) == 2 and 'embed_std' in plain[0]
    assert logged(hook_dir) == plain  # exactly, every loss term

    for step in (1, 2):
        picture = cv2.imread(osp.join(hook_dir, 'vis',
                                      f'pcrl_recon_iter_{step}.png'))
        # 4 samples with a group (two caption lines), 12 columns of 96 px.
        assert picture.shape == grid_shape(4, 12, 96, 96, caption_lines=2)
        assert picture.std() > 10
    assert not osp.exists(osp.join(plain_dir, 'vis'))
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    events = glob.glob(osp.join(hook_dir, '*', 'vis_data', 'events.*'))
    accumulator = EventAccumulator(events[0], size_guidance={'images': 0})
    accumulator.Reload()
    assert [e.step for e in accumulator.Images('pcrl_recon')] == [1, 2]
