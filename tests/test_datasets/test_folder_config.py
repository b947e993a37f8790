# Copyright (c) mmmedssl contributors. All rights reserved.
"""configs/mocov2/*_folder.py: MoCo v2 on a folder of unlabelled images,
with only the folder set, no val/test loop; the kNN tool refuses it."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmmedssl.downstream.knn import check_knn_config
from mmmedssl.downstream.linear_probe import load_labelled_split

from ..conftest import REPO_ROOT, python_tool, train_records

CONFIG = osp.join(REPO_ROOT, 'configs', 'mocov2',
                  'mocov2_resnet18_1xb32-coslr-100e_folder.py')
# A ResNet-18 with 8 base channels at 32x32, batch 4, one epoch of 2 iters.
SHRINK = [
    'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
    'train_dataloader.dataset.pipeline.1.transforms.0.0.scale=32',
    'model.queue_len=8', 'model.feat_dim=8',
    'model.backbone.stem_channels=8', 'model.backbone.base_channels=8',
    'model.neck.in_channels=64', 'model.neck.hid_channels=16',
    'model.neck.out_channels=8', 'train_cfg.max_epochs=1',
    'default_hooks.logger.interval=1'
]


def test_config_has_no_val_or_test_loop():
    cfg = Config.fromfile(CONFIG)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        assert cfg.get(key) is None, key
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == 'MedImageFolder' and 'label_from' not in dataset
    with pytest.raises(ValueError, match='has no labels to test on.*'
                       'kNN accuracy needs a labelled split'):
        check_knn_config(cfg)
    with pytest.raises(ValueError, match='has no test_dataloader: the data '
                       'has no labels'):
        load_labelled_split(cfg, 'train')
    # A test loop on unlabelled data is refused before it runs.
    cfg.test_dataloader = dict(dataset=dict(dataset))
    cfg.test_evaluator = dict(type='KNNAccuracy')
    cfg.test_cfg = dict()
    with pytest.raises(ValueError, match=r"test_dataloader.dataset has no "
                       r"labels: kNN accuracy needs a labelled split \(set "
                       r"label_from='parent'\)"):
        check_knn_config(cfg)


def test_trains_on_a_folder_of_pngs_then_knn_eval_says_no_labels(tmp_path):
    images = tmp_path / 'images'
    rng = np.random.RandomState(0)
    for i in range(8):
        path = images / f'patient{i % 3}' / f'{i}.png'
        os.makedirs(path.parent, exist_ok=True)
        cv2.imwrite(str(path), rng.randint(0, 255, (32, 32, 3), np.uint8))
    work_dir = str(tmp_path / 'work')
    python_tool('tools/train.py', CONFIG, '--work-dir', work_dir,
                '--cfg-options',
                f'train_dataloader.dataset.data_root={images}', *SHRINK)
    records = train_records(work_dir)
    assert [r['iter'] for r in records] == [1, 2]
    assert np.isfinite(records[-1]['loss'])
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))

    proc = python_tool('tools/analysis_tools/knn_eval.py', CONFIG, work_dir,
                       '--work-dir', str(tmp_path / 'knn'), check=False)
    assert proc.returncode != 0
    assert 'has no labels to test on' in proc.stdout
    assert 'Traceback' not in proc.stdout
