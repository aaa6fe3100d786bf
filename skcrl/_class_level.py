"""Class-level CRL (SPEC.md §1-§4, ``level="class"``) with its gradient in closed form.

The loss and its exact gradient with respect to the logits are computed together,
with no autograd graph, and the gradient is handed to autograd by
:class:`KnownGradient`. On the CPU a small batch's time is the dispatch of each
tensor operation rather than its arithmetic, so the whole computation is a short,
fixed sequence of batched operations over every task, class and sample at once:
no work per class, no separate dtype conversions (masks become numbers inside
the operation that reads them: a sum with a dtype, ``torch.where`` with cached
scalars), and the index tensors and constants it reuses built once per shape,
dtype and device (:func:`_constants`). Where a sum is linear in quantities whose
gradients are computed anyway, it is read off them rather than computed again.

Layout: the ``K`` *columns* are the (task, class) pairs: the ``C`` classes of a
multi-class target; ``(class 0 of every attribute, class 1 of every
attribute)`` for ``J`` binary attributes, ``K = 2 J``. Probabilities and
membership are ``(K, n)`` (column-major); each column's hard positives and
negatives are ``(K, W)`` lists, ``W = min(k, n)``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import _comparisons
from ._cached import arange, scalar, zeros
from ._mining import class_counts, n_anchor_slots, top_k

__all__ = [
    "KnownGradient",
    "class_by_class",
    "class_level_crl",
    "mine_class_lists",
    "taking_part",
]


def taking_part(labels: Tensor, n_classes: int, weight: Tensor | None):
    """SPEC §10: the samples of positive weight take part, the others are given
    the void label ``n_classes``, outside every class (instance level).

    Returns ``(present or None, labels, counts (T, C), samples taking part)``.
    """
    if weight is None:
        return None, labels, class_counts(labels, n_classes), labels.shape[1]
    present = weight > 0
    labels = labels.masked_fill(~present, n_classes)
    counts = class_counts(labels, n_classes + 1)[:, :n_classes]
    return present, labels, counts, present.sum()


class KnownGradient(torch.autograd.Function):
    """``value``, whose gradients with respect to ``inputs`` are ``gradients``.

    ``KnownGradient.apply(value, input_1, gradient_1, input_2, gradient_2, ...)``.
    """

    @staticmethod
    def forward(ctx, value, *pairs):
        ctx.save_for_backward(*pairs[1::2])
        # an alias: autograd gives the output its own node
        return value.detach()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        grads = []
        for gradient in ctx.saved_tensors:
            grads += [gradient * grad_output, None]
        return (None, *grads)


class _Constants(NamedTuple):
    """What every batch of one shape reuses, on its device."""

    column_class: Tensor  # (K,) float: the class of each column within its task
    same_task: Tensor  # (K, K) bool: the columns of one task
    classes: Tensor  # (C, 1) int64: 0..C-1 (multi-class membership)
    attribute_columns: tuple  # (J,) int64 each: the columns of classes 0 and 1
    slots: Tensor  # (1, W) float: 0..W-1
    pair_anchor: Tensor  # (K, P) int64: flat (K * W) slot of each pair's anchor i
    pair_positive: Tensor  # (K, P) int64: ... and of its positive j > i
    samples: Tensor  # (n T, 1) int64: the sample of each row of (sample, task)
    list_columns: Tensor  # (K W,) int64: the column of each flattened list slot
    column_index: Tensor  # (K, 1) int64: 0..K-1
    queries: Tensor  # (W, W + P) float: the relative queries, linear in the positives
    queries_t: Tensor  # (W + P, W) float: its transpose, contiguous
    query_offset: Tensor  # (1, W + P) float: j + 1 of each single query, j of a pair
    query_cap: Tensor  # (1, W + P) float: inf for a single query, 1 for a pair


@functools.lru_cache(maxsize=32)
def _constants(n_tasks, n_classes, width, n, dtype, device) -> _Constants:
    columns = torch.arange(n_tasks * n_classes, device=device)
    column_task = columns % n_tasks
    slots = torch.arange(width, device=device)
    attributes = torch.arange(n_tasks, device=device)
    # the slots i < j of each column's list, as flat indices of a (K, W) tensor
    first, second = torch.triu_indices(width, width, offset=1, device=device)
    row_samples = torch.arange(n, device=device).repeat_interleave(n_tasks)
    offsets = torch.arange(0, n_tasks * n_classes * width, width, device=device)
    pairs = (offsets.view(-1, 1) + first, offsets.view(-1, 1) + second)
    # query j: margin - s_j; query (i, j), i < j: margin + s_j - 2 s_i
    n_pairs = first.numel()
    queries = torch.zeros(width, width + n_pairs, dtype=dtype, device=device)
    queries[slots, slots] = -1.0
    pair_columns = torch.arange(width, width + n_pairs, device=device)
    queries[second, pair_columns] = 1.0
    queries[first, pair_columns] = -2.0
    query_slot = torch.cat((slots + 1, second)).to(dtype)
    query_cap = torch.cat(
        (
            torch.full((width,), math.inf, dtype=dtype, device=device),
            torch.ones(n_pairs, dtype=dtype, device=device),
        )
    )
    return _Constants(
        column_class=(columns // n_tasks).to(dtype),
        same_task=column_task.view(-1, 1) == column_task,
        classes=torch.arange(n_classes, device=device).view(-1, 1),
        attribute_columns=(attributes, attributes + n_tasks),
        slots=slots.to(dtype).view(1, -1),
        pair_anchor=pairs[0],
        pair_positive=pairs[1],
        samples=row_samples.view(-1, 1),
        list_columns=columns.repeat_interleave(width),
        column_index=columns.view(-1, 1),
        queries=queries,
        queries_t=queries.t().contiguous(),
        query_offset=query_slot.view(1, -1),
        query_cap=query_cap.view(1, -1),
    )


def _numbers(like: Tensor, *values: float) -> list[Tensor]:
    """``values`` as cached 0-dim tensors of ``like``'s dtype and device."""
    return [scalar(float(value), like.dtype, like.device) for value in values]


