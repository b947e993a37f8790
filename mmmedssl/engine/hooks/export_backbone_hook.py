# Copyright (c) mmmedssl contributors. All rights reserved.
import os.path as osp
from typing import Sequence, Union

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.models.selfsup import BaseSelfSupervisor

from mmmedssl.models.utils.weights.converters import convert_mmmedssl
from mmmedssl.models.utils.weights.export import (TARGETS, format_table,
                                                  infer_arch, resolve_targets,
                                                  try_export, write_exports)
from mmmedssl.registry import HOOKS


@HOOKS.register_module()
class ExportBackboneHook(Hook):
    """Export the trained backbone for other libraries when training ends.

    After a training run that finished (not after ``tools/test.py``, not
    after a crash), rank 0 writes ``<work_dir>/<out_dir>/<target>.pth`` for
    every target whose key-match check passed, plus ``report.json`` (the
    key-match reports) and ``README.md`` (the Python that loads each file).
    The weights are the model's at the end of training. A backbone that
    cannot be exported logs a warning; training is never failed by this
    hook. See ``docs/export.md``.

    Args:
        targets (str | Sequence[str]): Target names (torchvision, timm, smp,
            monai, mmpretrain, plain) or ``'auto'``: torchvision and timm
            where they fit a ResNet exactly, else mmpretrain; plain for the
            3D U-Net encoder. A library is imported only when named.
            Defaults to 'auto'.
        prefix (str): The backbone's key prefix. Defaults to 'backbone.'.
        out_dir (str): Folder under the work dir. Defaults to 'exported'.
        pretraining_only (bool): Export only self-supervised models, not
            classifiers or segmentors fine-tuned from them. Defaults to True.
        allow_partial (bool): Also write exports whose keys did not all
            match. Defaults to False.
    """
    priority = 'VERY_LOW'

    def __init__(self,
                 targets: Union[str, Sequence[str]] = 'auto',
                 prefix: str = 'backbone.',
                 out_dir: str = 'exported',
                 pretraining_only: bool = True,
                 allow_partial: bool = False) -> None:
        names = [targets] if isinstance(targets, str) else list(targets)
        unknown = [t for t in names if t not in TARGETS + ('auto', )]
        if unknown:
            raise ValueError(f'ExportBackboneHook: unknown targets {unknown};'
                             f" choose from {', '.join(TARGETS)} or auto.")
        self.targets = names
        self.prefix = prefix
        self.out_dir = out_dir
        self.pretraining_only = pretraining_only
        self.allow_partial = allow_partial
        self._trained = False

    def before_run(self, runner) -> None:
        self._trained = False

    def after_train(self, runner) -> None:
        self._trained = True

    def after_run(self, runner) -> None:
        if not self._trained or not is_main_process():
            return
        try:
            self._export(runner)
        except Exception as err:  # the trained run stays a success
            runner.logger.warning(
                f'ExportBackboneHook: nothing exported: '
                f'{type(err).__name__}: {err}')

    def _export(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if self.pretraining_only and not isinstance(model,
                                                    BaseSelfSupervisor):
            return
        state_dict, _ = convert_mmmedssl(
            {k: v.detach().cpu()
             for k, v in model.state_dict().items()}, prefix=self.prefix)
        backbone_cfg = runner.cfg.get('model', {}).get('backbone')
        arch = infer_arch(state_dict, backbone_cfg)
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        last = open(pointer).read().strip() if osp.isfile(pointer) else None
        source = dict(
            weights=f'the model at the end of training (epoch '
            f'{runner.epoch}, iteration {runner.iter})',
            last_checkpoint=last,
            prefix=self.prefix)
        results = try_export(state_dict, resolve_targets(self.targets, arch),
                             backbone_cfg, meta=dict(source))
        out_dir = osp.join(runner.work_dir, self.out_dir)
        files = write_exports(results, out_dir, source, self.allow_partial)
        runner.logger.info(
            f'ExportBackboneHook: {arch.describe()} -> {out_dir}: '
            f"{', '.join(osp.basename(f) for f in files.values()) or 'none'}"
            f'\n{format_table(results)}')
        failed = [r.target for r in results if r.target not in files]
        if failed:
            runner.logger.warning(
                f'ExportBackboneHook: not exported: {failed} (see '
                f"{osp.join(out_dir, 'report.json')})")
