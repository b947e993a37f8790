# Copyright (c) mmmedssl contributors. All rights reserved.
import time
from typing import Optional

from mmengine.hooks import Hook

from mmmedssl.registry import HOOKS


@HOOKS.register_module()
class TrainBudgetHook(Hook):
    """Stop training once a time budget is spent.

    The budget is checked after every training iteration; once it is spent
    the loop stops at the end of the current epoch (epoch-based loops) or
    right away (iteration-based loops), so the checkpoint hook still writes
    the last epoch and ``last_checkpoint`` points at it. The learning-rate
    schedule is not shortened: a stopped run ends where its cosine schedule
    had got to. ``runner.message_hub`` records ``train_budget/stopped``.

    Args:
        minutes (float): The budget.
        clock (str): ``'cpu'``: CPU time of the training process (all its
            threads; dataloader workers are separate processes and not
            counted), ``'wall'``: elapsed time. Defaults to ``'cpu'``.
    """
    priority = 'LOW'

    def __init__(self, minutes: float, clock: str = 'cpu') -> None:
        if not minutes > 0:
            raise ValueError(
                f'TrainBudgetHook: minutes must be > 0, got {minutes!r}.')
        if clock not in ('cpu', 'wall'):
            raise ValueError("TrainBudgetHook: clock must be 'cpu' or "
                             f"'wall', got {clock!r}.")
        self.minutes = float(minutes)
        self.clock = clock
        self._start: Optional[float] = None
        self.stopped = False

    def _now(self) -> float:
        return time.process_time() if self.clock == 'cpu' else \
            time.perf_counter()

    def spent_minutes(self) -> float:
        return 0. if self._start is None else \
            (self._now() - self._start) / 60.

    def before_train(self, runner) -> None:
        self._start = self._now()
        self.stopped = False
        runner.message_hub.update_info('train_budget/stopped', False)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.stopped or self.spent_minutes() < self.minutes:
            return
        self.stopped = True
        loop = runner.train_loop
        loop.stop_training = True
        runner.message_hub.update_info('train_budget/stopped', True)
        runner.logger.warning(
            f'TrainBudgetHook: the {self.minutes:g}-minute {self.clock} '
            f'budget is spent at iteration {runner.iter + 1} of '
            f'{loop.max_iters}; training stops at the end of '
            'this epoch (epoch-based loops) and the schedule is not '
            'shortened.')
