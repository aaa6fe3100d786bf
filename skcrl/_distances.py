"""From logits and embeddings to the distances that mining pairs (SPEC.md §3).

Every function works on a stack of ``T`` tasks (``T = 1`` multi-class, ``J``
multi-label), as :mod:`skcrl._mining` does.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ._mining import MinedPairs

__all__ = [
    "Scores",
    "class_distances",
    "instance_distances",
    "task_view",
    "unit_embeddings",
]


class _SoftmaxAt(torch.autograd.Function):
    """Differentiable ``softmax(logits)[rows, cols]`` from precomputed probabilities.

    Mining needs every probability but the loss only a few: autograd through a
    full softmax would cost several passes over ``(n, C)`` in backward. Here the
    gradient of the few entries goes through the softmax Jacobian directly,
    ``dL/dz_ij = sum_e g_e p_e (1[i_e = i, c_e = j] - 1[i_e = i] p_ij)``.
    """

    @staticmethod
    def forward(ctx, logits, probabilities, rows, cols):
        flat = rows * probabilities.shape[1] + cols
        values = probabilities.reshape(-1).gather(0, flat)
        ctx.save_for_backward(probabilities, rows, flat, values)
        return values

    @staticmethod
    def backward(ctx, grad_values):
        probabilities, rows, flat, values = ctx.saved_tensors
        weighted = grad_values * values
        grad = torch.zeros_like(probabilities)
        grad.view(-1).scatter_add_(0, flat, weighted)
        per_row = probabilities.new_zeros(probabilities.shape[0])
        per_row.scatter_add_(0, rows, weighted)
        grad.addcmul_(probabilities, per_row.unsqueeze(1), value=-1)
        return grad, None, None, None


class Scores(NamedTuple):
    """Class probabilities of every task, for mining and for the loss."""

    probabilities: Tensor  # (T, n, C), detached: what mining ranks
    logits: Tensor | None  # multi-class: differentiated through _SoftmaxAt
    differentiable: Tensor | None  # multi-label: (T, n, 2) probabilities with grad

    def at(self, sample: Tensor, cls: Tensor) -> Tensor:
        """Differentiable ``p_cls(x_sample)`` for ``sample`` and ``cls`` ``(T, m)``."""
        if self.logits is not None:
            values = _SoftmaxAt.apply(
                self.logits, self.probabilities[0], sample[0], cls[0]
            )
            return values.unsqueeze(0)
        n_tasks, _, n_classes = self.differentiable.shape
        flat = self.differentiable.reshape(n_tasks, -1)
        return flat.gather(1, sample * n_classes + cls)


def task_view(logits: Tensor, target: Tensor) -> tuple[Tensor, Scores]:
    """Labels ``(T, n)`` and class probabilities of every task."""
    if target.dim() == 2:
        positive = torch.sigmoid(logits).t()  # (J, n)
        both = torch.stack((1 - positive, positive), dim=2)
        return target.long().t(), Scores(both.detach(), None, both)
    with torch.no_grad():
        # In place: three passes over (n, C), where torch.softmax on the CPU is
        # several times slower for few classes (10: 7x at n = 4096).
        probabilities = logits - logits.amax(dim=1, keepdim=True)
        probabilities.exp_()
        probabilities.div_(probabilities.sum(dim=1, keepdim=True))
    return target.long().unsqueeze(0), Scores(probabilities.unsqueeze(0), logits, None)


def class_distances(scores: Scores, pairs: MinedPairs) -> tuple[Tensor, Tensor]:
    """``d+ = |s_a - s_p|`` and ``d- = s_a - s_q`` with ``s = p_c``, ``c`` the
    anchor's class (SPEC §3)."""
    # Every anchor of a class shares its lists: their scores are gathered once per
    # class, with those of the anchors in one gather (one scatter in backward),
    # then handed to the anchors.
    pos, neg = pairs.pos_per_class, pairs.neg_per_class
    n_tasks, n_classes, width = pos.shape
    list_class = torch.arange(n_classes, device=pos.device).view(1, -1, 1)
    list_class = list_class.expand(n_tasks, -1, width).flatten(1)
    s = scores.at(
        torch.cat((pairs.anchor_index, pos.flatten(1), neg.flatten(1)), dim=1),
        torch.cat((pairs.anchor_class, list_class, list_class), dim=1),
    )
    n_slots = pairs.anchor_index.shape[1]
    anchor, positive, negative = s.split(
        (n_slots, n_classes * width, n_classes * width), dim=1
    )
    by_anchor = pairs.anchor_class.unsqueeze(-1).expand(-1, -1, width)
    positive = positive.view(n_tasks, n_classes, width).gather(1, by_anchor)
    negative = negative.view(n_tasks, n_classes, width).gather(1, by_anchor)
    anchor = anchor.unsqueeze(-1)
    return (anchor - positive).abs(), anchor - negative


def unit_embeddings(embeddings: Tensor) -> Tensor:
    """``(T, n, D)`` unit vectors; ``(1, n, D)`` when all tasks share them."""
    if embeddings.dim() == 3:
        embeddings = embeddings.transpose(0, 1)
    else:
        embeddings = embeddings.unsqueeze(0)
    return F.normalize(embeddings, dim=-1)


def instance_distances(units: Tensor, pairs: MinedPairs) -> tuple[Tensor, Tensor]:
    """Euclidean distances between unit embeddings of the mined pairs."""
    n_tasks = pairs.anchor_index.shape[0]
    units = units.expand(n_tasks, -1, -1)
    dim = units.shape[-1]

    def take(index: Tensor) -> Tensor:
        flat = index.reshape(n_tasks, -1, 1).expand(-1, -1, dim)
        return units.gather(1, flat).view(*index.shape, dim)

    anchor = take(pairs.anchor_index).unsqueeze(-2)
    return (
        torch.linalg.vector_norm(anchor - take(pairs.pos_index), dim=-1),
        torch.linalg.vector_norm(anchor - take(pairs.neg_index), dim=-1),
    )
