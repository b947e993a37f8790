# Copyright (c) mmmedssl contributors. All rights reserved.
"""GraVIS loss: Smooth-AP over groups of homogeneous views, computed in
O(N^2 V) memory and time instead of the released code's O(N^3)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch.autograd.function import once_differentiable

from mmmedssl.registry import MODELS

def _positive_index(group_ids: torch.Tensor
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every query, the indices of its group (itself included), padded.

    Returns ``same[N, N]`` (bool), ``pos_idx[N, P]`` and ``pos_valid[N, P]``
    where ``P`` is the largest group size; padding points at the query itself
    and is masked out by ``pos_valid``.
    """
    n = group_ids.numel()
    same = group_ids[:, None] == group_ids[None, :]
    counts = same.sum(1)
    width = int(counts.max())
    # Stable sort puts each row's group members first, in index order.
    order = torch.sort((~same).to(torch.uint8), dim=1, stable=True).indices
    pos_idx = order[:, :width]
    pos_valid = torch.arange(width, device=group_ids.device)[None] < \
        counts[:, None]
    rows = torch.arange(n, device=group_ids.device)[:, None]
    pos_idx = torch.where(pos_valid, pos_idx, rows)
    return same, pos_idx, pos_valid


def hardness_attention_weights(sim: torch.Tensor, pos_idx: torch.Tensor,
                               pos_valid: torch.Tensor,
                               temperature: float) -> torch.Tensor:
    """Weights of the homogeneous views of each query (no gradient).

    For query ``q`` and a homogeneous view ``i != q``, with cosine
    similarity ``c_qi``::

        w_qi = (|G(q)| - 1) * softmax_{i in G(q), i != q}(c_qi / temperature)

    and ``w_qq = 1``. The weights average to 1, so the loss keeps its range
    and ``temperature -> inf`` gives back the unweighted objective.
    """
    with torch.no_grad():
        norms = sim.diagonal().clamp_min(1e-12).sqrt()
        cos = sim / (norms[:, None] * norms[None, :])
        pos_cos = torch.gather(cos, 1, pos_idx)
        rows = torch.arange(sim.shape[0], device=sim.device)[:, None]
        others = pos_valid & (pos_idx != rows)
        logits = (pos_cos / temperature).masked_fill(~others, float('-inf'))
        n_others = others.sum(1, keepdim=True)
        # A singleton group has no other view: its softmax row is all -inf.
        soft = torch.softmax(logits, dim=1).nan_to_num(0.0)
        weights = soft * n_others
        return torch.where(others, weights, pos_valid.to(weights.dtype))


class _GroupSmoothAP(torch.autograd.Function):
    """Smooth-AP of every query against its group, from the similarity
    matrix, processed in chunks of queries.

    Everything a query needs (its ranks and their gradients) lies in its own
    row of the similarity matrix, so one pass computes the loss and its
    gradient with respect to ``sim``; backward only scales it.
    """

    @staticmethod
    def forward(ctx, sim, same, pos_idx, pos_valid, weights, temperature,
                chunk_size):
        n = sim.shape[0]
        inv_t = 1.0 / temperature
        needs_grad = ctx.needs_input_grad[0]
        grad = torch.zeros_like(sim) if needs_grad else None
        group_size = pos_valid.sum(1).to(sim.dtype)
        ap = sim.new_zeros(n)
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            s = sim[start:stop]  # (c, N)
            idx = pos_idx[start:stop]  # (c, P)
            valid = pos_valid[start:stop].to(sim.dtype)
            s_pos = torch.gather(s, 1, idx)  # (c, P)
            # Heterogeneous views j ranked above homogeneous view i; the
            # big (c, P, N) tensor is updated in place and reduced by bmm.
            neg = (~same[start:stop]).to(sim.dtype)[:, :, None]  # (c, N, 1)
            sig_n = (s[:, None, :] - s_pos[:, :, None]).mul_(inv_t).sigmoid_()
            neg_rank = torch.bmm(sig_n, neg).squeeze(2)  # (c, P)
            # Homogeneous views j != i ranked above homogeneous view i.
            sig_p = ((s_pos[:, None, :] - s_pos[:, :, None]) * inv_t).sigmoid()
            pair = valid[:, None, :] * (1.0 - torch.eye(
                idx.shape[1], dtype=sim.dtype, device=sim.device))
            pos_rank = 1.0 + (sig_p * pair).sum(2)  # (c, P)
            all_rank = pos_rank + neg_rank
            coef = weights[start:stop] * valid / group_size[start:stop, None]
            ap[start:stop] = (coef * pos_rank / all_rank).sum(1)
            if not needs_grad:
                continue
            # d(-ap)/d pos_rank and d(-ap)/d neg_rank (divided by N below).
            g_pos = -coef * neg_rank / all_rank**2
            g_neg = coef * pos_rank / all_rank**2
            # sigmoid' = y (1 - y) / T, in place.
            dsig_n = sig_n.addcmul_(sig_n, sig_n, value=-1.0).mul_(inv_t)
            to_j = torch.bmm(g_neg[:, None, :], dsig_n).squeeze(1)  # (c, N)
            from_i = g_neg * torch.bmm(dsig_n, neg).squeeze(2)  # (c, P)
            t_pos = g_pos[:, :, None] * sig_p * (1.0 - sig_p) * inv_t * pair
            g = to_j * neg.squeeze(2)
            g.scatter_add_(1, idx, t_pos.sum(1) - from_i - t_pos.sum(2))
            grad[start:stop] = g / n
        if needs_grad:
            ctx.save_for_backward(grad)
        return 1.0 - ap.mean()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        grad, = ctx.saved_tensors
        return grad * grad_output, None, None, None, None, None, None


