"""The balanced loss ``alpha * L_crl + (1 - alpha) * L_ce`` for plain PyTorch
(docs/spec.md §5, §8, §11), and the imbalance measure that sets ``alpha``."""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import (
    BALANCE_PARAMETER_DOCS,
    CRL_PARAMETER_DOCS,
    check_crl_parameters,
    crl_parameters,
)
from ._cross_entropy import (
    checked_prior,
    logit_shift,
    reweighted_prior,
    weighted_cross_entropy,
    weighted_entry_mean,
)
from ._docstrings import with_docs
from ._loss import crl_with_memory
from ._memory import CRLMemory

__all__ = ["CRLTerms", "ClassRectificationLoss", "balanced_loss", "imbalance_measure"]


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


def balanced_terms(
    logits: Tensor,
    target: Tensor,
    embeddings: Tensor | None,
    *,
    cross_entropy,
    alpha: float,
    crl_parameters: dict,
    memory: CRLMemory | None = None,
    sample_weight: Tensor | None = None,
    checked: bool = False,
    push: bool = True,
) -> CRLTerms:
    """The balanced loss of one batch (SPEC §5), composed in this one place for
    :class:`ClassRectificationLoss` and the estimators alike: ``cross_entropy``
    ``(logits, target, sample_weight) -> L_ce`` (class-weighted, logit-adjusted
    as its owner sets it up), ``L_crl`` of the batch mined with ``memory``'s
    rows (SPEC §11; :func:`skcrl._loss.crl_with_memory`, whose ``checked`` and
    ``push`` these are), weighted by ``sample_weight`` (SPEC §10) and mixed by
    ``alpha``. With ``alpha = 0`` nothing of the CRL term reaches the loss, so
    none of it is computed: ``crl`` is 0 and ``total`` is ``L_ce`` itself."""
    ce = cross_entropy(logits, target, sample_weight)
    if alpha == 0:
        return CRLTerms(ce, ce, torch.zeros_like(ce))
    crl = crl_with_memory(
        memory,
        logits,
        target,
        embeddings,
        sample_weight=sample_weight,
        checked=checked,
        push=push,
        **crl_parameters,
    )
    return CRLTerms(balanced_loss(ce, crl, alpha), ce, crl)


@with_docs(crl_parameters=CRL_PARAMETER_DOCS, balance_parameters=BALANCE_PARAMETER_DOCS)
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
        self.register_buffer("prior", checked_prior(prior, self.logit_adjustment))
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
        """The balanced loss with its cross-entropy and CRL parts (with
        ``alpha=0``, the CRL part is not computed and is 0)."""
        remember = self.memory.size > 0 and self.training and torch.is_grad_enabled()
        return balanced_terms(
            logits,
            target,
            embeddings,
            cross_entropy=self.cross_entropy,
            alpha=self.alpha,
            crl_parameters=crl_parameters(self),
            memory=self.memory if remember else None,
            sample_weight=sample_weight,
        )

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


def imbalance_measure(y, n_classes: int | None = None) -> float:
    """Imbalance ``Omega_imb`` of a label vector or indicator matrix (docs/spec.md §5).

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
