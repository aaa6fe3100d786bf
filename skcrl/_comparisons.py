"""The three comparisons of SPEC.md §4 on mined distances.

Each function takes ``d_pos`` ``(R, P)`` with its mask ``pos_valid`` and ``d_neg``
``(R, Q)`` with ``neg_valid``: one row per anchor (all tasks and classes pooled), the
distances to its hard positives and negatives. Masked entries may hold any finite
number. Every function returns a 0-dim tensor that is 0, and still part of the
autograd graph, when there is nothing to compare.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["absolute", "distribution", "relative"]


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` where ``mask``; 0 for an empty mask."""
    total = torch.where(mask, values, torch.zeros_like(values)).sum()
    return total / mask.sum().clamp(min=1)


def relative(
    d_pos: Tensor,
    pos_valid: Tensor,
    d_neg: Tensor,
    neg_valid: Tensor,
    margin: float,
    negatives_sorted: bool = False,
) -> Tensor:
    """Mean of ``max(0, margin + d+ - d-)`` over every triplet ``(a, p, q)``.

    Never builds the ``R * P * Q`` triplet tensor: for one anchor,
    ``sum_q max(0, u_p - d-_q)`` with ``u_p = margin + d+_p`` is
    ``m * u_p - (sum of the m negatives below u_p)``, read off the anchor's sorted
    ``d-`` and their prefix sums. Time and memory grow with ``R * (P + Q)``.
    ``negatives_sorted`` skips the sort when the valid ``d-`` of each row already
    increase and come first.
    """
    invalid = ~neg_valid
    sorted_neg = d_neg.masked_fill(invalid, torch.inf)
    if not negatives_sorted:
        sorted_neg = torch.sort(sorted_neg, dim=1).values
        # The +inf of the invalid slots all land last.
        invalid = torch.isinf(sorted_neg)
    prefix = torch.nn.functional.pad(
        sorted_neg.masked_fill(invalid, 0).cumsum(1), (1, 0)
    )

    upper = margin + d_pos
    below = torch.searchsorted(sorted_neg, upper.contiguous())
    hinge = below.to(upper.dtype) * upper - prefix.gather(1, below)
    total = hinge.masked_fill(~pos_valid, 0).sum()
    n_triplets = (pos_valid.sum(dim=1) * neg_valid.sum(dim=1)).sum()
    return total / n_triplets.clamp(min=1)


def absolute(
    d_pos: Tensor, pos_valid: Tensor, d_neg: Tensor, neg_valid: Tensor, margin: float
) -> Tensor:
    """Contrastive: ``0.5 * (mean d+^2 + mean max(0, margin - d-)^2)``."""
    pulled = _masked_mean(d_pos.square(), pos_valid)
    pushed = _masked_mean(torch.relu(margin - d_neg).square(), neg_valid)
    return 0.5 * (pulled + pushed)


def _soft_histogram(
    values: Tensor, mask: Tensor, lo: float, hi: float, n_bins: int
) -> Tensor:
    """Linear-interpolation histogram of the masked values, normalised to sum 1."""
    step = (hi - lo) / (n_bins - 1)
    position = (values.clamp(lo, hi) - lo) / step
    lower = position.detach().floor().clamp(max=n_bins - 2).long()
    upper_share = position - lower.to(position.dtype)
    weight = mask.to(values.dtype)
    upper_share = torch.where(mask, upper_share, torch.zeros_like(upper_share))
    histogram = values.new_zeros(n_bins)
    histogram = histogram.scatter_add(
        0, lower.flatten(), (weight - upper_share).flatten()
    )
    histogram = histogram.scatter_add(0, (lower + 1).flatten(), upper_share.flatten())
    return histogram / weight.sum().clamp(min=1)


def distribution(
    d_pos: Tensor,
    pos_valid: Tensor,
    d_neg: Tensor,
    neg_valid: Tensor,
    lo: float,
    hi: float,
    n_bins: int,
) -> Tensor:
    """Histogram loss: the chance that a negative is no farther than a positive.

    Only anchors with at least one positive and one negative take part.
    """
    taking_part = pos_valid.any(dim=1, keepdim=True) & neg_valid.any(
        dim=1, keepdim=True
    )
    positives = _soft_histogram(d_pos, pos_valid & taking_part, lo, hi, n_bins)
    negatives = _soft_histogram(d_neg, neg_valid & taking_part, lo, hi, n_bins)
    return (positives * negatives.cumsum(dim=0)).sum()
