"""The three comparisons of SPEC.md §4 on mined distances, with their gradients.

Each function takes ``d_pos`` ``(R, P)`` with its mask ``pos_valid`` and ``d_neg``
``(R, Q)`` with ``neg_valid``: one row per anchor (all tasks and classes pooled), the
distances to its hard positives and negatives, as plain tensors (no autograd graph).
Masked entries may hold any finite number (or ``inf`` among negatives). Every
function returns ``(loss, grad_pos, grad_neg)``: the 0-dim loss and its exact
derivatives with respect to ``d_pos`` and ``d_neg`` (0 where masked), which the
callers chain to logits or embeddings themselves. The loss is 0, with zero
gradients, when there is nothing to compare. ``row_weight`` ``(R,)``, when given,
weighs each row's triplets, pairs and histogram entries by its anchor's sample
weight (SPEC §10); every mean becomes a weighted mean.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["absolute", "compare", "distribution", "relative", "sum_of_hinges"]

#: Range of the histogram nodes of the distribution comparison, per level.
HISTOGRAM_RANGE = {"class": (-1.0, 1.0), "instance": (0.0, 2.0)}


def sum_of_hinges(
    ascending: Tensor, valid: Tensor, upper: Tensor, weight: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """``sum weight[..., i] * sum_q max(0, upper[..., i] - ascending[..., q])``.

    ``ascending`` ``(..., Q)`` holds its valid values first, in increasing order;
    ``upper`` and ``weight`` ``(..., U)`` are queries against the same rows. Never
    builds the ``U * Q`` pairs: for one query, ``sum_q max(0, u - d_q)`` is
    ``m * u - (sum of the m values below u)``, read off prefix sums. Returns the
    sum and its gradients with respect to ``upper`` and ``ascending``.
    """
    boundaries = ascending.masked_fill(~valid, torch.inf)
    prefix = torch.nn.functional.pad(
        ascending.masked_fill(~valid, 0).cumsum(-1), (1, 0)
    )
    below = torch.searchsorted(boundaries, upper)
    hinge = below.to(upper.dtype) * upper - prefix.gather(-1, below)
    total = (weight * hinge).sum()
    grad_upper = weight * below.to(upper.dtype)
    # Value q is below the queries whose count `below` exceeds its position: the
    # weights of those, from a histogram of the counts.
    histogram = torch.zeros_like(prefix).scatter_add_(-1, below, weight)
    grad_ascending = histogram.cumsum(-1)[..., :-1] - weight.sum(-1, keepdim=True)
    return total, grad_upper, grad_ascending


def relative(
    d_pos: Tensor,
    pos_valid: Tensor,
    d_neg: Tensor,
    neg_valid: Tensor,
    margin: float,
    negatives_sorted: bool = False,
    row_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Mean of ``max(0, margin + d+ - d-)`` over every triplet ``(a, p, q)``.

    ``negatives_sorted`` skips the sort when the valid ``d-`` of each row already
    increase and come first.
    """
    per_row = pos_valid.sum(dim=1) * neg_valid.sum(dim=1)
    upper, weight = margin + d_pos, pos_valid.to(d_pos.dtype)
    if row_weight is None:
        n_triplets = per_row.sum().clamp(min=1)
    else:
        # a weighted count; a total weight below 1 is still a mean's divisor
        n_triplets = (per_row * row_weight).sum()
        n_triplets = torch.where(n_triplets > 0, n_triplets, 1)
        weight = weight * row_weight.unsqueeze(1)
    if negatives_sorted:
        total, grad_pos, grad_neg = sum_of_hinges(d_neg, neg_valid, upper, weight)
    else:
        ascending, order = torch.sort(d_neg.masked_fill(~neg_valid, torch.inf), dim=1)
        total, grad_pos, grad_sorted = sum_of_hinges(
            ascending, ascending < torch.inf, upper, weight
        )
        grad_neg = torch.empty_like(grad_sorted).scatter_(1, order, grad_sorted)
    return total / n_triplets, grad_pos / n_triplets, grad_neg / n_triplets


def _entry_weight(mask: Tensor, row_weight: Tensor | None, dtype) -> Tensor:
    """Each entry's weight: 1 (or its row's weight) where ``mask``, else 0."""
    weight = mask.to(dtype)
    return weight if row_weight is None else weight * row_weight.unsqueeze(1)


