# Copyright (c) mmmedssl contributors. All rights reserved.
"""mmmedssl.downstream.study without training: the study checks, the
summary and its table, the run configs, and a segmentation job's dry run."""
import os.path as osp

import pytest

from mmmedssl.downstream import Study, StudyRunner, downstream_config
from mmmedssl.downstream.study import study_markdown, summarise
from ..conftest import REPO_ROOT

SEG = osp.join(REPO_ROOT, 'configs', 'benchmarks', 'segmentation',
               'unet-resnet18_1xb32-coslr-20e_ham10000-64px.py')
PRETRAIN = osp.join(REPO_ROOT, 'configs', 'mocov2',
                    'mocov2_resnet18_1xb32-coslr-40e_demo.py')


def write_study(tmp_path, **overrides):
    study = dict(
        name='seg study', work_dir=str(tmp_path / 'study'), seeds=[0, 1],
        methods=dict(random=dict(label='random init', stages=[]),
                     moco=dict(label='MoCo', stages=[
                         dict(name='pretrain', config=PRETRAIN)])),
        downstream=[dict(name='seg10', type='segmentation', config=SEG,
                         label_fraction=0.1)])
    study.update(overrides)
    path = tmp_path / 'study.py'
    path.write_text('\n'.join(f'{k} = {v!r}' for k, v in study.items()))
    return str(path)


def test_segmentation_job_dry_run(tmp_path, capsys):
    study = Study(write_study(tmp_path))
    assert StudyRunner(study, dry_run=True).run() is None
    out = capsys.readouterr().out
    for method in ('random', 'moco'):
        for seed in (0, 1):
            assert f'[{method}] seg10 seed {seed}' in out
    # One pretraining stage, then train + test per method and seed.
    assert out.count('$ tools/train.py') == 1 + 4
    assert out.count('$ tools/test.py') == 4
    assert not osp.exists(tmp_path / 'study')  # a dry run writes nothing


def test_study_errors_name_the_file_and_key(tmp_path):
    path = write_study(tmp_path, downstream=[
        dict(name='x', type='knn', config=SEG)])
    with pytest.raises(ValueError, match="downstream 'x' has type 'knn'"):
        Study(path)
    with pytest.raises(ValueError, match=r"unknown method\(s\) \['simclr'\]"):
        Study(write_study(tmp_path), methods=['simclr'])
    with pytest.raises(ValueError, match='nope.py does not exist'):
        Study(write_study(tmp_path, methods=dict(
            m=dict(stages=[dict(name='a', config='nope.py')]))))


def test_run_config_starts_from_the_checkpoint_with_a_label_fraction():
    cfg = downstream_config(SEG, '/ckpt/epoch_3.pth', seed=2,
                            label_fraction=0.1,
                            cfg_options={'train_cfg.max_epochs': 1})
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='/ckpt/epoch_3.pth',
        prefix='backbone.')
    assert cfg.randomness.seed == 2 and cfg.train_cfg.max_epochs == 1
    data = cfg.train_dataloader.dataset
    assert data.label_fraction == 0.1 and data.fraction_seed == 2
    random_init = downstream_config(SEG, None, seed=0)
    assert 'init_cfg' not in random_init.model.backbone
    assert random_init.train_dataloader.dataset.get('label_fraction',
                                                   1.0) == 1.0


def test_summary_and_table(tmp_path):
    table = dict(
        random=dict(seg10=[dict(test=dict(dice=60.0, jaccard=50.0)),
                           dict(test=dict(dice=64.0, jaccard=float('nan')))]),
        moco=dict(seg10='budget spent'))
    summary = summarise(table)
    dice = summary['random']['seg10']['dice']
    assert dice['mean'] == 62.0 and dice['n'] == 2
    assert dice['std'] == pytest.approx(2 ** 0.5 * 2)
    # A NaN (undefined) value is left out, not averaged.
    assert summary['random']['seg10']['jaccard']['values'] == [50.0]
    assert summary['moco']['seg10'] == 'budget spent'
    text = study_markdown(Study(write_study(tmp_path)), summary)
    assert '| method | dice | jaccard | n |' in text
    assert '| random init | 62.00 ± 2.83 | 50.00 | 2 |' in text
    assert '| MoCo | budget spent | budget spent | 0 |' in text


def test_a_jobs_prefix_picks_the_encoder_it_evaluates(tmp_path, monkeypatch):
    """``prefix`` of a downstream job (default ``backbone.``) names the
    encoder of the checkpoint that the probe or fine-tuning starts from,
    e.g. MoCo's momentum encoder."""
    from mmmedssl.downstream import study as study_module
    probe = osp.join(REPO_ROOT, 'configs', 'benchmarks', 'classification',
                     'resnet18_1xb64-coslr-30e_ham10000-64px.py')
    ema = 'momentum_encoder.module.0.'
    path = write_study(tmp_path, downstream=[
        dict(name='linear', type='linear_probe', config=probe),
        dict(name='linear_ema', type='linear_probe', config=probe,
             prefix=ema),
        dict(name='seg_ema', type='segmentation', config=SEG, prefix=ema)])
    seen = []

    def fake_probe(cfg, seeds, **kwargs):
        seen.append(cfg.model.backbone.init_cfg)
        return [dict(test=dict(macro_auc=50.0)) for _ in seeds]

    def fake_train_and_test(cfg, work_dir, dry_run):
        seen.append(cfg.model.backbone.init_cfg)
        return None  # as a dry run: nothing written

    monkeypatch.setattr(study_module, 'probe_backbone_over_seeds',
                        fake_probe)
    monkeypatch.setattr(study_module, 'train_and_test', fake_train_and_test)
    runner = StudyRunner(Study(path))
    for job in runner.study.downstream.values():
        run = (runner.finetune if job['type'] == 'segmentation' else
               runner.linear_probe)
        run('moco', '/ckpt/epoch_4.pth', job)
    assert [init['prefix'] for init in seen] == ['backbone.', ema, ema, ema]
    assert {init['checkpoint'] for init in seen} == {'/ckpt/epoch_4.pth'}
