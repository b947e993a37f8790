# Copyright (c) mmmedssl contributors. All rights reserved.
"""Publish a training checkpoint: weights only, named by their hash, with a
receipt that says where they came from.

:func:`publish_checkpoint` loads a checkpoint with the safe loader, keeps
``state_dict`` and ``meta`` (the optimizer, schedulers, message hub and RNG
state are training state: large, and of no use to someone who only loads
the weights), and writes ``OUT_DIR/<name>-<first 8 hex of sha256>.pth``.
The file is written to a temporary file in ``OUT_DIR``, hashed from disk and
then renamed, so the name always matches the bytes (``sha256sum`` checks
it).

Next to it, ``<name>-<hash>.json`` (the receipt) records what a reader needs
to trust and reproduce the weights; see :func:`build_receipt` for the
fields. Everything that cannot be found (no work dir, no git checkout, an
annotation file that is not on this machine) is recorded as ``null`` with a
``note`` saying why, never guessed.
"""
import datetime
import hashlib
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

import torch

from .checkpoint import _umask, atomic_write, safe_load
from .scalars import iter_scalars

# What publishing keeps of a checkpoint; everything else is training state.
KEPT_KEYS = ('state_dict', 'meta')
# mmengine names a run's folder (and the end of its experiment name) by the
# time the run started.
_SESSION = re.compile(r'\d{8}_\d{6}')
_TIME_FORMAT = '%Y%m%d_%H%M%S'
_LOG_TIME = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) - mmengine')
_NAME = re.compile(r'[\w.+-]+')
# Keys of a scalars.json record that are bookkeeping, not metrics.
_NOT_METRICS = {'data_time', 'time', 'step', 'epoch', 'iter', 'lr'}


