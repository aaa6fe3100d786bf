"""The Class Rectification Loss (SPEC.md §1-§7) for plain PyTorch."""

from __future__ import annotations

import contextlib
from numbers import Integral
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _comparisons
from ._cached import scalar
from ._checks import (
    BALANCE_PARAMETER_DOCS,
    check_crl_parameters,
    crl_parameters,
    with_crl_parameter_docs,
)
from ._class_level import KnownGradient, class_level_crl
from ._distances import embedding_gradient, instance_distances, unit_embeddings
from ._distributed import gather_batch
from ._memory import CRLMemory
from ._mining import (
    group_by_class,
    mine_instance_level,
    mined_classes,
    n_anchor_slots,
    select_anchors,
    taking_part,
)

__all__ = ["CRLTerms", "ClassRectificationLoss", "crl_loss", "imbalance_measure"]


def _check_tensors(logits, target, embeddings, level) -> None:
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError("logits must be a floating-point torch.Tensor of shape (n, C).")
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (n, C), got {tuple(logits.shape)}.")
    n, n_outputs = logits.shape
    if not isinstance(target, Tensor):
        raise TypeError("target must be a torch.Tensor of shape (n,) or (n, J).")
    if target.device != logits.device:
        raise ValueError(
            f"target is on {target.device} but logits are on {logits.device}; "
            "move target to the device of logits."
        )
    if target.dim() == 1:
        if target.shape[0] != n:
            raise ValueError(
                f"target has {target.shape[0]} entries but logits have {n} rows."
            )
        if (
            target.is_floating_point()
            or target.is_complex()
            or target.dtype == torch.bool
        ):
            raise TypeError(
                "a 1-D (multi-class) target must hold integer class indices, "
                f"got dtype {target.dtype}."
            )
        if n_outputs < 2:
            raise ValueError(
                f"multi-class logits need at least 2 columns, got {n_outputs}."
            )
    elif target.dim() == 2:
        if tuple(target.shape) != (n, n_outputs):
            raise ValueError(
                f"a 2-D (multi-label) target must have the shape of logits "
                f"{tuple(logits.shape)}, got {tuple(target.shape)}."
            )
    else:
        raise ValueError(
            f"target must have shape (n,) or (n, J), got {tuple(target.shape)}."
        )
    if level != "instance":
        return
    if embeddings is None:
        raise ValueError(
            'level="instance" needs embeddings: pass embeddings=... (the module must '
            "return (logits, embeddings) from forward)."
        )
    if not isinstance(embeddings, Tensor) or not embeddings.is_floating_point():
        raise TypeError("embeddings must be a floating-point torch.Tensor.")
    shared = embeddings.dim() == 2 and embeddings.shape[0] == n
    per_attribute = (
        target.dim() == 2
        and embeddings.dim() == 3
        and tuple(embeddings.shape[:2]) == (n, n_outputs)
    )
    if not (shared or per_attribute):
        expected = "(n, D) or (n, J, D)" if target.dim() == 2 else "(n, D)"
        raise ValueError(
            f"embeddings must have shape {expected} with n={n}"
            + (f", J={n_outputs}" if target.dim() == 2 else "")
            + f"; got {tuple(embeddings.shape)}."
        )
    if embeddings.device != logits.device:
        raise ValueError(
            f"embeddings are on {embeddings.device} but logits are on "
            f"{logits.device}; keep them on one device."
        )


