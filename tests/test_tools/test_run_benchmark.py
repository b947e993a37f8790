# Copyright (c) mmmedssl contributors. All rights reserved.
"""tools/benchmarks/run_benchmark.py on a tiny study: pretraining stages
(with a stage budget and a checkpoint handed from one stage to the next),
linear probes and fine-tuning over seeds, the summary against the per-run
results, resuming, the study budget and bad studies."""
import json
import os
import os.path as osp
import statistics
import textwrap

import pytest
import torch

from ..conftest import REPO_ROOT, load_tool, python_tool, tiny_config_text

FINETUNE = osp.join(REPO_ROOT, 'configs', 'benchmarks', 'classification',
                    'resnet18_1xb64-coslr-30e_ham10000-64px.py')
TOOL = 'tools/benchmarks/run_benchmark.py'


def write_study(tmp_path, data_root, **overrides) -> str:
    pretrain = tmp_path / 'pretrain.py'
    pretrain.write_text(tiny_config_text(data_root))
    finetune = tmp_path / 'finetune.py'
    finetune.write_text(textwrap.dedent(f'''
        _base_ = [{FINETUNE!r}]
        data = dict(data_root={data_root!r}, split_file=None)
        model = dict(backbone=dict(stem_channels=8, base_channels=8),
                     head=dict(num_classes=4, in_channels=64))
        loader = dict(num_workers=0, persistent_workers=False)
        train_dataloader = dict(batch_size=8, **loader, dataset=data)
        val_dataloader = dict(batch_size=16, **loader, dataset=data)
        test_dataloader = dict(batch_size=16, **loader,
                               dataset=dict(split='val', **data))
        param_scheduler = [dict(type='CosineAnnealingLR', T_max=1,
                                by_epoch=True, begin=0, end=1)]
        train_cfg = dict(max_epochs=1)
        '''))
    study = dict(
        name='tiny study',
        work_dir=str(tmp_path / 'study'),
        seeds=[0, 1],
        methods=dict(
            random=dict(label='random init', stages=[]),
            mocov2=dict(
                label='MoCo v2',
                stages=[
                    dict(name='first', config=str(pretrain)),
                    # The second stage starts from the first's checkpoint.
                    dict(name='second', config=str(pretrain),
                         cfg_options={'load_from': '{stage:first}'}),
                ])),
        downstream=[
            # The tiny set has no test split.
            dict(name='linear', type='linear_probe', config=str(finetune),
                 splits=dict(test='val'), metrics=['top1', 'balanced_acc']),
            dict(name='ft', type='finetune', config=str(finetune),
                 label_fraction=0.5, metrics=['balanced_acc']),
        ])
    study.update(overrides)
    path = tmp_path / 'study.py'
    path.write_text('\n'.join(f'{k} = {v!r}' for k, v in study.items()))
    return str(path)


