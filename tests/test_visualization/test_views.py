# Copyright (c) mmmedssl contributors. All rights reserved.
"""Pictures of the training views (browse_dataset.py), checked pixel by
pixel: constant-colour images through a pipeline without colour changes,
a volume with a known pattern, PCRL targets against numpy flips and
rotations, and the commands of docs/visualization.md on every demo
config."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmmedssl.models.selfsup.pcrl import VIEW_ORDER
from mmmedssl.visualization.views import (BACKGROUND, GAP, LINE_H,
                                          SLICE_GAP, build_train_dataset,
                                          render_training_views,
                                          sample_columns, seeded)

from .helpers import doc_commands
from ..conftest import REPO_ROOT, load_tool, python_tool, tiny_config_text

PCRL_2D = 'configs/pcrl/pcrl_resnet18-unet_1xb16-coslr-20e_demo.py'
PCRL_3D = 'configs/pcrl/pcrl_unet3d-w8_1xb8-coslr-10e_demo.py'


def grid_shape(rows, cols, cell_h, cell_w, caption_lines=2, header=1):
    """The picture size the layout promises (docs of render_grid)."""
    return (LINE_H * header + rows * (LINE_H * caption_lines + cell_h + GAP),
            GAP + cols * (cell_w + GAP), 3)


def cell(picture, row, col, cell_h, cell_w, caption_lines=2, header=1):
    top = LINE_H * header + row * (LINE_H * caption_lines + cell_h + GAP) \
        + LINE_H * caption_lines
    left = GAP + col * (cell_w + GAP)
    return picture[top:top + cell_h, left:left + cell_w]


def constant_colour_set(root, colours_bgr, size=20):
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    lines = ['image,lesion']
    for i, colour in enumerate(colours_bgr):
        img = np.empty((size, size, 3), np.uint8)
        img[:] = colour
        cv2.imwrite(osp.join(root, 'images', f'c{i}.png'), img)
        lines.append(f'images/c{i}.png,lesion_{i}')
    with open(osp.join(root, 'list.csv'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return root


def test_constant_colour_views_fill_their_cells(tmp_path):
    colours_bgr = [(10, 200, 60), (250, 5, 128), (0, 90, 255)]
    root = constant_colour_set(str(tmp_path), colours_bgr)
    view = [dict(type='RandomResizedCrop', scale=16,
                 crop_ratio_range=(0.3, 1.)),
            dict(type='RandomFlip', prob=0.5, direction='horizontal')]
    cfg = Config(dict(
        model=dict(data_preprocessor=dict(
            type='MedSelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True)),
        train_dataloader=dict(dataset=dict(
            type='MedImageList', data_root=root, ann_file='list.csv',
            group_key='lesion', pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='MedMultiView', num_views=3, transforms=[view]),
                dict(type='PackMedInputs')]))))
    picture = render_training_views(cfg, indices=[2, 0, 1])
    # 16 px crops are enlarged 6x to 96 px; 3 rows of 3 views.
    assert picture.shape == grid_shape(3, 3, 96, 96)
    for row, index in enumerate([2, 0, 1]):
        rgb = colours_bgr[index][::-1]
        for col in range(3):
            block = cell(picture, row, col, 96, 96)
            assert (block == rgb).all(), (row, col)
        # The caption band holds text (file name and group), the gaps not.
        top = LINE_H + row * (2 * LINE_H + 96 + GAP)
        caption = picture[top:top + 2 * LINE_H]
        assert (caption != BACKGROUND).any(axis=-1).sum() > 50
        assert (picture[top + 2 * LINE_H:top + 2 * LINE_H + 96,
                        GAP + 96:2 * GAP + 96] == BACKGROUND).all()


def test_volume_mid_slices_show_the_pattern(tmp_path):
    """A crop pair with a known pattern through the PCRL 3D demo pipeline:
    its clean columns are the crops' mid slices, untouched."""
    # (x, y) must be square: the targets rotate in that plane.
    x, y, z = np.meshgrid(np.arange(16), np.arange(16), np.arange(8),
                          indexing='ij')
    first = (0.5 * x / 15 + 0.3 * y / 15 + 0.2 * z / 7).astype(np.float32)
    second = first[::-1].copy()
    np.save(tmp_path / 'pair_0000.npy', np.stack([first, second]))
    (tmp_path / 'index.txt').write_text('pair_0000.npy\n')
    cfg = Config.fromfile(osp.join(REPO_ROOT, PCRL_3D))
    cfg.train_dataloader.dataset.data_root = str(tmp_path)
    picture = render_training_views(cfg, num_samples=1, scale=2)

    def tile(volume):
        # (y, z), (x, z), (x, y): 16 x 8, 16 x 8, 16 x 16
        slices = [volume[8], volume[:, 8], volume[:, :, 4]]
        out = np.empty((16, 8 + 8 + 16 + 2 * SLICE_GAP, 3), np.uint8)
        out[:] = BACKGROUND
        left = 0
        for s in slices:
            grey = np.round(s.astype(np.float64) * 255).astype(np.uint8)
            out[:s.shape[0], left:left + s.shape[1]] = grey[..., None]
            left += s.shape[1] + SLICE_GAP
        return out.repeat(2, axis=0).repeat(2, axis=1)

    cell_h, cell_w = 32, 2 * (32 + 2 * SLICE_GAP)
    # One row (no group: one caption line), the 6 PCRL columns.
    assert picture.shape == grid_shape(1, 6, cell_h, cell_w, caption_lines=1)
    for col, crop in ((2, first), (3, second)):
        np.testing.assert_array_equal(
            cell(picture, 0, col, cell_h, cell_w, caption_lines=1),
            tile(crop))