def _with_memory(logits, target, embeddings, weight, memory, level):
    """The batch with the memory's rows appended, detached (SPEC §11); sample
    weights of both, ones for the side that has none, when either has some."""
    if not isinstance(memory, (tuple, list)) or len(memory) not in (2, 3, 4):
        raise TypeError(
            "memory must be a tuple (logits, target), (logits, target, "
            "embeddings) or (logits, target, embeddings or None, weight) of "
            f"tensors, got {type(memory).__name__}."
        )
    held_logits, held_target = memory[0], memory[1]
    held_embeddings = memory[2] if len(memory) >= 3 else None
    held_weight = memory[3] if len(memory) == 4 else None
    for name, held in (("logits", held_logits), ("target", held_target)):
        if not isinstance(held, Tensor):
            raise TypeError(f"memory's {name} must be a torch.Tensor.")
    if held_logits.dim() != 2 or held_logits.shape[1] != logits.shape[1]:
        raise ValueError(
            f"memory's logits must have shape (m, {logits.shape[1]}) like the "
            f"batch's, got {tuple(held_logits.shape)}."
        )
    m = held_logits.shape[0]
    if tuple(held_target.shape) != (m, *target.shape[1:]):
        raise ValueError(
            f"memory's target must have shape {(m, *target.shape[1:])} for its {m} "
            f"rows, got {tuple(held_target.shape)}."
        )
    if held_logits.device != logits.device or held_target.device != logits.device:
        raise ValueError(
            f"memory is on {held_logits.device} but logits are on {logits.device}; "
            "keep the memory on the device of the logits."
        )
    if weight is not None or held_weight is not None:
        if held_weight is not None:
            _check_weight(held_weight, held_logits, "memory's weight")
        weight = torch.cat(
            (
                torch.ones_like(logits[:, 0]) if weight is None else weight,
                torch.ones_like(held_logits[:, 0])
                if held_weight is None
                else held_weight.to(logits.dtype),
            )
        )
    # the union is mined as constants (the gradient reaches the batch's rows
    # through their own tensors): no autograd graph for the concatenation
    logits = torch.cat((logits.detach(), held_logits.detach().to(logits.dtype)))
    target = torch.cat((target, held_target.to(target.dtype)))
    if level != "instance":
        return logits, target, embeddings, weight
    if held_embeddings is None:
        raise ValueError(
            'level="instance" mines embeddings: the memory must hold them too, '
            "as (logits, target, embeddings)."
        )
    if (
        not isinstance(held_embeddings, Tensor)
        or held_embeddings.shape[1:] != embeddings.shape[1:]
        or held_embeddings.shape[0] != m
        or held_embeddings.device != embeddings.device
    ):
        raise ValueError(
            f"memory's embeddings must have shape {(m, *embeddings.shape[1:])} on "
            f"{embeddings.device}, like the batch's."
        )
    embeddings = torch.cat(
        (embeddings.detach(), held_embeddings.detach().to(embeddings.dtype))
    )
    return logits, target, embeddings, weight