def test_study_runs_resumes_and_summarises(tmp_path, tiny_demo_data):
    study = write_study(tmp_path, tiny_demo_data)
    work = tmp_path / 'study'
    # A CPU budget per stage so small that each stage stops after its
    # first epoch (of 2).
    python_tool(TOOL, study, '--stage-minutes', '1e-6', timeout=600)

    first = json.load(open(work / 'mocov2' / 'first' / 'done.json'))
    second = json.load(open(work / 'mocov2' / 'second' / 'done.json'))
    assert osp.basename(first['checkpoint']) == 'epoch_1.pth'
    assert second['cfg_options']['load_from'] == first['checkpoint']
    assert osp.dirname(second['checkpoint']).endswith('second')

    result = json.load(open(work / 'results.json'))
    runs, summary = result['runs'], result['summary']
    for method in ('random', 'mocov2'):
        for job in ('linear', 'ft'):
            assert [r['seed'] for r in runs[method][job]] == [0, 1]
            for metric in ('top1', 'balanced_acc'):
                values = [r['test'][metric] if metric in r['test'] else
                          r['test'][f'cls/{metric}']
                          for r in runs[method][job]]
                stat = summary[method][job][metric]
                assert stat['n'] == 2
                assert stat['mean'] == pytest.approx(statistics.fmean(values))
                assert stat['std'] == pytest.approx(statistics.stdev(values))
    # The pretrained backbone's features do not depend on the seed: with all
    # labels the probe is the same; random init is one network per seed.
    pre = [r['test'] for r in runs['mocov2']['linear']]
    assert pre[0] == pre[1]
    # Each probe keeps its whole weight-decay grid: val picks, the test
    # grid's row at the pick is the reported test.
    for run in runs['random']['linear'] + runs['mocov2']['linear']:
        assert [r['weight_decay'] for r in run['val_grid']] == \
            [r['weight_decay'] for r in run['test_grid']]
        pick = min(run['val_grid'],
                   key=lambda r: (r['loss'], -r['weight_decay']))
        assert pick['weight_decay'] == run['weight_decay']
        row = {r['weight_decay']: r for r in run['test_grid']}[
            run['weight_decay']]
        assert row['balanced_acc'] == run['test']['balanced_acc']
    assert runs['mocov2']['linear'][0]['checkpoint'] == second['checkpoint']
    # Fine-tuning starts from the final stage's backbone, or random init.
    ft_cfg = open(work / 'mocov2' / 'ft' / 'seed1' /
                  'finetune_config.py').read()
    assert second['checkpoint'] in ft_cfg and 'label_fraction=0.5' in ft_cfg
    assert 'Pretrained' not in open(work / 'random' / 'ft' / 'seed0' /
                                    'finetune_config.py').read()
    ckpt = torch.load(second['checkpoint'], map_location='cpu',
                      weights_only=False)['state_dict']
    assert any(k.startswith('backbone.') for k in ckpt)
    table = open(work / 'results.md').read()
    assert '| random init |' in table and '| MoCo v2 |' in table

    # Running again trains nothing and gives the same summary.
    stamps = {p: os.stat(p).st_mtime_ns for p in
              [work / 'mocov2' / 'ft' / 'seed0' / 'result.json',
               work / 'mocov2' / 'second' / 'done.json']}
    proc = python_tool(TOOL, study, timeout=300)
    assert '$ ' not in proc.stdout  # no subprocess started
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps
    assert json.load(open(work / 'results.json'))['summary'] == summary


def test_study_budget_and_errors(tmp_path, tiny_demo_data):
    study = write_study(tmp_path, tiny_demo_data)
    proc = python_tool(TOOL, study, '--budget-minutes', '1e-9',
                       '--methods', 'mocov2', timeout=300)
    assert 'budget spent' in proc.stdout
    result = json.load(open(tmp_path / 'study' / 'results.json'))
    assert result['summary']['mocov2'] == {'linear': 'budget spent',
                                           'ft': 'budget spent'}

    proc = python_tool(TOOL, study, '--methods', 'simclr', check=False)
    assert proc.returncode != 0 and "unknown method(s) ['simclr']" in \
        proc.stdout
    bad = write_study(tmp_path, tiny_demo_data, downstream=[
        dict(name='x', type='knn', config=FINETUNE)])
    proc = python_tool(TOOL, bad, check=False)
    assert proc.returncode != 0 and "expected one of 'linear_probe', " \
        "'finetune', 'segmentation'" in proc.stdout
    missing = write_study(tmp_path, tiny_demo_data, methods=dict(
        m=dict(stages=[dict(name='a', config='nope.py')])))
    proc = python_tool(TOOL, missing, check=False)
    assert proc.returncode != 0 and 'nope.py does not exist' in proc.stdout


STUDIES = sorted(
    osp.join(REPO_ROOT, 'configs', 'benchmarks', 'studies', f)
    for f in os.listdir(osp.join(REPO_ROOT, 'configs', 'benchmarks',
                                 'studies')))


@pytest.mark.parametrize('study', STUDIES, ids=osp.basename)
def test_shipped_studies_are_valid(study, tmp_path, capsys):
    """Every shipped study names existing configs and methods; a dry run
    lists each method's stages and downstream jobs (nothing runs)."""
    tool = load_tool(TOOL)
    tool.main([study, '--dry-run', '--work-dir', str(tmp_path)])
    out = capsys.readouterr().out
    if osp.basename(study) in ('ham10000_64px.py', 'kermany_cxr_64px.py'):
        for method in ('random', 'mocov2', 'gravis', 'pcrl',
                       'distillingself'):
            assert f'[{method}] finetune10 seed 2' in out
        assert "[distillingself] pretraining stage 'student'" in out
        assert out.count('tools/train.py') == 5 + 5 * 3  # 5 stages, 15 runs
    else:  # the data-size studies: pretraining and a probe per method
        from mmmedssl.downstream import Study
        methods = Study(study).methods
        assert 'random' in methods
        for method, spec in methods.items():
            assert f'[{method}] linear: seeds [' in out
            for stage in spec['stages']:
                assert (f"[{method}] pretraining stage '{stage['name']}': "
                        f"{stage['config']}") in out
