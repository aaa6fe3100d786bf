"""Minority profiling and hard mining (docs/spec.md §1-§2) as pure tensor functions.

Every function works on a stack of ``T`` tasks at once: ``T = 1`` for a multi-class
batch, ``T = J`` for ``J`` binary attributes. Labels are ``(T, n)`` integer tensors in
``0..C-1``. Shapes depend only on ``n``, ``C``, ``T``, ``k`` and ``rho``, never on the
label values, so nothing here waits for the device: a minority class, an anchor or a
mined sample that does not exist is a ``False`` entry of a validity mask.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from . import _gates
from ._cached import arange, scalar

__all__ = [
    "MinedPairs",
    "class_counts",
    "group_by_class",
    "mine_instance_level",
    "mined_classes",
    "minority_bound",
    "minority_classes",
    "n_anchor_slots",
    "select_anchors",
    "taking_part",
    "within_minority",
]


class MinedPairs(NamedTuple):
    """Anchors with their hard positives and negatives, as batch indices.

    ``A`` anchor slots per task, ``P`` positive and ``Q`` negative slots per anchor.
    """

    anchor_index: Tensor  # (T, A) sample index of each anchor slot
    pos_index: Tensor  # (T, A, P)
    pos_valid: Tensor  # (T, A, P) bool; False also where the anchor slot is empty
    neg_index: Tensor  # (T, A, Q)
    neg_valid: Tensor  # (T, A, Q) bool
    pos_cosine: Tensor  # (T, A, P) cosine similarity of each pair
    neg_cosine: Tensor  # (T, A, Q)


def class_counts(labels: Tensor, n_classes: int) -> Tensor:
    """``h_c`` of every class of every task: ``(T, C)`` int64."""
    counts = torch.zeros(
        labels.shape[0], n_classes, dtype=torch.int64, device=labels.device
    )
    return counts.scatter_add_(1, labels, torch.ones_like(labels))


def minority_bound(rho: float, n: int | Tensor, counts: Tensor) -> Tensor:
    """``floor(rho * n)``, the largest total count of a task's minority classes,
    as a 0-dim tensor to compare ``counts`` with (in their dtype, or float64
    against float counts). ``n`` may be a 0-dim tensor (the samples of positive
    weight, SPEC §10): the product is then taken in float64 (an integer count
    against a float32 product would be rounded)."""
    if not isinstance(n, Tensor):
        return scalar(math.floor(rho * n), counts.dtype, counts.device)
    bound = torch.floor(n * scalar(rho, torch.float64, n.device))
    return bound if counts.is_floating_point() else bound.long()


def within_minority(counts: Tensor, bound: int | Tensor) -> Tensor:
    """SPEC §1 steps 1-3, the one minority rule of both levels: for the counts
    ``h_c`` ``(..., C)`` of each task's classes (contiguous; integers, in a dtype
    that holds them exactly), whether the cumulative count up to each class, in
    ``(h_c, c)`` order, is within ``bound`` (:func:`minority_bound`).

    A present class is a minority class exactly when this holds: counts are
    non-negative, so the cumulative sum is monotone and the classes where it
    stays within the bound *are* the longest prefix. Absent classes (count 0)
    add nothing; the caller drops them (and, step 4, classes of one member).
    Up to ``_gates.PAIRWISE_MINORITY_UP_TO`` classes, each class's cumulative
    count is the sum of the counts whose key ``h_c * C + c`` is no larger, a
    ``(..., C, C)`` comparison in a few operations; above it, a sort, a gather,
    a cumulative sum and a scatter.
    """
    n_classes = counts.shape[-1]
    classes = arange(n_classes, counts.device, counts.dtype)
    if _gates.pairwise_minority(n_classes):
        # views rather than unsqueeze and transpose, which cost a call more each
        tasks = counts.shape[:-1]
        row = counts.view(*tasks, 1, n_classes)
        key = torch.add(classes, row, alpha=n_classes)
        earlier = key <= key.view(*tasks, n_classes, 1)
        zero = scalar(0, counts.dtype, counts.device)
        cumulative = torch.where(earlier, row, zero).sum(-1)
    else:
        order = torch.add(classes, counts, alpha=n_classes).argsort(dim=-1)
        cumulative = torch.empty_like(counts).scatter_(
            -1, order, counts.gather(-1, order).cumsum(-1)
        )
    return cumulative <= bound


def minority_classes(counts: Tensor, rho: float, n: int | Tensor) -> Tensor:
    """SPEC §1 steps 1-3: the minority classes of each task, ``(T, C)`` bool."""
    within = within_minority(counts, minority_bound(rho, n, counts))
    return torch.bitwise_and(within, counts > 0)


def mined_classes(counts: Tensor, rho: float, n: int | Tensor) -> Tensor:
    """SPEC §1: the minority classes of each task that are mined, ``(T, C)``
    bool: the minority classes with at least two members (step 4)."""
    within = within_minority(counts, minority_bound(rho, n, counts))
    return torch.bitwise_and(within, counts >= 2)


def n_anchor_slots(n: int, rho: float) -> int:
    """A static bound on the anchors of one task: all lie in minority classes,
    whose counts add up to at most ``floor(rho * n)``."""
    return min(n, math.floor(rho * n))


def group_by_class(
    labels: Tensor, mined: Tensor, scores: Tensor | None = None
) -> Tensor:
    """Sample indices ``(T, n)`` grouped by class, the mined classes first.

    Mined classes come in class-id order, each class's members by ascending
    ``scores`` (in batch order without scores), then every other sample.
    """
    n_classes = mined.shape[1]
    keys = torch.where(mined.gather(1, labels), labels, labels + n_classes)
    if scores is None:
        return torch.sort(keys, dim=1, stable=True).indices
    if scores.dtype == torch.float32:
        # The bits of a non-negative float32 order as the numbers do: one sort of
        # (class key, score) packed into an int64.
        packed = (keys << 32) | scores.view(torch.int32).long()
        return torch.sort(packed, dim=1, stable=True).indices
    by_score = torch.sort(scores, dim=1, stable=True).indices
    by_class = torch.sort(keys.gather(1, by_score), dim=1, stable=True).indices
    return by_score.gather(1, by_class)


def select_anchors(
    labels: Tensor, mined: Tensor, grouped: Tensor, n_slots: int
) -> tuple[Tensor, Tensor, Tensor]:
    """The first ``n_slots`` samples of ``grouped``: all members of mined classes.

    Returns ``(anchor_index, anchor_class, anchor_valid)``, each ``(T, n_slots)``.
    """
    anchor_index = grouped[:, :n_slots]
    anchor_class = labels.gather(1, anchor_index)
    anchor_valid = mined.gather(1, anchor_class)
    # an empty slot may hold a sample of weight 0, of the void class (SPEC §10):
    # class 0 keeps every gather in range, and the slot stays invalid
    return anchor_index, anchor_class * anchor_valid, anchor_valid


def _leading(n_valid: Tensor, width: int) -> Tensor:
    """``(..., width)`` mask of the first ``n_valid`` slots of each row."""
    return arange(width, n_valid.device) < n_valid.unsqueeze(-1)


def _anchor_class_counts(anchors, counts: Tensor) -> Tensor:
    """``h_c`` of each anchor's class; 0 for an empty slot, which so gets no pair."""
    _, anchor_class, anchor_valid = anchors
    return counts.gather(1, anchor_class) * anchor_valid