def _masked_mean(values: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted mean of ``values`` (0 for no weight at all), and each entry's
    share ``weight / total``."""
    total = weight.sum()
    share = weight / torch.where(total > 0, total, 1)
    return (values * share).sum(), share


def absolute(
    d_pos: Tensor,
    pos_valid: Tensor,
    d_neg: Tensor,
    neg_valid: Tensor,
    margin: float,
    row_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Contrastive: ``0.5 * (mean d+^2 + mean max(0, margin - d-)^2)``."""
    d_pos = d_pos.masked_fill(~pos_valid, 0)
    short = torch.relu(margin - d_neg.masked_fill(~neg_valid, margin))
    pulled, pos_share = _masked_mean(
        d_pos.square(), _entry_weight(pos_valid, row_weight, d_pos.dtype)
    )
    pushed, neg_share = _masked_mean(
        short.square(), _entry_weight(neg_valid, row_weight, d_pos.dtype)
    )
    return 0.5 * (pulled + pushed), pos_share * d_pos, -neg_share * short


def _soft_histogram(
    values: Tensor, weight: Tensor, lo: float, hi: float, n_bins: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Linear-interpolation histogram of the values, each entering with its
    ``weight`` (0 where masked), normalised to sum 1, with what its gradient
    needs: each value's lower node, the derivative of its upper node's share (0
    where clamped or masked), and the normaliser."""
    step = (hi - lo) / (n_bins - 1)
    position = (values.clamp(lo, hi) - lo) / step
    lower = position.floor().clamp(max=n_bins - 2).long()
    upper_share = (position - lower.to(position.dtype)) * weight
    total = weight.sum()
    total = torch.where(total > 0, total, 1)
    histogram = values.new_zeros(n_bins)
    histogram.scatter_add_(0, lower.flatten(), (weight - upper_share).flatten())
    histogram.scatter_add_(0, (lower + 1).flatten(), upper_share.flatten())
    inside = (values >= lo) & (values <= hi)
    slope = inside.to(values.dtype) * weight / (step * total)
    return histogram / total, lower, slope


def distribution(
    d_pos: Tensor,
    pos_valid: Tensor,
    d_neg: Tensor,
    neg_valid: Tensor,
    lo: float,
    hi: float,
    n_bins: int,
    row_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Histogram loss: the chance that a negative is no farther than a positive.

    Only anchors with at least one positive and one negative take part.
    """
    taking_part = pos_valid.any(dim=1, keepdim=True) & neg_valid.any(
        dim=1, keepdim=True
    )
    dtype = d_pos.dtype
    positives, pos_lower, pos_slope = _soft_histogram(
        d_pos, _entry_weight(pos_valid & taking_part, row_weight, dtype), lo, hi, n_bins
    )
    negatives, neg_lower, neg_slope = _soft_histogram(
        d_neg, _entry_weight(neg_valid & taking_part, row_weight, dtype), lo, hi, n_bins
    )
    below = negatives.cumsum(dim=0)
    loss = (positives * below).sum()
    # d loss / d H+[t] = sum_{s<=t} H-[s]; d loss / d H-[s] = sum_{t>=s} H+[t]; a
    # value moves its share from its lower node to the next one.
    above = positives.flip(0).cumsum(0).flip(0)

    def chain(node_grad: Tensor, lower: Tensor, slope: Tensor) -> Tensor:
        return (node_grad.take(lower + 1) - node_grad.take(lower)) * slope

    return loss, chain(below, pos_lower, pos_slope), chain(above, neg_lower, neg_slope)


def compare(
    comparison: str,
    level: str,
    d_pos: Tensor,
    pos_valid: Tensor,
    d_neg: Tensor,
    neg_valid: Tensor,
    *,
    margin: float,
    n_bins: int,
    row_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``comparison``'s loss and gradients; class-level negatives come sorted."""
    if comparison == "relative":
        negatives_sorted = level == "class"
        return relative(
            d_pos, pos_valid, d_neg, neg_valid, margin, negatives_sorted, row_weight
        )
    if comparison == "absolute":
        return absolute(d_pos, pos_valid, d_neg, neg_valid, margin, row_weight)
    return distribution(
        d_pos,
        pos_valid,
        d_neg,
        neg_valid,
        *HISTOGRAM_RANGE[level],
        n_bins,
        row_weight=row_weight,
    )
