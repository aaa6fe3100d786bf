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
from ._cached import arange, in_dtype, numbers, scalar, zeros
from ._cached import constants as cached_constants
from ._mining import minority_bound, top_k, within_minority

__all__ = [
    "ClassBatch",
    "ClassLists",
    "Constants",
    "Rows",
    "anchor_rows",
    "column_major",
    "constants",
    "counting_dtype",
    "mine_class_lists",
    "negative_candidates",
    "per_column",
    "profile_batch",
]


class Constants(NamedTuple):
    """What every batch of one shape reuses, on its device."""

    classes: Tensor  # (C, 1) int64: 0..C-1 (multi-class membership)
    attribute_columns: tuple  # (J,) int64 each: the columns of classes 0 and 1
    slots: Tensor  # (1, W) float: 0..W-1
    samples: Tensor  # (n T, 1) int64: the sample of each row of (sample, task)
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
        column_index=columns.view(-1, 1),
    )


class ClassLists(NamedTuple):
    """Every column's hard positives and negatives, ``(K, W)`` each."""

    pos_index: Tensor  # int64: the positives' samples
    pos_score: Tensor  # their probabilities s_p, ascending
    neg_index: Tensor  # int64: the negatives' samples
    neg_lowered: Tensor  # their -s_q, ascending (inf past the candidates)


class ClassBatch(NamedTuple):
    """What every comparison of the class level reads of one batch
    (:func:`profile_batch`)."""

    probabilities: Tensor  # (K, n): each column's probabilities
    rows: Tensor | None  # (n, C): row by row, for many classes of one task
    member: Tensor | None  # (K, n) bool (None row by row: read off the labels)
    own: Tensor  # (n, T) int64: each sample's own column in each task
    weight: Tensor | None  # (n,): the sample weights (None: unweighted)
    present: Tensor | None  # (n,) bool: weight > 0 (None: unweighted)
    counts: Tensor  # (K,): each column's members, in the logits' dtype
    whole_counts: Tensor  # (K,): the same in the counting dtype
    n_taking: Tensor  # 0-dim: the samples that take part
    within: Tensor  # (K,) bool: the minority columns (SPEC §1 steps 1-3)
    lists: ClassLists
    const: Constants
    n_tasks: int
    n_classes: int
    multi_label: bool


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


def per_column(column: Tensor, values: Tensor, n_columns: int) -> Tensor:
    """The sums of ``values`` ``(R,)`` over the rows of each column (``column``
    ``(R,)``: each row's)."""
    sums = zeros((n_columns,), values.dtype, values.device)
    return sums.index_add(0, column, values)


def profile_batch(logits, target, weight, k, rho) -> ClassBatch:
    """SPEC §1-§2 at class level: the columns' probabilities and members, the
    counts, the minority columns and every column's hard lists, in the layout
    the batch's shape calls for (``_gates.many_columns``: row by row, with the
    positives from one sort of the batch)."""
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
    no_count, one_count = (scalar(v, count_dtype, logits.device) for v in (0, 1))
    present = None
    if weight is None:
        (n_taking,) = numbers(logits, n)
    else:
        present = weight > zero
        whole_taking = present.sum(dtype=count_dtype)
        n_taking = in_dtype(whole_taking, logits.dtype)
    candidates = None
    others = None  # without weights: every sample but the members
    if member is None:  # many classes of one task, row by row
        # no sample is a negative of its own class, nor of any if it takes no part
        candidates = rows.scatter(1, own, -math.inf)
        if present is not None:
            candidates += torch.where(present, zero, minus_infinity).view(-1, 1)
        candidates = candidates.transpose(0, 1)
    else:
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
    return ClassBatch(
        probabilities=probabilities,
        rows=rows,
        member=member,
        own=own,
        weight=weight,
        present=present,
        # the comparisons' arithmetic is in the logits' dtype
        counts=in_dtype(whole_counts, logits.dtype),
        whole_counts=whole_counts,
        n_taking=n_taking,
        within=within,
        lists=mine_class_lists(probabilities, member, others, width, grouped),
        const=const,
        n_tasks=n_tasks,
        n_classes=n_classes,
        multi_label=multi_label,
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
    ``s_q``. Returns :class:`ClassLists`. Slots
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
        return ClassLists(pos_index, pos_score, neg_index, neg_score.neg_())
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
    return ClassLists(pos_index, pos_score, neg_index, neg_score.neg_())


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


def anchor_rows(batch: ClassBatch, n_slots: int, select: bool | None = None) -> Rows:
    """Every (sample, task) row, or, from ``_gates.SELECT_ANCHORS_FROM`` rows on
    when ``n_slots`` (``T floor(rho n)``) are fewer, only the rows of minority
    columns of samples that take part, in that many slots: only those can be
    anchors, and a static bound on their number needs no wait for the device.
    An empty slot holds row 0 and is marked invalid: whatever it computes must
    weigh 0. The places index the probabilities the batch reads the rows' own
    from: ``(n, C)`` row by row, else ``(K, n)``. ``select`` overrides the
    gate.
    """
    own, within, present, const = batch.own, batch.within, batch.present, batch.const
    n, n_tasks = own.shape
    row_weight = batch.weight
    if row_weight is not None and n_tasks > 1:
        row_weight = row_weight.repeat_interleave(n_tasks)
    column, sample, valid = own.view(-1, 1), const.samples, None
    if select is None:
        select = _gates.selects_anchors(n * n_tasks, n_slots)
    if select:
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
    if batch.rows is None:
        place = torch.add(sample, column, alpha=n)
    else:
        place = torch.add(column, sample, alpha=batch.n_classes)
    return Rows(column, sample, place, row_weight, valid)
