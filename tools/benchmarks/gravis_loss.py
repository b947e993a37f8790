# Copyright (c) mmmedssl contributors. All rights reserved.
"""Time and peak memory of the GraVIS loss (forward + backward): mmmedssl's
``GraVISLoss`` beside the naive O(N^3) form of the released code.

    python tools/benchmarks/gravis_loss.py [--out gravis_loss.json]

Each (implementation, sources x views) case runs in its own process: peak
memory is the process's peak resident set size during the calls minus its
size just before the first call (embeddings already allocated), and the
time is the best of
``--repeats`` calls after that. Both implementations run in the same
invocation, alternating, so the ratios compare like with like. Cases whose
naive form would not fit in memory are reported as skipped with the
estimate.
"""
import argparse
import json
import os
import subprocess
import sys

import torch

from mmmedssl.utils.benchmarking import (cell, current_rss_mb, machine_info,
                                         markdown_table, peak_rss_mb,
                                         reset_peak_rss, timed, write_json)

CASES = [(16, 2), (16, 4), (16, 8), (16, 20), (32, 20), (64, 20)]
FEAT_DIM = 128
TEMPERATURE = 0.2


def naive_released_loss(preds: torch.Tensor, num_sources: int) -> torch.Tensor:
    """The released loss's arithmetic, with its N x N x N tensors: every
    (query, i, j) sigmoid over the whole batch, then every (source, query, i,
    j) within a source, image-major layout."""
    n, dim = preds.shape
    views = n // num_sources

    def sig(x):
        return 1.0 / (1.0 + torch.exp(torch.clamp(-x / TEMPERATURE, -50, 50)))

    mask = (1.0 - torch.eye(n)).unsqueeze(0).repeat(n, 1, 1)
    sim = preds @ preds.t()
    rep = sim.unsqueeze(1).repeat(1, n, 1)
    rank_all = (sig(rep - rep.permute(0, 2, 1)) * mask).sum(-1) + 1
    grouped = preds.view(num_sources, views, dim)
    pos_mask = (1.0 - torch.eye(views))[None, None].repeat(
        num_sources, views, 1, 1)
    sim_pos = torch.bmm(grouped, grouped.permute(0, 2, 1))
    rep_pos = sim_pos.unsqueeze(2).repeat(1, 1, views, 1)
    rank_pos = (sig(rep_pos - rep_pos.permute(0, 1, 3, 2)) *
                pos_mask).sum(-1) + 1
    ap = preds.new_zeros(())
    for s in range(num_sources):
        block = slice(s * views, (s + 1) * views)
        ap = ap + (rank_pos[s] / rank_all[block, block]).sum() / views / n
    return 1 - ap


def naive_bytes(n: int) -> float:
    # mask, repeated sims, permuted difference, sigmoid output and the
    # masked product, plus autograd's saved copies: about 6 N^3 floats.
    return 6 * 4.0 * n**3


def run_case(impl: str, sources: int, views: int, repeats: int) -> dict:
    torch.manual_seed(0)
    if os.environ.get('BENCH_THREADS'):
        torch.set_num_threads(int(os.environ['BENCH_THREADS']))
    n = sources * views
    emb = torch.randn(n, FEAT_DIM)
    groups = torch.arange(sources).repeat_interleave(views)
    if impl == 'ours':
        from mmmedssl.models.losses import GraVISLoss
        loss_fn = GraVISLoss(temperature=TEMPERATURE)

        def step(e):
            return loss_fn(e, groups)
    else:
        def step(e):
            return naive_released_loss(e, sources)

    def forward_backward(e):
        loss = step(e)
        loss.backward()
        return loss

    base = current_rss_mb()
    reset_ok = reset_peak_rss()
    times = []
    for _ in range(repeats + 1):
        e = emb.clone().requires_grad_()
        seconds, loss = timed(lambda: forward_backward(e))
        times.append(seconds)
        value = float(loss)
    peak = peak_rss_mb(reset_ok)
    return dict(time_s=min(times[1:]), peak_mb=peak - base, loss=value)


def measure(impl, sources, views, repeats):
    out = subprocess.run(
        [sys.executable, __file__, '--child', impl, str(sources), str(views),
         str(repeats)],
        capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return dict(error=out.stderr.strip().splitlines()[-1:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='gravis_loss.json')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--max-naive-gb', type=float, default=8.0,
                        help='skip naive cases estimated above this')
    parser.add_argument('--cases', nargs='+', metavar='SxV',
                        help='sources x views cases, e.g. 16x20 (default: '
                        + ' '.join(f'{s}x{v}' for s, v in CASES) + ')')
    parser.add_argument('--child', nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        impl, sources, views, repeats = args.child
        print(json.dumps(run_case(impl, int(sources), int(views),
                                  int(repeats))))
        return 0

    cases = CASES
    if args.cases:
        try:
            cases = [tuple(int(x) for x in c.lower().split('x'))
                     for c in args.cases]
            assert all(len(c) == 2 and min(c) >= 1 for c in cases)
        except (ValueError, AssertionError):
            parser.error(f'--cases: expected SOURCESxVIEWS such as 16x20, '
                         f'got {args.cases}')
    rows = []
    for sources, views in cases:
        n = sources * views
        row = dict(sources=sources, views=views, n=n)
        run_naive = naive_bytes(n) / 2**30 <= args.max_naive_gb
        for impl in ('ours', 'naive'):
            if impl == 'naive' and not run_naive:
                row[impl] = dict(skipped=f'needs ~{naive_bytes(n) / 2**30:.0f}'
                                 ' GiB')
                continue
            row[impl] = measure(impl, sources, views, args.repeats)
        ours, naive = row['ours'], row['naive']
        if 'time_s' in ours and 'time_s' in naive:
            row['speedup'] = naive['time_s'] / ours['time_s']
            row['memory_ratio'] = naive['peak_mb'] / max(ours['peak_mb'], 1)
            row['loss_abs_diff'] = abs(naive['loss'] - ours['loss'])
        rows.append(row)

    print(markdown_table(
        ['sources x views', 'N', 'ours time (ms)', 'naive time (ms)',
         'speed-up', 'ours peak (MiB)', 'naive peak (MiB)'],
        [[f"{row['sources']} x {row['views']}", row['n'],
          cell(row['ours'], 'time_s', scale=1e3),
          cell(row['naive'], 'time_s', scale=1e3),
          f"{row.get('speedup', float('nan')):.1f}x",
          cell(row['ours'], 'peak_mb', '{:.0f}'),
          cell(row['naive'], 'peak_mb', '{:.0f}')] for row in rows]))
    meta = dict(machine_info(),
                cpu_threads=int(os.environ.get('BENCH_THREADS') or
                                torch.get_num_threads()),
                feat_dim=FEAT_DIM, repeats=args.repeats)
    write_json(args.out, dict(meta=meta, results=rows))
    print(f'\nwritten to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
