# Copyright (c) mmmedssl contributors. All rights reserved.
import logging
import os.path as osp
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from mmmedssl.registry import HOOKS
from mmmedssl.utils.checkpoint import atomic_write, remove_stale_temp_files


class _DeferredRemovals:
    """A file backend that records removals instead of doing them, so that
    mmengine's code which removes an old checkpoint before writing the new
    one can run unchanged, the removal following the write."""

    def __init__(self, backend):
        self._backend = backend
        self.paths: List[str] = []

    def remove(self, filepath) -> None:
        self.paths.append(filepath)

    def rmtree(self, dir_path) -> None:
        self.paths.append(dir_path)

    def __getattr__(self, name):
        return getattr(self._backend, name)


# Registered as 'CheckpointHook' in mmmedssl's scope: configs with
# default_scope='mmmedssl' (all of ours) get it from their existing
# `checkpoint=dict(type='CheckpointHook', ...)`.
class _DropMessages(logging.Filter):
    """Drops log records whose message contains one of ``parts``."""

    def __init__(self, *parts: str) -> None:
        super().__init__()
        self.parts = parts

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(part in message for part in self.parts)


@HOOKS.register_module(name=['CheckpointHook', 'CrashSafeCheckpointHook'])
class CrashSafeCheckpointHook(CheckpointHook):
    """mmengine's CheckpointHook, reordered so that a process killed at any
    moment of a save leaves a loadable checkpoint named by
    ``last_checkpoint``.

    mmengine 0.10.7 removes the oldest kept checkpoint *before* writing the
    new one and writes ``last_checkpoint`` in place: with
    ``max_keep_ckpts=1`` a kill inside the save left no checkpoint at all.
    Here every save is

    1. the new checkpoint, written atomically (temporary file, fsync,
       rename, folder fsync: mmmedssl's local file backend);
    2. ``last_checkpoint`` pointed at it, written atomically as well;
    3. only then the removal of the checkpoints that fell out of
       ``max_keep_ckpts`` (and of the previous ``best_*.pth`` for
       ``save_best``).

    The ``keep_ckpt_ids`` stored in the new checkpoint still list the
    checkpoints due for removal, so a run killed between 2 and 3 removes
    them when it resumes (mmengine's ``before_train`` trims that list to
    ``max_keep_ckpts``). At the start of each run the temporary files of
    saves killed earlier are removed from the work dir and the checkpoint
    dir (only names of mmmedssl's atomic writes, ``.<name>.XXXXXXXX.tmp``).

    Arguments are mmengine's ``CheckpointHook``'s.
    """

    # mmengine builds FileClients that nothing uses (kept "until MMEngine
    # 1.0") here and in every save; their deprecation warnings say nothing
    # about the run.
    _quiet = _DropMessages('"FileClient" will be deprecated',
                           '"HardDiskBackend" is the alias')

    def before_train(self, runner) -> None:
        runner.logger.addFilter(self._quiet)
        super().before_train(runner)
        if is_main_process():
            self._remove_stale_temp_files(runner)

    def after_run(self, runner) -> None:
        super().after_run(runner)
        runner.logger.removeFilter(self._quiet)

    def _remove_stale_temp_files(self, runner) -> None:
        folders = {osp.abspath(runner.work_dir)}
        if isinstance(self.file_backend, LocalBackend):
            folders.add(osp.abspath(str(self.out_dir)))
        for folder in sorted(folders):
            removed = remove_stale_temp_files(folder)
            if removed:
                names = ', '.join(osp.basename(path) for path in removed)
                runner.logger.info(
                    f'Removed {len(removed)} temporary file(s) of checkpoint '
                    f'saves killed in an earlier run from {folder}: {names}')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        expired = []
        # Called twice for one step when save_best re-saves the checkpoint.
        is_new_step = self.max_keep_ckpts > 0 and not (
            self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step)
        if is_new_step:
            kept = [s for s in self.keep_ckpt_ids if s != step] + [step]
            expired = kept[:-self.max_keep_ckpts]
            # Saved with the new checkpoint while still on disk, so that a
            # resume removes them if this run dies before it does.
            runner.message_hub.update_info('keep_ckpt_ids', kept)
            self.keep_ckpt_ids.append(step)  # the deque drops the expired

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if is_new_step:
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        # Model parallel-like training pulls sharded states from all ranks
        # in save_checkpoint; the files are the main process's business.
        if not is_main_process():
            return
        atomic_write(
            str(self.last_ckpt).encode('utf-8'),
            osp.join(runner.work_dir, 'last_checkpoint'))
        for old_step in expired:
            self._remove_checkpoint(
                self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(old_step)))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # mmengine removes the previous best before saving the new one;
        # record the removals and do them once the new best is written.
        backend = self.file_backend
        deferred = _DeferredRemovals(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        if not is_main_process():
            return
        current = {str(self.last_ckpt), str(getattr(self, 'best_ckpt_path',
                                                    None))}
        current.update(
            str(path)
            for path in (getattr(self, 'best_ckpt_path_dict', None)
                         or {}).values())
        for path in deferred.paths:
            if str(path) not in current:
                self._remove_checkpoint(path)

    def _remove_checkpoint(self, path) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            # checkpoints saved by deepspeed are directories
            self.file_backend.rmtree(path)
