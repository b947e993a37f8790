# Copyright (c) mmmedssl contributors. All rights reserved.
import os.path as osp
import warnings

import torch
from mmengine.config import Config
from mmengine.dataset import InfiniteSampler
from mmengine.model import is_model_wrapper
from mmengine.dist import broadcast_object_list, get_rank, get_world_size
from mmengine.registry import RUNNERS, init_default_scope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from mmmedssl.registry import RUNNERS as MMMEDSSL_RUNNERS


def set_default_work_dir(cfg: Config, config_path: str,
                         work_dir: str = None) -> None:
    """``work_dir`` from the command line, else the config's, else
    ``./work_dirs/<config name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])


def sanitize_dataloaders(cfg: Config,
                         no_pin_memory: bool = False,
                         no_persistent_workers: bool = False) -> None:
    """Dataloader settings that work on the machine at hand.

    ``default_collate`` unless set; ``persistent_workers`` only with workers
    (torch raises otherwise) and ``pin_memory`` only with CUDA.
    """
    cuda = torch.cuda.is_available()
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if not isinstance(loader, dict):
            continue
        _drop_function_scopes(loader)
        loader.setdefault('collate_fn', dict(type='default_collate'))
        workers = loader.get('num_workers', 0)
        loader.setdefault('persistent_workers', workers > 0)
        loader.setdefault('pin_memory', cuda)
        if no_pin_memory or not cuda:
            loader['pin_memory'] = False
        if no_persistent_workers or workers == 0:
            loader['persistent_workers'] = False


def _drop_function_scopes(loader: dict) -> None:
    """A config that inherits ``mmmedssl::...`` gets ``_scope_`` in every
    dict with a ``type``. mmengine builds ``collate_fn`` and
    ``worker_init_fn`` as plain functions and passes the other keys as
    arguments, so ``_scope_`` would reach ``default_collate`` /
    ``seed_worker`` as a keyword; the scope means nothing for a function."""
    for key in ('collate_fn', 'worker_init_fn'):
        if isinstance(loader.get(key), dict):
            loader[key].pop('_scope_', None)


# The default hooks mmengine's Runner adds by itself.
_RUNNER_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger',
                         'param_scheduler', 'checkpoint')


def drop_disabled_hooks(cfg: Config) -> None:
    """Let ``default_hooks.<name>=None`` switch off any default hook.

    mmengine accepts None only for its own six default hooks and asserts on
    others, such as mmmedssl's ``rng_state`` and ``sync_buffers``.
    """
    hooks = cfg.get('default_hooks') or {}
    for name in list(hooks):
        if hooks[name] is None and name not in _RUNNER_DEFAULT_HOOKS:
            hooks.pop(name)


def fall_back_to_fp32_without_cuda(cfg: Config) -> None:
    """Run configs written for mixed precision (``AmpOptimWrapper``) in
    fp32 when there is no CUDA device, with a warning.

    mmengine's ``AmpOptimWrapper`` asserts on CPU; the paper-setting configs
    use it as the released code did (apex O1, here ``torch.amp``).
    """
    optim_wrapper = cfg.get('optim_wrapper')
    if (not isinstance(optim_wrapper, dict)
            or optim_wrapper.get('type') != 'AmpOptimWrapper'
            or torch.cuda.is_available()):
        return
    warnings.warn('optim_wrapper is AmpOptimWrapper but there is no CUDA '
                  'device: training in fp32 with OptimWrapper instead.')
    optim_wrapper['type'] = 'OptimWrapper'
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        optim_wrapper.pop(key, None)


@MMMEDSSL_RUNNERS.register_module()
class MedSSLRunner(Runner):
    """mmengine's Runner with guards against runs that look fine but are not.

    - ``train()`` holds the work-dir lock (:class:`WorkDirLock`): a second
      training run into a busy work dir stops with the owner's pid and host.
      Rank 0 takes it, and every rank gets its answer. ``lock_work_dir =
      False`` in the config switches this off.
    - Under DDP every rank beats into the rendezvous store
      (:class:`~mmmedssl.engine.rank_watch.RankHeartbeat`): a rank that
      stops answering is named in a warning and, when the collective times
      out (``env_cfg.dist_cfg.timeout``, default 5 minutes), in the error.
    - A training loader that yields no batch (a dataset smaller than a
      ``drop_last`` batch) is an error before training starts.
    - ``load_from`` reports matched, missing, unexpected and shape-mismatched
      tensors and fails when fewer than ``load_from_min_match`` (a share,
      default 1: every tensor of the model) were loaded. ``resume`` loads
      strictly: the checkpoint of the same run must fit exactly.
    """

    _checkpoint_purpose = None

    # -- one run per work dir ---------------------------------------------
    def train(self):
        if not self.cfg.get('lock_work_dir', True):
            return self._train_watched()
        from mmmedssl.engine.work_dir_lock import WorkDirLock
        lock = WorkDirLock(self.work_dir)
        error = [None]
        if get_rank() == 0:
            try:
                lock.acquire()
            except Exception as err:  # the busy message goes to every rank
                error = [f'{type(err).__name__}: {err}']
        if get_world_size() > 1:
            broadcast_object_list(error, src=0)
        if error[0] is not None:
            from mmmedssl.engine.work_dir_lock import WorkDirBusyError
            raise WorkDirBusyError(error[0])
        try:
            return self._train_watched()
        finally:
            lock.release()

    # -- a rank that stops answering --------------------------------------
    def _train_watched(self):
        """``Runner.train`` with a heartbeat under DDP: a timed-out
        collective raises naming the ranks that stopped or lag."""
        if get_world_size() < 2:
            return super().train()
        from mmmedssl.engine.rank_watch import (DistributedTimeoutError,
                                                RankHeartbeat, dist_timeout,
                                                is_collective_timeout)
        watch = RankHeartbeat(get_rank(), get_world_size(),
                              lambda: getattr(self._train_loop, 'iter', 0)
                              ).start()
        try:
            return super().train()
        except Exception as err:
            if not is_collective_timeout(err):
                raise
            timeout = dist_timeout(
                self.cfg.get('env_cfg', {}).get('dist_cfg', {}).get(
                    'timeout'))
            raise DistributedTimeoutError(watch.diagnose(err, timeout)) \
                from err
        finally:
            watch.stop()

    # -- the environment block ---------------------------------------------
    def _log_env(self, env_cfg: dict) -> None:
        """mmengine's environment block, with the processes counted
        honestly: mmengine prints ``GPU number: <world size>`` even on a
        CPU-only machine; here that line says ``Processes: N (CPU)`` when
        the run does not use CUDA."""
        if torch.cuda.is_available():
            return super()._log_env(env_cfg)
        from mmengine.utils.dl_utils import collect_env
        runtime = dict(env_cfg)
        runtime.update(self._randomness_cfg)
        runtime.update({
            'seed': self._seed,
            'Distributed launcher': self._launcher,
            'Distributed training': self._distributed,
            'Processes': f'{self._world_size} (CPU)',
        })
        blocks = [('System environment', collect_env()),
                  ('Runtime environment', runtime)]
        dash_line = '-' * 60
        lines = ['', dash_line]
        for title, items in blocks:
            lines.append(f'{title}:')
            lines += [f'    {key}: {value}' for key, value in items.items()]
            lines.append('')
        self.logger.info('\n'.join(lines + [dash_line, '']))
        if self.cfg._cfg_dict:
            self.logger.info(f'Config:\n{self.cfg.pretty_text}')

    # -- a loader that yields nothing -------------------------------------
    def build_train_loop(self, loop):
        loop = super().build_train_loop(loop)
        check_train_loader(loop.dataloader)
        return loop

    # -- load_from and resume ---------------------------------------------
    def load_or_resume(self) -> None:
        self._checkpoint_purpose = 'load_from'
        try:
            super().load_or_resume()
        finally:
            self._checkpoint_purpose = None

    def resume(self, *args, **kwargs) -> None:
        previous, self._checkpoint_purpose = self._checkpoint_purpose, \
            'resume'
        try:
            super().resume(*args, **kwargs)
        finally:
            self._checkpoint_purpose = previous

    def load_checkpoint(self,
                        filename: str,
                        map_location='cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module\.', '')]):
        if self._checkpoint_purpose == 'resume':
            # A run continues from its own checkpoint: anything but an
            # exact fit means a wrong file.
            return super().load_checkpoint(filename, map_location, True,
                                           revise_keys)
        if self._checkpoint_purpose != 'load_from' or strict:
            return super().load_checkpoint(filename, map_location, strict,
                                           revise_keys)
        return self._load_from_checked(filename, map_location, revise_keys)

    def _load_from_checked(self, filename, map_location, revise_keys):
        import re
        from collections import OrderedDict

        from mmmedssl.models.utils.weights.loading import (
            check_min_match, load_state_dict_with_report)
        min_match = self.cfg.get('load_from_min_match', 1.)
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        state_dict = checkpoint.get('state_dict', checkpoint)
        metadata = getattr(state_dict, '_metadata', None)
        for pattern, replacement in revise_keys:
            state_dict = OrderedDict((re.sub(pattern, replacement, k), v)
                                     for k, v in state_dict.items())
        if metadata is not None:
            state_dict._metadata = metadata
        report = load_state_dict_with_report(model, state_dict)
        check_min_match(report, min_match,
                        f'load_from {filename} into {type(model).__name__}',
                        'load_from_min_match')
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}: '
                         f'{report.summary()}.')
        return checkpoint


def check_train_loader(dataloader) -> None:
    """Raise if ``dataloader`` yields no batch on this rank, naming the
    dataset size, batch size, ``drop_last`` and world size.

    Without this a dataset smaller than one ``drop_last`` batch trains for
    zero iterations and saves an untrained checkpoint (epoch-based loops),
    or spins forever (iteration-based loops, whose sampler is infinite).
    """
    try:
        dataset_size = len(dataloader.dataset)
    except TypeError:  # an iterable dataset: its length is unknown
        return
    world_size = get_world_size()
    batch_size = dataloader.batch_size
    drop_last = bool(dataloader.drop_last)
    if batch_size is None:  # a batch_sampler decides
        batch_sampler = dataloader.batch_sampler
        batch_size = getattr(batch_sampler, 'batch_size', None)
        drop_last = bool(getattr(batch_sampler, 'drop_last', False))
        if batch_size is None:
            return
    per_rank = -(-dataset_size // world_size)
    if isinstance(dataloader.sampler, InfiniteSampler):
        # Its len() is the whole set, not this rank's share.
        batches = (per_rank // batch_size if drop_last else
                   -(-per_rank // batch_size))
    else:
        batches = len(dataloader)
    if batches > 0:
        return
    ranks = (f' over {world_size} processes ({per_rank} per process)'
             if world_size > 1 else '')
    raise ValueError(
        f'train_dataloader yields no batch: {dataset_size} training '
        f'samples{ranks}, batch_size={batch_size}, drop_last={drop_last}. '
        'Training would run 0 iterations and save an untrained model. Use '
        'a smaller train_dataloader.batch_size, drop_last=False '
        '(train_dataloader.sampler or the loader), or more data.')


class _FormattedOnceConfig(Config):
    """A Config whose ``pretty_text`` is formatted once per content.

    mmengine formats the whole config with yapf (a fraction of a second)
    each time it is asked: at start, for the dumped copy, by a hook, and
    again in every checkpoint it saves.
    """
    _formatted = {}  # repr of the content -> text; the last one only

    @property
    def pretty_text(self) -> str:
        key = repr(self._cfg_dict)
        text = self._formatted.get(key)
        if text is None:
            text = super().pretty_text
            self._formatted.clear()
            self._formatted[key] = text
        return text


def build_runner(cfg: Config, training: bool = True) -> Runner:
    """Build the Runner of a config the way ``tools/train.py`` does.

    Registers mmmedssl's modules, enters the config's default scope and, for
    distributed launchers without CUDA, starts a gloo process group (see
    :func:`mmmedssl.engine.prepare_launcher`). A config with
    ``data_size_recipe`` gets its epochs, memory lengths and lr scaling
    from its training set (:mod:`mmmedssl.engine.data_size`); with
    ``training=False`` (evaluation tools) a training set that cannot be
    read leaves the config as written, with a log line.
    """
    from mmmedssl.engine import prepare_launcher
    from mmmedssl.engine.data_size import apply_data_size_recipe
    from mmmedssl.engine.data_size import describe as describe_recipe
    from mmmedssl.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    if cfg.get('default_scope') is not None:
        init_default_scope(cfg.default_scope)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if isinstance(cfg.get(name), dict):
            _drop_function_scopes(cfg[name])
    cfg = prepare_launcher(cfg)
    drop_disabled_hooks(cfg)
    fall_back_to_fp32_without_cuda(cfg)
    # Before the model is built: memory lengths are part of its state, so a
    # test run must size them as training did. Evaluation tools that read
    # other data (training=False) go on without the training set.
    try:
        recipe_lines = apply_data_size_recipe(cfg)
    except Exception as err:
        if training:
            raise
        recipe_lines = [f'not applied ({type(err).__name__}: {err}); the '
                        'config\'s epochs and memory lengths are used']
    if type(cfg) is Config:  # the Runner deep-copies it, class included
        object.__setattr__(cfg, '__class__', _FormattedOnceConfig)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = MedSSLRunner.from_cfg(cfg)
    if recipe_lines:
        runner.logger.info(describe_recipe(recipe_lines))
    return runner


def run_test(cfg: Config, checkpoint=None) -> dict:
    """Evaluate ``checkpoint`` (None: the config's initialisation) with the
    config's test loop; returns the metrics."""
    cfg.load_from = checkpoint
    cfg.resume = False
    sanitize_dataloaders(cfg)
    runner = build_runner(cfg, training=False)
    if checkpoint is None:
        # Runner.test() never initialises weights (Runner.train() does):
        # without this the "random init" would be PyTorch's default layer
        # init, not the network that pretraining starts from.
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model.init_weights()
    return runner.test()
