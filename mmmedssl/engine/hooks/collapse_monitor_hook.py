# Copyright (c) mmmedssl contributors. All rights reserved.
from typing import List, Optional

from mmengine.hooks import Hook, LoggerHook
from mmengine.model import is_model_wrapper

from mmmedssl.registry import HOOKS


def memories_not_shorter_than_data(runner) -> List[str]:
    """A message for every key memory of the model (a MoCo queue, PCRL's
    NCE memory, DistillingSelf's teacher queue) that holds at least as many
    keys as the training set has samples: then the previous epoch's key of
    every query's own image is among its negatives, and the contrastive
    task can be failed by design."""
    from mmmedssl.models.utils import KeyMemory
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    try:
        dataset_size = len(runner.train_dataloader.dataset)
    except TypeError:  # an iterable dataset: its size is unknown
        return []
    return [
        f'the key memory {name} holds {memory.size} keys, not fewer than '
        f'the {dataset_size} training samples: after the first epoch the '
        'negatives of every query include its own image. Use a memory well '
        'below the data set size (model.queue_len / '
        'model.head.memory_size).'
        for name, memory in model.named_modules()
        if isinstance(memory, KeyMemory) and memory.size >= dataset_size
    ]


@HOOKS.register_module()
class CollapseMonitorHook(Hook):
    """Warn when self-supervised training collapses.

    The algorithms log two scalars beside their losses
    (:func:`mmmedssl.models.selfsup.base.collapse_stats`):

    - ``embed_std``: the spread of the L2-normalised embeddings over the
      batch, about 1 when they cover the sphere, 0 when every image maps to
      one point;
    - ``contrast_vs_chance``: the contrastive loss over its chance level
      ln(candidates); near 1 the positive is no longer told apart from the
      negatives.

    At every training log line (the LoggerHook's interval) the hook reads
    their smoothed values, the mean over ``log_processor.window_size``
    iterations as logged, from the message hub. When ``embed_std`` stays
    below ``min_embed_std`` or ``contrast_vs_chance`` above
    ``max_contrast_vs_chance`` for ``patience`` log lines in a row, it logs
    a warning with the value, the threshold, the iteration and likely
    causes; once per streak. ``contrast_vs_chance`` counts only past
    ``stuck_after`` of the run's iterations: every healthy queue-based run
    starts near chance while its memory fills (the 1,600-image recipes of
    docs/benchmarks.md sat above 0.98 for up to 14 of their 40 epochs and
    then beat random init), so an earlier check warned in every run. A
    scalar the model does not log is not checked. Before training it warns
    about a key memory that is not shorter than the training set, and at
    the end of the first epoch past
    ``stuck_after`` of the run about a contrastive loss whose epoch mean is
    still above ``stuck_contrast`` of chance: the loss has not left chance
    level. Below it the ratio is no verdict: in the data-size study of
    docs/benchmarks.md a chest X-ray MoCo run at 0.96 half-way beat random
    init by 5 AUC points, a dermoscopy one at 0.98 did not beat it.
    Monitoring only: training goes on.

    Args:
        min_embed_std (float): Defaults to 0.05.
        max_contrast_vs_chance (float): Defaults to 0.98.
        patience (int): Consecutive log lines beyond a threshold before the
            warning. Defaults to 3.
        interval (int, optional): Check every this many iterations instead
            of at the log lines.
        stuck_contrast (float, optional): Defaults to 0.98. None switches
            the end-of-epoch check off.
        stuck_after (float): Share of the epochs after which it is made,
            once, and of the iterations after which the per-line
            ``contrast_vs_chance`` check starts. Defaults to 0.5.
    """
    # After the LoggerHook ('BELOW_NORMAL'): the warning follows the line
    # that shows the values.
    priority = 'LOW'

    def __init__(self,
                 min_embed_std: float = 0.05,
                 max_contrast_vs_chance: float = 0.98,
                 patience: int = 3,
                 interval: Optional[int] = None,
                 stuck_contrast: Optional[float] = 0.98,
                 stuck_after: float = 0.5) -> None:
        if not (isinstance(patience, int) and patience >= 1):
            raise ValueError('CollapseMonitorHook: patience must be an int '
                             f'>= 1, got {patience!r}.')
        if interval is not None and not (isinstance(interval, int)
                                         and interval >= 1):
            raise ValueError('CollapseMonitorHook: interval must be None or '
                             f'an int >= 1, got {interval!r}.')
        self.min_embed_std = float(min_embed_std)
        self.max_contrast_vs_chance = float(max_contrast_vs_chance)
        self.patience = patience
        self.interval = interval
        self.streaks = dict(embed_std=0, contrast_vs_chance=0)
        if not 0 < stuck_after <= 1:
            raise ValueError('CollapseMonitorHook: stuck_after must be a '
                             f'share of the run in (0, 1], got {stuck_after!r}.')
        self.stuck_contrast = stuck_contrast
        self.stuck_after = float(stuck_after)
        self._stuck_checked = False

    def before_train(self, runner) -> None:
        self.streaks = dict(embed_std=0, contrast_vs_chance=0)
        self._stuck_checked = False
        for problem in memories_not_shorter_than_data(runner):
            runner.logger.warning(f'CollapseMonitorHook: {problem}')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self._is_log_iter(runner, batch_idx):
            return
        embed_std = self._smoothed(runner, 'embed_std')
        if embed_std is not None:
            collapsed = embed_std < self.min_embed_std
            self._update(
                runner, 'embed_std', collapsed,
                f'the embeddings are collapsing: embed_std {embed_std:.4f} '
                f'< min_embed_std {self.min_embed_std}')
        ratio = self._smoothed(runner, 'contrast_vs_chance')
        if ratio is not None and self._past_contrast_warmup(runner):
            at_chance = ratio > self.max_contrast_vs_chance
            self._update(
                runner, 'contrast_vs_chance', at_chance,
                'the contrastive loss sits at chance: contrast_vs_chance '
                f'{ratio:.4f} > max_contrast_vs_chance '
                f'{self.max_contrast_vs_chance}')

    def after_train_epoch(self, runner) -> None:
        if self.stuck_contrast is None or self._stuck_checked:
            return
        if (runner.epoch + 1) < self.stuck_after * runner.max_epochs:
            return
        self._stuck_checked = True
        buffer = runner.message_hub.log_scalars.get(
            'train/contrast_vs_chance')
        try:
            iters = len(runner.train_dataloader)
        except TypeError:
            return
        if buffer is None or iters < 1:
            return
        ratio = float(buffer.mean(iters))
        if ratio <= self.stuck_contrast:
            return
        causes = '; '.join(self._likely_causes(runner))
        runner.logger.warning(
            f'CollapseMonitorHook: after epoch {runner.epoch + 1} of '
            f'{runner.max_epochs} the contrastive loss is still at chance: '
            f'{ratio:.3f} of chance level (epoch mean of contrast_vs_chance '
            f'> stuck_contrast {self.stuck_contrast}). Likely causes: '
            f'{causes}; too few steps for the data '
            '(data_size_recipe.min_steps, docs/training.md).')

    # -- helpers -------------------------------------------------------------
    def _is_log_iter(self, runner, batch_idx: int) -> bool:
        """Whether the LoggerHook logs this training iteration (mmengine's
        rule), or every ``interval`` iterations when that is set."""
        if self.interval is not None:
            return self.every_n_inner_iters(batch_idx, self.interval)
        logger = next(
            (hook for hook in runner.hooks if isinstance(hook, LoggerHook)),
            None)
        if logger is None:
            return False
        interval = getattr(logger, 'train_interval', None) or logger.interval
        if self.every_n_inner_iters(batch_idx, interval):
            return True
        return (self.end_of_epoch(runner.train_dataloader, batch_idx)
                and (not logger.ignore_last
                     or len(runner.train_dataloader) <= interval))

    def _past_contrast_warmup(self, runner) -> bool:
        """Whether the run is past ``stuck_after`` of its iterations, from
        where a contrastive loss at chance counts as a collapse."""
        max_iters = getattr(runner, 'max_iters', None)
        if not isinstance(max_iters, int) or max_iters < 1:
            return True
        return runner.iter + 1 > self.stuck_after * max_iters

    @staticmethod
    def _smoothed(runner, name: str) -> Optional[float]:
        buffer = runner.message_hub.log_scalars.get(f'train/{name}')
        if buffer is None:
            return None
        window = getattr(runner.log_processor, 'window_size', 10)
        if not isinstance(window, int):
            window = 10
        return float(buffer.mean(window))

    def _update(self, runner, name: str, beyond: bool, finding: str) -> None:
        self.streaks[name] = self.streaks[name] + 1 if beyond else 0
        if self.streaks[name] != self.patience:
            return
        causes = '; '.join(self._likely_causes(runner))
        runner.logger.warning(
            f'CollapseMonitorHook: at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}) {finding} for {self.patience} log lines '
            f'in a row. Likely causes: {causes}. (Thresholds are the '
            'arguments of default_hooks.collapse_monitor; '
            'default_hooks.collapse_monitor=None switches it off.)')

    @staticmethod
    def _likely_causes(runner) -> List[str]:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        keys = getattr(getattr(model, 'queue', None), 'keys', None)
        try:
            dataset_size = len(runner.train_dataloader.dataset)
        except TypeError:  # an iterable dataset
            dataset_size = None
        causes = []
        if keys is not None and dataset_size is not None \
                and keys.shape[0] >= dataset_size:
            causes.append(
                f'the queue ({keys.shape[0]} keys, model.queue_len) is not '
                f'shorter than the training set ({dataset_size} images): it '
                'holds older keys of the same images as negatives')
        else:
            causes.append('a queue (model.queue_len) longer than the data '
                          'set')
        causes.append('a learning rate too high for the batch '
                      '(optim_wrapper.optimizer.lr, auto_scale_lr)')
        causes.append('views too few, too weak or too strong for the data '
                      '(the number of views; hue jitter and greyscale take '
                      'away colour, which photos such as dermoscopy need)')
        return causes
