# Copyright (c) mmmedssl contributors. All rights reserved.
"""Reading mmengine's ``vis_data/scalars.json`` (one JSON object a line),
for the curves tool and the publishing receipt."""
import json
from typing import Iterator, Tuple


def iter_scalars(path: str) -> Iterator[Tuple[int, dict]]:
    """``(line number, record)`` of each non-blank line of ``path``.

    Raises:
        ValueError: naming the file and line of a line that is not a JSON
            object.
    """
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(
                    f'{path}, line {lineno}: not valid JSON ({e.msg}); '
                    'mmengine writes one JSON object per line.') from None
            if not isinstance(record, dict):
                raise ValueError(
                    f'{path}, line {lineno}: expected a JSON object, got '
                    f'{type(record).__name__}.')
            yield lineno, record
