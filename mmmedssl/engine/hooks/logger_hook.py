# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import Optional

from mmengine.hooks import LoggerHook
from mmengine.runner import EpochBasedTrainLoop

from mmmedssl.registry import HOOKS

# Log lines per training epoch that the console should show at least.
LINES_PER_EPOCH = 10


def train_log_interval(configured: int, iters_per_epoch: int) -> int:
    """The logging interval of an epoch-based training loop:
    ``min(configured, about a tenth of the epoch)``, at least 1.

    A configured interval longer than the epoch (50 for a 15-iteration
    epoch) would print one line per epoch and no progress in between.
    """
    tenth = max(1, round(iters_per_epoch / LINES_PER_EPOCH))
    return min(configured, tenth)


# Registered as 'LoggerHook' in mmmedssl's scope: configs with
# default_scope='mmmedssl' (all of ours) get it from their existing
# `logger=dict(type='LoggerHook', ...)`.
@HOOKS.register_module(name=['LoggerHook', 'ProgressLoggerHook'])
class ProgressLoggerHook(LoggerHook):
    """mmengine's LoggerHook that shows progress (and the ETA) at least
    about every 10 % of a training epoch.

    For epoch-based training the interval of the training iterations is
    ``min(interval, max(1, round(iters_per_epoch / 10)))``: a 15-iteration
    epoch with ``interval=50`` logs every 2 iterations. Validation, test
    and iteration-based loops keep ``interval``. The interval in use is
    :attr:`train_interval` (set at ``before_train``).

    Arguments are mmengine's ``LoggerHook``'s.
    """

    train_interval: Optional[int] = None

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self.train_interval = self.interval
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            iters = len(runner.train_dataloader)
            self.train_interval = train_log_interval(self.interval, iters)
            if self.train_interval < self.interval:
                runner.logger.info(
                    f'Logging every {self.train_interval} training '
                    f'iterations (about 1/{LINES_PER_EPOCH} of the {iters} '
                    f'per epoch) instead of logger.interval={self.interval}.')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        # mmengine reads self.interval; validation and test keep the
        # configured one.
        configured = self.interval
        self.interval = self.train_interval or configured
        try:
            super().after_train_iter(runner, batch_idx, data_batch, outputs)
        finally:
            self.interval = configured
