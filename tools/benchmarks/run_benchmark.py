# Copyright (c) mmmedssl contributors. All rights reserved.
"""One study, one command: pretrain each method, then evaluate it downstream.

    python tools/benchmarks/run_benchmark.py STUDY.py \\
        [--methods random mocov2 ...] [--seeds 0 1 2] \\
        [--budget-minutes 240] [--stage-minutes 15] [--work-dir DIR] \\
        [--dry-run]

STUDY is a config file (``configs/benchmarks/studies/*.py``) naming the
methods, each a list of pretraining stages (a config each; ``random`` has
none), and the downstream evaluations:

- ``linear_probe``: pooled features of the downstream classifier's backbone
  (started from the method's checkpoint; at random init with each seed),
  extracted once, then a logistic regression per (label fraction, seed) with
  the weight decay chosen on val (``mmmedssl.evaluation.linear_probe``).
- ``finetune``: ``tools/train.py`` on the downstream config with the
  checkpoint as ``model.backbone.init_cfg``, the label fraction drawn per
  group with the seed, then ``tools/test.py`` on the best-on-val checkpoint.

Every finished piece leaves a JSON file in the work dir and is skipped when
the command runs again, so an interrupted study resumes where it stopped
(an interrupted pretraining stage resumes from its last checkpoint).
``--budget-minutes`` caps the CPU minutes of the whole study (this process
and its children): once spent, the remaining jobs are skipped and marked so
in the table. ``--stage-minutes`` caps each pretraining stage (CPU minutes
of its process, :class:`TrainBudgetHook`). Writes ``results.json`` and
``results.md`` (mean ± std over seeds) in the work dir.
"""
import argparse
import copy
import hashlib
import json
import math
import os
import os.path as osp
import re
import resource
import statistics
import subprocess
import sys
import time

import torch
from mmengine.config import Config

from mmmedssl.engine import find_resume_checkpoint

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PYTHON = sys.executable


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('study', help='study config file')
    parser.add_argument('--methods', nargs='+',
                        help='subset of the study\'s methods, in this order')
    parser.add_argument('--downstream', nargs='+',
                        help='subset of the study\'s downstream evaluations')
    parser.add_argument('--seeds', type=int, nargs='+',
                        help='downstream seeds (default: the study\'s)')
    parser.add_argument('--budget-minutes', type=float,
                        help='CPU minutes for the whole study')
    parser.add_argument('--stage-minutes', type=float,
                        help='CPU minutes per pretraining stage')
    parser.add_argument('--work-dir', help='default: the study\'s work_dir')
    parser.add_argument('--dry-run', action='store_true',
                        help='print the jobs without running them')
    return parser.parse_args(argv)


def cpu_minutes() -> float:
    """CPU minutes of this process and its finished children."""
    total = 0.
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total / 60.


class BudgetSpent(Exception):
    pass


class Study:
    """The study config, checked, and the jobs it implies."""

    def __init__(self, path: str, args) -> None:
        if not osp.isfile(path):
            raise SystemExit(f'Study {path} does not exist.')
        self.path = path
        cfg = Config.fromfile(path)
        for key in ('name', 'methods', 'downstream'):
            if key not in cfg:
                raise SystemExit(f'{path}: missing key {key!r} (a study '
                                 'needs name, methods and downstream).')
        self.name = cfg.name
        self.work_dir = args.work_dir or cfg.get(
            'work_dir', osp.join('work_dirs', 'studies',
                                 osp.splitext(osp.basename(path))[0]))
        self.seeds = list(args.seeds if args.seeds is not None else
                          cfg.get('seeds', [0, 1, 2]))
        self.stage_minutes = args.stage_minutes if args.stage_minutes \
            is not None else cfg.get('stage_minutes')
        self.budget_minutes = args.budget_minutes
        self.methods = self._select(cfg.methods, args.methods, 'method',
                                    path)
        self.downstream = self._select(
            {d['name']: d for d in cfg.downstream}, args.downstream,
            'downstream', path)
        for name, method in self.methods.items():
            for stage in method.get('stages', []):
                for key in ('name', 'config'):
                    if key not in stage:
                        raise SystemExit(f'{path}: a stage of method '
                                         f'{name!r} has no {key!r}.')
                if not osp.isfile(stage['config']):
                    raise SystemExit(f'{path}: method {name!r}, stage '
                                     f"{stage['name']!r}: config "
                                     f"{stage['config']} does not exist.")
        for name, job in self.downstream.items():
            if job.get('type') not in ('linear_probe', 'finetune'):
                raise SystemExit(
                    f"{path}: downstream {name!r} has type "
                    f"{job.get('type')!r}; expected 'linear_probe' or "
                    "'finetune'.")
            if not osp.isfile(job.get('config', '')):
                raise SystemExit(f"{path}: downstream {name!r}: config "
                                 f"{job.get('config')} does not exist.")

    @staticmethod
    def _select(available: dict, wanted, what: str, path: str) -> dict:
        if not wanted:
            return dict(available)
        unknown = [w for w in wanted if w not in available]
        if unknown:
            raise SystemExit(f'{path}: unknown {what}(s) {unknown}; the study '
                             f'has {list(available)}.')
        return {w: available[w] for w in wanted}


