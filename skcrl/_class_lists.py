"""Class level, docs/spec.md §1-§2: what every comparison reads.

The ``K`` *columns* are the (task, class) pairs: the ``C`` classes of a
multi-class target; ``(class 0 of every attribute, class 1 of every
attribute)`` for ``J`` binary attributes, ``K = 2 J``. Probabilities and
membership are ``(K, n)`` (column-major); each column's hard positives and
negatives are ``(K, W)`` lists, ``W = min(k, n)``. The index tensors and
constants a batch shape reuses are built once per shape, dtype and device
(:func:`constants`). From many rows on, the rows that can be anchors are picked
out first (:func:`anchor_rows`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from . import _gates
from ._cached import arange, numbers, scalar, zeros
from ._cached import constants as cached_constants
from ._mining import top_k

__all__ = [
    "Constants",
    "Rows",
    "anchor_rows",
    "column_major",
    "constants",
    "mine_class_lists",
    "negative_candidates",
]


class Constants(NamedTuple):
    """What every batch of one shape reuses, on its device."""

    classes: Tensor  # (C, 1) int64: 0..C-1 (multi-class membership)
    attribute_columns: tuple  # (J,) int64 each: the columns of classes 0 and 1
    slots: Tensor  # (1, W) float: 0..W-1
    samples: Tensor  # (n T, 1) int64: the sample of each row of (sample, task)
    list_columns: Tensor  # (K W,) int64: the column of each flattened list slot
    column_index: Tensor  # (K, 1) int64: 0..K-1


@cached_constants(maxsize=32)
def constants(n_tasks, n_classes, width, n, dtype, device) -> Constants:
    columns = torch.arange(n_tasks * n_classes, device=device)
    attributes = torch.arange(n_tasks, device=device)
    row_samples = torch.arange(n, device=device).repeat_interleave(n_tasks)
    return Constants(
        classes=torch.arange(n_classes, device=device).view(-1, 1),
        attribute_columns=(attributes, attributes + n_tasks),
        slots=torch.arange(width, device=device).to(dtype).view(1, -1),
        samples=row_samples.view(-1, 1),
        list_columns=columns.repeat_interleave(width),
        column_index=columns.view(-1, 1),
    )


def column_major(logits: Tensor, target: Tensor, const: Constants, many: bool):
    """Probabilities ``(K, n)``, membership ``(K, n)`` bool, each sample's own
    column in every task ``(n, T)``, and, for many classes of one task, the
    probabilities row by row ``(n, C)``.

    With many classes the probabilities are computed row by row, contiguous, and
    the ``(K, n)`` ones are a view of them: on the CPU an operation over the
    whole batch costs several times more across two layouts, or on a boolean
    mask, than on one contiguous float tensor, so that path builds no membership
    (None) and reads the counts and the candidates off the labels instead.
    """
    n = logits.shape[0]
    if target.dim() == 2:
        positive = torch.sigmoid(logits.transpose(0, 1))
        (one,) = numbers(logits, 1.0)
        present = target != scalar(0.0, target.dtype, target.device)
        member = present.transpose(0, 1)
        # class c of attribute j is column c * J + j
        own = torch.where(present, *reversed(const.attribute_columns))
        return (
            torch.cat((one - positive, positive)),
            torch.cat((~member, member)),
            own,
            None,
        )
    own = target.view(n, 1)
    if own.dtype != torch.int64:
        own = own.long()
    if many:
        rows = torch.softmax(logits, dim=1)
        return rows.transpose(0, 1), None, own, rows
    # along the first dimension of the transposed logits: class-major and
    # contiguous, and on the CPU far faster for few classes than along the last
    return (
        torch.softmax(logits.transpose(0, 1), dim=0),
        const.classes == target.view(1, n),
        own,
        None,
    )


def mine_class_lists(
    probabilities: Tensor,
    member: Tensor,
    others: Tensor,
    width: int,
    grouped: tuple | None = None,
):
    """SPEC §2, class level: every column's hard positives and negatives.

    Hard positives of a class are its members of lowest probability ``s_p``;
    hard negatives the ``others`` (the samples of the task's other classes that
    take part; None: every sample but the members) of highest probability
    ``s_q``. Returns ``(pos_index, pos_score,
    neg_index, neg_lowered)``, ``(K, W)`` each: the positives' ``s_p``, ascending,
    and the negatives' ``-s_q``, ascending too (what the comparisons read). Slots
    past a column's negative candidates hold ``inf``; past its members, a finite
    score that masks or zero weights hide (2, above every probability, or, from
    ``grouped``'s sort, another sample's). Every column gets lists, mined or not:
    fixed shapes.

    ``grouped`` ``(own, own_score, counts, candidates)``, for many columns: the
    positives come from one sort of the (sample, task) entries by (own column, own
    score) instead of a top-k per column, and the negatives from ``candidates``
    ``(K, n)``, the probabilities with ``-inf`` wherever a sample is no negative
    of a column (``others`` is then unused).
    """
    (two,) = numbers(probabilities, 2.0)
    if grouped is None:
        pos_score, pos_index = torch.topk(
            torch.where(member, probabilities, two), width, dim=1, largest=False
        )
        neg_score, neg_index = torch.topk(
            negative_candidates(probabilities, member, others), width, dim=1
        )
        return pos_index, pos_score, neg_index, neg_score.neg_()
    own, own_score, counts, candidates = grouped
    n_tasks = own.shape[1]
    # entries (sample i, task t) at i * T + t; a column's members in a run of
    # the order, lowest score first (entries that take no part: column K, last)
    key = torch.add(own_score.view(-1).double(), own.view(-1).double(), alpha=2)
    order = key.argsort(stable=True)
    starts = counts.cumsum(0) - counts
    if starts.dtype != torch.int64:
        starts = starts.long()
    starts = starts.view(-1, 1)
    entries = order.take(
        torch.add(starts, _arange_like(width, order)).clamp_(max=order.numel() - 1)
    )
    pos_index = entries // n_tasks if n_tasks > 1 else entries
    pos_score = own_score.view(-1).take(entries)
    neg_score, neg_index = top_k(candidates, width)
    return pos_index, pos_score, neg_index, neg_score.neg_()


def negative_candidates(probabilities: Tensor, member: Tensor, others) -> Tensor:
    """The probabilities, ``-inf`` wherever a sample is no negative candidate of
    a column: a member, or (``others`` given) no other sample that takes part."""
    (minus_infinity,) = numbers(probabilities, -math.inf)
    if others is None:
        return torch.where(member, minus_infinity, probabilities)
    return torch.where(others, probabilities, minus_infinity)


def _arange_like(size: int, like: Tensor) -> Tensor:
    return arange(size, like.device).view(1, -1)


class Rows(NamedTuple):
    """The (sample, task) rows that read their column's lists, ``R`` of them."""

    column: Tensor  # (R, 1) int64: the row's own column
    sample: Tensor  # (R, 1) int64: its sample
    place: Tensor  # (R, 1) int64: its own probability's place, flattened
    weight: Tensor | None  # (R,): its sample weight (None: unweighted)
    valid: Tensor | None  # (R, 1) bool: whether a slot holds a row (None: all do)


