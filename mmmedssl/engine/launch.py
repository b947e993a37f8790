# Copyright (c) mmmedssl contributors. All rights reserved.
"""Launcher set-up that mmengine's Runner lacks: distributed runs on CPU.

mmengine's ``init_dist('pytorch')`` always calls ``torch.cuda.set_device``
and its default DDP wrapper passes ``device_ids=[LOCAL_RANK]``, so multi-
process training fails on machines without CUDA. When CUDA is absent,
:func:`prepare_launcher` starts a gloo process group itself (before the
Runner would) and switches the model wrapper to CPU. With CUDA: nccl and
device ids, as upstream. Either way the collective timeout defaults to 5
minutes instead of 30 (:func:`mmmedssl.engine.rank_watch.dist_timeout`), so
that a rank that stops answering ends the job soon.
"""
import os
import subprocess
from datetime import timedelta

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

from .rank_watch import dist_timeout


CPU_DDP_WRAPPER = 'mmmedssl.models.utils.MedDistributedDataParallel'


def _slurm_env() -> None:
    """Derive torch.distributed's variables from SLURM's."""
    os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
    os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
    os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
    if 'MASTER_ADDR' not in os.environ:
        nodes = os.environ['SLURM_NODELIST']
        first = subprocess.getoutput(
            f'scontrol show hostname {nodes} | head -n1')
        os.environ['MASTER_ADDR'] = first
    os.environ.setdefault('MASTER_PORT', os.environ.get('PORT', '29500'))


def _mpi_env() -> None:
    os.environ.setdefault('RANK', os.environ['OMPI_COMM_WORLD_RANK'])
    os.environ.setdefault('WORLD_SIZE', os.environ['OMPI_COMM_WORLD_SIZE'])
    os.environ.setdefault('LOCAL_RANK',
                          os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    os.environ.setdefault('MASTER_PORT', os.environ.get('PORT', '29500'))


def prepare_launcher(cfg: Config) -> Config:
    """Start a CPU process group when ``cfg.launcher`` asks for distributed
    training and CUDA is absent; returns ``cfg`` adjusted for it."""
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none':
        return cfg
    # Assign, then read back: a Config stores a converted copy.
    if cfg.get('env_cfg') is None:
        cfg['env_cfg'] = {}
    if cfg['env_cfg'].get('dist_cfg') is None:
        cfg['env_cfg']['dist_cfg'] = {}
    dist_cfg = cfg['env_cfg']['dist_cfg']
    dist_cfg['timeout'] = dist_timeout(dist_cfg.get('timeout'))
    if torch.cuda.is_available():
        return cfg
    if launcher == 'slurm':
        _slurm_env()
    elif launcher == 'mpi':
        _mpi_env()
    elif launcher != 'pytorch':
        raise ValueError(f'Unknown launcher {launcher!r}; expected none, '
                         'pytorch, slurm or mpi.')
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher {launcher} needs the environment variables '
            f'{", ".join(missing)}; start the script with torchrun (see '
            'tools/dist_train.sh) or srun (tools/slurm_train.sh).')
    dist_cfg['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        timeout = dist_cfg['timeout']
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            timeout=timedelta(seconds=timeout))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    # The Runner looks wrappers up in mmengine's root registry, which does
    # not see mmmedssl's node by plain name: use the import path.
    if wrapper.get('type', 'MMDistributedDataParallel') in (
            'MMDistributedDataParallel', 'MedDistributedDataParallel'):
        wrapper['type'] = CPU_DDP_WRAPPER
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if cfg.get('sync_bn') is not None:
        print_log('sync_bn is ignored on CPU: SyncBatchNorm needs an '
                  'accelerator.', logger='current')
        cfg.sync_bn = None
    return cfg


def shutdown_distributed() -> None:
    """Wait for every rank, then tear the process group down.

    Leaving it to interpreter exit lets gloo's threads be destroyed in a
    random order, which now and then aborts a finished run ("terminate
    called without an active exception") and fails the launcher.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