# ----------------------------------------------------------------- helpers

def read_json(path: str):
    with open(path) as f:
        return json.load(f)


def write_json(path: str, obj) -> None:
    """Atomically (a crash never leaves a half-written result)."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def run(cmd, log_path: str, dry_run: bool) -> None:
    print('  $ ' + ' '.join(cmd), flush=True)
    if dry_run:
        return
    with open(log_path, 'a') as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'{cmd[1]} failed (exit {proc.returncode}); see '
                           f'{log_path}')


def expand(value, stage_ckpts: dict):
    """``'{stage:NAME}'`` in a cfg option -> that stage's final checkpoint."""
    if not isinstance(value, str):
        return value

    def repl(match):
        name = match.group(1)
        if name not in stage_ckpts:
            raise SystemExit(f'{{stage:{name}}}: no earlier stage named '
                             f'{name!r} (have {list(stage_ckpts)}).')
        return stage_ckpts[name]

    return re.sub(r'\{stage:([^}]+)\}', repl, value)


class Runner:

    def __init__(self, study: Study, dry_run: bool) -> None:
        self.study = study
        self.dry_run = dry_run
        self.cpu_start = cpu_minutes()
        self.skipped = []  # downstream jobs cut short by the budget

    # ------------------------------------------------------------ budget
    def spent(self) -> float:
        return cpu_minutes() - self.cpu_start

    def check_budget(self) -> None:
        budget = self.study.budget_minutes
        if budget is not None and self.spent() >= budget:
            raise BudgetSpent

    def budget_spent_for(self, method, job, results) -> bool:
        """Whether to stop a downstream job for the budget: with finished
        runs it keeps them (and notes the rest as skipped), without any it
        raises BudgetSpent."""
        try:
            self.check_budget()
        except BudgetSpent:
            if not results:
                raise
            self.skipped.append(f"{method}/{job['name']}")
            return True
        return False

    # -------------------------------------------------------- pretraining
    def pretrain(self, method: str, spec: dict):
        """Run the method's stages; return (checkpoint, stage records)."""
        stage_ckpts, records = {}, []
        for stage in spec.get('stages', []):
            work_dir = osp.join(self.study.work_dir, method, stage['name'])
            done_file = osp.join(work_dir, 'done.json')
            if osp.isfile(done_file):
                record = read_json(done_file)
            else:
                self.check_budget()
                record = self._train_stage(method, stage, work_dir,
                                           stage_ckpts)
                if self.dry_run:
                    record['checkpoint'] = osp.join(work_dir, 'final.pth')
                else:
                    write_json(done_file, record)
            stage_ckpts[stage['name']] = record['checkpoint']
            records.append(record)
        return (records[-1]['checkpoint'] if records else None), records

    def _train_stage(self, method, stage, work_dir, stage_ckpts) -> dict:
        cfg = Config.fromfile(stage['config'])
        options = {k: expand(v, stage_ckpts)
                   for k, v in stage.get('cfg_options', {}).items()}
        cfg.merge_from_dict(options)
        if self.study.stage_minutes:
            hooks = list(cfg.get('custom_hooks', []))
            hooks.append(dict(type='TrainBudgetHook',
                              minutes=self.study.stage_minutes, clock='cpu'))
            cfg.custom_hooks = hooks
        derived = osp.join(work_dir, 'stage_config.py')
        if not self.dry_run:
            os.makedirs(work_dir, exist_ok=True)
            cfg.dump(derived)
        print(f'[{method}] pretraining stage {stage["name"]!r}: '
              f'{stage["config"]}', flush=True)
        start, cpu0 = time.time(), cpu_minutes()
        run([PYTHON, 'tools/train.py', derived, '--work-dir', work_dir,
             '--resume'], osp.join(work_dir, 'train.log'), self.dry_run)
        ckpt = None if self.dry_run else find_resume_checkpoint(work_dir)
        if ckpt is None and not self.dry_run:
            raise RuntimeError(f'{work_dir}: training ended without a '
                               'last_checkpoint.')
        return dict(config=stage['config'], cfg_options=options,
                    checkpoint=ckpt, wall_minutes=(time.time() - start) / 60,
                    cpu_minutes=cpu_minutes() - cpu0,
                    max_epochs=cfg.train_cfg.get('max_epochs'))

    # --------------------------------------------------------- downstream
    def linear_probe(self, method, ckpt, job) -> list:
        out_dir = osp.join(self.study.work_dir, method, job['name'])
        results = []
        # Random init: one network per seed. Pretrained: the features do
        # not depend on the seed; only the label-fraction draw does.
        net_seeds = self.study.seeds if ckpt is None else [None]
        for net_seed in net_seeds:
            todo = []
            for seed in (self.study.seeds if net_seed is None else
                         [net_seed]):
                path = osp.join(out_dir, f'seed{seed}.json')
                if osp.isfile(path):
                    results.append(read_json(path))
                else:
                    todo.append((seed, path))
            if not todo:
                continue
            if self.budget_spent_for(method, job, results):
                break
            print(f'[{method}] {job["name"]}: seeds {[s for s, _ in todo]}',
                  flush=True)
            if self.dry_run:
                continue
            os.makedirs(out_dir, exist_ok=True)
            cfg = downstream_config(job, ckpt,
                                    seed=net_seed if net_seed is not None
                                    else self.study.seeds[0])
            runs = probe_classifier(
                cfg, [s for s, _ in todo],
                label_fraction=job.get('label_fraction', 1.0),
                work_dir=osp.join(out_dir, 'runner'),
                cache_dir=osp.join(self.study.work_dir, method,
                                   'probe_features'),
                splits=job.get('splits'))
            for (seed, path), res in zip(todo, runs):
                res.update(method=method, seed=seed, checkpoint=ckpt)
                write_json(path, res)
                results.append(res)
        return results

    def finetune(self, method, ckpt, job) -> list:
        results = []
        for seed in self.study.seeds:
            work_dir = osp.join(self.study.work_dir, method, job['name'],
                                f'seed{seed}')
            path = osp.join(work_dir, 'result.json')
            if osp.isfile(path):
                results.append(read_json(path))
                continue
            if self.budget_spent_for(method, job, results):
                break
            cfg = downstream_config(job, ckpt, seed)
            derived = osp.join(work_dir, 'finetune_config.py')
            if not self.dry_run:
                os.makedirs(work_dir, exist_ok=True)
                cfg.dump(derived)
            print(f'[{method}] {job["name"]} seed {seed}', flush=True)
            start, cpu0 = time.time(), cpu_minutes()
            log = osp.join(work_dir, 'run.log')
            run([PYTHON, 'tools/train.py', derived, '--work-dir', work_dir,
                 '--resume'], log, self.dry_run)
            best = None if self.dry_run else best_checkpoint(work_dir)
            metrics_file = osp.join(work_dir, 'test_metrics.json')
            run([PYTHON, 'tools/test.py', derived, str(best), '--work-dir',
                 osp.join(work_dir, 'test'), '--out', metrics_file], log,
                self.dry_run)
            if self.dry_run:
                continue
            res = dict(method=method, seed=seed, checkpoint=ckpt,
                       evaluated=best, test=read_json(metrics_file),
                       label_fraction=job.get('label_fraction', 1.0),
                       wall_minutes=(time.time() - start) / 60,
                       cpu_minutes=cpu_minutes() - cpu0)
            write_json(path, res)
            results.append(res)
        return results


