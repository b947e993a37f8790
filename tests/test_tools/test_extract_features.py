# Copyright (c) mmmedssl contributors. All rights reserved.
"""tools/analysis_tools/extract_features.py: embeddings and ids of a list
with labels and groups, of a folder without any, and of 3D volumes."""
import csv
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.config import Config

from mmmedssl.apis import sanitize_dataloaders
from mmmedssl.downstream import build_eval_model
from ..conftest import REPO_ROOT, python_tool

TOOL = 'tools/analysis_tools/extract_features.py'


def _read(out):
    feats = np.load(osp.join(out, 'embeddings.npy'))
    with open(osp.join(out, 'ids.csv')) as f:
        rows = list(csv.DictReader(f))
    return feats, rows


def test_labelled_list_matches_the_backbone(tmp_path, tiny_config,
                                            tiny_demo_data):
    out = str(tmp_path / 'feats')
    python_tool(TOOL, tiny_config, 'none', '--data',
                osp.join(tiny_demo_data, 'labels.csv'), '--label-key',
                'label', '--group-key', 'lesion_id', '--split', 'val',
                '--out', out, '--work-dir', str(tmp_path / 'w'))
    feats, rows = _read(out)
    with open(osp.join(tiny_demo_data, 'labels.csv')) as f:
        val = [r for r in csv.DictReader(f) if r['split'] == 'val']
    assert feats.shape == (len(val), 64) and feats.dtype == np.float32
    assert [r['path'] for r in rows] == [
        osp.join(tiny_demo_data, r['image']) for r in val]
    assert [r['group'] for r in rows] == [r['lesion_id'] for r in val]
    classes = sorted({r['label'] for r in val})
    assert [int(r['label']) for r in rows] == [
        classes.index(r['label']) for r in val]

    # Independent of the tool: the random-init backbone on the first image,
    # loaded and resized by hand (the config's 32 px evaluation size).
    cfg = Config.fromfile(tiny_config)
    sanitize_dataloaders(cfg)
    model = build_eval_model(cfg, None, str(tmp_path / 'w2'))
    img = cv2.imread(rows[0]['path'])
    img = cv2.resize(img, (32, 32), interpolation=cv2.INTER_LINEAR)
    x = torch.from_numpy(img).permute(2, 0, 1).float()
    data = model.data_preprocessor(dict(inputs=x[None]), False)
    with torch.no_grad():
        ref = model.extract_pooled_feat(data['inputs'])[0]
    torch.testing.assert_close(torch.from_numpy(feats[0]), ref,
                               rtol=1e-4, atol=1e-5)


def test_folder_without_labels(tmp_path, tiny_config):
    folder = tmp_path / 'photos'
    rng = np.random.default_rng(0)
    for name in ('a/1.png', 'a/2.jpg', 'b/c/3.png'):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), rng.integers(0, 255, (40, 48, 3), np.uint8))
    (folder / 'notes.txt').write_text('not an image')
    out = str(tmp_path / 'feats')
    proc = python_tool(TOOL, tiny_config, 'none', '--data', str(folder),
                       '--out', out, '--work-dir', str(tmp_path / 'w'))
    assert '3 embeddings of dimension 64 (no labels)' in proc.stdout
    feats, rows = _read(out)
    assert feats.shape == (3, 64)
    assert [osp.relpath(r['path'], folder) for r in rows] == [
        'a/1.png', 'a/2.jpg', 'b/c/3.png']
    assert set(rows[0]) == {'index', 'path'}  # no group, no label column

    proc = python_tool(TOOL, tiny_config, 'none', '--data',
                       str(tmp_path / 'nope'), '--out', out, check=False)
    assert proc.returncode != 0 and 'no such folder or file' in proc.stdout


def test_volumes_of_a_3d_backbone(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / 'ct'
    root.mkdir()
    with open(root / 'list.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image', 'patient'])
        for i in range(3):
            np.save(root / f'vol{i}.npy',
                    rng.random((16, 16, 16), dtype=np.float32))
            writer.writerow([f'vol{i}.npy', f'p{i // 2}'])
    config = tmp_path / 'pcrl3d.py'
    base = osp.join(REPO_ROOT, 'configs', 'pcrl',
                    'pcrl_unet3d-w8_1xb8-coslr-10e_demo.py')
    config.write_text(f'_base_ = [{base!r}]\n')
    out = str(tmp_path / 'feats')
    python_tool(TOOL, str(config), 'none', '--data',
                str(root / 'list.csv'), '--group-key', 'patient', '--out',
                out, '--work-dir', str(tmp_path / 'w'))
    feats, rows = _read(out)
    assert feats.shape == (3, 128)  # the width-8 encoder's last stage
    assert [r['group'] for r in rows] == ['p0', 'p0', 'p1']
    assert np.isfinite(feats).all() and not np.allclose(feats[0], feats[1])
