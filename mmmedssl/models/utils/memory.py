# Copyright (c) mmmedssl contributors. All rights reserved.
import math

import torch
import torch.nn as nn
from mmengine.dist import all_gather, get_world_size


class KeyMemory(nn.Module):
    """A FIFO memory of ``size`` key vectors (a MoCo queue / C2L memory),
    the one queue layout of mmmedssl: buffer ``keys`` is ``(size, dim)``, one
    key per row, and buffer ``ptr`` the next row to write.

    ``push`` writes keys at the pointer and advances it modulo ``size``
    (wrapping inside a batch when needed, so ``size`` need not be a multiple
    of the batch). Under DDP the keys of all ranks are gathered first, so
    every rank holds the same memory. The pointer is a buffer: it is saved in
    checkpoints and a resumed run continues exactly (the released PCRL kept
    it in a Python attribute, so it restarted at 0).

    Args:
        size (int): Number of keys.
        dim (int): Key dimension.
        init (str): ``'uniform'`` (C2L/CMC: U[-s, s] with s = 1/sqrt(dim/3),
            the released PCRL memory) or ``'normal'`` (MoCo: Gaussian, then
            L2-normalised; drawn as mmpretrain's MoCo draws its
            ``(dim, size)`` queue and transposed, so that a seed gives the
            same keys).
    """

    def __init__(self, size: int, dim: int, init: str = 'uniform') -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f'KeyMemory: size and dim must be >= 1, got '
                             f'size={size}, dim={dim}.')
        if init == 'uniform':
            bound = 1. / math.sqrt(dim / 3)
            keys = torch.rand(size, dim).mul_(2 * bound).sub_(bound)
        elif init == 'normal':
            keys = nn.functional.normalize(torch.randn(dim, size), dim=0)
            keys = keys.t().contiguous()
        else:
            raise ValueError("KeyMemory: init must be 'uniform' or 'normal', "
                             f'got {init!r}.')
        self.size = size
        self.register_buffer('keys', keys)
        self.register_buffer('ptr', torch.zeros(1, dtype=torch.long))

    def similarities(self, query: torch.Tensor) -> torch.Tensor:
        """Dot products ``(B, size)`` of queries with every stored key.

        Uses a copy of the memory, so that a later ``push`` does not modify
        a tensor autograd saved for the backward pass."""
        return query @ self.keys.clone().t()

    @torch.no_grad()
    def push(self, keys: torch.Tensor) -> None:
        """Enqueue ``keys`` (B, dim), from all ranks under DDP."""
        if get_world_size() > 1:
            keys = torch.cat(all_gather(keys.contiguous()), dim=0)
        keys = keys.detach().to(self.keys.dtype)
        if keys.shape[0] > self.size:
            keys = keys[-self.size:]
        n = keys.shape[0]
        ptr = int(self.ptr)
        index = (torch.arange(n, device=keys.device) + ptr) % self.size
        self.keys.index_copy_(0, index, keys)
        self.ptr[0] = (ptr + n) % self.size
