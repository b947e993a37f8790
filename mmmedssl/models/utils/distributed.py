# Copyright (c) mmmedssl contributors. All rights reserved.
"""Collectives that keep gradients, and view shuffling across ranks."""
from typing import Tuple

import torch
import torch.distributed as dist
from mmengine.dist import all_gather, get_world_size
from mmpretrain.models.utils import batch_shuffle_ddp


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0; backward sends each rank the sum, over ranks,
    of the gradients of its own slice (all-reduce works on every backend,
    gloo included, unlike reduce-scatter)."""

    @staticmethod
    def forward(ctx, tensor):
        tensor = tensor.contiguous()
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad.chunk(dist.get_world_size())[dist.get_rank()]


def check_same_size(tensor: torch.Tensor, what: str) -> None:
    """Raise on every rank if the ranks hold different batch sizes (an
    all-gather would otherwise hang or fail obscurely)."""
    size = torch.tensor([tensor.shape[0]], device=tensor.device)
    sizes = [int(s) for s in all_gather(size)]
    if len(set(sizes)) > 1:
        raise RuntimeError(
            f'{what}: ranks hold different numbers of samples {sizes}; use '
            'drop_last=True in the train dataloader so that every rank '
            'gets full batches.')


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks (rank order) along dim 0,
    differentiably; identity when not distributed."""
    if get_world_size() == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)


@torch.no_grad()
def gather_no_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks (rank order) along dim 0."""
    return torch.cat(all_gather(tensor))


@torch.no_grad()
def shuffle_views(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Randomly permute a batch, across all ranks when distributed.

    Returns this rank's share of the permuted global batch and the index
    that puts the gathered (rank-ordered) outputs back in the original
    global order. Single process: a local permutation.
    """
    if get_world_size() == 1:
        order = torch.randperm(x.shape[0], device=x.device)
        return x[order], torch.argsort(order)
    return batch_shuffle_ddp(x)
