"""Class-level CRL (SPEC.md §1-§4, ``level="class"``) with its gradient in closed form.

Autograd through mining, gathers and comparisons costs some hundred small operations
per batch, several times the cross-entropy beside it. Here the loss and its exact
gradient with respect to the logits are computed together, with no graph, and the
gradient is handed to autograd by :class:`KnownGradient`.

Probabilities are laid out class-major, ``(T, C, n)``: ``T`` tasks (1 multi-class,
``J`` attributes of 2 classes each), so that the lists of every class are rows.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.nn.functional import pad

from . import _comparisons
from ._mining import (
    ClassLists,
    class_counts,
    group_by_class,
    mine_class_lists,
    minority_classes,
    n_anchor_slots,
    select_anchors,
)

__all__ = ["KnownGradient", "class_level_crl", "taking_part"]


def taking_part(labels: Tensor, n_classes: int, weight: Tensor | None):
    """SPEC §10: the samples of positive weight take part, the others are given
    the void label ``n_classes``, outside every class.

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
        return value.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        grads = []
        for gradient in ctx.saved_tensors:
            grads += [gradient * grad_output, None]
        return (None, *grads)


def _class_major_probabilities(logits: Tensor, target: Tensor):
    """Labels ``(T, n)`` and probabilities ``(T, C, n)`` of every task."""
    if target.dim() == 2:
        positive = torch.sigmoid(logits.t())
        return target.t().long(), torch.stack((1 - positive, positive), dim=1)
    # In place, along the rows of the transposed logits: torch.softmax on the CPU
    # is several times slower for few classes.
    probabilities = logits.t().contiguous()
    probabilities -= probabilities.amax(dim=0)
    probabilities.exp_()
    probabilities /= probabilities.sum(dim=0)
    return target.long().unsqueeze(0), probabilities.unsqueeze(0)


def _logit_gradient(probabilities: Tensor, grad: Tensor, multi_label: bool) -> Tensor:
    """Chain ``d loss / d probabilities`` ``(T, C, n)`` through softmax or sigmoid."""
    if multi_label:
        p0, p1 = probabilities.unbind(1)
        g0, g1 = grad.unbind(1)
        return (p0 * p1 * (g1 - g0)).t()
    grad = probabilities * (grad - (grad * probabilities).sum(dim=1, keepdim=True))
    return grad[0].t()


def _relative(lists: ClassLists, counts: Tensor, margin: float):
    """The relative comparison class by class, from the shared lists alone.

    Every anchor ``a`` of class ``c`` meets the same positives, ``c``'s lowest
    scores ``s_0 <= s_1 <= ...``, and negatives ``s_q``. The hinge
    ``margin + |s_a - s_p| - (s_a - s_q)`` is ``margin - s_p + s_q`` when
    ``s_p <= s_a``, whatever the anchor; that holds for every positive below the
    anchor in the list and for every anchor outside it. So positive ``j`` meets
    each negative once for each of the ``h_c - 1 - j`` anchors above it, and only
    the pairs ``i < j`` inside the list (``margin + s_j - 2 s_i + s_q``) depend
    on the anchor: ``W + W^2`` queries per class instead of ``h_c * W``.
    """
    s_pos, pos_valid, neg_valid = lists.pos_score, lists.pos_valid, lists.neg_valid
    width = s_pos.shape[-1]
    slots = torch.arange(width, device=s_pos.device)
    above = (counts.unsqueeze(-1) - 1 - slots).clamp(min=0) * pos_valid
    inside = (slots.unsqueeze(-1) < slots) & pos_valid.unsqueeze(-2)
    upper = torch.cat(
        (
            margin - s_pos,
            (margin + s_pos.unsqueeze(-2) - 2 * s_pos.unsqueeze(-1)).flatten(-2),
        ),
        dim=-1,
    )
    weight = torch.cat((above, inside.flatten(-2)), dim=-1).to(s_pos.dtype)
    total, grad_upper, grad_ascending = _comparisons.sum_of_hinges(
        -lists.neg_score, neg_valid, upper, weight
    )
    n_pairs = pos_valid.sum(dim=-1) * neg_valid.sum(dim=-1)
    n_triplets = ((counts - 1).clamp(min=0) * n_pairs).sum().clamp(min=1)
    grad_single, grad_pairs = grad_upper.split((width, width * width), dim=-1)
    grad_pairs = grad_pairs.unflatten(-1, (width, width))
    grad_pos = grad_pairs.sum(dim=-2) - 2 * grad_pairs.sum(dim=-1) - grad_single
    return total / n_triplets, grad_pos / n_triplets, -grad_ascending / n_triplets