def test_pcrl_columns_and_targets_from_the_codes(tiny_demo_data):
    cfg = Config.fromfile(osp.join(REPO_ROOT, PCRL_2D))
    cfg.train_dataloader.dataset.data_root = tiny_demo_data
    with seeded(0):  # the draws of render_training_views(seed=0) below
        packed = build_train_dataset(cfg)[0]
    labels, tensors = sample_columns(packed)
    assert labels == list(VIEW_ORDER) and len(tensors) == 6
    codes = np.asarray(packed['data_samples'].aug_code)
    for view in range(2):
        expected = tensors[view].numpy()
        flip_h, flip_w = codes[view, :2] > 0.5
        if flip_h:
            expected = expected[:, ::-1]
        if flip_w:
            expected = expected[:, :, ::-1]
        expected = np.rot90(expected, int(codes[view, 2:].argmax()),
                            axes=(1, 2))
        np.testing.assert_array_equal(tensors[4 + view].numpy(), expected)

    picture = render_training_views(cfg, indices=[0], scale=1)
    # The input cell is the packed BGR tensor shown as RGB (no scaling:
    # the window of 0..255 photos).
    np.testing.assert_array_equal(
        cell(picture, 0, 0, 32, 32),
        np.clip(np.round(tensors[0].numpy().transpose(1, 2, 0)[..., ::-1]),
                0, 255).astype(np.uint8))