def top_k(values: Tensor, k: int, force_chunks: bool = False) -> tuple[Tensor, Tensor]:
    """``torch.topk`` along the last dimension, sorted, largest first.

    On the CPU, topk takes a slow selection path for rows shorter than ``64 k``.
    Between ``16 k`` and ``64 k``, the ``k`` largest lie in the ``k`` chunks of 4
    with the largest maxima (each of those values is some chunk's maximum or
    below it), so the top ``k`` of the rows's chunk maxima, then of the ``4 k``
    values of those chunks, are found on far shorter rows: faster on many rows
    (:func:`~skcrl._gates.uses_chunks`), slower on a few. ``force_chunks`` takes
    that route whatever the shape (for tests and benchmarks).
    """
    n = values.shape[-1]
    if not (force_chunks or _gates.uses_chunks(values, k)):
        return torch.topk(values, k, dim=-1)
    chunk = 4
    padded = values
    if n % chunk:
        padded = torch.nn.functional.pad(values, (0, -n % chunk), value=-torch.inf)
    maxima = padded.unflatten(-1, (-1, chunk)).amax(dim=-1)
    best = torch.topk(maxima, k, dim=-1, sorted=False).indices
    candidates = (best.unsqueeze(-1) * chunk + torch.arange(chunk)).flatten(-2)
    top, at = torch.topk(padded.gather(-1, candidates), k, dim=-1)
    # a row with fewer than k finite values may pick the padding (-inf, as the
    # values struck out): any index in range serves such a slot
    return top, candidates.gather(-1, at).clamp_(max=n - 1)


