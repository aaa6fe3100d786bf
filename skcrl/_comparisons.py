"""The three comparisons of docs/spec.md §4 on mined distances, with their gradients.

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

import math

import torch
from torch import Tensor

from ._cached import numbers, zeros

__all__ = [
    "absolute",
    "absolute_shortfall",
    "compare",
    "cumulative_histogram",
    "distribution",
    "prefix_sums",
    "relative",
    "relative_hinges",
    "sum_of_hinges",
]

#: Range of the histogram nodes of the distribution comparison, per level.
HISTOGRAM_RANGE = {"class": (-1.0, 1.0), "instance": (0.0, 2.0)}


def prefix_sums(values: Tensor) -> Tensor:
    """``(..., Q + 1)``: the sums of the first ``0, 1, ..., Q`` values of each
    row of ``values`` ``(..., Q)`` (read at a count, the sum of that many)."""
    start = zeros((*values.shape[:-1], 1), values.dtype, values.device)
    return torch.cat((start, values.cumsum(-1)), dim=-1)


def cumulative_histogram(below: Tensor, weight: Tensor, n_values: int) -> Tensor:
    """``(..., n_values + 1)``: at ``j``, the total ``weight`` of the queries
    whose count ``below`` (``(..., U)``, each in ``0..n_values``) is at most
    ``j``; the last entry is every query's weight, so that entry less the one
    at ``j`` weighs the queries above value ``j``."""
    shape = (*below.shape[:-1], n_values + 1)
    histogram = zeros(shape, weight.dtype, weight.device)
    return histogram.scatter_add(-1, below, weight).cumsum(-1)


def sum_of_hinges(
    ascending: Tensor, upper: Tensor, weight: Tensor, negated: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """``sum weight[..., i] * sum_q max(0, upper[..., i] - ascending[..., q])``.

    ``ascending`` ``(..., Q)`` holds its valid values first, in increasing order,
    the others ``+inf``; ``upper`` and ``weight`` ``(..., U)`` are queries
    against the same rows, of finite value. Never builds the ``U * Q`` pairs:
    for one query, ``sum_q max(0, u - d_q)`` is ``m * u - (sum of the m values
    below u)``, read off prefix sums. Returns the sum and its gradients with
    respect to ``upper`` and ``ascending`` (``negated``: to ``-ascending``).
    """
    below = torch.searchsorted(ascending, upper)
    grad_upper = weight * below
    # a query counts only values below it, all finite: the infinite sums
    # past the valid values are never read
    total = torch.addcmul(
        grad_upper * upper,
        weight,
        prefix_sums(ascending).gather(-1, below),
        value=-1,
    ).sum()
    # Value q is below the queries whose count `below` exceeds its position: the
    # weights of those, from the cumulative histogram of the counts.
    cumulative = cumulative_histogram(below, weight, ascending.shape[-1])
    if negated:
        return total, grad_upper, cumulative[..., -1:] - cumulative[..., :-1]
    return total, grad_upper, cumulative[..., :-1] - cumulative[..., -1:]


def mean_divisor(total: Tensor, weighted: bool) -> Tensor:
    """``total`` as a mean's divisor: a count at least 1; a total weight, which
    may lie below 1, replaced by 1 only when it is 0."""
    if not weighted:
        return total.clamp_min(1)
    zero, one = numbers(total, 0.0, 1.0)
    return torch.where(total > zero, total, one)


def _entry_weight(mask: Tensor, row_weight: Tensor | None, like: Tensor) -> Tensor:
    """Each entry's weight: 1 (or its row's weight) where ``mask``, else 0."""
    zero, one = numbers(like, 0.0, 1.0)
    if row_weight is None:
        return torch.where(mask, one, zero)
    return torch.where(mask, row_weight.view(-1, 1), zero)


def relative_hinges(
    d_pos: Tensor,
    d_neg: Tensor,
    weight: Tensor,
    margin: float,
    negated: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """The relative comparison's triplet term, defined here and nowhere else:
    ``sum weight[..., i] * sum_q max(0, margin + d_pos[..., i] - d_neg[..., q])``.

    ``d_neg`` ``(..., Q)`` holds each row's valid values first, increasing, then
    ``+inf``; ``d_pos`` and ``weight`` ``(..., U)`` are the rows' positive
    distances (or, at class level, queries linear in the positives' scores) and
    their weights. Returns the sum and its gradients with respect to ``d_pos``
    and ``d_neg`` (``negated``: to ``-d_neg``). Both levels, and every layout of
    the class level, call this function: changing the margin or the hinge is a
    change here (the reference tests then say whether the change is right).
    """
    (margin_tensor,) = numbers(d_pos, margin)
    return sum_of_hinges(d_neg, d_pos + margin_tensor, weight, negated=negated)


def relative(
    d_pos: Tensor,
    pos_valid: Tensor,
    d_neg: Tensor,
    neg_valid: Tensor,
    margin: float,
    row_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Mean of the triplets' :func:`relative_hinges` over every triplet
    ``(a, p, q)``. The valid ``d-`` of each row come first, increasing (as
    mining returns them)."""
    (infinity,) = numbers(d_pos, math.inf)
    weight = _entry_weight(pos_valid, row_weight, d_pos)
    n_negatives = neg_valid.sum(1, dtype=d_pos.dtype)
    n_triplets = mean_divisor(
        torch.dot(weight.sum(1), n_negatives), row_weight is not None
    )
    # the mean's divisor folded into the weights: the sums and the gradients
    # are linear in them
    ascending = torch.where(neg_valid, d_neg, infinity)
    return relative_hinges(d_pos, ascending, weight / n_triplets, margin)


def _masked_mean(values: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted mean of ``values`` (0 for no weight at all), and each entry's
    share ``weight / total``."""
    share = weight / mean_divisor(weight.sum(), weighted=True)
    return (values * share).sum(), share


def absolute_shortfall(d_neg: Tensor, margin: float) -> Tensor:
    """The absolute comparison's margin, defined here for both levels:
    ``max(0, margin - d-)`` of each pushed pair, whose square is its loss."""
    (margin_tensor,) = numbers(d_neg, margin)
    return torch.sub(margin_tensor, d_neg).clamp_min_(0)


def absolute(
    d_pos: Tensor,
    pos_valid: Tensor,
    d_neg: Tensor,
    neg_valid: Tensor,
    margin: float,
    row_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Contrastive: ``0.5 * (mean d+^2 + mean max(0, margin - d-)^2)``."""
    zero, infinity, half = numbers(d_pos, 0.0, math.inf, 0.5)
    d_pos = torch.where(pos_valid, d_pos, zero)
    # an invalid pair falls short by 0: as if infinitely far
    short = absolute_shortfall(torch.where(neg_valid, d_neg, infinity), margin)
    pulled, pos_share = _masked_mean(
        d_pos * d_pos, _entry_weight(pos_valid, row_weight, d_pos)
    )
    pushed, neg_share = _masked_mean(
        short * short, _entry_weight(neg_valid, row_weight, d_pos)
    )
    return (pulled + pushed) * half, pos_share * d_pos, (neg_share * short).neg_()


def _soft_histogram(
    values: Tensor, weight: Tensor, lo: float, hi: float, n_bins: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Linear-interpolation histogram of the values, each entering with its
    ``weight`` (0 where masked), normalised to sum 1, with what its gradient
    needs: each value's lower node, the derivative of its upper node's share (0
    where clamped or masked), and the normaliser."""
    step = (hi - lo) / (n_bins - 1)
    lo_tensor, hi_tensor, step_tensor, zero = numbers(values, lo, hi, step, 0.0)
    position = (values.clamp(lo, hi) - lo_tensor) / step_tensor
    lower = position.floor().clamp_max(n_bins - 2)
    upper_share = (position - lower) * weight
    lower = lower.long().view(-1)
    total = mean_divisor(weight.sum(), weighted=True)
    histogram = zeros((n_bins,), values.dtype, values.device).clone()
    histogram.scatter_add_(0, lower, (weight - upper_share).view(-1))
    # the upper node of each value, one above its lower node
    histogram[1:].scatter_add_(0, lower, upper_share.view(-1))
    inside = torch.bitwise_and(values >= lo_tensor, values <= hi_tensor)
    slope = torch.where(inside, weight, zero) / (step_tensor * total)
    return histogram / total, lower, slope.view(-1)


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
    taking_part = torch.bitwise_and(
        pos_valid.any(dim=1, keepdim=True), neg_valid.any(dim=1, keepdim=True)
    )
    positives, pos_lower, pos_slope = _soft_histogram(
        d_pos,
        _entry_weight(torch.bitwise_and(pos_valid, taking_part), row_weight, d_pos),
        lo,
        hi,
        n_bins,
    )
    negatives, neg_lower, neg_slope = _soft_histogram(
        d_neg,
        _entry_weight(torch.bitwise_and(neg_valid, taking_part), row_weight, d_pos),
        lo,
        hi,
        n_bins,
    )
    below = negatives.cumsum(dim=0)
    loss = torch.dot(positives, below)
    # d loss / d H+[t] = sum_{s<=t} H-[s]; d loss / d H-[s] = sum_{t>=s} H+[t]; a
    # value moves its share from its lower node to the next one.
    above = positives.sum() - positives.cumsum(0) + positives

    def chain(node_grad: Tensor, lower: Tensor, slope: Tensor, like: Tensor) -> Tensor:
        return (node_grad.diff().take(lower) * slope).view_as(like)

    return (
        loss,
        chain(below, pos_lower, pos_slope, d_pos),
        chain(above, neg_lower, neg_slope, d_neg),
    )


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
    """``comparison``'s loss and gradients. Mined negatives come sorted, valid
    ones first: at class level by ascending ``s_a - s_q``, at instance level by
    descending cosine, so ascending distance."""
    if comparison == "relative":
        return relative(d_pos, pos_valid, d_neg, neg_valid, margin, row_weight)
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
