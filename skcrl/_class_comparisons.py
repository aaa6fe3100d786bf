"""Class level, docs/spec.md §3-§4: each comparison from the columns' shared lists
(:mod:`skcrl._class_lists`), with its gradients in closed form.

The relative and absolute comparisons work class by class where they can
(:func:`relative_by_class`, :func:`absolute_by_class`); the distribution
comparison (:func:`distribution_by_sample`) and the sample-by-sample path
(:func:`by_sample`) take each anchor row against its column's lists. Each
returns the loss and its gradients with respect to the scores it read, which
:func:`skcrl._class_level.class_level_crl` chains back to the logits.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from . import _comparisons
from ._cached import constants as cached_constants
from ._cached import numbers, zeros
from ._class_lists import ClassBatch, Rows, per_column

__all__ = [
    "RelativeQueries",
    "ScoreGradients",
    "absolute_by_class",
    "by_sample",
    "distribution_by_sample",
    "relative_by_class",
    "relative_queries",
]


class ScoreGradients(NamedTuple):
    """A comparison's gradient with respect to the probabilities it read,
    which :func:`skcrl._class_level.logit_gradient` chains to the logits."""

    own: Tensor | None  # the anchor rows' own probabilities: (T, n) or (R,)
    at: Rows | None  # the rows of ``own`` when (R,); None: every sample and task
    listed: tuple  # ((index (K, L), gradient (K, L)), ...): the listed samples'


class RelativeQueries(NamedTuple):
    """The class-by-class relative comparison's queries for lists of ``W``
    slots, ``P = W (W - 1) / 2`` pairs of slots ``i < j``: built only for it,
    and only while ``W (W + P)`` stays within ``_gates.RELATIVE_QUERIES_UP_TO``."""

    queries: Tensor  # (W, W + P) float: the relative queries, linear in the positives
    queries_t: Tensor  # (W + P, W) float: its transpose, contiguous
    offset: Tensor  # (1, W + P) float: j + 1 of each single query, j of a pair
    cap: Tensor  # (1, W + P) float: inf for a single query, 1 for a pair
    pair_anchor: Tensor  # (P,) int64: slot i of each pair
    pair_positive: Tensor  # (P,) int64: slot j of each pair


@cached_constants(maxsize=32)
def relative_queries(width, dtype, device) -> RelativeQueries:
    slots = torch.arange(width, device=device)
    first, second = torch.triu_indices(width, width, offset=1, device=device)
    # query j: - s_j; query (i, j), i < j: s_j - 2 s_i (the margin and s_q are
    # relative_hinges')
    n_pairs = first.numel()
    queries = torch.zeros(width, width + n_pairs, dtype=dtype, device=device)
    queries[slots, slots] = -1.0
    pair_columns = torch.arange(width, width + n_pairs, device=device)
    queries[second, pair_columns] = 1.0
    queries[first, pair_columns] = -2.0
    offset = torch.cat((slots + 1, second)).to(dtype)
    cap = torch.cat(
        (
            torch.full((width,), math.inf, dtype=dtype, device=device),
            torch.ones(n_pairs, dtype=dtype, device=device),
        )
    )
    return RelativeQueries(
        queries=queries,
        queries_t=queries.t().contiguous(),
        offset=offset.view(1, -1),
        cap=cap.view(1, -1),
        pair_anchor=first,
        pair_positive=second,
    )


def relative_by_class(batch: ClassBatch, margin: float, with_gradient: bool):
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
    scores (one product with :attr:`Constants.queries`).

    Slots past a column's positives may hold any finite score: their queries
    weigh 0. A minority class of one member (SPEC §1 step 4) gets query weights
    of 0 all the same (no anchor but itself), so none is struck out here; a
    column that is not mined has none either, whatever its negatives. Returns
    the loss and, if asked, its :class:`ScoreGradients`.
    """
    lists, const, weight = batch.lists, batch.const, batch.weight
    pos_score, neg_lowered = lists.pos_score, lists.neg_lowered
    width = pos_score.shape[1]
    (zero,) = numbers(pos_score, 0.0)
    # the members of each minority column and the negative candidates
    listed = torch.where(batch.within, batch.counts, zero).view(-1, 1)
    negatives = (batch.n_taking - batch.counts).view(-1, 1)
    # each mined class's total weight (its count without sample weights), and
    # each positive's weight (0 past the valid ones)
    list_weight = None
    total = listed.view(-1)
    if weight is not None:
        if batch.member is None:
            total = per_column(
                batch.own.view(-1),
                torch.where(batch.present, weight, zero),
                batch.n_classes,
            )
        else:
            total = torch.where(batch.member, weight, zero).sum(1)
        list_weight = torch.where(
            const.slots < listed, weight.take(lists.pos_index), zero
        )
    query = relative_queries(width, pos_score.dtype, pos_score.device)
    if list_weight is None:
        # every weight 1, and total the count of a mined class (0 otherwise):
        # single query j weighs the anchors past slot j, total - j - 1, and a
        # pair (i, j) 1 while j is a valid slot, j < total
        weights = torch.minimum(
            (total.view(-1, 1) - query.offset).clamp_min_(0), query.cap
        )
    else:
        pos_valid = const.slots < listed
        positive_valid = pos_valid.index_select(1, query.pair_positive)
        weights = torch.cat(
            (
                torch.where(pos_valid, total.view(-1, 1) - list_weight.cumsum(1), zero),
                torch.where(
                    positive_valid,
                    list_weight.index_select(1, query.pair_anchor),
                    zero,
                ),
            ),
            dim=1,
        )
    # A column's query weights add up to its (anchor, positive) pairs, each
    # anchor with each positive but itself: the triplets, with every negative.
    n_triplets = _comparisons.mean_divisor(
        torch.dot(weights.sum(1), negatives.view(-1).clamp_max(width)),
        weighted=list_weight is not None,
    )
    # d+ - d- = query + s_q = query - (-s_q) against the ascending -s_q, the
    # means' divisor folded into the weights (the sums and gradients are linear
    # in them)
    loss, grad_queries, grad_scores = _comparisons.relative_hinges(
        pos_score.mm(query.queries),
        neg_lowered,
        weights / n_triplets,
        margin,
        negated=True,
    )
    if not with_gradient:
        return loss, None
    listed = (
        (lists.pos_index, grad_queries.mm(query.queries_t)),
        (lists.neg_index, grad_scores),
    )
    return loss, ScoreGradients(None, None, listed)