def _check_weight(weight, logits, name="sample_weight"):
    """Shape, dtype and device of sample weights (their values are the caller's
    to check: reading them would wait for the device)."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n,).")
    if weight.shape != logits.shape[:1]:
        raise ValueError(
            f"{name} must have shape ({logits.shape[0]},), one weight per row of "
            f"the logits, got {tuple(weight.shape)}."
        )
    if weight.device != logits.device:
        raise ValueError(
            f"{name} is on {weight.device} but logits are on {logits.device}."
        )
    if weight.is_complex() or weight.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {weight.dtype}.")


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


def _zero(logits: Tensor) -> Tensor:
    """A 0 that belongs to the autograd graph of ``logits`` (and is never NaN)."""
    return logits.flatten()[:0].sum()


@with_crl_parameter_docs
def crl_loss(
    logits: Tensor,
    target: Tensor,
    *,
    embeddings: Tensor | None = None,
    level: str = "class",
    comparison: str = "relative",
    k: int = 25,
    margin: float = 0.5,
    rho: float = 0.5,
    n_bins: int = 32,
    mining: str = "local",
    memory: tuple[Tensor, ...] | None = None,
    sample_weight: Tensor | None = None,
) -> Tensor:
    """Class Rectification Loss ``L_crl`` of one mini-batch (SPEC.md §1-§4, §6).

    The batch's minority classes are those of smallest count that together hold at
    most ``rho * n`` samples; each with two samples or more is mined for hard
    positives and negatives, and the anchors of all of them (and of all attributes)
    are pooled into one loss. No cross-entropy and no ``alpha``: see
    :class:`ClassRectificationLoss` for the balanced loss.

    Parameters
    ----------
    logits : torch.Tensor of shape (n, C) or (n, J)
        Raw scores. ``C >= 2`` classes for a multi-class target (softmax
        probabilities), ``J`` binary attributes for a multi-label target (sigmoid).
    target : torch.Tensor of shape (n,) or (n, J)
        Integer class indices in ``0..C-1`` (multi-class), or a 0/1 indicator
        matrix (multi-label), on the device of ``logits``.
    embeddings : torch.Tensor of shape (n, D) or (n, J, D), default=None
        Feature vectors, required when ``level="instance"`` and ignored otherwise.
        ``(n, J, D)`` gives each attribute its own embedding (multi-label only).
    %(crl_parameters)s
    memory : tuple of torch.Tensor, default=None
        ``(logits, target)``, or ``(logits, target, embeddings)`` at instance
        level, of ``m`` earlier training samples (SPEC §11). The loss is that of
        the batch followed by these rows, as if they were one batch of ``n + m``
        samples, with the memory rows constants: no gradient reaches them.
        :class:`ClassRectificationLoss` keeps such a memory for you
        (``memory_size=``). With sample weights it is ``(logits, target,
        embeddings or None, weight)``.
    sample_weight : torch.Tensor of shape (n,), default=None
        Non-negative weight of each sample (SPEC §10). A sample of weight 0 takes
        no part (weights in {0, 1} give the loss of the rows of weight 1); the
        others are counted and mined unweighted, and each triplet, pair or
        histogram entry weighs its anchor's weight in the means. The values are
        not checked here (that would wait for the device): the estimators check
        them in ``fit``.

    Returns
    -------
    loss : torch.Tensor
        0-dim tensor on the device and in the dtype of ``logits``. It is exactly 0,
        still attached to the autograd graph, when the batch has nothing to mine.

    Raises
    ------
    ValueError
        For an unknown ``level`` or ``comparison``, ``k < 1``, ``rho`` outside
        ``(0, 1]``, a negative ``margin``, ``n_bins < 2``, shapes that disagree,
        or missing embeddings at instance level.
    TypeError
        For a non-integer ``k``/``n_bins``, non-tensor inputs, or a floating-point
        multi-class target.

    Notes
    -----
    Vectorised over samples, classes and attributes, with no copy to the host.
    Time and memory grow with ``n * k`` at class level; instance level mines from
    cosine similarities computed in blocks of anchors.

    Examples
    --------
    Two samples of class 0 (probabilities of class 0: 0.9 and 0.6) and two of class
    1 (0.3 and 0.2). A 2/2 batch makes class 0 the minority; the four triplets give
    ``max(0, 0.5 + 0.3 - d-)`` for ``d-`` = 0.6, 0.7, 0.3, 0.4, mean 0.3:

    >>> import torch
    >>> from skcrl import crl_loss
    >>> p0 = torch.tensor([0.9, 0.6, 0.3, 0.2])
    >>> logits = torch.stack([p0, 1 - p0], dim=1).log()
    >>> crl_loss(logits, torch.tensor([0, 0, 1, 1]))
    tensor(0.3000)
    """
    params = dict(
        level=level,
        comparison=comparison,
        k=k,
        margin=margin,
        rho=rho,
        n_bins=n_bins,
        mining=mining,
    )
    check_crl_parameters("crl_loss", **params)
    return _crl_loss(
        logits,
        target,
        embeddings=embeddings,
        memory=memory,
        sample_weight=sample_weight,
        **params,
    )


def _in_own_dtype(device: torch.device):
    """A context without autocast, if it is on: the closed-form loss and
    gradients compute in the dtype of their inputs (autocast would run its
    products in half precision)."""
    try:
        enabled = torch.is_autocast_enabled(device.type)
    except TypeError:  # torch < 2.4
        enabled = (
            torch.is_autocast_cpu_enabled()
            if device.type == "cpu"
            else torch.is_autocast_enabled()
        )
    if enabled:
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def _crl_loss(
    logits,
    target,
    *,
    embeddings=None,
    memory=None,
    sample_weight=None,
    level,
    comparison,
    k,
    margin,
    rho,
    n_bins,
    mining="local",
):
    """:func:`crl_loss` with its hyper-parameters already checked."""
    _check_tensors(logits, target, embeddings, level)
    weight = sample_weight
    if weight is not None:
        _check_weight(weight, logits)
        weight = weight.detach().to(logits.dtype)
    if mining == "global":
        logits, target, embeddings, weight = gather_batch(
            logits, target, embeddings, weight
        )
    batch_logits, batch_embeddings = logits, embeddings
    if memory is not None:
        logits, target, embeddings, weight = _with_memory(
            logits, target, embeddings, weight, memory, level
        )
    n = logits.shape[0]
    n_slots = n_anchor_slots(n, rho)
    if n_slots == 0:
        return _zero(batch_logits)
    if level == "class":
        with_gradient = batch_logits.requires_grad and torch.is_grad_enabled()
        with torch.no_grad(), _in_own_dtype(logits.device):
            loss, grad = class_level_crl(
                logits.detach(),
                target,
                comparison=comparison,
                k=k,
                margin=margin,
                rho=rho,
                n_bins=n_bins,
                with_gradient=with_gradient,
                weight=weight,
            )
        if not with_gradient:
            return loss
        if grad.shape[0] != batch_logits.shape[0]:  # the memory's rows get none
            grad = grad[: batch_logits.shape[0]]
        return KnownGradient.apply(loss, batch_logits, grad)

    with_gradient = batch_embeddings.requires_grad and torch.is_grad_enabled()
    with torch.no_grad(), _in_own_dtype(embeddings.device):
        labels = target.long().t() if target.dim() == 2 else target.long()[None]
        n_classes = 2 if target.dim() == 2 else logits.shape[1]
        present, labels, counts, n_taking = taking_part(labels, n_classes, weight)
        mined = mined_classes(counts, rho, n_taking)
        if present is not None:
            mined = torch.nn.functional.pad(mined, (0, 1))  # the void class
        anchors = select_anchors(labels, mined, group_by_class(labels, mined), n_slots)
        units, norms = unit_embeddings(embeddings.detach())
        pairs = mine_instance_level(units, labels, counts, anchors, k, present)
        distances = instance_distances(pairs)
        rows = pairs.anchor_index.numel()
        row_weight = None
        if weight is not None:
            row_weight = weight.take(pairs.anchor_index).reshape(rows)
        loss, grad_pos, grad_neg = _comparisons.compare(
            comparison,
            level,
            distances[0].view(rows, -1),
            pairs.pos_valid.view(rows, -1),
            distances[1].view(rows, -1),
            pairs.neg_valid.view(rows, -1),
            margin=margin,
            n_bins=n_bins,
            row_weight=row_weight,
        )
        if with_gradient:
            grads = (grad_pos.view_as(distances[0]), grad_neg.view_as(distances[1]))
            grad = embedding_gradient(
                embeddings, (units, norms), pairs, distances, grads
            )
    # The loss stays in the graph of the logits, as at class level, with a
    # zero gradient (a view of a cached 0 until the backward pass)
    if with_gradient:
        batch_rows = batch_logits.shape[0]
        zero = scalar(0.0, batch_logits.dtype, batch_logits.device)
        return KnownGradient.apply(
            loss,
            batch_embeddings,
            grad[:batch_rows],
            batch_logits,
            zero.expand_as(batch_logits),
        )
    return loss + _zero(batch_logits)


def crl_with_memory(
    memory: CRLMemory | None,
    logits: Tensor,
    target: Tensor,
    embeddings: Tensor | None = None,
    *,
    sample_weight: Tensor | None = None,
    checked: bool = False,
    push: bool = True,
    **params,
) -> Tensor:
    """``L_crl`` of a training batch mined together with ``memory``'s rows, then
    the batch's rows put into the memory (SPEC §11; ``push=False`` stages them
    for ``memory.commit()`` at the end of the step); the batch alone when
    ``memory`` is None. ``params`` are
    :func:`crl_loss`'s hyper-parameters; ``checked=True`` skips their validation
    (an estimator validates them once in ``fit``, not in every batch)."""
    loss = _crl_loss if checked else crl_loss
    if params.get("mining") == "global":
        # the memory holds the global batch (SPEC §11)
        logits, target, embeddings, sample_weight = gather_batch(
            logits, target, embeddings, sample_weight
        )
        params = {**params, "mining": "local"}
    crl = loss(
        logits,
        target,
        embeddings=embeddings,
        memory=None if memory is None else memory.contents(),
        sample_weight=sample_weight,
        **params,
    )
    if memory is not None:
        instance = params.get("level") == "instance"
        put = memory.push if push else memory.stage
        put(logits, target, embeddings if instance else None, sample_weight)
    return crl


def balanced_loss(cross_entropy: Tensor, crl: Tensor, alpha: float) -> Tensor:
    """``alpha * crl + (1 - alpha) * cross_entropy`` (SPEC §5), in one operation
    forward and one node backward."""
    if crl.dtype != cross_entropy.dtype:  # under autocast they may differ
        crl = crl.to(cross_entropy.dtype)
    return torch.lerp(cross_entropy, crl, float(alpha))


class CRLTerms(NamedTuple):
    """The parts of the balanced loss of one batch, all 0-dim tensors, as
    :meth:`ClassRectificationLoss.terms` returns them.

    Attributes
    ----------
    total : torch.Tensor
        ``alpha * crl + (1 - alpha) * cross_entropy``.
    cross_entropy : torch.Tensor
        ``L_ce``.
    crl : torch.Tensor
        ``L_crl``.

    Examples
    --------
    >>> import torch
    >>> from skcrl import ClassRectificationLoss
    >>> logits, target = torch.zeros(4, 2), torch.tensor([0, 0, 0, 1])
    >>> terms = ClassRectificationLoss(alpha=0.5).terms(logits, target)
    >>> round(terms.cross_entropy.item(), 4)  # log 2 for uniform predictions
    0.6931
    >>> bool(torch.isclose(terms.total, 0.5 * terms.crl + 0.5 * terms.cross_entropy))
    True
    """

    total: Tensor
    cross_entropy: Tensor
    crl: Tensor


_LOSS_BALANCE_DOCS = BALANCE_PARAMETER_DOCS.format(
    default_logit_adjustment=0.0, default_memory_size=0
)


@with_crl_parameter_docs
class ClassRectificationLoss(nn.Module):
    """Balanced loss ``alpha * L_crl + (1 - alpha) * L_ce`` for PyTorch training.

    Parameters
    ----------
    alpha : float
        Weight of the CRL term, in [0, 1]. The paper sets it to
        ``min(1, eta * imbalance_measure(y_train))``; see :func:`imbalance_measure`.
    %(crl_parameters)s
    weight : torch.Tensor, default=None
        Class weights of the cross-entropy term: shape ``(C,)`` for a multi-class
        target; ``(2,)`` or ``(J, 2)`` (negative, positive) for a multi-label target.
        The weighted term is ``sum(w_i * l_i) / sum(w_i)`` in both cases, as
        :func:`torch.nn.functional.cross_entropy` computes it.
    %(balance_parameters)s
    prior : array-like or torch.Tensor, default=None
        The class distribution of the training labels, required when
        ``logit_adjustment > 0``: the frequency of each class, shape ``(C,)``,
        all positive (for a class absent from the training labels, SPEC §8 takes
        ``1 / (n + C)``); or the positive rate of each attribute, shape ``(J,)``,
        in (0, 1). Pass it *without* the class weights: the loss applies
        ``weight`` to it itself, so that the adjustment is relative to the
        distribution the weighted cross-entropy sees (SPEC §8), and weights that
        balance the classes leave no adjustment. If you train with sample
        weights, count them in: ``torch.bincount(y, weights=w) / w.sum()``.

    Notes
    -----
    The memory (``memory_size > 0``) is used and filled only in training mode
    with gradients enabled: call ``criterion.eval()``, or compute validation
    losses under :func:`torch.no_grad`, to keep validation batches out of it;
    ``criterion.memory.clear()`` empties it (do so when you start a new training
    run). The memory is a submodule, so ``state_dict()`` saves it.

    Examples
    --------
    >>> import torch
    >>> from skcrl import ClassRectificationLoss
    >>> criterion = ClassRectificationLoss(alpha=0.5)
    >>> p0 = torch.tensor([0.9, 0.6, 0.3, 0.2])
    >>> logits = torch.stack([p0, 1 - p0], dim=1).log().requires_grad_()
    >>> target = torch.tensor([0, 0, 1, 1])
    >>> terms = criterion.terms(logits, target)
    >>> terms.crl
    tensor(0.3000, grad_fn=<KnownGradientBackward>)
    >>> bool(torch.isclose(terms.total, 0.5 * terms.crl + 0.5 * terms.cross_entropy))
    True
    >>> criterion(logits, target).backward()

    The logit-adjusted cross-entropy and a memory of the last 512 training rows:

    >>> y_train = torch.tensor([0] * 90 + [1] * 10)
    >>> criterion = ClassRectificationLoss(
    ...     alpha=0.5, logit_adjustment=1.0, prior=torch.bincount(y_train) / 100,
    ...     memory_size=512,
    ... )
    >>> criterion(logits, target).backward()
    >>> len(criterion.memory)  # the batch's 4 rows, kept for the next batches
    4
    """

    __doc__ = __doc__.replace("    %(balance_parameters)s\n", _LOSS_BALANCE_DOCS)

    def __init__(
        self,
        alpha: float,
        *,
        level: str = "class",
        comparison: str = "relative",
        k: int = 25,
        margin: float = 0.5,
        rho: float = 0.5,
        n_bins: int = 32,
        mining: str = "local",
        weight: Tensor | None = None,
        logit_adjustment: float = 0.0,
        memory_size: int = 0,
        prior: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.level = level
        self.comparison = comparison
        self.k = k
        self.margin = margin
        self.rho = rho
        self.n_bins = n_bins
        self.mining = mining
        check_crl_parameters(
            type(self).__name__,
            alpha=alpha,
            logit_adjustment=logit_adjustment,
            memory_size=memory_size,
            **crl_parameters(self),
        )
        self.alpha = float(alpha)
        self.logit_adjustment = float(logit_adjustment)
        if weight is not None:
            weight = torch.as_tensor(weight)
            if not weight.is_floating_point():
                weight = weight.to(torch.get_default_dtype())
        self.register_buffer("weight", weight)
        self.register_buffer("prior", _checked_prior(prior, self.logit_adjustment))
        self.memory = CRLMemory(memory_size)

    @property
    def memory_size(self) -> int:
        return self.memory.size

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, level={self.level!r}, "
            f"comparison={self.comparison!r}, "
            f"k={self.k}, margin={self.margin}, rho={self.rho}, n_bins={self.n_bins}, "
            f"mining={self.mining!r}, "
            f"logit_adjustment={self.logit_adjustment}"
        )

    def cross_entropy(
        self, logits: Tensor, target: Tensor, sample_weight: Tensor | None = None
    ) -> Tensor:
        """``L_ce``: mean (class- and sample-weighted, logit-adjusted)
        cross-entropy, or binary cross-entropy over all entries for a multi-label
        target."""
        weight = None if self.weight is None else self.weight.to(logits.dtype)
        multi_label = target.dim() == 2
        if (
            multi_label
            and weight is not None
            and weight.shape not in ((2,), (logits.shape[1], 2))
        ):
            raise ValueError(
                "weight of a multi-label loss must have shape (2,) or "
                f"(J, 2) = ({logits.shape[1]}, 2), got {tuple(weight.shape)}."
            )
        if self.logit_adjustment:
            if self.prior.shape != logits.shape[1:]:
                raise ValueError(
                    f"prior has shape {tuple(self.prior.shape)} but the logits have "
                    f"{logits.shape[1]} columns: give one value per class (or "
                    "attribute)."
                )
            # SPEC §8: the prior of the distribution the weighted loss sees
            prior = reweighted_prior(self.prior.to(logits.dtype), weight, multi_label)
            logits = logits + logit_shift(prior, self.logit_adjustment, multi_label)
        if not multi_label:
            if sample_weight is not None:
                return weighted_cross_entropy(
                    logits, target.long(), weight, sample_weight
                )
            return F.cross_entropy(logits, target.long(), weight=weight)
        target = target.to(logits.dtype)
        if weight is None and sample_weight is None:
            return F.binary_cross_entropy_with_logits(logits, target)
        losses = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return weighted_entry_mean(losses, target, weight, sample_weight)

    def terms(
        self,
        logits: Tensor,
        target: Tensor,
        embeddings: Tensor | None = None,
        sample_weight: Tensor | None = None,
    ) -> CRLTerms:
        """The balanced loss with its cross-entropy and CRL parts."""
        remember = self.memory.size > 0 and self.training and torch.is_grad_enabled()
        crl = crl_with_memory(
            self.memory if remember else None,
            logits,
            target,
            embeddings,
            sample_weight=sample_weight,
            **crl_parameters(self),
        )
        ce = self.cross_entropy(logits, target, sample_weight)
        return CRLTerms(balanced_loss(ce, crl, self.alpha), ce, crl)

    def forward(
        self,
        logits: Tensor,
        target: Tensor,
        embeddings: Tensor | None = None,
        sample_weight: Tensor | None = None,
    ) -> Tensor:
        """``L_bln`` of the batch (SPEC §5), a 0-dim tensor; ``sample_weight``
        ``(n,)`` weighs both terms (SPEC §10)."""
        return self.terms(logits, target, embeddings, sample_weight).total


def _checked_prior(prior, tau: float) -> Tensor | None:
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


def imbalance_measure(y, n_classes: int | None = None) -> float:
    """Imbalance ``Omega_imb`` of a label vector or indicator matrix (SPEC.md §5).

    The total-variation distance between the class frequencies and the uniform
    distribution, ``0.5 * sum_c |p_c - 1/C|``: the share of samples that would have
    to change class for every class to be equally frequent. 0 for balanced data,
    below ``1 - 1/C``.

    Parameters
    ----------
    y : array-like of shape (n,) or (n, J)
        Class labels of any type (multi-class), or a 0/1 indicator matrix
        (multi-label: the mean of the per-attribute values, each with ``C = 2``).
    n_classes : int, default=None
        Number of classes ``C``, counting classes absent from ``y`` (with frequency
        0). By default, the number of distinct labels in ``y``.

    Returns
    -------
    float

    Examples
    --------
    90 samples of one class and 10 of another: 40 % of the samples would have to
    change class.

    >>> from skcrl import imbalance_measure
    >>> imbalance_measure([0] * 90 + [1] * 10)
    0.4
    >>> imbalance_measure(["cat", "dog", "dog"], n_classes=3)
    0.3333333333333333
    """
    if isinstance(y, Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.size == 0:
        raise ValueError("y is empty: imbalance_measure needs at least one label.")
    if y.ndim == 2:
        if n_classes not in (None, 2):
            raise ValueError(
                "a 2-D indicator y has 2 classes per attribute, "
                f"got n_classes={n_classes}."
            )
        if not np.isin(y, (0, 1)).all():
            raise ValueError("a 2-D y must be a 0/1 indicator matrix.")
        positive = y.astype(float).mean(axis=0)
        return float(np.mean(np.abs(positive - 0.5)))
    if y.ndim != 1:
        raise ValueError(
            f"y must be 1-D labels or a 2-D indicator, got shape {y.shape}."
        )
    _, counts = np.unique(y, return_counts=True)
    if n_classes is None:
        n_classes = len(counts)
    elif isinstance(n_classes, bool) or not isinstance(n_classes, Integral):
        raise TypeError(f"n_classes must be an integer, got {n_classes!r}.")
    elif n_classes < len(counts):
        raise ValueError(
            f"y holds {len(counts)} distinct labels, more than n_classes={n_classes}."
        )
    frequencies = np.zeros(n_classes)
    frequencies[: len(counts)] = counts / y.shape[0]
    return float(0.5 * np.abs(frequencies - 1.0 / n_classes).sum())
