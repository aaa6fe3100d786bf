"""Class-level CRL (SPEC §1-§4, ``level="class"``) with its gradient in closed form.

The loss and its exact gradient with respect to the logits are computed together,
with no autograd graph, and the gradient is handed to autograd by
:class:`KnownGradient`. On the CPU a small batch's time is the dispatch of each
tensor operation rather than its arithmetic, so the whole computation is a short,
fixed sequence of batched operations over every task, class and sample at once:
no work per class, no separate dtype conversions (masks become numbers inside
the operation that reads them: a sum with a dtype, ``torch.where`` with cached
scalars), and the index tensors and constants it reuses built once per shape,
dtype and device.

:func:`class_level_crl` runs three steps, each calling down and never back:
the batch's profile (:func:`skcrl._class_lists.profile_batch`: columns, counts,
minority rule, hard lists), one comparison (:mod:`skcrl._class_comparisons`,
whose hinges, margins and histogram are :mod:`skcrl._comparisons`', shared with
the instance level), and the chain from the probabilities' gradient back to the
logits (:func:`logit_gradient`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import _gates
from ._cached import numbers, zeros
from ._class_comparisons import (
    ScoreGradients,
    absolute_by_class,
    by_sample,
    distribution_by_sample,
    relative_by_class,
)
from ._class_lists import ClassBatch, anchor_rows, per_column, profile_batch
from ._mining import n_anchor_slots

__all__ = ["KnownGradient", "class_level_crl", "logit_gradient"]


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
    batch = profile_batch(logits, target, weight, k, rho)
    loss, gradients = _compare(batch, comparison, margin, rho, n_bins, with_gradient)
    if not with_gradient:
        return loss, None
    return loss, logit_gradient(batch, gradients)


def _compare(batch: ClassBatch, comparison, margin, rho, n_bins, with_gradient):
    """The one comparison of the batch, by the path its shape calls for
    (``skcrl._gates``): class by class where the comparison allows it, else
    each anchor row against its column's lists."""
    n = batch.own.shape[0]
    n_columns = batch.n_tasks * batch.n_classes
    width = batch.lists.pos_score.shape[1]
    if comparison == "relative" and _gates.class_by_class(n_columns, width, n):
        return relative_by_class(batch, margin, with_gradient)
    n_slots = batch.n_tasks * n_anchor_slots(n, rho)
    if comparison == "absolute" and not _gates.many_columns(n_columns):
        anchors = None
        if _gates.selects_absolute_anchors(n * batch.n_tasks, n_slots):
            anchors = anchor_rows(batch, n_slots, select=True)
        return absolute_by_class(batch, anchors, margin, with_gradient)
    # the rows that read their column's lists, all or those that can be anchors
    anchors = anchor_rows(batch, n_slots)
    if comparison == "distribution":
        return distribution_by_sample(batch, anchors, n_bins, with_gradient)
    return by_sample(batch, anchors, comparison, margin, n_bins, with_gradient)


def logit_gradient(batch: ClassBatch, gradients: ScoreGradients) -> Tensor:
    """``d loss / d logits`` ``(n, C or J)`` from a comparison's gradients with
    respect to the probabilities it read, through softmax or sigmoid."""
    if batch.rows is not None:
        return _sparse_softmax_gradient(batch, gradients)
    probabilities = batch.probabilities
    listed = gradients.listed
    if gradients.own is None:
        (index, values), *listed = listed
        grad = zeros(probabilities.shape, probabilities.dtype, probabilities.device)
        grad = grad.scatter_add(1, index, values)
    elif gradients.at is None:
        grad = _in_own_columns(batch.member, gradients.own, batch.multi_label)
    else:
        grad = _at_places(gradients.at.place, gradients.own, probabilities.shape)
    for index, values in listed:
        grad.scatter_add_(1, index, values)
    if batch.multi_label:
        p0, p1 = probabilities.chunk(2)
        g0, g1 = grad.chunk(2)
        return (p0 * p1 * (g1 - g0)).transpose(0, 1)
    # p * (g - sum(g p)), as g p - p sum(g p)
    weighted = grad * probabilities
    per_sample = weighted.sum(0, keepdim=True)
    return torch.addcmul(weighted, probabilities, per_sample, value=-1).transpose(0, 1)


def _sparse_softmax_gradient(batch: ClassBatch, gradients: ScoreGradients) -> Tensor:
    """:func:`logit_gradient` of one task's many classes, from the few
    probabilities the loss reads: the listed samples of every column and, row
    by row, each anchor row's own class.

    Through the softmax, ``d / d z_ic = p_ic (g_ic - sum_c' g_ic' p_ic')``: one
    pass over the batch, ``-p_ic s_i``, and the few ``g_ic p_ic`` added where
    ``g`` is not 0, instead of a dense ``g`` and three more passes over it (on
    the CPU, large batches of many classes spend their time moving memory). An
    entry read more than once adds up.
    """
    rows, n_classes = batch.rows, batch.n_classes
    places, values = [], []
    if gradients.own is not None:
        places.append(gradients.at.place.view(-1))
        values.append(gradients.own)
    for index, grad in gradients.listed:
        # column c of the lists is class c, in row i at i * C + c
        places.append(torch.add(batch.const.column_index, index, alpha=n_classes))
        values.append(grad)
    flat = torch.cat([place.view(-1) for place in places])
    samples = torch.div(flat, n_classes, rounding_mode="floor")
    weighted = torch.cat([value.view(-1) for value in values]) * rows.take(flat)
    row_sums = rows.new_zeros(rows.shape[0]).index_add_(0, samples, weighted)
    grad = (rows * row_sums.neg().view(-1, 1)).view(-1).index_add_(0, flat, weighted)
    return grad.view(rows.shape)


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
