# Copyright (c) mmmedssl contributors. All rights reserved.
"""What each rule for the linear probe's weight decay would have kept, from
probe results that hold every candidate's val and test metrics.

    python tools/analysis_tools/probe_rules.py RESULT.json [RESULT.json ...] \\
        [--rules loss macro_auc balanced_acc] [--metric macro_auc] \\
        [--out F.json]

A RESULT is a linear-probe result as ``run_benchmark.py`` writes them
(``<work_dir>/<method>/linear/seed<N>.json``) or ``linear_probe.py --out``
writes one (its random-init and pretrained entries, one row each). For
every result and rule: the weight decay the rule picks on val (``select_weight_decay``, the
probe's own code, ties to the stronger decay), its test ``--metric`` and
what that gives up against the best candidate of the grid; then each
rule's sum and worst over the results. Nothing is refitted.
"""
import argparse
import sys

from mmmedssl.downstream import (SELECTION_RULES, compare_selection_rules,
                                 format_table, read_json, write_json)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('results', nargs='+', help='probe result JSON files')
    parser.add_argument('--rules', nargs='+',
                        default=['loss', 'macro_auc', 'balanced_acc'],
                        choices=sorted(SELECTION_RULES),
                        help='val metrics to pick the weight decay by')
    parser.add_argument('--metric', default='macro_auc',
                        help='test metric the rules are judged on')
    parser.add_argument('--out', help='write the comparison as JSON')
    return parser.parse_args(argv)


def probe_results(path: str) -> list:
    """``(label, result)`` of each probe result in ``path``: the file itself
    (run_benchmark.py) or its ``random_init`` and ``pretrained`` entries
    (linear_probe.py --out)."""
    data = read_json(path)
    if 'val_grid' in data:
        return [(path, data)]
    found = [(f'{path}:{key}', data[key])
             for key in ('random_init', 'pretrained')
             if isinstance(data.get(key), dict) and 'val_grid' in data[key]]
    if not found:
        sys.exit(f'{path}: no val_grid/test_grid; expected a linear probe '
                 'result of run_benchmark.py or linear_probe.py --out.')
    return found


def main(argv=None):
    args = parse_args(argv)
    per_result = {}
    for path in args.results:
        for label, result in probe_results(path):
            try:
                per_result[label] = compare_selection_rules(
                    result, args.rules, args.metric)
            except (KeyError, ValueError) as err:
                sys.exit(f'{label}: {err}')
    summary = {
        rule: dict(given_up_sum=sum(r[rule]['given_up']
                                    for r in per_result.values()),
                   given_up_worst=max(r[rule]['given_up']
                                      for r in per_result.values()))
        for rule in args.rules
    }
    rows = [(label, {rule: f"{r[rule]['test']:.2f} (wd "
                           f"{r[rule]['weight_decay']:g})"
                     for rule in args.rules})
            for label, r in per_result.items()]
    rows.append((f'{args.metric} given up: sum / worst', {
        rule: f"{summary[rule]['given_up_sum']:.2f} / "
        f"{summary[rule]['given_up_worst']:.2f}"
        for rule in args.rules
    }))
    columns = [(rule, f'by val {rule}', '{}') for rule in args.rules]
    print(format_table(rows, columns, first_header='result'))
    if args.out:
        write_json(args.out, dict(metric=args.metric, results=per_result,
                                  summary=summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
