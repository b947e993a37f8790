# Copyright (c) mmmedssl contributors. All rights reserved.
"""What the benchmark tools (``tools/benchmarks``) share: memory readings,
timers, configs and their training data, synthetic inputs, and the
machine description and tables of a report.

Heavy imports (torch, OpenCV, mmcv) happen inside the functions that need
them, so that a driver process which only starts children stays light.
"""
import copy
import json
import os
import os.path as osp
import platform
import random
import resource
import time
from typing import Callable, Iterable, Optional, Sequence, Tuple

import numpy as np

# ----------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------


def current_rss_mb() -> float:
    """The resident set size of this process now, in MiB."""
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so that the peak
    read later is the peak since now, not since the process started.
    Returns whether it could."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_rss_mb(reset_ok: bool) -> float:
    """The peak resident set size in MiB: since :func:`reset_peak_rss` when
    it succeeded (``reset_ok``), else since the process started."""
    if reset_ok:
        try:
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------


def timed(fn: Callable,
          sync: Optional[Callable] = None) -> Tuple[float, object]:
    """``(seconds, fn())``; ``sync`` (e.g. ``torch.cuda.synchronize``) runs
    before and after, so that queued device work is counted where it
    belongs."""
    if sync is not None:
        sync()
    start = time.perf_counter()
    out = fn()
    if sync is not None:
        sync()
    return time.perf_counter() - start, out


def take_turns(items: Sequence, turn: int) -> list:
    """``items`` in order on even turns and reversed on odd ones: cases
    measured in turns share the machine's drifts (cache, frequency, other
    jobs) instead of one always going first."""
    return list(items) if turn % 2 == 0 else list(items)[::-1]


def seed_everything(seed: int) -> None:
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(threads: int) -> None:
    """Torch and OpenCV threads, e.g. 1 as in a dataloader worker."""
    import cv2
    import torch
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


# ----------------------------------------------------------------------
# Configs and their training data
# ----------------------------------------------------------------------


def load_config(path: str, cfg_options: Optional[dict] = None):
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def iter_transforms(pipeline):
    """Every transform dict of a pipeline, wrappers' inner ones included."""
    for step in pipeline or []:
        if not isinstance(step, dict):
            continue
        yield step
        for key in ('transforms', 'pipeline'):
            inner = step.get(key)
            if isinstance(inner, (list, tuple)):
                for item in inner:
                    if isinstance(item, (list, tuple)):
                        yield from iter_transforms(item)
                    elif isinstance(item, dict):
                        yield from iter_transforms([item])


def spatial_dims_of(pipeline) -> int:
    """3 when the pipeline packs volumes (``PackMedInputs(spatial_dims=3)``),
    else 2."""
    for step in iter_transforms(pipeline):
        if step.get('type') == 'PackMedInputs' and step.get(
                'spatial_dims', 2) == 3:
            return 3
    return 2


def is_loading(step: dict) -> bool:
    """Whether a transform reads files (its type starts with ``Load``)."""
    t = step.get('type')
    name = t if isinstance(t, str) else getattr(t, '__name__', '')
    return name.split('.')[-1].startswith('Load')


def training_data(cfg, synthetic: bool = True):
    """``(dataset, None)`` when the config's training set can be built,
    else ``(None, why)``; with ``synthetic=False`` a missing set is an
    error."""
    from mmmedssl.registry import DATASETS
    try:
        dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
        why = None if len(dataset) else 'empty training set'
    except Exception as exc:  # noqa: BLE001 - any failure means "not found"
        dataset, why = None, f'{type(exc).__name__}: {exc}'.splitlines()[0]
    if why is None:
        return dataset, None
    if not synthetic:
        raise SystemExit(f'The training set of {cfg.filename} was not '
                         f'found ({why}) and --no-synthetic was given.')
    return None, why


def first_view(inputs):
    """The first input tensor of a batch or sample (multi-view or not)."""
    return inputs[0] if isinstance(inputs, (list, tuple)) else inputs


# ----------------------------------------------------------------------
# Synthetic inputs
# ----------------------------------------------------------------------


def synthetic_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random colour image (uint8 BGR, ``size x size``):
    low-frequency noise upsampled, plus a little grain, closer to a photo
    than white noise (JPEG sizes and decode times are realistic)."""
    import cv2
    low = rng.integers(0, 256, (8, 8, 3)).astype(np.float32)
    img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def synthetic_volume(rng: np.random.Generator,
                     shape: Sequence[int]) -> np.ndarray:
    """A float32 ``(2, *shape)`` volume in [0, 1): a crop pair."""
    return rng.random((2, *shape), dtype=np.float32)


# ----------------------------------------------------------------------
# Reports
# ----------------------------------------------------------------------


def package_version(*dists: str) -> Optional[str]:
    """The installed version of the first of ``dists`` found."""
    from importlib import metadata
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return None


def machine_info() -> dict:
    """Where a measurement was taken, for the JSON of a report."""
    return dict(
        platform=platform.platform(),
        processor=platform.processor(),
        machine=platform.machine(),
        python=platform.python_version(),
        torch=package_version('torch'),
        opencv=package_version('opencv-python', 'opencv-python-headless'),
        cpu_count=os.cpu_count())


def cell(result: dict, key: str, fmt: str = '{:.1f}',
         scale: float = 1.) -> str:
    """``result[key]`` formatted for a table, else why it is missing
    (``result['skipped']``, or ``'error'``)."""
    if key in result:
        return fmt.format(result[key] * scale)
    return result.get('skipped', 'error')


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def write_json(path: str, obj) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)