@MODELS.register_module()
class GraVISLoss(nn.Module):
    """Smooth-AP over groups of homogeneous views (GraVIS).

    For embeddings ``e_1..e_N`` with similarities ``s_ij = e_i . e_j`` and
    groups ``G(q)`` (all views sharing the query's group id, the query
    included), with ``sig(x) = 1 / (1 + exp(-x / T))``::

        R_all(q, i) = 1 + sum_{j != i}              sig(s_qj - s_qi)
        R_pos(q, i) = 1 + sum_{j != i, j in G(q)}   sig(s_qj - s_qi)
        AP_q = 1/|G(q)| sum_{i in G(q)} w_qi R_pos(q, i) / R_all(q, i)
        loss = 1 - mean_q AP_q

    With ``w = 1`` (``hardness_attention=None``) this is the objective of the
    released GraVIS code (query in its own group and in the retrieval set),
    for any group layout and size. The released sigmoid clamps its exponent
    to [-50, 50]; that changes values and gradients by less than 1e-20, so
    the clamp is left out. With
    ``hardness_attention='similarity'``, ``w_qi`` weighs homogeneous views
    that look like the query more (see :func:`hardness_attention_weights`);
    the weights carry no gradient.

    The loss never builds the released N x N x N tensor: each query only
    ranks its own group's views against all views, in chunks of queries, so
    memory is O(N^2 + chunk) and time O(N^2 V).

    Args:
        temperature (float): Sigmoid temperature T ("anneal"). Defaults to
            0.2, the released value.
        hardness_attention (str, optional): None (released objective) or
            ``'similarity'`` (softmax over cosine similarity).
        attention_temperature (float): Softmax temperature of the attention.
            Defaults to 0.5.
        chunk_elements (int): Upper bound on the elements of one chunk's
            (queries x group x N) tensors; lower it to save memory.
        loss_weight (float): Multiplier of the loss.
    """

    def __init__(self,
                 temperature: float = 0.2,
                 hardness_attention: Optional[str] = None,
                 attention_temperature: float = 0.5,
                 chunk_elements: int = 2**22,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'GraVISLoss: temperature must be > 0, got '
                             f'{temperature}.')
        if hardness_attention not in (None, 'similarity'):
            raise ValueError(
                "GraVISLoss: hardness_attention must be None or "
                f"'similarity', got {hardness_attention!r}.")
        if attention_temperature <= 0:
            raise ValueError('GraVISLoss: attention_temperature must be > 0, '
                             f'got {attention_temperature}.')
        if chunk_elements < 1:
            raise ValueError('GraVISLoss: chunk_elements must be >= 1, got '
                             f'{chunk_elements}.')
        self.temperature = float(temperature)
        self.hardness_attention = hardness_attention
        self.attention_temperature = float(attention_temperature)
        self.chunk_elements = int(chunk_elements)
        self.loss_weight = loss_weight

    def forward(self, embeddings: torch.Tensor,
                group_ids: torch.Tensor) -> torch.Tensor:
        """
        Args:
            embeddings (Tensor): ``(N, d)`` view embeddings (normalised or
                not: the similarity is their dot product).
            group_ids (Tensor): ``(N,)`` integer source of each view; views
                with equal ids are homogeneous.
        """
        if embeddings.dim() != 2:
            raise ValueError('GraVISLoss: embeddings must be (N, d), got '
                             f'shape {tuple(embeddings.shape)}.')
        group_ids = torch.as_tensor(group_ids, device=embeddings.device)
        if group_ids.shape != embeddings.shape[:1]:
            raise ValueError(
                f'GraVISLoss: got {embeddings.shape[0]} embeddings but '
                f'group_ids of shape {tuple(group_ids.shape)}; expected one '
                'group id per embedding.')
        if embeddings.shape[0] < 2:
            raise ValueError('GraVISLoss: needs at least 2 embeddings.')
        emb = embeddings.float()
        sim = emb @ emb.t()
        same, pos_idx, pos_valid = _positive_index(group_ids)
        if self.hardness_attention is None:
            weights = pos_valid.to(sim.dtype)
        else:
            weights = hardness_attention_weights(
                sim.detach(), pos_idx, pos_valid, self.attention_temperature)
        per_query = pos_idx.shape[1] * sim.shape[0]
        chunk_size = max(1, self.chunk_elements // per_query)
        loss = _GroupSmoothAP.apply(sim, same, pos_idx, pos_valid, weights,
                                    self.temperature, chunk_size)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, hardness_attention='
                f'{self.hardness_attention!r}, attention_temperature='
                f'{self.attention_temperature}')
