# Copyright (c) mmmedssl contributors. All rights reserved.
"""A study: pretrain each method (one or more stages), evaluate each
downstream (linear probe, fine-tuning, segmentation) over seeds, and
summarise (``tools/benchmarks/run_benchmark.py``).

Every finished piece leaves a JSON file in the work dir and is skipped when
the study runs again, so an interrupted study resumes where it stopped (an
interrupted pretraining stage resumes from its last checkpoint).
"""
import copy
import hashlib
import json
import math
import os
import os.path as osp
import re
import resource
import statistics
import time
from typing import List, Optional, Sequence

import torch
from mmengine.config import Config

from mmmedssl.engine import find_resume_checkpoint
from .evaluation_model import build_eval_model
from .features import Features
from .finetune import downstream_config, train_and_test
from .launch import run_tool
from .linear_probe import (LabelledSplit, build_split_loaders,
                           extract_split_features, load_labelled_split,
                           probe_train_indices, run_probe)
from .tables import read_json, write_json

DOWNSTREAM_TYPES = ('linear_probe', 'finetune', 'segmentation')


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
    """A study config, checked: ``name``, ``methods`` (name -> stages, each
    a ``name`` and a pretraining ``config``), ``downstream`` (jobs of
    :data:`DOWNSTREAM_TYPES`), optional ``seeds``, ``work_dir`` and
    ``stage_minutes``. Raises ValueError naming the file and the key."""

    def __init__(self, path: str, methods: Optional[Sequence[str]] = None,
                 downstream: Optional[Sequence[str]] = None,
                 seeds: Optional[Sequence[int]] = None,
                 work_dir: Optional[str] = None,
                 stage_minutes: Optional[float] = None,
                 budget_minutes: Optional[float] = None) -> None:
        if not osp.isfile(path):
            raise ValueError(f'Study {path} does not exist.')
        self.path = path
        cfg = Config.fromfile(path)
        for key in ('name', 'methods', 'downstream'):
            if key not in cfg:
                raise ValueError(f'{path}: missing key {key!r} (a study '
                                 'needs name, methods and downstream).')
        self.name = cfg.name
        self.work_dir = work_dir or cfg.get(
            'work_dir', osp.join('work_dirs', 'studies',
                                 osp.splitext(osp.basename(path))[0]))
        self.seeds = list(seeds if seeds is not None else
                          cfg.get('seeds', [0, 1, 2]))
        self.stage_minutes = stage_minutes if stage_minutes is not None \
            else cfg.get('stage_minutes')
        self.budget_minutes = budget_minutes
        self.methods = self._select(cfg.methods, methods, 'method')
        self.downstream = self._select(
            {d['name']: d for d in cfg.downstream}, downstream, 'downstream')
        for name, method in self.methods.items():
            for stage in method.get('stages', []):
                for key in ('name', 'config'):
                    if key not in stage:
                        raise ValueError(f'{path}: a stage of method '
                                         f'{name!r} has no {key!r}.')
                if not osp.isfile(stage['config']):
                    raise ValueError(f'{path}: method {name!r}, stage '
                                     f"{stage['name']!r}: config "
                                     f"{stage['config']} does not exist.")
        for name, job in self.downstream.items():
            if job.get('type') not in DOWNSTREAM_TYPES:
                raise ValueError(
                    f"{path}: downstream {name!r} has type "
                    f"{job.get('type')!r}; expected one of "
                    f'{", ".join(map(repr, DOWNSTREAM_TYPES))}.')
            if not osp.isfile(job.get('config', '')):
                raise ValueError(f"{path}: downstream {name!r}: config "
                                 f"{job.get('config')} does not exist.")

    def _select(self, available: dict, wanted, what: str) -> dict:
        if not wanted:
            return dict(available)
        unknown = [w for w in wanted if w not in available]
        if unknown:
            raise ValueError(f'{self.path}: unknown {what}(s) {unknown}; the '
                             f'study has {list(available)}.')
        return {w: available[w] for w in wanted}


def expand_stage_refs(value, stage_ckpts: dict):
    """``'{stage:NAME}'`` in a cfg option -> that stage's final checkpoint."""
    if not isinstance(value, str):
        return value

    def repl(match):
        name = match.group(1)
        if name not in stage_ckpts:
            raise ValueError(f'{{stage:{name}}}: no earlier stage named '
                             f'{name!r} (have {list(stage_ckpts)}).')
        return stage_ckpts[name]

    return re.sub(r'\{stage:([^}]+)\}', repl, value)


