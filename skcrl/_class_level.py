"""Class-level CRL (SPEC §1-§4, ``level="class"``) with its gradient in closed form.

The loss and its exact gradient with respect to the logits are computed together,
with no autograd graph, and the gradient is handed to autograd by
:class:`KnownGradient`. On the CPU a small batch's time is the dispatch of each
tensor operation rather than its arithmetic, so the whole computation is a short,
fixed sequence of batched operations over every task, class and sample at once:
no work per class, no separate dtype conversions (masks become numbers inside
the operation that reads them: a sum with a dtype, ``torch.where`` with cached
scalars), and the index tensors and constants it reuses built once per shape,
dtype and device. Where a sum is linear in quantities whose gradients are
computed anyway, it is read off them rather than computed again.

This module runs the steps: the columns and their hard lists
(:mod:`skcrl._class_lists`), the minority rule, the comparison
(:mod:`skcrl._class_comparisons`), and the chain from the probabilities' gradient
back to the logits.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import _gates
from ._cached import in_dtype, numbers, scalar, zeros
from ._class_comparisons import (
    absolute_by_class,
    by_sample,
    distribution_by_sample,
    per_column,
    relative_by_class,
)
from ._class_lists import (
    anchor_rows,
    column_major,
    constants,
    mine_class_lists,
    negative_candidates,
)
from ._mining import minority_bound, n_anchor_slots, within_minority

__all__ = ["KnownGradient", "class_level_crl"]


class KnownGradient(torch.autograd.Function):
    """``value``, whose gradients with respect to ``inputs`` are ``gradients``.

    ``KnownGradient.apply(value, input_1, gradient_1, input_2, gradient_2, ...)``.
    """

    @staticmethod
    def forward(ctx, value, *pairs):
        # kept, not saved for backward: the gradients are constants, made in
        # inference mode, which save_for_backward refuses (and no one modifies
        # them in place, which is what it would check)
        ctx.gradients = pairs[1::2]
        # value times a cached 1, exactly value: a new tensor, which autograd
        # makes a node of the graph even when value was made in inference mode
        # (as an alias of it, a detach, it would stay an inference tensor)
        (one,) = numbers(value, 1.0)
        return value * one

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        grads = []
        for gradient in ctx.gradients:
            grads += [gradient * grad_output, None]
        return (None, *grads)


#: The largest integer each float dtype holds exactly, with every smaller one.
_EXACT_INTEGERS = {torch.float32: 2**24, torch.float64: 2**53}


def counting_dtype(dtype: torch.dtype, largest: int) -> torch.dtype:
    """The dtype of SPEC §1's counts, ``(count, class)`` keys and bound: the
    logits' own while it holds every integer up to ``largest`` (the largest
    key) exactly, as float32 does below 2^24 and float64 below 2^53; else int64.
    A rounded count or key could change the minority set; int64 everywhere
    would cost the cast of the counts back to the logits' dtype (4 aten calls
    per loss, ``benchmarks/bench_loss.py``'s count). Half-precision logits
    reach the loss in float32 (:func:`skcrl._loss._working_dtype`)."""
    if largest <= _EXACT_INTEGERS.get(dtype, 0):
        return dtype
    return torch.int64


def class_level_crl(
    logits: Tensor,
    target: Tensor,
    *,
    comparison: str,
    k: int,
    margin: float,
    rho: float,
    n_bins: int,
    with_gradient: bool,
    weight: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """``L_crl`` of the batch at class level and, if asked, ``d L_crl / d logits``.

    Parameters are :func:`skcrl.crl_loss`'s; ``logits`` carry no graph;
    ``weight`` ``(n,)`` are the sample weights (SPEC §10).
    """
    n, n_outputs = logits.shape
    multi_label = target.dim() == 2
    n_tasks, n_classes = (n_outputs, 2) if multi_label else (1, n_outputs)
    n_columns = n_tasks * n_classes
    width = min(k, n)
    many = _gates.many_columns(n_columns)
    const = constants(n_tasks, n_classes, width, n, logits.dtype, logits.device)
    probabilities, member, own, rows = column_major(logits, target, const, many)
    zero, minus_infinity = numbers(logits, 0.0, -math.inf)
    count_dtype = counting_dtype(logits.dtype, (n + 1) * n_columns)
    no_count, one_count, two_counts = (
        scalar(v, count_dtype, logits.device) for v in (0, 1, 2)
    )
    present = None
    if weight is None:
        (n_taking,) = numbers(logits, n)
    else:
        present = weight > zero
        whole_taking = present.sum(dtype=count_dtype)
        n_taking = in_dtype(whole_taking, logits.dtype)
    candidates = None
    if member is None:  # many classes of one task, row by row
        # no sample is a negative of its own class, nor of any if it takes no part
        candidates = rows.scatter(1, own, -math.inf)
        if present is not None:
            candidates += torch.where(present, zero, minus_infinity).view(-1, 1)
        candidates = candidates.transpose(0, 1)
        others = None
    else:
        others = None  # without weights: every sample but the members
        if present is not None:
            member = torch.bitwise_and(member, present)
            others = torch.bitwise_and(~member, present)
        if many:
            candidates = negative_candidates(probabilities, member, others)
    if multi_label:
        whole_counts = member.sum(1, dtype=count_dtype)
    else:
        # from the labels: a sum over the (C, n) mask would first copy it whole
        taking = (
            one_count.expand(n)
            if present is None
            else torch.where(present, one_count, no_count)
        )
        whole_counts = per_column(own.view(-1), taking, n_classes)
    counts = in_dtype(whole_counts, logits.dtype)  # the comparisons' arithmetic
    # SPEC §1, per task: the columns are class-major (c * T + t)
    bound = minority_bound(rho, n if present is None else whole_taking, whole_counts)
    if n_tasks == 1:
        within = within_minority(whole_counts, bound)
    else:
        by_task = whole_counts.view(n_classes, n_tasks).t().contiguous()
        within = within_minority(by_task, bound).t().reshape(-1)
    grouped = None
    if many:
        own_score = (probabilities.transpose(0, 1) if rows is None else rows).gather(
            1, own
        )
        own_for_sort = own
        if present is not None:  # entries that take no part sort after every column
            own_for_sort = own.masked_fill(~present.view(-1, 1), n_columns)
        grouped = (own_for_sort, own_score, whole_counts, candidates)
    lists = mine_class_lists(probabilities, member, others, width, grouped)

    if comparison == "absolute" and member is not None and not many:
        mined = torch.bitwise_and(within, whole_counts >= two_counts)
        listed = torch.where(mined, counts, zero).view(-1, 1)
        loss, grad_own, grad_pos, grad_neg = absolute_by_class(
            probabilities,
            own,
            weight,
            (listed, (n_taking - counts).view(-1, 1)),
            lists,
            margin,
            const,
            with_gradient,
        )
        if not with_gradient:
            return loss, None
        grad = _in_own_columns(member, grad_own, multi_label)
        grad.scatter_add_(1, lists[0], grad_pos).scatter_add_(1, lists[2], grad_neg)
        return loss, _logit_gradient(probabilities, grad, multi_label)[0]

    if comparison == "relative" and _gates.class_by_class(n_columns, width, n):
        # A minority class of one member (SPEC §1 step 4) gets query weights of
        # 0 all the same (no anchor but itself), so none is struck out here; a
        # column that is not mined has none either, whatever its negatives.
        listed = torch.where(within, counts, zero).view(-1, 1)
        negatives = (n_taking - counts).view(-1, 1)
        list_weight = None
        total = listed.view(-1)
        if weight is not None:
            if member is None:
                total = per_column(
                    own.view(-1), torch.where(present, weight, zero), n_classes
                )
            else:
                total = torch.where(member, weight, zero).sum(1)
            list_weight = torch.where(const.slots < listed, weight.take(lists[0]), zero)
        loss, grad_pos, grad_neg = relative_by_class(
            lists,
            (listed, negatives),
            total,
            list_weight,
            margin,
            const,
            with_gradient,
        )
        if not with_gradient:
            return loss, None
        if rows is not None:
            grad, _ = _sparse_softmax_gradient(
                rows, lists, grad_pos, grad_neg, None, const, False
            )
            return loss, grad
        grad = zeros(probabilities.shape, logits.dtype, logits.device)
        grad = grad.scatter_add(1, lists[0], grad_pos).scatter_add_(
            1, lists[2], grad_neg
        )
        return loss, _logit_gradient(probabilities, grad, multi_label)[0]
    row_weight = weight
    if weight is not None and n_tasks > 1:
        row_weight = weight.repeat_interleave(n_tasks)
    # the rows that read their column's lists, all or those that can be anchors
    anchors = anchor_rows(
        own,
        within,
        present,
        row_weight,
        n_tasks * n_anchor_slots(n, rho),
        const,
        None if rows is None else n_classes,
    )
    if comparison == "distribution":
        # A class of one member has no positive but itself, so none is struck
        # out here: its anchor takes no part.
        listed = torch.where(within, counts, zero).view(-1, 1, 1)
        sizes = (listed, (n_taking - counts).view(-1, 1, 1))
        loss, grad_own, grad_lists = distribution_by_sample(
            probabilities if rows is None else rows, anchors, lists, sizes, n_bins
        )
        if not with_gradient:
            return loss, None
        listed_index = torch.cat((lists[0], lists[2]), dim=1)
        if rows is not None:
            listed_place = torch.add(const.column_index, listed_index, alpha=n_classes)
            flat = torch.cat((anchors.place.view(-1), listed_place.view(-1)))
            grad, _ = _sparse_chain(
                rows,
                flat,
                torch.div(flat, n_classes, rounding_mode="floor"),
                torch.cat((grad_own, grad_lists.view(-1))),
                with_sum=False,
            )
            return loss, grad
        grad = _at_places(anchors.place, grad_own, (n_columns, n))
        grad.scatter_add_(1, listed_index, grad_lists)
        return loss, _logit_gradient(probabilities, grad, multi_label)[0]
    else:
        mined = torch.bitwise_and(within, whole_counts >= two_counts)
        listed = torch.where(mined, counts, zero).view(-1, 1)
        negatives = torch.where(mined, n_taking - counts, zero).view(-1, 1)
        loss, grad_own, grad_pos, grad_neg = by_sample(
            probabilities if rows is None else rows,
            anchors,
            lists,
            (listed, negatives),
            (comparison, margin, n_bins),
            const,
        )
        if not with_gradient:
            return loss, None
        if rows is not None:
            own_entries = (anchors.column, anchors.sample, grad_own)
            grad, _ = _sparse_softmax_gradient(
                rows, lists, grad_pos, grad_neg, own_entries, const, False
            )
            return loss, grad
        grad = _at_places(anchors.place, grad_own, (n_columns, n))
    grad.scatter_add_(1, lists[0], grad_pos).scatter_add_(1, lists[2], grad_neg)
    return loss, _logit_gradient(probabilities, grad, multi_label)[0]


def _sparse_softmax_gradient(
    rows, lists, grad_pos, grad_neg, own, const, with_sum=True
):
    """``d loss / d logits`` ``(n, C)`` of one task's many classes, from the few
    probabilities the loss reads: the listed positives and negatives of every
    column and, row by row, each row's own class (``own``: the rows' columns
    and samples ``(R, 1)`` and the gradients there ``(R,)``, or None).

    Through the softmax, ``d / d z_ic = p_ic (g_ic - sum_c' g_ic' p_ic')``: one
    pass over the batch, ``-p_ic s_i``, and the few ``g_ic p_ic`` added where
    ``g`` is not 0, instead of a dense ``g`` and three more passes over it (on
    the CPU, large batches of many classes spend their time moving memory).
    Returns it with the sum of every entry read times its gradient (None
    unless ``with_sum``).
    """
    n_classes = rows.shape[1]
    # (class, sample, d loss / d p) of each entry read; column c of the lists is
    # class c
    parts = [
        (const.list_columns, lists[0], grad_pos),
        (const.list_columns, lists[2], grad_neg),
    ]
    if own is not None:
        parts.append(own)
    classes, samples, values = (
        torch.cat([part[i].reshape(-1) for part in parts]) for i in range(3)
    )
    flat = torch.add(classes, samples, alpha=n_classes)
    return _sparse_chain(rows, flat, samples, values, with_sum)


def _sparse_chain(rows, flat, samples, values, with_sum):
    """:func:`_sparse_softmax_gradient` from the entries read, given as their
    places ``flat`` in the flattened ``(n, C)`` rows, their samples and ``d loss
    / d p`` there (an entry may come more than once: the values add up)."""
    n, n_classes = rows.shape
    weighted = values * rows.view(-1).take(flat)
    row_sums = torch.zeros_like(rows[:, 0]).index_add_(0, samples, weighted)
    grad = (
        (rows * row_sums.neg().view(-1, 1))
        .view(-1)
        .index_add_(0, flat, weighted)
        .view(n, n_classes)
    )
    return grad, row_sums.sum() if with_sum else None


def _logit_gradient(
    probabilities: Tensor, grad: Tensor, multi_label: bool, with_sum: bool = False
) -> tuple[Tensor, Tensor | None]:
    """Chain ``d loss / d probabilities`` ``(K, n)`` through softmax or sigmoid,
    to ``d loss / d logits`` ``(n, C or J)``; ``with_sum``, also the sum of
    ``grad * probabilities`` (else None)."""
    if multi_label:
        p0, p1 = probabilities.chunk(2)
        g0, g1 = grad.chunk(2)
        total = (grad * probabilities).sum() if with_sum else None
        return (p0 * p1 * (g1 - g0)).transpose(0, 1), total
    # p * (g - sum(g p)), as g p - p sum(g p)
    weighted = grad * probabilities
    per_sample = weighted.sum(0, keepdim=True)
    grad = torch.addcmul(weighted, probabilities, per_sample, value=-1)
    return grad.transpose(0, 1), per_sample.sum() if with_sum else None


def _at_places(place: Tensor, values: Tensor, shape: tuple) -> Tensor:
    """A tensor of ``shape``, 0 but for ``values`` ``(R,)`` added at the
    flattened places ``place`` ``(R, 1)`` (an empty slot of
    :func:`anchor_rows` adds its 0 to row 0's)."""
    return per_column(place.view(-1), values, math.prod(shape)).view(shape)


def _in_own_columns(member: Tensor, grad_own: Tensor, multi_label: bool) -> Tensor:
    """``(K, n)``: each sample's gradient ``grad_own`` ``(T, n)`` in its own
    column of each task (``member``), 0 in the other columns."""
    if multi_label:  # class 0 of every attribute, then class 1
        grad_own = grad_own.repeat(2, 1)
    (zero,) = numbers(grad_own, 0.0)
    return torch.where(member, grad_own, zero)