def _mine_block(units, labels, index, anchor_class, present, widths):
    """The hard positives and negatives of the anchors ``index`` ``(T, b)``:
    ``(pos_cosine, pos_index, neg_cosine, neg_index)``, ``(T, b, width)`` each,
    from the cosines of those anchors with every sample."""
    n = labels.shape[1]
    anchor_units = units.gather(1, index.unsqueeze(-1).expand(-1, -1, units.shape[-1]))
    cosine = torch.bmm(anchor_units, units.transpose(1, 2))  # (T, b, n)
    member = labels.unsqueeze(1) == anchor_class.unsqueeze(-1)
    # the other members of the anchor's class (an anchor is one of its members)
    others = torch.bitwise_xor(member, arange(n, labels.device) == index.unsqueeze(-1))
    minus_infinity = scalar(-math.inf, cosine.dtype, cosine.device)
    farthest = torch.where(others, cosine.neg(), minus_infinity)
    if present is not None:
        member |= ~present
    nearest = cosine.masked_fill_(member, -math.inf)
    pos_cosine, pos_index = torch.topk(farthest, widths[0], dim=2)
    neg_cosine, neg_index = torch.topk(nearest, widths[1], dim=2)
    return pos_cosine.neg_(), pos_index, neg_cosine, neg_index


def mine_instance_level(
    unit_embeddings: Tensor,
    labels: Tensor,
    counts: Tensor,
    anchors: tuple[Tensor, Tensor, Tensor],
    k: int,
    present: Tensor | None = None,
) -> MinedPairs:
    """SPEC §2, instance level: hard samples of each anchor by embedding distance.

    ``unit_embeddings`` is ``(T, n, D)`` (or ``(1, n, D)`` when shared by all tasks),
    L2-normalised, so that ``d^2 = 2 - 2 cos`` and ranking by cosine similarity ranks
    by distance. Positives: the ``min(k, h_c - 1)`` *other* members of the anchor's
    class farthest from it; negatives: the ``min(k, n - h_c)`` non-members nearest.
    ``present`` ``(n,)``, when given, marks the samples that take part (SPEC §10:
    weight > 0); the others carry the void label ``C`` and are no one's negative.
    """
    anchor_index, anchor_class, anchor_valid = anchors
    n_tasks, n_slots = anchor_index.shape
    n = labels.shape[1]
    pos_width = min(k, n - 1)
    neg_width = min(k, n)
    widths = (pos_width, neg_width)
    with torch.no_grad():
        units = unit_embeddings.expand(n_tasks, -1, -1)
        block = _gates.similarity_block(n_tasks * n)
        if block >= n_slots:  # one block: the results as topk returns them
            pos_cosine, pos_index, neg_cosine, neg_index = _mine_block(
                units, labels, anchor_index, anchor_class, present, widths
            )
        else:
            # Filled in place, block by block: small results kept alive between
            # the blocks' large temporaries would fragment the heap.
            shape = (n_tasks, n_slots)
            pos_index = anchor_index.new_empty(*shape, pos_width)
            neg_index = anchor_index.new_empty(*shape, neg_width)
            pos_cosine = units.new_empty(*shape, pos_width)
            neg_cosine = units.new_empty(*shape, neg_width)
            for start in range(0, n_slots, block):
                stop = min(start + block, n_slots)
                found = _mine_block(
                    units,
                    labels,
                    anchor_index[:, start:stop],
                    anchor_class[:, start:stop],
                    present,
                    widths,
                )
                for out, part in zip(
                    (pos_cosine, pos_index, neg_cosine, neg_index), found, strict=True
                ):
                    out[:, start:stop] = part
    h = _anchor_class_counts(anchors, counts)
    n_taking = n if present is None else present.sum()
    return MinedPairs(
        anchor_index,
        pos_index,
        _leading(h - 1, pos_width),
        neg_index,
        _leading((n_taking - h) * anchor_valid, neg_width),
        pos_cosine=pos_cosine,
        neg_cosine=neg_cosine,
    )


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