def _per_anchor(
    probabilities, own, anchors, lists, comparison, margin, n_bins, weight=None
):
    """Every anchor with its class's lists, one row each; the loss and
    ``d loss / d probabilities``. ``weight`` ``(n,)``: the sample weights, each
    anchor's weighing its rows (SPEC §10)."""
    n_tasks, _, n = probabilities.shape
    anchor_index, anchor_class, anchor_valid = anchors
    s_anchor = own.gather(1, anchor_index).unsqueeze(-1)
    by_anchor = anchor_class.unsqueeze(-1).expand(-1, -1, lists.pos_index.shape[-1])

    def per_anchor(per_class: Tensor) -> Tensor:
        return per_class.gather(1, by_anchor)

    anchor_pos = per_anchor(lists.pos_index)
    pos_valid = per_anchor(lists.pos_valid)
    pos_valid &= (anchor_pos != anchor_index.unsqueeze(-1)) & anchor_valid.unsqueeze(-1)
    neg_valid = per_anchor(lists.neg_valid) & anchor_valid.unsqueeze(-1)
    difference = s_anchor - per_anchor(lists.pos_score)
    # Negatives come in decreasing p_c, so d- = s_a - s_q comes increasing.
    d_neg = s_anchor - per_anchor(lists.neg_score)
    rows = anchor_index.numel()
    row_weight = None if weight is None else weight.take(anchor_index).reshape(rows)
    loss, grad_pos, grad_neg = _comparisons.compare(
        comparison,
        "class",
        difference.abs().view(rows, -1),
        pos_valid.view(rows, -1),
        d_neg.view(rows, -1),
        neg_valid.view(rows, -1),
        margin=margin,
        n_bins=n_bins,
        row_weight=row_weight,
    )
    grad_pos = grad_pos.view_as(difference) * difference.sign()
    grad_neg = grad_neg.view_as(difference)
    grad_anchor = grad_pos.sum(dim=-1) + grad_neg.sum(dim=-1)
    offset = (anchor_class * n).unsqueeze(-1)
    index = torch.cat(
        (
            offset.squeeze(-1) + anchor_index,
            (offset + anchor_pos).flatten(1),
            (offset + per_anchor(lists.neg_index)).flatten(1),
        ),
        dim=1,
    )
    values = torch.cat((grad_anchor, -grad_pos.flatten(1), -grad_neg.flatten(1)), dim=1)
    grad = torch.zeros_like(probabilities).view(n_tasks, -1)
    return loss, grad.scatter_add_(1, index, values).view_as(probabilities)


def class_by_class(n_classes: int, width: int, n_slots: int) -> bool:
    """Whether the relative comparison is cheaper class by class, with
    ``C (W + W^2)`` queries, than anchor by anchor, with ``n_slots W``."""
    return n_classes * (width + 1) < n_slots


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
    n = logits.shape[0]
    multi_label = target.dim() == 2
    labels, probabilities = _class_major_probabilities(logits, target)
    n_classes = probabilities.shape[1]
    present, labels, counts, n_taking = taking_part(labels, n_classes, weight)
    mined = minority_classes(counts, rho, n_taking) & (counts >= 2)
    mined_or_void = mined if present is None else pad(mined, (0, 1))
    own = probabilities.gather(1, labels.clamp(max=n_classes - 1).unsqueeze(1)).squeeze(
        1
    )
    grouped = group_by_class(labels, mined_or_void, own)
    lists = mine_class_lists(
        probabilities, labels, counts, mined, grouped, k, present=present
    )

    n_slots = n_anchor_slots(n, rho)
    if (
        comparison == "relative"
        and weight is None
        and class_by_class(n_classes, min(k, n), n_slots)
    ):
        loss, grad_pos, grad_neg = _relative(lists, counts * mined, margin)
        if not with_gradient:
            return loss, None
        grad = torch.zeros_like(probabilities).scatter_add_(
            2,
            torch.cat((lists.pos_index, lists.neg_index), dim=2),
            torch.cat((grad_pos, grad_neg), dim=2),
        )
    else:
        anchors = select_anchors(labels, mined_or_void, grouped, n_slots)
        loss, grad = _per_anchor(
            probabilities, own, anchors, lists, comparison, margin, n_bins, weight
        )
        if not with_gradient:
            return loss, None
    return loss, _logit_gradient(probabilities, grad, multi_label)
