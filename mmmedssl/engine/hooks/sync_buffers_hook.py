# Copyright (c) mmmedssl contributors. All rights reserved.
from mmengine.dist import all_reduce_params, get_world_size
from mmengine.hooks import Hook

from mmmedssl.registry import HOOKS


@HOOKS.register_module()
class SyncFloatBuffersHook(Hook):
    """Average floating-point buffers (BatchNorm running statistics, ...)
    over ranks at the end of each training epoch and before validation, so
    that every rank, and the checkpoint rank 0 writes, holds the same model.

    mmengine's ``SyncBuffersHook`` averages *all* buffers, which corrupts
    integer ones (``num_batches_tracked``, a MoCo queue pointer, an EMA step
    count); those are identical on every rank anyway and are left alone.
    A no-op on one process.
    """
    priority = 'NORMAL'

    def __init__(self) -> None:
        self._synced_after_train = False

    def _sync(self, runner) -> None:
        if get_world_size() > 1:
            buffers = [
                b for b in runner.model.buffers() if b.is_floating_point()
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