def file_sha256(path: str) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def strip_training_state(checkpoint: dict,
                         filename: str = '<checkpoint>') -> Tuple[dict, list]:
    """``(published, dropped keys)``: ``state_dict`` and ``meta`` of an
    mmengine checkpoint. A bare state dict (tensors only, as exported
    backbones are) becomes ``{'state_dict': ...}``.

    Raises:
        ValueError: if ``checkpoint`` is neither, naming ``filename`` and
            the keys found.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{filename}: expected a checkpoint dict, got '
                         f'{type(checkpoint).__name__}.')
    if 'state_dict' not in checkpoint:
        if checkpoint and all(
                isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return dict(state_dict=checkpoint), []
        raise ValueError(
            f'{filename}: no `state_dict` key and not a bare state dict '
            f'(top-level keys: {sorted(map(str, checkpoint))[:10]}).')
    published = {k: checkpoint[k] for k in KEPT_KEYS if k in checkpoint}
    dropped = sorted(k for k in checkpoint if k not in KEPT_KEYS)
    return published, dropped


# ----------------------------------------------------------------------
# The run: work dir, sessions, logs, scalars
# ----------------------------------------------------------------------
def _session_of(meta: dict) -> Optional[str]:
    """The timestamp of the run that saved the checkpoint (the end of
    mmengine's ``experiment_name``)."""
    match = re.search(r'(\d{8}_\d{6})$', str(meta.get('experiment_name', '')))
    return match.group(1) if match else None


def find_work_dir(checkpoint_path: str) -> Optional[str]:
    """The checkpoint's folder when it holds mmengine run folders
    (``YYYYmmdd_HHMMSS/`` with a log or ``vis_data/scalars.json``)."""
    folder = osp.dirname(osp.abspath(checkpoint_path))
    return folder if run_sessions(folder) else None


def run_sessions(work_dir: str) -> List[str]:
    """The run folders of a work dir, oldest first."""
    if not osp.isdir(work_dir):
        return []
    return sorted(
        name for name in os.listdir(work_dir)
        if _SESSION.fullmatch(name) and (
            osp.isfile(osp.join(work_dir, name, f'{name}.log'))
            or osp.isfile(_scalars_path(work_dir, name))))


def _scalars_path(work_dir: str, session: str) -> str:
    return osp.join(work_dir, session, 'vis_data', 'scalars.json')


def read_scalars(path: str) -> List[dict]:
    """The records of a ``scalars.json``; a line that is not a JSON object
    raises naming the file and line."""
    return [record for _, record in iter_scalars(path)]


def _is_training_record(record: dict) -> bool:
    return 'lr' in record or 'loss' in record


def _val_metrics(record: dict) -> Dict[str, float]:
    return {k: v for k, v in record.items()
            if k not in _NOT_METRICS and not _is_training_record(record)}


def training_runs(work_dir: Optional[str], meta: dict) -> List[str]:
    """The run folders of ``work_dir`` up to the checkpoint's own run that
    trained (their ``scalars.json`` has training records); test runs in the
    same work dir are left out. The checkpoint's own run always counts."""
    own = _session_of(meta)
    runs = []
    for session in (run_sessions(work_dir) if work_dir else []):
        if own is not None and session > own:
            break
        path = _scalars_path(work_dir, session)
        if session == own or (osp.isfile(path) and any(
                map(_is_training_record, read_scalars(path)))):
            runs.append(session)
    return runs


def final_val_metrics(work_dir: Optional[str], meta: dict) -> dict:
    """The last validation metrics logged up to the checkpoint: the last
    record of the training runs' ``scalars.json`` that holds metrics and
    whose step (epoch, or iteration for iteration-based loops) is at most
    the checkpoint's."""
    if work_dir is None:
        return dict(metrics=None, note='no work dir given or found beside '
                    'the checkpoint')
    stop = meta.get('epoch') or meta.get('iter')
    found = None
    for session in training_runs(work_dir, meta):
        path = _scalars_path(work_dir, session)
        if not osp.isfile(path):
            continue
        for record in read_scalars(path):
            metrics = _val_metrics(record)
            if metrics and (stop is None or record.get('step', 0) <= stop):
                found = dict(metrics=metrics, step=record.get('step'),
                             source=path)
    if found is None:
        return dict(metrics=None, note=f'no validation record up to step '
                    f'{stop} in the scalars.json files of {work_dir}')
    return found


def _log_times(log_path: str) -> List[datetime.datetime]:
    times = []
    with open(log_path, encoding='utf-8', errors='replace') as f:
        for line in f:
            match = _LOG_TIME.match(line)
            if match:
                times.append(datetime.datetime.strptime(
                    match.group(1), '%Y/%m/%d %H:%M:%S'))
    return times


def wall_time(work_dir: Optional[str], meta: dict) -> dict:
    """Seconds from the start of training to the checkpoint, summed over
    the runs (a resumed run has several) of the work dir: each run from its
    folder's start time to its last log line; the checkpoint's own run ends
    when the checkpoint was saved (``meta['time']``). Without a work dir,
    the checkpoint's own run only (from ``meta``)."""
    own = _session_of(meta)
    saved = meta.get('time')
    sessions = []
    for session in training_runs(work_dir, meta):
        start = datetime.datetime.strptime(session, _TIME_FORMAT)
        if session == own and saved:
            end = datetime.datetime.strptime(saved, _TIME_FORMAT)
        else:
            log = osp.join(work_dir, session, f'{session}.log')
            times = _log_times(log) if osp.isfile(log) else []
            if not times:
                continue
            end = times[-1]
        sessions.append(dict(run=session, start=start.isoformat(),
                             end=end.isoformat(),
                             seconds=(end - start).total_seconds()))
    if not sessions and own and saved:
        start = datetime.datetime.strptime(own, _TIME_FORMAT)
        end = datetime.datetime.strptime(saved, _TIME_FORMAT)
        sessions.append(dict(run=own, start=start.isoformat(),
                             end=end.isoformat(),
                             seconds=(end - start).total_seconds()))
    if not sessions:
        return dict(seconds=None, note='no run start/end times in the '
                    'checkpoint meta or the work dir')
    return dict(seconds=sum(s['seconds'] for s in sessions), runs=sessions,
                note='run folder start time to checkpoint save time (or '
                'last log line), 1 s resolution, summed over runs')


def training_environment(work_dir: Optional[str], meta: dict) -> dict:
    """The ``System environment`` / ``Runtime environment`` lines that
    mmengine logs at the start of the checkpoint's run (CUDA, GPU names,
    library versions of the machine that trained)."""
    own = _session_of(meta)
    log = osp.join(work_dir, own, f'{own}.log') if work_dir and own else None
    if log is None or not osp.isfile(log):
        return {}
    env = {}
    with open(log, encoding='utf-8', errors='replace') as f:
        for number, line in enumerate(f):
            if number > 0 and _LOG_TIME.match(line):
                break  # the environment block is the first log record
            match = re.match(r'^    ([^ :][^:]*): (.+)$', line.rstrip('\n'))
            if match:
                env[match.group(1)] = match.group(2).strip()
    env.pop('PyTorch compiling details', None)
    return env


# ----------------------------------------------------------------------
# Config and data
# ----------------------------------------------------------------------
def config_text(work_dir: Optional[str], meta: dict) -> dict:
    """The run's config: ``meta['cfg']``, else the one mmengine dumped in
    the work dir."""
    if meta.get('cfg'):
        return dict(source='checkpoint meta', text=meta['cfg'])
    own = _session_of(meta)
    candidates = []
    if work_dir:
        if own:
            candidates.append(osp.join(work_dir, own, 'vis_data',
                                       'config.py'))
        candidates += sorted(
            osp.join(work_dir, f) for f in os.listdir(work_dir)
            if f.endswith('.py'))
    for path in candidates:
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                return dict(source=path, text=f.read())
    return dict(source=None, text=None,
                note='no config in the checkpoint meta or the work dir')


def _datasets(cfg_dataset) -> List[dict]:
    """A dataset config and the datasets it wraps (``dataset``,
    ``datasets``)."""
    if not isinstance(cfg_dataset, dict):
        return []
    found = [cfg_dataset]
    found += _datasets(cfg_dataset.get('dataset'))
    for inner in cfg_dataset.get('datasets') or []:
        found += _datasets(inner)
    return found


def data_provenance(cfg_text: Optional[str]) -> dict:
    """``data_root``, the annotation files (``ann_file``, ``split_file``,
    any other ``*_file`` and ``image_list``) of the config's train, val and
    test loaders, and each file's sha256 when it exists here. Relative
    paths are resolved against the current folder, as training does."""
    if not cfg_text:
        return dict(loaders=[], note='no config text')
    from mmengine.config import Config
    try:
        cfg = Config.fromstring(cfg_text, '.py')
    except Exception as err:  # the receipt says so instead of failing
        return dict(loaders=[], note=f'config could not be parsed: '
                    f'{type(err).__name__}: {err}')
    loaders, hashes = [], {}
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if not isinstance(loader, dict):
            continue
        for dataset in _datasets(loader.get('dataset')):
            data_root = dataset.get('data_root')
            files = {}
            for key in sorted(dataset):
                value = dataset[key]
                if not (key.endswith('_file') or key == 'image_list') or \
                        not isinstance(value, str) or not value:
                    continue
                path = value if osp.isabs(value) or not data_root else \
                    osp.join(data_root, value)
                path = osp.abspath(path)
                if path not in hashes:
                    hashes[path] = file_sha256(path) if osp.isfile(
                        path) else None
                files[key] = dict(value=value, path=path,
                                  sha256=hashes[path],
                                  exists=hashes[path] is not None)
            loaders.append(
                dict(loader=name, type=dataset.get('type'),
                     data_root=data_root, split=dataset.get('split'),
                     files=files))
    return dict(loaders=loaders, cwd=os.getcwd())


# ----------------------------------------------------------------------
# The machine and the code
# ----------------------------------------------------------------------
def git_state(repo: Optional[str] = None) -> dict:
    """Commit of the mmmedssl checkout and whether tracked files differ
    from it (``dirty``); read-only git calls (no index refresh)."""
    if repo is None:
        repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

    def git(*args):
        return subprocess.run(
            ['git', '--no-optional-locks', '-C', repo, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            timeout=60)

    try:
        head = git('rev-parse', 'HEAD')
    except (OSError, subprocess.TimeoutExpired) as err:
        return dict(commit=None, note=f'git not available: {err}')
    if head.returncode != 0:
        return dict(commit=None, repo=repo,
                    note=f'not a git checkout: {head.stderr.strip()}')
    status = git('status', '--porcelain')
    lines = status.stdout.splitlines()
    untracked = sum(line.startswith('??') for line in lines)
    return dict(commit=head.stdout.strip(), repo=repo,
                dirty=len(lines) > untracked, untracked_files=untracked)


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.lower().startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_and_software() -> dict:
    """This machine (CPU model, cores, GPUs) and the library versions."""
    import mmengine
    import mmpretrain

    import mmmedssl
    gpus = [torch.cuda.get_device_name(i)
            for i in range(torch.cuda.device_count())] \
        if torch.cuda.is_available() else []
    return dict(
        hardware=dict(
            cpu=_cpu_model(),
            cpu_cores=os.cpu_count(),
            cpu_cores_usable=len(os.sched_getaffinity(0)) if hasattr(
                os, 'sched_getaffinity') else os.cpu_count(),
            gpus=gpus,
            platform=platform.platform(),
            note='the machine that wrote this receipt; the training '
            'machine is in training_environment'),
        software=dict(
            python=sys.version.split()[0],
            torch=torch.__version__,
            mmengine=mmengine.__version__,
            mmpretrain=mmpretrain.__version__,
            mmmedssl=mmmedssl.__version__))


# ----------------------------------------------------------------------
# Publishing
# ----------------------------------------------------------------------
def default_name(checkpoint_path: str, meta: dict) -> str:
    """The config's name (the experiment name without its timestamp), else
    the checkpoint file's stem."""
    name = re.sub(r'_\d{8}_\d{6}$', '', str(meta.get('experiment_name', '')))
    return name or osp.splitext(osp.basename(checkpoint_path))[0]


def build_receipt(in_file: str, published_path: str, sha256: str,
                  checkpoint: dict, dropped: list,
                  work_dir: Optional[str]) -> dict:
    """The receipt's fields:

    - ``file``, ``sha256``, ``size_bytes``: the published file;
    - ``source_checkpoint``: path, sha256, epoch, iter, experiment name,
      and the ``dropped_keys``;
    - ``config``: the run's config text and where it came from;
    - ``git``: commit of the checkout, ``dirty``, untracked file count;
    - ``data``: per loader, ``data_root`` and each annotation file with its
      sha256;
    - ``hardware``, ``software``: this machine and library versions;
      ``training_environment``: what the run logged about its machine;
    - ``wall_time``: seconds of training up to the checkpoint;
    - ``final_metrics``: the last validation metrics up to the checkpoint
      (``scalars.json``);
    - ``work_dir`` and ``created``.
    """
    meta = checkpoint.get('meta') or {}
    config = config_text(work_dir, meta)
    receipt = dict(
        file=osp.basename(published_path),
        sha256=sha256,
        size_bytes=osp.getsize(published_path),
        source_checkpoint=dict(
            path=osp.abspath(in_file),
            sha256=file_sha256(in_file),
            epoch=meta.get('epoch'),
            iter=meta.get('iter'),
            experiment_name=meta.get('experiment_name'),
            dropped_keys=dropped),
        config=config,
        git=git_state(),
        data=data_provenance(config.get('text')),
        **hardware_and_software(),
        training_environment=training_environment(work_dir, meta),
        wall_time=wall_time(work_dir, meta),
        final_metrics=final_val_metrics(work_dir, meta),
        work_dir=work_dir,
        created=datetime.datetime.now().astimezone().isoformat(
            timespec='seconds'))
    return receipt


def _save_named_by_hash(obj: dict, out_dir: str, name: str) -> Tuple[str,
                                                                      str]:
    """Save to a temporary file in ``out_dir``, hash it from disk, rename to
    ``<name>-<sha256[:8]>.pth``; returns ``(path, full sha256)``."""
    fd, tmp_path = tempfile.mkstemp(dir=out_dir, prefix=f'.{name}.',
                                    suffix='.tmp')
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        sha256 = file_sha256(tmp_path)
        final = osp.join(out_dir, f'{name}-{sha256[:8]}.pth')
        os.replace(tmp_path, final)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return final, sha256


def publish_checkpoint(in_file: str,
                       out_dir: str,
                       name: Optional[str] = None,
                       work_dir: Optional[str] = None) -> Tuple[str, str]:
    """Publish ``in_file`` into ``out_dir``; returns the paths of the
    weights file and of its receipt.

    Args:
        in_file: An mmengine checkpoint (or a bare state dict).
        out_dir: Created if missing.
        name: The file name's stem; defaults to the config's name.
        work_dir: The training work dir (logs, ``scalars.json``); by default
            the checkpoint's folder when it holds run folders.

    Raises:
        FileNotFoundError: ``in_file`` or a given ``work_dir`` is missing.
        ValueError: ``name`` is not a plain file name, or ``in_file`` is not
            a checkpoint.
    """
    checkpoint = safe_load(in_file, map_location='cpu')
    published, dropped = strip_training_state(checkpoint, in_file)
    meta = published.get('meta') or {}
    name = name or default_name(in_file, meta)
    if not _NAME.fullmatch(name):
        raise ValueError(f'--name {name!r}: use letters, digits and . _ + - '
                         'only (it becomes a file name).')
    if work_dir is not None and not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir {work_dir} does not exist.')
    work_dir = osp.abspath(work_dir) if work_dir else find_work_dir(in_file)
    os.makedirs(out_dir, exist_ok=True)
    path, sha256 = _save_named_by_hash(published, out_dir, name)
    receipt = build_receipt(in_file, path, sha256, published, dropped,
                            work_dir)
    receipt_path = osp.splitext(path)[0] + '.json'
    atomic_write((json.dumps(receipt, indent=2) + '\n').encode('utf-8'),
                 receipt_path)
    return path, receipt_path