def downstream_config(job: dict, ckpt, seed: int) -> Config:
    """The downstream config for one run: the pretrained backbone (or its
    random init), the seed and the label fraction."""
    cfg = Config.fromfile(job['config'])
    options = dict(job.get('cfg_options', {}))
    options['randomness.seed'] = seed
    fraction = job.get('label_fraction', 1.0)
    if fraction < 1.0:
        options['train_dataloader.dataset.label_fraction'] = fraction
        options['train_dataloader.dataset.fraction_seed'] = seed
    cfg.merge_from_dict(options)
    if ckpt is not None:
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=ckpt,
            prefix=job.get('prefix', 'backbone.'))
    else:
        cfg.model.backbone.pop('init_cfg', None)
    return cfg


def probe_classifier(cfg: Config, seeds, label_fraction: float,
                     work_dir: str, cache_dir=None, splits=None) -> list:
    """Linear probe of ``cfg``'s classifier backbone as initialised by
    ``init_weights`` (its ``init_cfg`` checkpoint, or random init with the
    config's seed): features of the train/val/test splits of
    ``test_dataloader`` extracted once, then one logistic regression per
    seed on ``label_fraction`` of the train groups (drawn with the seed),
    weight decay chosen on val balanced accuracy, test metrics. With
    ``cache_dir`` the features are kept there (per network seed) for the
    next probe of the same backbone. ``splits`` maps 'train'/'val'/'test'
    to the dataset's split names (default: the same names)."""
    splits = dict(dict(train='train', val='val', test='test'),
                  **(splits or {}))
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner as MMRunner

    from mmmedssl.apis import build_runner, sanitize_dataloaders
    from mmmedssl.evaluation import (classification_metrics,
                                     extract_features, fit_linear_probe,
                                     label_fraction_indices)
    from mmmedssl.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    sanitize_dataloaders(cfg)
    # Keyed by what the features depend on: backbone (and its init), data.
    key = hashlib.sha1(
        json.dumps([cfg.model.backbone, cfg.model.get('neck'),
                    cfg.test_dataloader, cfg.randomness.seed, splits],
                   sort_keys=True, default=str).encode()).hexdigest()[:12]
    cache = None if cache_dir is None else osp.join(
        cache_dir, f'features_{key}.pt')
    if cache_dir is not None:
        os.makedirs(cache_dir, exist_ok=True)
    if cache is not None and osp.isfile(cache):
        feats, groups = torch.load(cache, weights_only=True).values()
    else:
        runner = build_runner(cfg)
        model = runner.model
        model.init_weights()
        feats, groups = {}, {}
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope') or 'mmmedssl'):
            for split in ('train', 'val', 'test'):
                loader_cfg = copy.deepcopy(cfg.test_dataloader)
                loader_cfg['dataset']['split'] = splits[split]
                loader = MMRunner.build_dataloader(loader_cfg)
                feats[split] = extract_features(model, loader,
                                                multi_label=False)
                dataset = loader.dataset
                groups[split] = [
                    str(dataset.get_data_info(i).get('group_id'))
                    for i in range(len(dataset))
                ]
        if cache is not None:
            tmp = cache + '.tmp'
            torch.save(dict(feats=feats, groups=groups), tmp)
            os.replace(tmp, cache)
    num_classes = cfg.model.head.num_classes
    results = []
    for seed in seeds:
        train_x, train_y = feats['train']
        keep = label_fraction_indices(train_y.tolist(), groups['train'],
                                      label_fraction, seed)
        probe = fit_linear_probe(train_x[keep], train_y[keep],
                                 *feats['val'], num_classes)
        test_x, test_y = feats['test']
        results.append(dict(
            test=classification_metrics(probe.predict_proba(test_x), test_y,
                                        num_classes),
            weight_decay=probe.weight_decay, train_size=len(keep),
            label_fraction=label_fraction))
    return results