def absolute_by_class(
    batch: ClassBatch, anchors: Rows | None, margin: float, with_gradient: bool
):
    """The absolute comparison, one row per sample and task (or per row of
    ``anchors``, when the rows that can be anchors were picked out): the anchor
    in its own column (no other column of ``(K, n)`` holds one).

    Pulled pairs: anchor ``a`` of class ``c`` with each of ``c``'s listed
    positives ``p`` but itself (its own pair is 0), so ``sum w_a (s_a - s_p)^2``
    over a class is ``m S2 - 2 S1 P1 + W P2`` from the anchors' weighted sums
    (``W``, ``S1``, ``S2``: of 1, ``s``, ``s^2``) and the list's (``m`` entries,
    ``P1``, ``P2``), over ``m W - (the listed anchors' weights)`` pairs: no
    ``(anchor, positive)`` entry is built. Pushed pairs: anchor ``a`` with each
    listed negative of its column, ``max(0, t_a - l)^2`` with ``t_a = margin -
    s_a`` and ``l = -s_q``, ``(n T, W)`` entries. Returns the loss and, if
    asked, its :class:`ScoreGradients` (the own probabilities' ``(T, n)``).
    """
    lists, const, weight, own = batch.lists, batch.const, batch.weight, batch.own
    pos_index, pos_score, neg_lowered = (
        lists.pos_index,
        lists.pos_score,
        lists.neg_lowered,
    )
    probabilities, counts = batch.probabilities, batch.counts
    n_columns, width = pos_score.shape
    n_tasks = own.shape[1]
    zero, half = numbers(probabilities, 0.0, 0.5)
    (two,) = numbers(batch.whole_counts, 2)
    # the members of each mined column (0 if not mined), the negative candidates
    mined = torch.bitwise_and(batch.within, batch.whole_counts >= two)
    listed = torch.where(mined, counts, zero).view(-1, 1)
    negatives = (batch.n_taking - counts).view(-1, 1)
    weighted = weight is not None
    row_weight = weight
    if anchors is None:
        # rows (task, sample): each sample's own column and probability there
        own = own.view(1, -1) if n_tasks == 1 else own.t().contiguous()
        score = probabilities.gather(0, own).view(-1)
        column = own.view(-1)
        if weighted and n_tasks > 1:
            row_weight = weight.repeat(n_tasks)
    else:
        score = probabilities.take(anchors.place).view(-1)
        column, row_weight = anchors.column.view(-1), anchors.weight
    pos_valid = const.slots < listed
    positives = torch.where(pos_valid, pos_score, zero)
    in_list = listed.clamp_max(width)
    row_in_list = in_list.view(-1).take(column)
    # a mined column lists one member or more, the others none
    anchor_weight = row_in_list.clamp_max(1)
    if anchors is not None and anchors.valid is not None:  # empty slots weigh 0
        anchor_weight = anchor_weight.mul_(anchors.valid.view(-1))
    if not weighted:
        total, list_total = listed, in_list
    else:
        anchor_weight = anchor_weight.mul_(row_weight)
        total = per_column(column, anchor_weight, n_columns).view(-1, 1)
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
    p1 = positives.sum(1).take(column)
    # pulled, per anchor: sum_p (s_a - s_p)^2 = s_a (m s_a - 2 P1) + P2, with
    # m s_a - P1 (its derivative) shared with the gradient
    centred = torch.sub(row_in_list * score, p1)
    p2 = (positives * positives).sum(1).take(column)
    pulled_sum = torch.dot(torch.addcmul(p2, score, centred - p1), pulling)
    # pushed: each anchor against its own column's listed negatives, d- =
    # s_a - s_q = s_a + (-s_q) (inf past them, where it falls short by 0)
    d_neg = neg_lowered.index_select(0, column)
    short = _comparisons.absolute_shortfall(
        torch.add(d_neg, score.view(-1, 1), out=d_neg), margin
    )
    pushed = short * pushing.view(-1, 1)
    # one fused pass over the (n T, W) pairs, where a product and a sum take two
    pushed_sum = torch.dot(pushed.view(-1), short.view(-1))
    loss = torch.add(pulled_sum, pushed_sum) * half
    if not with_gradient:
        return loss, None
    # d/ds_a: w_a (m s_a - P1) / pairs+ - w_a sum (t - l) / pairs-
    grad = torch.addcmul(pushed.sum(1).neg_(), pulling, centred)
    # d/ds_q: w_a (t - l) / pairs- over the anchors of its column
    grad_neg = zeros(neg_lowered.shape, grad.dtype, grad.device).index_add(
        0, column, pushed
    )
    # d/ds_p: (W s_p - S1) / pairs+, on the valid slots
    pulled_scores = per_column(column, pulling * score, n_columns)
    grad_pos = torch.where(
        pos_valid,
        torch.sub(total / pulled_pairs * positives, pulled_scores.view(-1, 1)),
        zero,
    )
    listed = ((lists.pos_index, grad_pos), (lists.neg_index, grad_neg))
    if anchors is not None:
        return loss, ScoreGradients(grad, anchors, listed)
    return loss, ScoreGradients(grad.view(n_tasks, -1), None, listed)


