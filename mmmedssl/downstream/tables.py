# Copyright (c) mmmedssl contributors. All rights reserved.
"""Result tables and result files of the evaluation tools."""
import json
import math
import os
from typing import Iterable, List, Optional, Sequence, Tuple

Column = Tuple[str, str, str]  # (metric key, header, format)


def format_table(rows: Iterable[Tuple[str, dict]],
                 columns: Optional[Sequence[Column]] = None,
                 first_header: str = 'backbone') -> str:
    """A Markdown table of ``(label, metrics)`` rows.

    ``columns`` holds ``(key, header, format)`` triples; by default every
    metric, as a percentage with two decimals. A missing or non-finite value
    shows as ``n/a``.
    """
    rows = list(rows)
    if columns is None:
        names = sorted({k for _, metrics in rows for k in metrics})
        columns = [(n, f'{n} (%)', '{:.2f}') for n in names]
    header = [first_header] + [head for _, head, _ in columns]
    lines = [header] + [[label] + [_cell(metrics.get(key), fmt)
                                   for key, _, fmt in columns]
                        for label, metrics in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def fmt(line):
        return '| ' + ' | '.join(c.ljust(w) for c, w in zip(line, widths)) \
            + ' |'

    sep = '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    return '\n'.join([fmt(lines[0]), sep] + [fmt(line) for line in lines[1:]])


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float)
                         and not math.isfinite(value)):
        return 'n/a'
    return fmt.format(value)


def json_safe(obj):
    """NaN and infinities (an undefined AUC) as JSON null, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def read_json(path: str):
    with open(path) as f:
        return json.load(f)


def write_json(path: str, obj, sort_keys: bool = False) -> None:
    """Atomically (a crash never leaves a half-written result); NaN as
    null."""
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(json_safe(obj), f, indent=2, sort_keys=sort_keys)
    os.replace(tmp, path)


def markdown_rows(header: List[str], rows: Iterable[List[str]]) -> List[str]:
    """Lines of a plain Markdown table (no padding)."""
    lines = ['| ' + ' | '.join(header) + ' |',
             '|---' * len(header) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return lines