def _column_major(logits: Tensor, target: Tensor, const: _Constants, many: bool):
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
        (one,) = _numbers(logits, 1.0)
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


#: From this many columns on, a top-k per column costs more than a sort of the
#: batch by (column, score) for the positives and a top-k of chunk maxima for
#: the negatives (measured on the CPU: ``benchmarks/bench_loss.py``).
MANY_COLUMNS = 32


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
    (two,) = _numbers(probabilities, 2.0)
    if grouped is None:
        pos_score, pos_index = torch.topk(
            torch.where(member, probabilities, two), width, dim=1, largest=False
        )
        neg_score, neg_index = torch.topk(
            _negative_candidates(probabilities, member, others), width, dim=1
        )
        return pos_index, pos_score, neg_index, neg_score.neg_()
    own, own_score, counts, candidates = grouped
    n_tasks = own.shape[1]
    # entries (sample i, task t) at i * T + t; a column's members in a run of
    # the order, lowest score first (entries that take no part: column K, last)
    key = torch.add(own_score.view(-1).double(), own.view(-1).double(), alpha=2)
    order = key.argsort(stable=True)
    starts = (counts.cumsum(0) - counts).long().view(-1, 1)
    entries = order.take(
        torch.add(starts, _arange_like(width, order)).clamp_(max=order.numel() - 1)
    )
    pos_index = entries // n_tasks if n_tasks > 1 else entries
    pos_score = own_score.view(-1).take(entries)
    neg_score, neg_index = top_k(candidates, width)
    return pos_index, pos_score, neg_index, neg_score.neg_()


def _negative_candidates(probabilities: Tensor, member: Tensor, others) -> Tensor:
    """The probabilities, ``-inf`` wherever a sample is no negative candidate of
    a column: a member, or (``others`` given) no other sample that takes part."""
    (minus_infinity,) = _numbers(probabilities, -math.inf)
    if others is None:
        return torch.where(member, minus_infinity, probabilities)
    return torch.where(others, probabilities, minus_infinity)


def _arange_like(size: int, like: Tensor) -> Tensor:
    return arange(size, like.device).view(1, -1)


def class_by_class(n_columns: int, width: int, n: int) -> bool:
    """Whether the relative comparison is cheaper class by class, with about
    ``K W^2 / 2`` queries and a fixed number of operations, than sample by
    sample, with ``n T W`` queries and a few more operations (measured: the
    class-by-class path wins up to about twice the queries)."""
    return n_columns * (width + 1) < 4 * n


