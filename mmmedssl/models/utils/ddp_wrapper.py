# Copyright (c) mmmedssl contributors. All rights reserved.
import torch
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm

from mmmedssl.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class MedDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also runs on CPU processes.

    torch's SyncBatchNorm only runs on accelerators; on a CPU process group
    (gloo) this wrapper reverts SyncBN layers to plain BatchNorm before
    wrapping, so a GPU config trains unchanged on CPU. On GPUs it is plain
    ``MMDistributedDataParallel``.
    """

    def __init__(self, module, detect_anomalous_params: bool = False,
                 **kwargs):
        params = list(module.parameters())
        on_cpu = not params or params[0].device.type == 'cpu'
        if on_cpu and any(
                isinstance(m, torch.nn.SyncBatchNorm)
                for m in module.modules()):
            print_log(
                'SyncBatchNorm runs only on accelerators: reverted to '
                'BatchNorm for this CPU run (statistics stay per process).',
                logger='current')
            module = revert_sync_batchnorm(module)
        super().__init__(
            module, detect_anomalous_params=detect_anomalous_params, **kwargs)
