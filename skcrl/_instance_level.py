"""Instance-level CRL (SPEC §1-§4, ``level="instance"``) with its gradient in
closed form: the minority rule and anchors (:mod:`skcrl._mining`), hard mining
by cosine similarity, the distances (:mod:`skcrl._distances`), the comparison
of both levels (:mod:`skcrl._comparisons`) and the chain back to the
embeddings, all without an autograd graph."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _comparisons
from ._distances import embedding_gradient, instance_distances, unit_embeddings
from ._mining import (
    group_by_class,
    mine_instance_level,
    mined_classes,
    n_anchor_slots,
    select_anchors,
    taking_part,
)

__all__ = ["instance_level_crl"]


def instance_level_crl(
    logits: Tensor,
    target: Tensor,
    embeddings: Tensor,
    *,
    comparison: str,
    k: int,
    margin: float,
    rho: float,
    n_bins: int,
    with_gradient: bool,
    weight: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """``L_crl`` of the batch at instance level and, if asked, ``d L_crl / d
    embeddings``. Parameters are :func:`skcrl.crl_loss`'s; ``embeddings``
    carry no graph; ``weight`` ``(n,)`` are the sample weights (SPEC §10)."""
    labels = target.long().t() if target.dim() == 2 else target.long()[None]
    n_classes = 2 if target.dim() == 2 else logits.shape[1]
    present, labels, counts, n_taking = taking_part(labels, n_classes, weight)
    mined = mined_classes(counts, rho, n_taking)
    if present is not None:
        mined = torch.nn.functional.pad(mined, (0, 1))  # the void class
    n_slots = n_anchor_slots(logits.shape[0], rho)
    anchors = select_anchors(labels, mined, group_by_class(labels, mined), n_slots)
    units, norms = unit_embeddings(embeddings)
    pairs = mine_instance_level(units, labels, counts, anchors, k, present)
    distances = instance_distances(pairs)
    rows = pairs.anchor_index.numel()
    row_weight = None
    if weight is not None:
        row_weight = weight.take(pairs.anchor_index).reshape(rows)
    loss, grad_pos, grad_neg = _comparisons.compare(
        comparison,
        "instance",
        distances[0].view(rows, -1),
        pairs.pos_valid.view(rows, -1),
        distances[1].view(rows, -1),
        pairs.neg_valid.view(rows, -1),
        margin=margin,
        n_bins=n_bins,
        row_weight=row_weight,
    )
    if not with_gradient:
        return loss, None
    grads = (grad_pos.view_as(distances[0]), grad_neg.view_as(distances[1]))
    return loss, embedding_gradient(embeddings, (units, norms), pairs, distances, grads)