def _relative_by_class(lists, counts, total, list_weight, margin, const, with_gradient):
    """The relative comparison class by class, from the shared lists alone.

    Every anchor ``a`` of class ``c`` meets the same positives, ``c``'s lowest
    scores ``s_0 <= s_1 <= ...``, and negatives ``s_q``. The hinge
    ``margin + |s_a - s_p| - (s_a - s_q)`` is ``margin - s_p + s_q`` when
    ``s_p <= s_a``, whatever the anchor; that holds for every positive below the
    anchor in the list and for every anchor outside it. So positive ``j`` meets
    each negative once for each anchor but itself and the ``j`` list members
    below it (weighing the class's ``total`` weight less the list's weights up
    to ``j``), and only the pairs ``i < j`` inside the list
    (``margin + s_j - 2 s_i + s_q``, weighing anchor ``i``) depend on the
    anchor: ``W + W (W - 1) / 2`` queries per class, linear in the positives'
    scores (one product with :attr:`_Constants.queries`).

    ``counts`` ``(K, 1)`` are the numbers of members of each mined column (0 for
    a column that is not mined) and of negative candidates; ``total`` ``(K,)``
    each mined class's total weight (its count without sample weights);
    ``list_weight`` ``(K, W)`` each positive's sample weight (0 past the valid
    ones; None without sample weights). Slots past a column's positives may hold
    any finite score: their queries weigh 0. Returns the loss and its gradients
    with respect to the positives' scores and the negatives' scores ``s_q``;
    ``with_gradient``, instead of the loss, the sum of the queries' gradients,
    which the caller weighs by the margin and adds to the sum of each listed
    score times its gradient.
    """
    _, pos_score, _, neg_lowered = lists
    listed, negatives = counts
    width = pos_score.shape[1]
    zero, margin_tensor = _numbers(pos_score, 0.0, margin)
    if list_weight is None:
        # every weight 1, and total the count of a mined class (0 otherwise):
        # single query j weighs the anchors past slot j, total - j - 1, and a
        # pair (i, j) 1 while j is a valid slot, j < total
        weights = torch.minimum(
            (total.view(-1, 1) - const.query_offset).clamp_min_(0), const.query_cap
        )
    else:
        pos_valid = const.slots < listed
        positive_valid = pos_valid.take(const.pair_positive)
        weights = torch.cat(
            (
                torch.where(pos_valid, total.view(-1, 1) - list_weight.cumsum(1), zero),
                torch.where(positive_valid, list_weight.take(const.pair_anchor), zero),
            ),
            dim=1,
        )
    # A column's query weights add up to its (anchor, positive) pairs, each
    # anchor with each positive but itself: the triplets, with every negative.
    n_triplets = _comparisons.mean_divisor(
        torch.dot(weights.sum(1), negatives.view(-1).clamp_max(width)),
        weighted=list_weight is not None,
    )
    # hinge(u + s_q) = hinge(u - (-s_q)) against the ascending -s_q, the means'
    # divisor folded into the weights (the sums and gradients are linear in them)
    total_hinge, grad_queries, grad_scores = _comparisons.sum_of_hinges(
        neg_lowered,
        None,
        torch.addmm(margin_tensor, pos_score, const.queries),
        weights / n_triplets,
        with_total=not with_gradient,
        negated=True,
    )
    if with_gradient:
        # Each active hinge is linear in its query and its negative, so the sum
        # is the queries and scores weighed by their gradients (Euler): margin
        # times the queries' gradients, plus every listed score times its
        # gradient, which the caller reads off the gradient it builds anyway.
        total_hinge = grad_queries.sum()
    return total_hinge, grad_queries.mm(const.queries_t), grad_scores