class _JoinedLists(NamedTuple):
    """What the distribution comparison of one list width reuses: the joined
    lists' slots are ``(2, W)``, the positives', the negatives'."""

    slots: Tensor  # (1, 1, W) float: each slot's place in its half, 0..W-1
    positive_half: Tensor  # (1, 2, 1) bool
    negative_half: Tensor  # (1, 2, 1) bool
    halves: Tensor  # (1, 2, 1) int64: 0, 1
    needed: Tensor  # (1, 2, 1) float: 2 members (one besides the anchor), 1 negative
    listed_sign: Tensor  # (1, 2, 1) float: 1 for a positive's s_p, -1 for -s_q


@cached_constants(maxsize=32)
def _joined_lists(width, dtype, device) -> _JoinedLists:
    # built on the device (no copy from the host, which would wait for it)
    halves = torch.arange(2, device=device).view(1, 2, 1)
    positive_half = halves == 0
    return _JoinedLists(
        slots=torch.arange(width, device=device).to(dtype).view(1, 1, width),
        positive_half=positive_half,
        negative_half=~positive_half,
        halves=halves,
        needed=(2 - halves).to(dtype),
        listed_sign=(1 - 2 * halves).to(dtype),
    )


def distribution_by_sample(
    batch: ClassBatch, anchors: Rows, n_bins: int, with_gradient: bool
):
    """The distribution comparison at class level: each (sample, task) row of
    ``anchors`` against its own class's joined lists, positives then
    negatives, ``(R, 2, W)`` distances, in :func:`skcrl._comparisons.histogram_loss`.

    A class of one member has no positive but itself, so none is struck out
    here: its anchor takes no part. Returns the loss and, if asked, its
    :class:`ScoreGradients` (each row's own probability's, and each column's
    joined lists').
    """
    lists = batch.lists
    pos_index, pos_score, neg_lowered = (
        lists.pos_index,
        lists.pos_score,
        lists.neg_lowered,
    )
    scores = batch.probabilities if batch.rows is None else batch.rows
    n_columns, width = pos_score.shape
    (zero,) = numbers(batch.counts, 0.0)
    # the valid positives and negatives of each column, (K, 1, 1)
    listed = torch.where(batch.within, batch.counts, zero).view(-1, 1, 1)
    negatives = (batch.n_taking - batch.counts).view(-1, 1, 1)
    const = _joined_lists(width, scores.dtype, scores.device)
    zero, one = numbers(scores, 0.0, 1.0)
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
    if row_weight is None:
        weight = torch.where(valid, one, zero)
    else:
        weight = torch.where(valid, row_weight.view(-1, 1, 1), zero)
    # the distance to a positive is |s_a - s_p|
    sign = difference.sign().masked_fill_(const.negative_half, 1.0)
    loss, grad = _comparisons.histogram_loss(
        difference.mul_(sign), weight, n_bins, "class", row_weight is not None
    )
    # d/d s_a of |s_a - s_p| and of s_a - s_q, and minus it for s_p and s_q
    grad = grad.mul_(sign)
    grad_lists = zeros((n_columns, 2 * width), grad.dtype, grad.device).index_add(
        0, rows, grad.view(-1, 2 * width)
    )
    if not with_gradient:
        return loss, None
    joined = torch.cat((pos_index, lists.neg_index), dim=1)
    gradients = ScoreGradients(
        grad.sum((1, 2)), anchors, ((joined, grad_lists.neg_()),)
    )
    return loss, gradients


