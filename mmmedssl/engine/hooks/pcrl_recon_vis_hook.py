# Copyright (c) mmmedssl contributors. All rights reserved.
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmedssl.registry import HOOKS
from .rng_state_hook import get_rng_state, set_rng_state


@HOOKS.register_module()
class PCRLReconVisHook(Hook):
    """Draw PCRL's reconstructions during training.

    Every ``interval`` iterations (or epochs, ``by_epoch=True``: after the
    epoch's last iteration) it renders the panel of
    :func:`~mmmedssl.visualization.pcrl_panels.pcrl_recon_panel` for the
    current batch (or, ``fixed_batch=True``, for the first batch of the
    run): per sample, the input, target and reconstruction of the ordinary,
    mixup, hybrid and mixup-hybrid branches. Rank 0 writes
    ``WORK_DIR/<out_dir>/pcrl_recon_iter_<n>.png`` (n: iterations done) and
    hands the picture to ``runner.visualizer.add_image('pcrl_recon', ...)``
    so that the vis backends (e.g. TensorBoard) show it.

    Training is unchanged by it: the forward runs without gradients,
    momentum update or memory push, puts the BatchNorm statistics back, and
    the python, numpy, torch (and CUDA) RNG states are restored after it,
    so a run with the hook draws the same augmentations and mixing weights
    as one without. Under DDP every rank runs the forward (the momentum
    encoder shuffles its batch across ranks), only rank 0 writes.

    Args:
        interval (int): Draw every this many iterations (epochs with
            ``by_epoch``). Defaults to 500.
        by_epoch (bool): Count epochs instead of iterations. Defaults to
            False.
        max_samples (int): Rows of the panel (first samples of the batch).
            Defaults to 4.
        fixed_batch (bool): Draw the first batch of the run each time, to
            follow the same samples. Defaults to False.
        out_dir (str): Folder under the work dir. Defaults to 'vis'.
    """
    priority = 'LOW'

    def __init__(self,
                 interval: int = 500,
                 by_epoch: bool = False,
                 max_samples: int = 4,
                 fixed_batch: bool = False,
                 out_dir: str = 'vis') -> None:
        if interval < 1 or max_samples < 1:
            raise ValueError('PCRLReconVisHook: interval and max_samples '
                             f'must be >= 1, got {interval} and '
                             f'{max_samples}.')
        self.interval = interval
        self.by_epoch = by_epoch
        self.max_samples = max_samples
        self.fixed_batch = fixed_batch
        self.out_dir = out_dir
        self._first_batch: Optional[dict] = None

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        model = self._model(runner)
        if not hasattr(model, 'reconstructions'):
            raise TypeError(
                'custom_hooks: PCRLReconVisHook draws PCRL reconstructions, '
                f'but the model is {type(model).__name__}; remove the hook '
                'or train a PCRL config.')

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs=None) -> None:
        if self.fixed_batch and self._first_batch is None:
            self._first_batch = data_batch
        if self.by_epoch:
            due = (self.end_of_epoch(runner.train_dataloader, batch_idx)
                   and self.every_n_epochs(runner, self.interval))
        else:
            due = self.every_n_train_iters(runner, self.interval)
        if due:
            self.draw(runner, self._first_batch
                      if self.fixed_batch else data_batch)

    def draw(self, runner, data_batch: dict) -> None:
        """Render, write and show the panel of ``data_batch``."""
        from mmmedssl.visualization.pcrl_panels import pcrl_recon_panel
        from mmmedssl.visualization.views import save_png
        state = get_rng_state()
        try:
            panel = pcrl_recon_panel(self._model(runner), data_batch,
                                     self.max_samples)
        finally:
            set_rng_state(state)
        step = runner.iter + 1
        if is_main_process():
            save_png(
                osp.join(runner.work_dir, self.out_dir,
                         f'pcrl_recon_iter_{step}.png'), panel)
        runner.visualizer.add_image('pcrl_recon', panel, step=step)