def _absolute_by_class(
    probabilities, own, weight, sizes, lists, margin, const, with_gradient
):
    """The absolute comparison, one row per sample and task: the anchor in its
    own column (no other column of ``(K, n)`` holds one).

    Pulled pairs: anchor ``a`` of class ``c`` with each of ``c``'s listed
    positives ``p`` but itself (its own pair is 0), so ``sum w_a (s_a - s_p)^2``
    over a class is ``m S2 - 2 S1 P1 + W P2`` from the anchors' weighted sums
    (``W``, ``S1``, ``S2``: of 1, ``s``, ``s^2``) and the list's (``m`` entries,
    ``P1``, ``P2``), over ``m W - (the listed anchors' weights)`` pairs: no
    ``(anchor, positive)`` entry is built. Pushed pairs: anchor ``a`` with each
    listed negative of its column, ``max(0, t_a - l)^2`` with ``t_a = margin -
    s_a`` and ``l = -s_q``, ``(n T, W)`` entries. ``own`` ``(n, T)``: each
    sample's column in each task; ``weight`` ``(n,)``, the sample weights
    (None: 1); ``sizes``: the numbers of members of each mined column (0 if
    not mined) and of negative candidates, ``(K, 1)``.

    Returns the loss, the gradient with respect to each sample's own
    probability in each task ``(T, n)``, and the lists' gradients with
    respect to the positives' and the negatives' scores; ``with_gradient``,
    instead of the loss, half the margin times its derivative: the loss is
    homogeneous of degree 2 in the scores and the margin, so (Euler) it is that
    plus half the sum of every score times its gradient, which the caller reads
    off the softmax chain.
    """
    pos_index, pos_score, _, neg_lowered = lists
    listed, negatives = sizes
    n_columns, width = pos_score.shape
    n_tasks = own.shape[1]
    zero, half, margin_tensor, half_margin = _numbers(
        probabilities, 0.0, 0.5, margin, 0.5 * margin
    )
    weighted = weight is not None
    # rows (task, sample): each sample's own column and probability there
    own = own.view(1, -1) if n_tasks == 1 else own.t().contiguous()
    score = probabilities.gather(0, own).view(-1)
    column = own.view(-1)
    pos_valid = const.slots < listed
    positives = torch.where(pos_valid, pos_score, zero)
    in_list = listed.clamp_max(width)
    row_in_list = in_list.view(-1).take(column)
    # a mined column lists one member or more, the others none
    anchor_weight = row_in_list.clamp_max(1)
    if not weighted:
        total, list_total = listed, in_list
    else:
        row_weight = weight if n_tasks == 1 else weight.repeat(n_tasks)
        anchor_weight = anchor_weight.mul_(row_weight)
        total = _per_column(column, anchor_weight, n_columns).view(-1, 1)
        list_total = torch.where(pos_valid, weight.take(pos_index), zero).sum(
            1, keepdim=True
        )
    pulled_pairs = _comparisons.mean_divisor(
        torch.sub(in_list * total, list_total).sum(), weighted
    )
    pushed_pairs = _comparisons.mean_divisor(
        torch.dot(total.view(-1), negatives.view(-1).clamp_max(width)), weighted
    )
    # the anchors' weights, each pair's share of its mean
    pulling = anchor_weight / pulled_pairs
    pushing = anchor_weight / pushed_pairs
    p1 = positives.sum(1)
    # pushed: each anchor's t = margin - s_a against its own column's listed
    # negatives l = -s_q, max(0, t - l) (0 past them, where l = inf)
    short = neg_lowered.index_select(0, column)
    short = torch.sub(torch.sub(margin_tensor, score).view(-1, 1), short, out=short)
    short = short.clamp_min_(0)
    if not with_gradient:
        pushed_sum = torch.dot((short * short).sum(1), pushing)
        pulled_sum = torch.dot(
            torch.sub(row_in_list * score, p1.take(column), alpha=2) * score, pulling
        ) + torch.dot((positives * positives).sum(1), total.view(-1) / pulled_pairs)
        return (pulled_sum + pushed_sum) * half, None, None, None
    pushed = short.mul_(pushing.view(-1, 1))
    # d/ds_a: w_a (m s_a - P1) / pairs+ - w_a sum (t - l) / pairs-
    grad = torch.addcmul(
        pushed.sum(1).neg_(), pulling, torch.sub(row_in_list * score, p1.take(column))
    )
    # d/ds_q: w_a (t - l) / pairs- over the anchors of its column
    grad_neg = zeros(neg_lowered.shape, grad.dtype, grad.device).index_add(
        0, column, pushed
    )
    # d/ds_p: (W s_p - S1) / pairs+, on the valid slots
    pulled_scores = _per_column(column, pulling * score, n_columns)
    grad_pos = torch.where(
        pos_valid,
        torch.sub(total / pulled_pairs * positives, pulled_scores.view(-1, 1)),
        zero,
    )
    return (
        torch.mul(grad_neg.sum(), half_margin),
        grad.view(n_tasks, -1),
        grad_pos,
        grad_neg,
    )