def best_checkpoint(work_dir: str) -> str:
    """The ``best_*.pth`` the checkpoint hook kept (else the last one)."""
    best = sorted(f for f in os.listdir(work_dir)
                  if f.startswith('best_') and f.endswith('.pth'))
    if best:
        return osp.join(work_dir, best[-1])
    last = find_resume_checkpoint(work_dir)
    if last is None:
        raise RuntimeError(f'{work_dir}: no checkpoint after fine-tuning.')
    return last


# ------------------------------------------------------------------ table

def metric_values(results: list, job: dict) -> dict:
    """metric -> values over the runs (NaN-free)."""
    values = {}
    for res in results:
        for key, value in res['test'].items():
            name = key.split('/')[-1]
            if isinstance(value, (int, float)) and math.isfinite(value):
                values.setdefault(name, []).append(float(value))
    return values


def mean_std(values: list) -> dict:
    return dict(mean=statistics.fmean(values),
                std=statistics.stdev(values) if len(values) > 1 else 0.,
                n=len(values), values=values)


def summarise(study: Study, table: dict) -> dict:
    summary = {}
    for method, per_job in table.items():
        summary[method] = {}
        for job_name, entry in per_job.items():
            if isinstance(entry, str):
                summary[method][job_name] = entry
                continue
            summary[method][job_name] = {
                k: mean_std(v) for k, v in metric_values(
                    entry, study.downstream[job_name]).items()}
    return summary


