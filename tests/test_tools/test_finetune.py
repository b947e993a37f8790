# Copyright (c) mmmedssl contributors. All rights reserved.
"""The downstream classification configs: label fractions keep lesions
whole, a pretrained backbone loads through init_cfg, and a tiny fine-tuning
run logs the classification metrics."""
import os.path as osp
import textwrap

import pytest
import torch

from ..conftest import REPO_ROOT, python_tool

FINETUNE = osp.join(REPO_ROOT, 'configs', 'benchmarks', 'classification',
                    'resnet18_1xb64-coslr-30e_ham10000-64px.py')


def build_list(data_root, **kwargs):
    from mmmedssl.registry import DATASETS
    dataset = DATASETS.build(
        dict(type='MedImageList', data_root=data_root, ann_file='labels.csv',
             img_key='image', label_key='label', group_key='lesion_id',
             split='train', **kwargs))
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def test_label_fraction_keeps_whole_lesions_per_class(tiny_demo_data):
    full = build_list(tiny_demo_data)
    half = build_list(tiny_demo_data, label_fraction=0.5, fraction_seed=0)
    lesions = {}
    for info in full:
        lesions.setdefault(info['group_id'], []).append(info['img_path'])
    kept = {}
    for info in half:
        kept.setdefault(info['group_id'], []).append(info['img_path'])
    # Whole lesions: every kept lesion has all its images.
    assert all(kept[g] == lesions[g] for g in kept)
    # 4 classes x 4 train lesions: 2 lesions of each class.
    per_class = {}
    for info in half:
        per_class.setdefault(info['gt_label'], set()).add(info['group_id'])
    assert sorted(len(v) for v in per_class.values()) == [2, 2, 2, 2]
    assert build_list(tiny_demo_data, label_fraction=0.5,
                      fraction_seed=0) == half
    assert build_list(tiny_demo_data, label_fraction=0.5,
                      fraction_seed=1) != half
    # A tiny fraction still keeps one lesion per class.
    one = build_list(tiny_demo_data, label_fraction=0.01)
    assert len({i['group_id'] for i in one}) == 4
    with pytest.raises(ValueError, match='needs label_key'):
        from mmmedssl.registry import DATASETS
        DATASETS.build(dict(type='MedImageList', data_root=tiny_demo_data,
                            ann_file='labels.csv', label_fraction=0.5))
    with pytest.raises(ValueError, match=r'in \(0, 1\]'):
        build_list(tiny_demo_data, label_fraction=0)


def tiny_config(tmp_path, data_root, checkpoint):
    config = tmp_path / 'finetune.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = [{FINETUNE!r}]
        data = dict(data_root={data_root!r}, split_file=None)
        model = dict(
            backbone=dict(stem_channels=8, base_channels=8,
                          init_cfg=dict(type='Pretrained',
                                        checkpoint={checkpoint!r},
                                        prefix='backbone.')),
            head=dict(num_classes=4, in_channels=64))
        train_dataloader = dict(batch_size=8, num_workers=0,
                                persistent_workers=False,
                                dataset=dict(label_fraction=0.5, **data))
        val_dataloader = dict(batch_size=16, num_workers=0,
                              persistent_workers=False, dataset=data)
        test_dataloader = dict(batch_size=16, num_workers=0,
                               persistent_workers=False,
                               dataset=dict(split='val', **data))
        max_epochs = 2
        param_scheduler = [dict(type='CosineAnnealingLR', T_max=2,
                                by_epoch=True, begin=0, end=2)]
        train_cfg = dict(max_epochs=2)
        default_hooks = dict(logger=dict(interval=1))
    '''))
    return str(config)


def test_finetune_from_a_pretrained_checkpoint(tmp_path, tiny_demo_data):
    from mmengine.config import Config

    from mmmedssl.registry import MODELS
    torch.manual_seed(3)
    source = MODELS.build(
        dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
             out_indices=[3]))
    checkpoint = str(tmp_path / 'pretrained.pth')
    torch.save(dict(state_dict={'backbone.' + k: v
                                for k, v in source.state_dict().items()}),
               checkpoint)
    config = tiny_config(tmp_path, tiny_demo_data, checkpoint)
    # The backbone starts from the checkpoint.
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    for name, value in source.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[name], value), name

    work_dir = str(tmp_path / 'run')
    python_tool('tools/train.py', config, '--work-dir', work_dir)
    import glob
    import json
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    records = [json.loads(line) for line in open(logs[0])]
    val = [r for r in records if 'cls/balanced_acc' in r]
    assert len(val) == 2
    for r in val:
        for key in ('cls/top1', 'cls/balanced_acc', 'cls/macro_f1',
                    'cls/macro_auc'):
            assert 0 <= r[key] <= 100, key
    assert glob.glob(osp.join(work_dir, 'best_cls_balanced_acc_epoch_*.pth'))
