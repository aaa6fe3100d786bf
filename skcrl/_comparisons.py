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
from typing import NamedTuple

import torch
from torch import Tensor

from ._cached import constants as cached_constants
from ._cached import numbers, scalar, zeros

__all__ = [
    "absolute",
    "absolute_shortfall",
    "compare",
    "cumulative_histogram",
    "distribution",
    "histogram_loss",
    "histogram_nodes",
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


class HistogramNodes(NamedTuple):
    """What the histogram loss of one node count, range, dtype and device
    reuses. The joined histogram has ``2 n_bins`` nodes: the positives', then
    the negatives'."""

    first_node: Tensor  # (1, 2, 1) int64: each half's first node, 0 and n_bins
    to_position: tuple  # -lo / step (cached 0-dim) and 1 / step (float)
    node_gradient: Tensor  # (4 n_bins - 1, 2 n_bins): see histogram_nodes
    half_step: Tensor  # 0-dim: -step / 2


@cached_constants(maxsize=32)
def histogram_nodes(n_bins, lo, hi, dtype, device) -> HistogramNodes:
    step = (hi - lo) / (n_bins - 1)
    # L = sum_{s <= t} H+[t] H-[s] = h' A h / 2 for the joined histogram
    # h = (H+, H-) and the symmetric A with A[t, n_bins + s] = [s <= t], so
    # dL/dh = A h. A value's share moves from its lower node to the next at
    # slope 1 / step: its gradient is a difference of consecutive entries of
    # A h / step. One product with (the differences of A's rows over step;
    # A over -step) gives those differences first, then -A h / step.
    nodes = torch.arange(n_bins, device=device)
    lower = (nodes.view(1, -1) <= nodes.view(-1, 1)).to(dtype)
    pairs = torch.zeros(2 * n_bins, 2 * n_bins, dtype=dtype, device=device)
    pairs[:n_bins, n_bins:] = lower
    pairs[n_bins:, :n_bins] = lower.t()
    return HistogramNodes(
        first_node=(torch.arange(2, device=device) * n_bins).view(1, 2, 1),
        # (n_bins - 1) / (hi - lo), a binary fraction for both levels' ranges:
        # v / step - lo / step is exact at v = lo and v = hi, so no value of
        # [lo, hi] leaves the nodes
        to_position=(scalar(-lo / step, dtype, device), 1 / step),
        node_gradient=torch.cat((pairs.diff(dim=0) / step, pairs / -step)),
        half_step=scalar(-step / 2, dtype, device),
    )


def histogram_loss(
    values: Tensor,
    weight: Tensor,
    n_bins: int,
    level: str,
    weighted: bool,
) -> tuple[Tensor, Tensor]:
    """The distribution comparison (SPEC §4), defined here for both levels: the
    chance that a negative is no farther than a positive, from linearly
    interpolated histograms of the two.

    ``values`` ``(R, 2, W)``: each anchor's distances to its positives (half 0)
    and to its negatives (half 1); ``weight`` the same shape, each value's
    weight, 0 where masked (the anchor's sample weight, or 1). Each half's
    histogram is divided by its total weight. Values outside the level's
    :data:`HISTOGRAM_RANGE` are clamped to it, with no gradient (at class
    level no valid value is: they lie in [-1, 1]). Returns the loss and its
    gradient with respect to ``values``. ``values`` and ``weight`` are
    overwritten.
    """
    lo, hi = HISTOGRAM_RANGE[level]
    nodes = histogram_nodes(n_bins, lo, hi, values.dtype, values.device)
    total = mean_divisor(weight.sum((0, 2), keepdim=True), weighted)
    # each value's place among its half's nodes, 0 to n_bins - 1 (the half's
    # first node is added to the index only: in low precision the positions
    # lose less)
    position = torch.add(
        nodes.to_position[0], values, alpha=nodes.to_position[1], out=values
    )
    if level == "instance":
        (zero, top) = numbers(values, 0.0, n_bins - 1)
        inside = torch.bitwise_and(position >= zero, position <= top)
        position = position.clamp_(0, n_bins - 1)
    else:  # only masked values, -s_q = inf, leave the nodes: their weight is 0
        inside = None
        position = position.clamp_max_(n_bins - 1)
    # its lower node (positions are not negative: a cast floors them)
    lower = position.clamp_max(n_bins - 2)
    node = torch.empty(values.shape, dtype=torch.int64, device=values.device)
    node = node.copy_(lower)
    upper_share = position.sub_(lower.floor_()).mul_(weight)
    node = node.add_(nodes.first_node).view(-1)
    # the gradient's weights, each half's normaliser folded in, before the
    # lower shares take the weights' place
    slope = weight / total
    if inside is not None:
        slope = slope.mul_(inside)
    # raw weights, then normalised: low precision loses less in the sums
    histogram = zeros((2 * n_bins,), values.dtype, values.device).scatter_add(
        0, node, weight.sub_(upper_share).view(-1)
    )
    # the upper nodes: one above, through a view (as_strided: one operation)
    histogram.as_strided((2 * n_bins - 1,), (1,), 1).scatter_add_(
        0, node, upper_share.view(-1)
    )
    histogram.view(1, 2, n_bins).div_(total)
    node_gradient = torch.mv(nodes.node_gradient, histogram)
    of_histogram = node_gradient.as_strided((2 * n_bins,), (1,), 2 * n_bins - 1)
    loss = torch.dot(histogram, of_histogram) * nodes.half_step
    # d loss / d value: the difference of A h / step at its lower node
    grad = node_gradient.index_select(0, node).view(values.shape).mul_(slope)
    return loss, grad


def distribution(
    d_pos: Tensor,
    pos_valid: Tensor,
    d_neg: Tensor,
    neg_valid: Tensor,
    level: str,
    n_bins: int,
    row_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`histogram_loss` of each row's positives and negatives. Only
    anchors with at least one positive and one negative take part."""
    width = max(d_pos.shape[1], d_neg.shape[1])
    # one (R, 2, W) layout: the shorter side (n <= k only) padded, masked
    pad = torch.nn.functional.pad
    joined = torch.stack(
        [pad(d, (0, width - d.shape[1])) for d in (d_pos, d_neg)], dim=1
    )
    valid = torch.stack(
        [pad(v, (0, width - v.shape[1])) for v in (pos_valid, neg_valid)], dim=1
    )
    taking_part = valid.any(2, keepdim=True).all(1, keepdim=True)
    weight = _entry_weight(torch.bitwise_and(valid, taking_part), None, d_pos)
    if row_weight is not None:
        weight = weight.mul_(row_weight.view(-1, 1, 1))
    loss, grad = histogram_loss(
        joined, weight, n_bins, level, weighted=row_weight is not None
    )
    return loss, grad[:, 0, : d_pos.shape[1]], grad[:, 1, : d_neg.shape[1]]


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
        d_pos, pos_valid, d_neg, neg_valid, level, n_bins, row_weight=row_weight
    )
