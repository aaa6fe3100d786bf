"""The cross-entropy term of the balanced loss (docs/spec.md §8, §10): class and
sample weights, the class distribution the weighted loss sees, and the logit
adjustment's shift."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "checked_prior",
    "class_prior",
    "logit_shift",
    "reweighted_prior",
    "weighted_cross_entropy",
    "weighted_entry_mean",
]


def weighted_entry_mean(
    losses: Tensor,
    target: Tensor,
    weight: Tensor | None,
    sample_weight: Tensor | None = None,
) -> Tensor:
    """``sum(w * l) / sum(w)`` of per-entry binary losses ``(n, J)``, entry
    ``(i, j)`` weighing ``weight[j, target[i, j]]`` (``weight`` of shape (2,) or
    (J, 2); None: 1) times ``sample_weight[i]`` (SPEC §10), as a class-weighted
    cross-entropy normalises."""
    if weight is None:
        per_entry = torch.ones_like(losses)
    else:
        weight = weight.to(losses.dtype).expand(target.shape[1], 2)
        per_entry = torch.where(target > 0.5, weight[:, 1], weight[:, 0])
    if sample_weight is not None:
        per_entry = per_entry * sample_weight.to(losses.dtype).unsqueeze(1)
    return (per_entry * losses).sum() / per_entry.sum()


def weighted_cross_entropy(
    logits: Tensor,
    target: Tensor,
    class_weight: Tensor | None,
    sample_weight: Tensor,
) -> Tensor:
    """SPEC §10: ``sum_i w_i c_i l_i / sum_i w_i c_i`` of the multi-class
    cross-entropy, ``c_i`` the class weight of ``y_i`` (1 without)."""
    losses = F.cross_entropy(logits, target, reduction="none")
    weight = sample_weight.to(losses.dtype)
    if class_weight is not None:
        weight = weight * class_weight.to(losses.dtype).take(target)
    return (weight * losses).sum() / weight.sum()


def reweighted_prior(
    prior: Tensor, class_weight: Tensor | None, multi_label: bool
) -> Tensor:
    """The class distribution a class-weighted cross-entropy sees (SPEC §8):
    ``pi_c * c_c / sum_k pi_k * c_k`` for class frequencies ``prior`` (C,) and
    ``class_weight`` (C,); ``pi_j * c_j1 / (pi_j * c_j1 + (1 - pi_j) * c_j0)`` for
    positive rates (J,) and ``class_weight`` (2,) or (J, 2) of (negative,
    positive). None: ``prior`` as it is. A class weighed 0 gets the smallest
    positive frequency of the dtype, which keeps the log finite."""
    if class_weight is None:
        return prior
    class_weight = class_weight.to(prior.dtype)
    if multi_label:
        class_weight = class_weight.expand(prior.shape[0], 2)
        positive = prior * class_weight[:, 1]
        reweighted = positive / (positive + (1 - prior) * class_weight[:, 0])
    else:
        reweighted = prior * class_weight
        reweighted = reweighted / reweighted.sum()
    finfo = torch.finfo(prior.dtype)
    return reweighted.nan_to_num(0.5).clamp(finfo.tiny, 1 - finfo.eps)


def class_prior(
    encoded: np.ndarray,
    n_classes: int | None = None,
    *,
    sample_weight: np.ndarray | None = None,
    class_weight: np.ndarray | None = None,
) -> np.ndarray:
    """``pi`` of SPEC §8 from encoded labels: the class distribution the
    cross-entropy sees, each sample counted with its ``sample_weight`` times the
    ``class_weight`` of its class (None: 1).

    Multi-class ``(n,)`` labels in ``0..n_classes-1``: a class absent from the
    labels or of zero total weight gets ``1 / (n + C)``, then ``pi`` is
    renormalised. An ``(n, J)`` indicator: the positive rate of each attribute,
    kept within ``[1 / (n + 2), 1 - 1 / (n + 2)]``. Weights that balance the
    classes give a uniform ``pi`` (0.5 per attribute).
    """
    encoded = np.asarray(encoded)
    n = encoded.shape[0]
    multi_label = encoded.ndim == 2
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    if multi_label:
        seen = weight @ encoded.astype(float) / weight.sum()
    else:
        counts = np.bincount(encoded, weights=weight, minlength=n_classes or 0)
        seen = counts / counts.sum()
    if class_weight is not None:
        seen = reweighted_prior(
            torch.as_tensor(seen, dtype=torch.float64),
            torch.as_tensor(np.asarray(class_weight, float)),
            multi_label,
        ).numpy()
    if multi_label:
        floor = 1.0 / (n + 2)
        return seen.clip(floor, 1 - floor)
    # an absent or weightless class (reweighted_prior leaves it at the
    # smallest positive number)
    prior = np.where(seen > np.finfo(float).tiny, seen, 1.0 / (n + len(seen)))
    return prior / prior.sum()


def logit_shift(prior: Tensor, tau: float, multi_label: bool) -> Tensor:
    """What the logit-adjusted cross-entropy adds to the logits (SPEC §8):
    ``tau * log(pi)`` per class, less its mean (the softmax does not see a
    constant, and a uniform ``pi`` then shifts nothing), or
    ``tau * log(pi / (1 - pi))`` per attribute. Entries below 1e-6 in size
    (what rounding leaves of a balanced ``pi``) are exactly 0."""
    if multi_label:
        shift = tau * (torch.log(prior) - torch.log1p(-prior))
    else:
        log_prior = torch.log(prior)
        shift = tau * (log_prior - log_prior.mean())
    return shift.masked_fill(shift.abs() < 1e-6, 0.0)


def checked_prior(prior, tau: float) -> Tensor | None:
    if prior is None:
        if tau:
            raise ValueError(
                "logit_adjustment > 0 needs prior=: the training frequency of each "
                "class (shape (C,)), or the positive rate of each attribute."
            )
        return None
    prior = torch.as_tensor(prior)
    if not prior.is_floating_point():
        prior = prior.to(torch.get_default_dtype())
    if prior.dim() != 1 or not bool(((prior > 0) & (prior < 1)).all()):
        raise ValueError(
            "prior must be a 1-D tensor of frequencies in (0, 1), one per class "
            f"(or attribute), got {prior.tolist()}."
        )
    return prior