def test_same_seed_same_picture_and_rng_left_alone(tiny_demo_data):
    import torch
    cfg = Config.fromfile(osp.join(REPO_ROOT, PCRL_2D))
    cfg.train_dataloader.dataset.data_root = tiny_demo_data
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = render_training_views(cfg, num_samples=2, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(
        first, render_training_views(cfg, num_samples=2, seed=3))
    assert not np.array_equal(
        first, render_training_views(cfg, num_samples=2, seed=4))




def surgical_frames(root):
    """Three videos of three constant frames (with_label=False needs no
    annotations)."""
    for video in (1, 2, 3):
        folder = osp.join(root, 'frames', f'video{video:02d}')
        os.makedirs(folder)
        for frame in range(3):
            img = np.full((40, 40, 3), 40 * video, np.uint8)
            cv2.imwrite(osp.join(folder, f'{frame * 25}.png'), img)
    return root


def test_doc_commands_on_every_demo_config(tmp_path, tiny_demo_data, capsys):
    """Each documented command (MoCo v2, GraVIS, PCRL 2D and 3D,
    DistillingSelf) on tiny copies of its data: the columns it promises."""
    commands = doc_commands('Training views')
    assert len(commands) == 5
    volumes = tmp_path / 'volumes'
    volumes.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.save(volumes / f'pair_{i:04d}.npy',
                rng.random((2, 16, 16, 8), dtype=np.float32))
    (volumes / 'index.txt').write_text(
        ''.join(f'pair_{i:04d}.npy\n' for i in range(3)))
    surgical = surgical_frames(str(tmp_path / 'surgical'))
    data = {
        'mocov2': [f'train_dataloader.dataset.data_root={tiny_demo_data}'],
        'gravis': [f'train_dataloader.dataset.data_root={tiny_demo_data}'],
        'pcrl_resnet18': [
            f'train_dataloader.dataset.data_root={tiny_demo_data}'],
        'pcrl_unet3d': [f'train_dataloader.dataset.data_root={volumes}'],
        'distillingself': [
            f'train_dataloader.dataset.data_root={surgical}',
            'train_dataloader.dataset.train_val_videos=[1,2]',
            'train_dataloader.dataset.test_videos=[3]',
            'train_dataloader.dataset.num_val_videos=1'],
    }
    # (rows, columns, cell width): 32 px crops enlarged 3x; a 16x16x8 volume
    # is 3 slices of widths 8, 8, 16 (+2 gaps), enlarged 6x to 96 px high.
    expected = {'mocov2': (4, 2, 96), 'gravis': (6, 4, 96),
                'pcrl_resnet18': (4, 6, 96), 'pcrl_unet3d': (3, 6, 6 * 34),
                'distillingself': (4, 2, 96)}
    tool = load_tool(commands[0][0])
    out = str(tmp_path / 'views')
    for args in commands:
        name = next(k for k in data if osp.basename(args[1]).startswith(k))
        assert tool.main(args[1:] + ['--out', out, '--cfg-options',
                                     *data[name]]) == 0
        path = osp.join(out, osp.splitext(osp.basename(args[1]))[0] +
                        '_views.png')
        assert f'Wrote {path}' in capsys.readouterr().out
        picture = cv2.imread(path)
        rows, cols, cell_w = expected[name]
        lines = 1 if name == 'pcrl_unet3d' else 2  # volumes have no group
        assert picture.shape == grid_shape(rows, cols, 96, cell_w, lines), \
            name
        assert picture.std() > 10  # not blank


def test_command_line_writes_the_picture_and_names_a_missing_key(
        tmp_path, tiny_demo_data):
    config = tmp_path / 'tiny_mocov2.py'
    config.write_text(tiny_config_text(tiny_demo_data))
    out = str(tmp_path / 'out')
    proc = python_tool('tools/visualization/browse_dataset.py', str(config),
                       '--out', out, '--num', '3', '--seed', '1')
    path = osp.join(out, 'tiny_mocov2_views.png')
    assert f'Wrote {path}' in proc.stdout
    picture = cv2.imread(path)
    assert picture.shape == grid_shape(3, 2, 96, 96)

    no_loader = tmp_path / 'no_loader.py'
    no_loader.write_text("model = dict(type='MedMoCo')\n")
    tool = load_tool('tools/visualization/browse_dataset.py')
    with pytest.raises(SystemExit, match=r'no_loader.py: no '
                       r'`train_dataloader`'):
        tool.main([str(no_loader), '--out', out])
    no_dataset = tmp_path / 'no_dataset.py'
    no_dataset.write_text('train_dataloader = dict(batch_size=2)\n')
    with pytest.raises(SystemExit,
                       match=r'`train_dataloader.dataset` is missing'):
        tool.main([str(no_dataset), '--out', out])