#: From this many (sample, task) rows on, the rows that read their column's
#: lists are first narrowed to those of minority columns (:func:`_anchor_rows`):
#: below it, the selection's operations cost about what the rows it drops save
#: (``benchmarks/bench_gates.py``).
SELECT_ANCHORS_FROM = 256


class _Rows(NamedTuple):
    """The (sample, task) rows that read their column's lists, ``R`` of them."""

    column: Tensor  # (R, 1) int64: the row's own column
    sample: Tensor  # (R, 1) int64: its sample
    place: Tensor  # (R, 1) int64: its own probability's place, flattened
    weight: Tensor | None  # (R,): its sample weight (None: unweighted)
    valid: Tensor | None  # (R, 1) bool: whether a slot holds a row (None: all do)


def _anchor_rows(own, within, present, row_weight, n_slots, const, n_classes):
    """Every (sample, task) row, or, from :data:`SELECT_ANCHORS_FROM` rows on
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
    if SELECT_ANCHORS_FROM <= n * n_tasks and n_slots < n * n_tasks:
        one, zero = _numbers(own, 1, 0)
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
    return _Rows(column, sample, place, row_weight, valid)


def _at_places(place: Tensor, values: Tensor, shape: tuple) -> Tensor:
    """A tensor of ``shape``, 0 but for ``values`` ``(R,)`` added at the
    flattened places ``place`` ``(R, 1)`` (an empty slot of
    :func:`_anchor_rows` adds its 0 to row 0's)."""
    return _per_column(place.view(-1), values, math.prod(shape)).view(shape)


def _per_column(column: Tensor, values: Tensor, n_columns: int) -> Tensor:
    """The sums of ``values`` ``(R,)`` over the rows of each column (``column``
    ``(R,)``: each row's)."""
    sums = zeros((n_columns,), values.dtype, values.device)
    return sums.index_add(0, column, values)


def _in_own_columns(member: Tensor, grad_own: Tensor, multi_label: bool) -> Tensor:
    """``(K, n)``: each sample's gradient ``grad_own`` ``(T, n)`` in its own
    column of each task (``member``), 0 in the other columns."""
    if multi_label:  # class 0 of every attribute, then class 1
        grad_own = grad_own.repeat(2, 1)
    (zero,) = _numbers(grad_own, 0.0)
    return torch.where(member, grad_own, zero)


class _HistogramConstants(NamedTuple):
    """What the distribution comparison of one list width and node count
    reuses; the joined lists' slots are ``(2, W)``: the positives', the
    negatives'."""

    joined_slots: Tensor  # (1, 2, W) int64: 0..2W-1
    slots: Tensor  # (1, 1, W) float: each slot's place in its half, 0..W-1
    positive_half: Tensor  # (1, 2, 1) bool
    negative_half: Tensor  # (1, 2, 1) bool
    halves: Tensor  # (1, 2, 1) int64: 0, 1
    needed: Tensor  # (1, 2, 1) float: 2 members (one besides the anchor), 1 negative
    listed_sign: Tensor  # (1, 2, 1) float: 1 for a positive's s_p, -1 for -s_q
    to_position: tuple  # -lo / step (cached 0-dim) and 1 / step (float)
    first_node: Tensor  # (1, 2, 1) int64: each half's first node, 0 and n_bins
    node_gradient: Tensor  # (4 n_bins - 1, 2 n_bins): see _histogram_constants
    half_step: Tensor  # 0-dim: -step / 2


@functools.lru_cache(maxsize=32)
def _histogram_constants(width, n_bins, dtype, device) -> _HistogramConstants:
    lo, hi = _comparisons.HISTOGRAM_RANGE["class"]
    step = (hi - lo) / (n_bins - 1)
    # built on the device (no copy from the host, which would wait for it)
    halves = torch.arange(2, device=device).view(1, 2, 1)
    positive_half = halves == 0
    negative_half = (~positive_half).to(dtype)
    first_node = n_bins * negative_half
    # L = sum_{s <= t} H+[t] H-[s] = h' A h / 2 for the joined histogram
    # h = (H+, H-) and the symmetric A with A[t, n_bins + s] = [s <= t], so
    # dL/dh = A h. A value's share moves from its lower node to the next at
    # slope 1 / step: its gradient is a difference of consecutive entries of
    # A h / step. One product with (the differences of A's rows; A), over
    # -step, gives those differences first, then A h / step, negated: what the
    # listed probabilities receive (d = s_a - s_listed).
    nodes = torch.arange(n_bins, device=device)
    lower = (nodes.view(1, -1) <= nodes.view(-1, 1)).to(dtype)
    pairs = torch.zeros(2 * n_bins, 2 * n_bins, dtype=dtype, device=device)
    pairs[:n_bins, n_bins:] = lower
    pairs[n_bins:, :n_bins] = lower.t()
    return _HistogramConstants(
        joined_slots=torch.arange(2 * width, device=device).view(1, 2, width),
        slots=torch.arange(width, device=device).to(dtype).view(1, 1, width),
        positive_half=positive_half,
        negative_half=~positive_half,
        halves=halves,
        needed=(2 - halves).to(dtype),
        listed_sign=1 - 2 * negative_half,
        # (n_bins - 1) / 2, a binary fraction: v / step - lo / step is exact at
        # v = lo and v = hi, so no value of [lo, hi] leaves the nodes
        to_position=(scalar(-lo / step, dtype, device), 1 / step),
        first_node=first_node.long(),
        node_gradient=torch.cat((pairs.diff(dim=0), pairs)) / -step,
        half_step=scalar(-step / 2, dtype, device),
    )


def _distribution_by_sample(scores, anchors: _Rows, lists, sizes, n_bins):
    """The histogram loss (SPEC §4) at class level: each (sample, task) row of
    ``anchors`` against its own class's joined lists, positives then
    negatives, ``(R, 2, W)`` values in one histogram of ``2 n_bins`` nodes (the
    positives' nodes, then the negatives').

    Class-level values lie in ``[-1, 1]``, inside the nodes' range, so no valid
    value is clamped and each moves its share at slope ``1 / step``.
    ``scores``: the probabilities whose flattened places ``anchors`` give
    (``(K, n)`` or ``(n, C)``); ``sizes``: the valid positives and negatives of
    each column, ``(K, 1, 1)``. Returns the loss and its gradients with respect
    to each row's own probability ``(R,)`` and to each column's listed ones
    ``(K, 2 W)``.
    """
    pos_index, pos_score, _, neg_lowered = lists
    listed, negatives = sizes
    n_columns, width = pos_score.shape
    const = _histogram_constants(width, n_bins, scores.dtype, scores.device)
    zero, one = _numbers(scores, 0.0, 1.0)
    own, samples, row_weight = (
        anchors.column.view(-1, 1, 1),
        anchors.sample,
        anchors.weight,
    )
    shape = (own.shape[0], 2, width)
    # each row's lists, its column's: whole rows of (K, 2 W) move several times
    # faster than entries gathered one by one
    rows = own.view(-1)
    s_anchor = scores.take(anchors.place).view(-1, 1, 1)
    # d = s_a - s_p for the positives, s_a - s_q = s_a + (-s_q) for the negatives
    # (in place from here on where a value is read no more: each large batch's
    # new tensor costs the allocator fresh pages)
    listed_scores = torch.cat((pos_score, neg_lowered), dim=1)
    difference = listed_scores.index_select(0, rows).view(shape)
    difference = torch.addcmul(
        s_anchor, difference, const.listed_sign, value=-1, out=difference
    )
    # each row's numbers of positives and of negatives, (R, 2, 1)
    bounds = torch.where(const.positive_half, listed, negatives).take(
        torch.add(const.halves, own, alpha=2)
    )
    valid = const.slots < bounds
    # the anchor itself is no positive of its own (listed at most once)
    valid[:, 0].bitwise_and_(pos_index.index_select(0, rows) != samples)
    # only anchors with a positive and a negative take part: with two members
    # listed, one is not the anchor (and with one slot, that one)
    enough = bounds >= const.needed
    if width == 1:
        enough = torch.bitwise_and(enough, valid[:, :1])
    enough = enough.all(1, keepdim=True)
    if anchors.valid is not None:
        enough = enough.bitwise_and_(anchors.valid.view(-1, 1, 1))
    valid = valid.bitwise_and_(enough)
    # each half's total weight (1, 2, 1), against (.., 2, W) or (1, 2, n_bins)
    if row_weight is None:
        weight = torch.where(valid, one, zero)
        total = weight.sum((0, 2), keepdim=True).clamp_min(1)
    else:
        weight = torch.where(valid, row_weight.view(-1, 1, 1), zero)
        total = _comparisons.mean_divisor(weight.sum((0, 2), keepdim=True), True)
    sign = difference.sign().masked_fill_(const.negative_half, 1.0)
    # each value's place among the nodes, 0 to n_bins - 1 (its half's first
    # node is added to the index only: in low precision the positions lose
    # less); invalid values (a negative of -s_q = inf) stop at the last node
    position = difference.mul_(sign)
    position = torch.add(
        const.to_position[0], position, alpha=const.to_position[1], out=position
    ).clamp_max_(n_bins - 1)
    # its lower node (positions are not negative: a cast floors them)
    lower = position.clamp_max(n_bins - 2)
    node = torch.empty(shape, dtype=torch.int64, device=scores.device).copy_(lower)
    upper_share = position.sub_(lower.floor_()).mul_(weight)
    node = node.add_(const.first_node).view(-1)
    # the gradient's weights, each half's normaliser folded in, before the
    # lower shares take the weights' place
    signed_weight = sign.mul_(weight).div_(total)
    # raw weights, then normalised: low precision loses less in the sums
    histogram = zeros((2 * n_bins,), scores.dtype, scores.device).scatter_add(
        0, node, weight.sub_(upper_share).view(-1)
    )
    # the upper nodes: one above, through a view (as_strided: one operation)
    histogram.as_strided((2 * n_bins - 1,), (1,), 1).scatter_add_(
        0, node, upper_share.view(-1)
    )
    histogram.view(1, 2, n_bins).div_(total)
    node_gradient = torch.mv(const.node_gradient, histogram)
    node_gradient_of_h = node_gradient.as_strided((2 * n_bins,), (1,), 2 * n_bins - 1)
    loss = torch.dot(histogram, node_gradient_of_h) * const.half_step
    # d/d s_listed of d (s_p or s_q), and minus it for s_a
    grad = node_gradient.index_select(0, node).view(shape).mul_(signed_weight)
    grad_lists = zeros((n_columns, 2 * width), grad.dtype, grad.device).index_add(
        0, rows, grad.view(-1, 2 * width)
    )
    return loss, grad.sum((1, 2)).neg_(), grad_lists


def _by_sample(scores, anchors: _Rows, lists, sizes, params, const):
    """Every (sample, task) row of ``anchors`` with its own class's lists; the
    loss and its gradients with respect to the rows' own scores ``(R,)``, the
    positives' scores and the negatives' scores ``s_q``. ``scores``: the
    probabilities whose flattened places ``anchors`` give."""
    pos_index, pos_score, _, neg_lowered = lists
    listed, negatives = sizes
    comparison, margin, n_bins = params
    rows = anchors.column
    # each row's lists, its column's: whole rows of (K, W) move several times
    # faster than entries gathered one by one
    flat_rows = rows.view(-1)
    s_anchor = scores.take(anchors.place)
    listed, negatives = listed.take(rows), negatives.take(rows)
    if anchors.valid is not None:  # an empty slot lists nothing
        listed, negatives = listed.mul_(anchors.valid), negatives.mul_(anchors.valid)
    row_pos_valid = torch.bitwise_and(
        const.slots < listed,
        pos_index.index_select(0, flat_rows) != anchors.sample,
    )
    row_neg_valid = const.slots < negatives
    difference = s_anchor - torch.where(
        row_pos_valid, pos_score.index_select(0, flat_rows), s_anchor
    )
    # d- = s_a - s_q = s_a + (-s_q) comes increasing
    d_neg = s_anchor + neg_lowered.index_select(0, flat_rows)
    loss, grad_pos, grad_neg = _comparisons.compare(
        comparison,
        "class",
        difference.abs(),
        row_pos_valid,
        d_neg,
        row_neg_valid,
        margin=margin,
        n_bins=n_bins,
        row_weight=anchors.weight,
    )
    grad_pos = grad_pos * difference.sign()
    grad_own = grad_pos.sum(1) + grad_neg.sum(1)
    # each column's list slots gather the gradients of its members' rows
    nothing = zeros(pos_score.shape, pos_score.dtype, pos_score.device)
    grad_lists = nothing.index_add(0, flat_rows, grad_pos)
    grad_negatives = nothing.index_add(0, flat_rows, grad_neg)
    return loss, grad_own, grad_lists.neg_(), grad_negatives.neg_()


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
    many = n_columns >= MANY_COLUMNS
    const = _constants(n_tasks, n_classes, width, n, logits.dtype, logits.device)
    probabilities, member, own, rows = _column_major(logits, target, const, many)
    zero, one, two, minus_infinity = _numbers(logits, 0.0, 1.0, 2.0, -math.inf)
    present = None
    if weight is None:
        n_taking, bound = _numbers(logits, n, math.floor(rho * n))
    else:
        present = weight > zero
        n_taking = present.sum(dtype=logits.dtype)
        bound = (n_taking.double() * scalar(rho, torch.float64, logits.device)).floor()
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
            candidates = _negative_candidates(probabilities, member, others)
    if multi_label:
        counts = member.sum(1, dtype=logits.dtype)
    else:
        # from the labels: a sum over the (C, n) mask would first copy it whole
        taking = one.expand(n) if present is None else torch.where(present, one, zero)
        counts = _per_column(own.view(-1), taking, n_classes)
    # SPEC §1: the classes of each task in (count, class) order; a class is a
    # minority while the counts up to it stay within rho * n
    key = torch.add(const.column_class, counts, alpha=n_classes)
    if n_tasks == 1 and many:
        order = key.argsort()
        cumulative = torch.empty_like(counts).scatter_(
            0, order, counts.take(order).cumsum(0)
        )
    else:
        earlier = key.view(1, -1) <= key.view(-1, 1)
        if n_tasks > 1:
            earlier.bitwise_and_(const.same_task)
        cumulative = torch.where(earlier, counts, zero).sum(1)
    within = cumulative <= bound
    grouped = None
    if many:
        own_score = (probabilities.transpose(0, 1) if rows is None else rows).gather(
            1, own
        )
        own_for_sort = own
        if present is not None:  # entries that take no part sort after every column
            own_for_sort = own.masked_fill(~present.view(-1, 1), n_columns)
        grouped = (own_for_sort, own_score, counts, candidates)
    lists = mine_class_lists(probabilities, member, others, width, grouped)

    if comparison == "absolute" and member is not None and not many:
        mined = torch.bitwise_and(within, counts >= two)
        listed = torch.where(mined, counts, zero).view(-1, 1)
        loss, grad_own, grad_pos, grad_neg = _absolute_by_class(
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
        grad, score_sum = _logit_gradient(probabilities, grad, multi_label, True)
        return torch.add(loss, score_sum, alpha=0.5), grad

    if comparison == "relative" and class_by_class(n_columns, width, n):
        # A minority class of one member (SPEC §1 step 4) gets query weights of
        # 0 all the same (no anchor but itself), so none is struck out here; a
        # column that is not mined has none either, whatever its negatives.
        listed = torch.where(within, counts, zero).view(-1, 1)
        negatives = (n_taking - counts).view(-1, 1)
        list_weight = None
        total = listed.view(-1)
        if weight is not None:
            if member is None:
                total = _per_column(
                    own.view(-1), torch.where(present, weight, zero), n_classes
                )
            else:
                total = torch.where(member, weight, zero).sum(1)
            list_weight = torch.where(const.slots < listed, weight.take(lists[0]), zero)
        loss, grad_pos, grad_neg = _relative_by_class(
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
            grad, listed_sum = _sparse_softmax_gradient(
                rows, lists, grad_pos, grad_neg, None, const
            )
            return torch.add(listed_sum, loss, alpha=margin), grad
        grad = zeros(probabilities.shape, logits.dtype, logits.device)
        grad = grad.scatter_add(1, lists[0], grad_pos).scatter_add_(
            1, lists[2], grad_neg
        )
        grad, listed_sum = _logit_gradient(probabilities, grad, multi_label, True)
        return torch.add(listed_sum, loss, alpha=margin), grad
    row_weight = weight
    if weight is not None and n_tasks > 1:
        row_weight = weight.repeat_interleave(n_tasks)
    # the rows that read their column's lists, all or those that can be anchors
    anchors = _anchor_rows(
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
        loss, grad_own, grad_lists = _distribution_by_sample(
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
        mined = torch.bitwise_and(within, counts >= two)
        listed = torch.where(mined, counts, zero).view(-1, 1)
        negatives = torch.where(mined, n_taking - counts, zero).view(-1, 1)
        loss, grad_own, grad_pos, grad_neg = _by_sample(
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