def markdown(study: Study, summary: dict) -> str:
    lines = [f'# {study.name}', '',
             f'Mean ± std over downstream seeds {study.seeds} (n = runs; a '
             'single value: the same result for every seed).', '']
    for job_name, job in study.downstream.items():
        metrics = job.get('metrics', ['balanced_acc', 'macro_auc'])
        lines += [f"## {job.get('label', job_name)}", '',
                  '| method | ' + ' | '.join(metrics) + ' | n |',
                  '|---' * (len(metrics) + 2) + '|']
        for method, per_job in summary.items():
            label = study.methods[method].get('label', method)
            entry = per_job.get(job_name)
            if entry is None or isinstance(entry, str):
                lines.append(f'| {label} | ' + ' | '.join(
                    [entry or 'not run'] * len(metrics)) + ' | 0 |')
                continue
            cells, n = [], 0
            for metric in metrics:
                if metric in entry:
                    stat = entry[metric]
                    if len(set(stat['values'])) == 1:
                        # e.g. a pretrained backbone's probe on all labels
                        cells.append(f"{stat['mean']:.2f}")
                    else:
                        cells.append(
                            f"{stat['mean']:.2f} ± {stat['std']:.2f}")
                    n = stat['n']
                else:
                    cells.append('—')
            lines.append(f'| {label} | ' + ' | '.join(cells) + f' | {n} |')
        lines.append('')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    study = Study(args.study, args)
    if not args.dry_run:
        os.makedirs(study.work_dir, exist_ok=True)
    runner = Runner(study, args.dry_run)
    table, pretraining = {}, {}
    for method, spec in study.methods.items():
        table[method] = {}
        try:
            ckpt, records = runner.pretrain(method, spec)
        except BudgetSpent:
            table[method] = {j: 'budget spent' for j in study.downstream}
            continue
        pretraining[method] = records
        for job_name, job in study.downstream.items():
            try:
                fn = runner.linear_probe if job['type'] == 'linear_probe' \
                    else runner.finetune
                table[method][job_name] = fn(method, ckpt, job)
            except BudgetSpent:
                table[method][job_name] = 'budget spent'
    if args.dry_run:
        return
    summary = summarise(study, table)
    text = markdown(study, summary)
    if runner.skipped:
        text += ('\nCut short by the CPU budget (fewer seeds than asked): '
                 + ', '.join(runner.skipped) + '\n')
    write_json(osp.join(study.work_dir, 'results.json'),
               dict(study=study.path, name=study.name, seeds=study.seeds,
                    pretraining=pretraining, summary=summary,
                    runs=table, cpu_minutes=runner.spent(),
                    cut_short_by_budget=runner.skipped))
    with open(osp.join(study.work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    print(text)
    print(f'Study CPU minutes: {runner.spent():.1f}; results in '
          f'{study.work_dir}/results.{{md,json}}')


if __name__ == '__main__':
    main()
