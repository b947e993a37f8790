# Copyright (c) mmmedssl contributors. All rights reserved.
"""The downstream classification configs: label fractions keep lesions
whole, a pretrained backbone loads through init_cfg, and a tiny fine-tuning
run logs the classification metrics."""
import math
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


CLASSIFICATION = osp.join(REPO_ROOT, 'configs', 'benchmarks',
                          'classification')
CHEST_XRAY = osp.join(REPO_ROOT, '..', 'shared', 'data',
                      'chest_xray_pneumonia_224')


def _train_in_process(parts, tmp_path):
    """Train (and test) a config made of ``parts`` (each dedented) in this
    process; returns the logged records, the work dir and the test
    metrics."""
    import glob
    import json

    from mmengine.config import Config

    from mmmedssl.apis import build_runner, sanitize_dataloaders
    path = tmp_path / 'config.py'
    path.write_text('\n'.join(textwrap.dedent(p) for p in parts))
    cfg = Config.fromfile(str(path))
    work_dir = str(tmp_path / 'run')
    cfg.work_dir = work_dir
    sanitize_dataloaders(cfg)
    runner = build_runner(cfg)
    runner.train()
    test = runner.test()
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    records = [json.loads(line) for line in open(logs[0])]
    return records, work_dir, test


TINY_RESNET = '''
    model = dict(backbone=dict(stem_channels=8, base_channels=8),
                 head=dict(in_channels=64))
    loader = dict(num_workers=0, persistent_workers=False)
    train_cfg = dict(max_epochs={epochs})
    param_scheduler = [dict(type='CosineAnnealingLR', T_max={epochs},
                            by_epoch=True, begin=0, end={epochs})]
    default_hooks = dict(logger=dict(interval=1))
'''


def test_finetune_chestxray14_multilabel(tmp_path):
    """Two epochs of the ChestX-ray14 fine-tuning config on a fake
    download: multi-label loss, per-finding and mean AUCs on val, the best
    checkpoint by val mean AUC, test metrics."""
    from ..test_datasets.test_chestxray14 import write_fake_chestxray14
    from mmmedssl.datasets.chestxray14 import CHESTXRAY14_CLASSES
    root = tmp_path / 'ChestXray14'
    write_fake_chestxray14(root, n_patients=30, test_patients=6)
    config = osp.join(CLASSIFICATION,
                      'resnet18_1xb64-coslr-30e_chestxray14-64px.py')
    records, work_dir, test = _train_in_process([
        f'''
        _base_ = [{config!r}]
        data = dict(data_root={str(root)!r}, val_fraction=0.25)
        ''', TINY_RESNET.format(epochs=2), '''
        train_dataloader = dict(batch_size=8, **loader,
                                dataset=dict(label_fraction=0.5, **data))
        val_dataloader = dict(batch_size=16, **loader, dataset=data)
        test_dataloader = dict(batch_size=16, **loader, dataset=data)
        '''], tmp_path)
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) >= 2 and all(math.isfinite(v) for v in losses)
    val = [r for r in records if 'cls/mean_auc' in r]
    assert len(val) == 2
    names = {f'cls/auc_{c}' for c in CHESTXRAY14_CLASSES}
    for r in val:
        per_label = {k: v for k, v in r.items() if k.startswith('cls/auc_')}
        assert per_label and set(per_label) <= names
        assert r['cls/num_auc_labels'] == len(per_label)
        assert all(0 <= v <= 100 for v in per_label.values())
        assert r['cls/mean_auc'] == pytest.approx(
            sum(per_label.values()) / len(per_label))
        assert 'cls/top1' not in r
    import glob
    assert glob.glob(osp.join(work_dir, 'best_cls_mean_auc_epoch_*.pth'))
    # The test split (the official test list) has every finding.
    assert test['cls/num_auc_labels'] == 14
    assert 0 <= test['cls/mean_auc'] <= 100


@pytest.mark.parametrize('linear', [False, True])
def test_kermany_cxr_configs_on_real_images(tmp_path, linear):
    """The Kermany configs build; with ../shared/data, one epoch on a few
    real patients (about 1 % of the training patients per class)."""
    from mmengine.config import Config

    from mmmedssl.registry import MODELS
    name = ('resnet18-linear' if linear else 'resnet18') + \
        '_1xb64-coslr-30e_kermany-cxr-64px.py'
    config = osp.join(CLASSIFICATION, name)
    cfg = Config.fromfile(config)
    assert cfg.model.head.num_classes == 2
    assert cfg.train_dataloader.dataset.label_key == 'label_idx'
    assert cfg.train_dataloader.dataset.group_key == 'patient_id'
    assert cfg.default_hooks.checkpoint.save_best == 'cls/balanced_acc'
    flips = [t for t in cfg.train_dataloader.dataset.pipeline
             if t.type == 'RandomFlip']
    assert [t.direction for t in flips] == ['horizontal']
    model = MODELS.build(cfg.model)
    if linear:
        model.train()
        assert not any(p.requires_grad for p in model.backbone.parameters())
    if not osp.isdir(CHEST_XRAY):
        pytest.skip('../shared/data is absent')
    records, work_dir, test = _train_in_process([
        f'''
        _base_ = [{config!r}]
        data = dict(data_root={CHEST_XRAY!r})
        ''', TINY_RESNET.format(epochs=1), '''
        train_dataloader = dict(batch_size=16, **loader,
                                dataset=dict(label_fraction=0.01, **data))
        val_dataloader = dict(batch_size=64, **loader,
                              dataset=dict(label_fraction=0.05, **data))
        test_dataloader = dict(batch_size=64, **loader,
                               dataset=dict(label_fraction=0.02, **data))
        '''], tmp_path)
    assert any('loss' in r for r in records)
    val = [r for r in records if 'cls/balanced_acc' in r]
    assert len(val) == 1
    for key in ('cls/top1', 'cls/balanced_acc', 'cls/macro_f1',
                'cls/macro_auc'):
        assert 0 <= val[0][key] <= 100, key
        assert 0 <= test[key] <= 100, key
    import glob
    assert glob.glob(osp.join(work_dir, 'best_cls_balanced_acc_epoch_*.pth'))