def anchor_rows(own, within, present, row_weight, n_slots, const, n_classes):
    """Every (sample, task) row, or, from ``_gates.SELECT_ANCHORS_FROM`` rows on
    when ``n_slots`` (``T floor(rho n)``) are fewer, only the rows of minority
    columns (``within`` ``(K,)``) of samples that take part, in that many slots:
    only those can be anchors, and a static bound on their number needs no wait
    for the device. An empty slot holds row 0 and is marked invalid: whatever it
    computes must weigh 0.

    ``n_classes``: the number of columns of the ``(n, C)`` probabilities row by
    row, or None for the ``(K, n)`` ones, which the places index.
    """
    n, n_tasks = own.shape
    column, sample, valid = own.view(-1, 1), const.samples, None
    if _gates.selects_anchors(n * n_tasks, n_slots):
        one, zero = numbers(own, 1, 0)
        flag = torch.where(within, one, zero).take(own)
        if present is not None:
            flag = flag.mul_(present.view(-1, 1))
        # the flagged rows go to slots 1, 2, ... of one more, the others to 0
        flag = flag.view(-1)
        place = flag.cumsum(0)
        chosen = zeros((n_slots + 1,), torch.int64, own.device).scatter(
            0, place * flag, arange(n * n_tasks, own.device)
        )[1:]
        valid = (arange(n_slots, own.device) < place[-1]).view(-1, 1)
        column = own.take(chosen).view(-1, 1)
        sample = (chosen if n_tasks == 1 else sample.take(chosen)).view(-1, 1)
        if row_weight is not None:
            row_weight = row_weight.take(chosen)
    if n_classes is None:
        place = torch.add(sample, column, alpha=n)
    else:
        place = torch.add(column, sample, alpha=n_classes)
    return Rows(column, sample, place, row_weight, valid)