class StudyRunner:
    """Runs the jobs of a :class:`Study`, within its CPU budget."""

    def __init__(self, study: Study, dry_run: bool = False) -> None:
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

    def _budget_spent_for(self, method, job, results) -> bool:
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

    # ------------------------------------------------------------ all
    def run(self) -> Optional[dict]:
        """Every method and downstream job; the results (None on a dry
        run), also written to ``results.json`` / ``results.md``."""
        study = self.study
        if not self.dry_run:
            os.makedirs(study.work_dir, exist_ok=True)
        table, pretraining = {}, {}
        for method, spec in study.methods.items():
            table[method] = {}
            try:
                ckpt, records = self.pretrain(method, spec)
            except BudgetSpent:
                table[method] = {j: 'budget spent' for j in study.downstream}
                continue
            pretraining[method] = records
            for job_name, job in study.downstream.items():
                fn = self.linear_probe if job['type'] == 'linear_probe' \
                    else self.finetune
                try:
                    table[method][job_name] = fn(method, ckpt, job)
                except BudgetSpent:
                    table[method][job_name] = 'budget spent'
        if self.dry_run:
            return None
        summary = summarise(table)
        text = study_markdown(study, summary)
        if self.skipped:
            text += ('\nCut short by the CPU budget (fewer seeds than asked): '
                     + ', '.join(self.skipped) + '\n')
        write_json(osp.join(study.work_dir, 'results.json'),
                   dict(study=study.path, name=study.name, seeds=study.seeds,
                        pretraining=pretraining, summary=summary,
                        runs=table, cpu_minutes=self.spent(),
                        cut_short_by_budget=self.skipped), sort_keys=True)
        with open(osp.join(study.work_dir, 'results.md'), 'w') as f:
            f.write(text + '\n')
        return dict(summary=summary, markdown=text)

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
                    write_json(done_file, record, sort_keys=True)
            stage_ckpts[stage['name']] = record['checkpoint']
            records.append(record)
        return (records[-1]['checkpoint'] if records else None), records

    def _train_stage(self, method, stage, work_dir, stage_ckpts) -> dict:
        cfg = Config.fromfile(stage['config'])
        options = {k: expand_stage_refs(v, stage_ckpts)
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
        run_tool('train.py', [derived, '--work-dir', work_dir, '--resume'],
                 osp.join(work_dir, 'train.log'), self.dry_run)
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
            if self._budget_spent_for(method, job, results):
                break
            print(f'[{method}] {job["name"]}: seeds {[s for s, _ in todo]}',
                  flush=True)
            if self.dry_run:
                continue
            os.makedirs(out_dir, exist_ok=True)
            cfg = downstream_config(
                job['config'], ckpt,
                seed=net_seed if net_seed is not None else self.study.seeds[0],
                cfg_options=job.get('cfg_options'),
                prefix=job.get('prefix', 'backbone.'))
            runs = probe_backbone_over_seeds(
                cfg, [s for s, _ in todo],
                label_fraction=job.get('label_fraction', 1.0),
                work_dir=osp.join(out_dir, 'runner'),
                cache_dir=osp.join(self.study.work_dir, method,
                                   'probe_features'),
                splits=job.get('splits'))
            for (seed, path), res in zip(todo, runs):
                res.update(method=method, seed=seed, checkpoint=ckpt)
                write_json(path, res, sort_keys=True)
                results.append(res)
        return results

    def finetune(self, method, ckpt, job) -> list:
        """Fine-tuning or segmentation: one training run per seed."""
        results = []
        for seed in self.study.seeds:
            work_dir = osp.join(self.study.work_dir, method, job['name'],
                                f'seed{seed}')
            path = osp.join(work_dir, 'result.json')
            if osp.isfile(path):
                results.append(read_json(path))
                continue
            if self._budget_spent_for(method, job, results):
                break
            fraction = job.get('label_fraction', 1.0)
            cfg = downstream_config(job['config'], ckpt, seed, fraction,
                                    job.get('cfg_options'),
                                    job.get('prefix', 'backbone.'))
            print(f'[{method}] {job["name"]} seed {seed}', flush=True)
            start, cpu0 = time.time(), cpu_minutes()
            run = train_and_test(cfg, work_dir, self.dry_run)
            if run is None:
                continue
            res = dict(method=method, seed=seed, checkpoint=ckpt,
                       label_fraction=fraction,
                       wall_minutes=(time.time() - start) / 60,
                       cpu_minutes=cpu_minutes() - cpu0, **run)
            write_json(path, res, sort_keys=True)
            results.append(res)
        return results


def probe_backbone_over_seeds(cfg: Config, seeds, label_fraction: float,
                              work_dir: str, cache_dir=None,
                              splits=None) -> List[dict]:
    """Linear probe of ``cfg``'s classifier backbone as ``init_weights``
    leaves it (its ``init_cfg`` checkpoint, or random init with the
    config's seed): features of the train/val/test splits of
    ``test_dataloader`` extracted once, then one probe per seed on
    ``label_fraction`` of the train groups (drawn with the seed). With
    ``cache_dir`` the features are kept there for the next probe of the
    same backbone. ``splits`` maps 'train'/'val'/'test' to the dataset's
    split names (default: the same names)."""
    splits = dict(dict(train='train', val='val', test='test'),
                  **(splits or {}))
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    from mmmedssl.apis import sanitize_dataloaders
    from mmmedssl.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    sanitize_dataloaders(cfg)
    # Keyed by what the features depend on: backbone (and its init), data.
    key = hashlib.sha1(
        json.dumps([cfg.model.backbone, cfg.model.get('neck'),
                    cfg.test_dataloader, cfg.randomness.seed, splits],
                   sort_keys=True, default=str).encode()).hexdigest()[:12]
    cache = None if cache_dir is None else osp.join(
        cache_dir, f'features_{key}.pt')
    num_classes = cfg.model.head.num_classes
    if cache is not None and osp.isfile(cache):
        stored = torch.load(cache, weights_only=True)
        feats = {name: Features(x, y, [])
                 for name, (x, y) in stored['feats'].items()}
        train_groups = stored['groups']['train']
    else:
        parts = {name: load_labelled_split(cfg, split)
                 for name, split in splits.items()}
        loaders = build_split_loaders(cfg, parts)
        model = build_eval_model(cfg, None, work_dir)
        feats = extract_split_features(model, loaders, False, num_classes)
        groups = {name: None if part.groups is None else
                  [str(g) for g in part.groups]
                  for name, part in parts.items()}
        train_groups = groups['train']
        if cache is not None:
            os.makedirs(cache_dir, exist_ok=True)
            tmp = cache + '.tmp'
            torch.save(dict(feats={n: (f.feats, f.labels)
                                   for n, f in feats.items()},
                            groups=groups), tmp)
            os.replace(tmp, cache)
    results = []
    for seed in seeds:
        train = LabelledSplit(splits['train'], None,
                              feats['train'].labels.tolist(), train_groups)
        keep, _ = probe_train_indices(train, label_fraction, seed)
        res = run_probe(feats, num_classes, train_indices=keep)
        results.append(dict(test=res['test'],
                            weight_decay=res['weight_decay'],
                            train_size=res['train_size'],
                            label_fraction=label_fraction,
                            val=res['val'],
                            val_grid=res['val_grid'],
                            test_grid=res['test_grid']))
    return results


# ------------------------------------------------------------------ table
def _metric_values(results: list) -> dict:
    """metric -> values over the runs (NaN-free; ``cls/top1`` -> ``top1``)."""
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


def summarise(table: dict) -> dict:
    """method -> job -> metric -> :func:`mean_std` (or the job's status
    string, such as 'budget spent')."""
    summary = {}
    for method, per_job in table.items():
        summary[method] = {}
        for job_name, entry in per_job.items():
            if isinstance(entry, str):
                summary[method][job_name] = entry
                continue
            summary[method][job_name] = {
                k: mean_std(v) for k, v in _metric_values(entry).items()}
    return summary


def study_markdown(study: Study, summary: dict) -> str:
    """One Markdown table per downstream job: mean ± std over the seeds."""
    lines = [f'# {study.name}', '',
             f'Mean ± std over downstream seeds {study.seeds} (n = runs; a '
             'single value: the same result for every seed).', '']
    for job_name, job in study.downstream.items():
        default = ['dice', 'jaccard'] if job['type'] == 'segmentation' \
            else ['balanced_acc', 'macro_auc']
        metrics = job.get('metrics', default)
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
                    n = max(n, stat['n'])  # runs; a NaN drops a value
                else:
                    cells.append('—')
            lines.append(f'| {label} | ' + ' | '.join(cells) + f' | {n} |')
        lines.append('')
    return '\n'.join(lines)
