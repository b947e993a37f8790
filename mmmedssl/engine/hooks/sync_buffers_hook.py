# Copyright (c) mmmedssl contributors. All rights reserved.
from mmengine.dist import all_reduce_params, get_world_size
from mmengine.hooks import Hook

from mmmedssl.registry import HOOKS


def _synced_buffers(module):
    if not getattr(module, 'sync_buffers', True):
        return
    yield from module.buffers(recurse=False)
    for child in module.children():
        yield from _synced_buffers(child)


@HOOKS.register_module()
class SyncFloatBuffersHook(Hook):
    """Average floating-point buffers (BatchNorm running statistics, ...)
    over ranks at the end of each training epoch and before validation, so
    that every rank, and the checkpoint rank 0 writes, holds the same model.

    mmengine's ``SyncBuffersHook`` averages *all* buffers, which corrupts
    integer ones (``num_batches_tracked``, a MoCo queue pointer, an EMA step
    count); those are identical on every rank anyway and are left alone.
    A no-op on one process.

    A module can opt out (with its whole subtree) by setting
    ``sync_buffers = False``: DistillingSelf does so for its frozen teacher,
    whose weights are buffers that never change.
    """
    priority = 'NORMAL'

    def __init__(self) -> None:
        self._synced_after_train = False

    def _sync(self, runner) -> None:
        if get_world_size() > 1:
            buffers = [
                b for b in _synced_buffers(runner.model)
                if b.is_floating_point()
            ]
            all_reduce_params(buffers, op='mean')

    def after_train_epoch(self, runner) -> None:
        self._sync(runner)
        self._synced_after_train = True

    def before_val_epoch(self, runner) -> None:
        # Iteration-based loops validate without ending an epoch.
        if not self._synced_after_train:
            self._sync(runner)
        self._synced_after_train = False
