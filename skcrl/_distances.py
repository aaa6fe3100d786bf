"""Instance-level distances (docs/spec.md §3) and their gradient in closed form.

Embeddings are L2-normalised, so the distance of a pair is
``sqrt(2 - 2 cos)``, with the cosine that mining has already computed: no
``(anchors, k, D)`` copy of the embeddings is made for the loss, and the gradient
is chained back by hand, in blocks of anchors, so that memory stays linear in ``n``.
Every function works on a stack of ``T`` tasks (``T = 1`` multi-class, ``J``
multi-label), as :mod:`skcrl._mining` does.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import _gates
from ._cached import arange, numbers, scalar
from ._mining import MinedPairs

__all__ = ["embedding_gradient", "instance_distances", "unit_embeddings"]


def _task_major(embeddings: Tensor) -> Tensor:
    """``(n, J, D)`` as ``(J, n, D)``; shared ``(n, D)`` as ``(1, n, D)``."""
    if embeddings.dim() == 3:
        return embeddings.transpose(0, 1)
    return embeddings.unsqueeze(0)


def unit_embeddings(embeddings: Tensor) -> tuple[Tensor, Tensor]:
    """``(T, n, D)`` unit vectors (``(1, n, D)`` when all tasks share them), as
    ``F.normalize`` makes them, and the norms ``(T, n, 1)`` they were divided by
    (which the gradient needs again)."""
    embeddings = _task_major(embeddings)
    norms = torch.linalg.vector_norm(embeddings, dim=-1, keepdim=True).clamp_min_(1e-12)
    return embeddings / norms, norms


def _distance(cosine: Tensor, valid: Tensor) -> Tensor:
    one, two = numbers(cosine, 1.0, 2.0)
    return (
        torch.sub(two, torch.where(valid, cosine, one), alpha=2).clamp_min_(0).sqrt_()
    )


def instance_distances(pairs: MinedPairs) -> tuple[Tensor, Tensor]:
    """Euclidean distances between the unit embeddings of the mined pairs, from
    their cosines (0 where a slot is empty)."""
    return (
        _distance(pairs.pos_cosine, pairs.pos_valid),
        _distance(pairs.neg_cosine, pairs.neg_valid),
    )


def embedding_gradient(
    embeddings: Tensor,
    units: tuple[Tensor, Tensor],
    pairs: MinedPairs,
    distances: tuple[Tensor, Tensor],
    grads: tuple[Tensor, Tensor],
) -> Tensor:
    """``d loss / d embeddings`` from ``d loss / d distance`` of every pair.

    ``d = sqrt(2 - 2 u_a . u_j)`` gives ``d loss / d cos = -g / d`` (0 at
    ``d = 0``, where the distance has no gradient), then ``u_a`` and ``u_j``
    each receive the other, weighted, and the normalisation
    ``u = e / |e|`` projects: ``de = (du - u (u . du)) / |e|``. ``units`` are
    :func:`unit_embeddings`' unit vectors and norms.
    """
    units, norm = units
    n_tasks = pairs.anchor_index.shape[0]
    index = torch.cat((pairs.pos_index, pairs.neg_index), dim=2)
    distance = torch.cat(distances, dim=2)
    grad = torch.cat(grads, dim=2)
    zero = scalar(0.0, distance.dtype, distance.device)
    coefficient = torch.where(distance > zero, grad / distance.neg(), zero)
    shared = units.shape[0] == 1 and n_tasks > 1
    n = units.shape[1]
    if _gates.dense_pairs(n_tasks, n):
        grad_units = _pair_matrix_gradient(units, pairs, index, coefficient)
    else:
        grad_units = _blocked_gradient(units, pairs, index, coefficient)
    if shared:
        grad_units = grad_units.sum(dim=0, keepdim=True)
    along = (grad_units * units).sum(dim=-1, keepdim=True)
    # Back from the task-major layout: (J, n, D) -> (n, J, D), (1, n, D) -> (n, D).
    grad_embeddings = (grad_units - units * along) / norm
    if embeddings.dim() == 3:
        return grad_embeddings.transpose(0, 1)
    return grad_embeddings.squeeze(0)


def _pair_matrix_gradient(units, pairs, index, coefficient):
    """``d loss / d units`` ``(T, n, D)``: ``(W + W^T) u`` with ``W[t, a, j]`` the
    weight of pair (anchor a, sample j) of task t (u_a receives ``w u_j``, and
    u_j ``w u_a``)."""
    n_tasks = coefficient.shape[0]
    n = units.shape[1]
    # flat (task, anchor, other) entry of each pair
    anchor = pairs.anchor_index
    if n_tasks > 1:
        anchor = torch.add(anchor, arange(n_tasks, units.device).view(-1, 1), alpha=n)
    entry = torch.add(index, anchor.unsqueeze(-1), alpha=n)
    weights = torch.zeros((n_tasks, n, n), dtype=units.dtype, device=units.device)
    weights.put_(entry, coefficient, accumulate=True)
    return torch.bmm(weights + weights.transpose(1, 2), units.expand(n_tasks, -1, -1))


def _blocked_gradient(units, pairs, index, coefficient):
    """``d loss / d units`` ``(T, n, D)`` gathered pair by pair, in blocks of
    anchors, so that memory stays linear in ``n``."""
    n_tasks, n_slots = pairs.anchor_index.shape
    n, dim = units.shape[1:]
    # Rows of every task in one (T n, D) table, so that whole rows are copied.
    table = units.expand(n_tasks, -1, -1).reshape(-1, dim)
    offset = (torch.arange(n_tasks, device=units.device) * n).unsqueeze(-1)
    anchor_rows = pairs.anchor_index + offset
    other_rows = index + offset.unsqueeze(-1)
    grad_units = torch.zeros_like(table)
    width = index.shape[2]
    block = _gates.similarity_block(n_tasks * width * dim)
    for start in range(0, n_slots, block):
        stop = min(start + block, n_slots)
        anchor = anchor_rows[:, start:stop].flatten()
        other = other_rows[:, start:stop].flatten()
        weight = coefficient[:, start:stop].reshape(-1, 1, width)
        others = table.index_select(0, other).view(-1, width, dim)
        # u_a receives sum_j w_aj u_j; each u_j receives w_aj u_a.
        grad_units.index_add_(0, anchor, torch.bmm(weight, others).squeeze(1))
        to_others = weight.transpose(1, 2) * table.index_select(0, anchor).unsqueeze(1)
        grad_units.index_add_(0, other, to_others.view(-1, dim))
    return grad_units.view(n_tasks, n, dim)
