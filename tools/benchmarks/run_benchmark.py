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
- ``finetune`` and ``segmentation``: ``tools/train.py`` on the downstream
  (classification or segmentation) config with the checkpoint as
  ``model.backbone.init_cfg``, the label fraction drawn per group with the
  seed, then ``tools/test.py`` on the best-on-val checkpoint.

The work is done by ``mmmedssl.downstream.study``; this script is its
command line.

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
import sys

import mmmedssl  # noqa: F401

from mmmedssl.downstream import Study, StudyRunner
from mmmedssl.utils.signals import exit_on_sigterm


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


def main(argv=None):
    args = parse_args(argv)
    try:
        study = Study(args.study, methods=args.methods,
                      downstream=args.downstream, seeds=args.seeds,
                      work_dir=args.work_dir,
                      stage_minutes=args.stage_minutes,
                      budget_minutes=args.budget_minutes)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    runner = StudyRunner(study, args.dry_run)
    exit_on_sigterm()  # kill PID stops the running job as well
    results = runner.run()
    if results is None:
        return 0
    print(results['markdown'])
    print(f'Study CPU minutes: {runner.spent():.1f}; results in '
          f'{study.work_dir}/results.{{md,json}}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