def by_sample(
    batch: ClassBatch,
    anchors: Rows,
    comparison: str,
    margin: float,
    n_bins: int,
    with_gradient: bool,
):
    """Every (sample, task) row of ``anchors`` with its own class's lists, in
    the comparison of both levels (:func:`skcrl._comparisons.compare`); the
    loss and, if asked, its :class:`ScoreGradients`."""
    lists, const = batch.lists, batch.const
    pos_index, pos_score, neg_lowered = (
        lists.pos_index,
        lists.pos_score,
        lists.neg_lowered,
    )
    scores = batch.probabilities if batch.rows is None else batch.rows
    (zero,) = numbers(batch.counts, 0.0)
    (two,) = numbers(batch.whole_counts, 2)
    mined = torch.bitwise_and(batch.within, batch.whole_counts >= two)
    listed = torch.where(mined, batch.counts, zero).view(-1, 1)
    negatives = torch.where(mined, batch.n_taking - batch.counts, zero).view(-1, 1)
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
    if not with_gradient:
        return loss, None
    grad_pos = grad_pos * difference.sign()
    grad_own = grad_pos.sum(1) + grad_neg.sum(1)
    # each column's list slots gather the gradients of its members' rows
    nothing = zeros(pos_score.shape, pos_score.dtype, pos_score.device)
    grad_lists = nothing.index_add(0, flat_rows, grad_pos)
    grad_negatives = nothing.index_add(0, flat_rows, grad_neg)
    listed = (
        (pos_index, grad_lists.neg_()),
        (lists.neg_index, grad_negatives.neg_()),
    )
    return loss, ScoreGradients(grad_own, anchors, listed)
