"""The deep long-tail baselines that CRL is compared with: focal loss, class-balanced
weights by the effective number of samples, and LDAM with deferred re-weighting.

Each is a drop-in ``criterion`` (or ``class_weight``, or callback) of
:class:`~skcrl.CRLClassifier` and :class:`~skcrl.CRLMultiLabelClassifier`; with
``alpha=0, logit_adjustment=0`` the estimator trains the baseline alone. PyTorch
itself has none of them, and the one kept elsewhere (torchvision's
``sigmoid_focal_loss``) would make torchvision a dependency for a few lines, so they
are written here and tested against worked examples (and against torchvision where
it is installed).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback
from torch import Tensor, nn
from torch.nn.modules.loss import _WeightedLoss

__all__ = [
    "DeferredReweighting",
    "FocalLoss",
    "LDAMLoss",
    "SigmoidFocalLoss",
    "effective_number_weight",
]


def _reduced(losses: Tensor, weights: Tensor | None, reduction: str) -> Tensor:
    """``reduction`` of per-sample ``losses`` already multiplied by ``weights``:
    ``"mean"`` divides by the sum of the weights, as ``CrossEntropyLoss`` does."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.sum() / (len(losses) if weights is None else weights.sum())
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")


def _check_beta(beta: float) -> None:
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}.")


def _effective_number(counts: np.ndarray, beta: float) -> np.ndarray:
    """``(1 - beta ** n) / (1 - beta)`` of each count (Cui et al. 2019, eq. 3)."""
    _check_beta(beta)
    counts = np.asarray(counts, dtype=float)
    if (counts <= 0).any():
        raise ValueError(
            "every class needs at least one training sample for its effective "
            f"number; got counts {counts.tolist()}."
        )
    return (
        -np.expm1(counts * np.log(beta)) / (1.0 - beta)
        if beta
        else np.ones_like(counts)
    )


def _balanced_by_effective_number(counts, beta: float) -> np.ndarray:
    """``1 / E(n_c)``, scaled to sum to the number of classes."""
    weight = 1.0 / _effective_number(counts, beta)
    return weight * len(weight) / weight.sum()


def effective_number_weight(y, beta=0.9999):
    """Class weights by the effective number of samples (Cui et al., CVPR 2019).

    A class of ``n`` samples counts as ``E(n) = (1 - beta ** n) / (1 - beta)``
    samples: each new sample overlaps with those already seen. Its weight is
    ``1 / E(n)``, and the weights are scaled to sum to the number of classes.
    ``beta=0`` gives every class weight 1; ``beta`` towards 1 tends to
    scikit-learn's ``"balanced"`` (inverse frequency). The paper uses 0.999 and
    0.9999.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Training labels.
    beta : float in [0, 1), default=0.9999

    Returns
    -------
    class_weight : dict
        ``{class: weight}``, for ``class_weight=`` of :class:`~skcrl.CRLClassifier`
        (or any scikit-learn classifier).

    Examples
    --------
    Two classes of 10 and 1 samples, ``beta=0.5``: ``E(10) = 2 (1 - 2**-10)``
    and ``E(1) = 1``; the weights ``1/E`` are then scaled to sum to 2.

    >>> from skcrl import effective_number_weight
    >>> weight = effective_number_weight([0] * 10 + [1], beta=0.5)
    >>> {c: round(w, 4) for c, w in weight.items()}
    {0: 0.6671, 1: 1.3329}
    """
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    weight = _balanced_by_effective_number(counts, beta)
    return {c: float(w) for c, w in zip(classes.tolist(), weight, strict=True)}


class FocalLoss(_WeightedLoss):
    """Softmax focal loss (Lin et al., ICCV 2017), for multi-class targets.

    ``-w_y (1 - p_y) ** gamma * log p_y`` of each sample, where ``p_y`` is the
    softmax probability of its class: well-classified samples weigh less, so the
    hard ones (often of the rare classes) drive training. ``gamma=0`` is the
    cross-entropy. The optional class weights ``w`` play the paper's ``alpha``;
    ``class_weight`` of the estimator fills them in.

    Parameters
    ----------
    gamma : float, default=2.0
        The focusing parameter; the paper's best is 2.
    weight : Tensor of shape (n_classes,), default=None
        Weight of each class.
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` divides by the sum of the samples' class weights, as
        :class:`torch.nn.CrossEntropyLoss` does.

    Examples
    --------
    One sample whose class has probability 1/2 (logits 0 and 0): the loss is
    ``(1 - 1/2)**2 * log 2``.

    >>> import math, torch
    >>> from skcrl import CRLClassifier, FocalLoss
    >>> loss = FocalLoss()(torch.zeros(1, 2), torch.tensor([0]))
    >>> round(loss.item(), 6), round(0.25 * math.log(2), 6)
    (0.173287, 0.173287)

    Trained alone in the estimator:

    >>> clf = CRLClassifier(criterion=FocalLoss, alpha=0, logit_adjustment=0)
    """

    def __init__(
        self, gamma: float = 2.0, weight: Tensor | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__(weight=weight, reduction=reduction)
        if gamma < 0:
            raise ValueError(f"gamma must be non-negative, got {gamma!r}.")
        self.gamma = gamma

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        log_p = torch.log_softmax(logits, dim=-1).gather(1, target[:, None])[:, 0]
        losses = -((-torch.expm1(log_p)) ** self.gamma) * log_p
        weights = None if self.weight is None else self.weight.to(logits)[target]
        if weights is not None:
            losses = losses * weights
        return _reduced(losses, weights, self.reduction)


class SigmoidFocalLoss(nn.Module):
    """Sigmoid focal loss (Lin et al., ICCV 2017), for 0/1 attribute targets.

    ``-a_t (1 - p_t) ** gamma * log p_t`` of every entry, where ``p_t`` is the
    sigmoid probability of the entry's true value: the binary cross-entropy with
    easy entries weighed down. The formula of ``torchvision.ops.sigmoid_focal_loss``.

    Parameters
    ----------
    gamma : float, default=2.0
    alpha : float in [0, 1] or None, default=None
        Weight ``a_t`` of positive entries (``1 - alpha`` of negative ones); None
        weighs them alike. The paper's 0.25 suits object detection, where
        positives are common after anchor sampling; for rare attributes weigh
        them with the estimator's ``class_weight`` instead.
    reduction : {"none", "mean", "sum"}, default="none"
        :class:`~skcrl.CRLMultiLabelClassifier` weighs the entries itself and
        needs ``"none"``.

    Examples
    --------
    A logit of 0 for a positive entry: ``p_t = 1/2`` and the loss is
    ``(1/2)**2 * log 2``.

    >>> import math, torch
    >>> from skcrl import SigmoidFocalLoss
    >>> loss = SigmoidFocalLoss()(torch.zeros(1, 1), torch.ones(1, 1))
    >>> round(loss.item(), 6), round(0.25 * math.log(2), 6)
    (0.173287, 0.173287)
    """

    def __init__(
        self, gamma: float = 2.0, alpha: float | None = None, reduction: str = "none"
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be non-negative, got {gamma!r}.")
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1] or None, got {alpha!r}.")
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        target = target.to(logits)
        cross_entropy = F.binary_cross_entropy_with_logits(
            logits, target, reduction="none"
        )
        # p_t = exp(-BCE): the probability of the true value
        losses = (-torch.expm1(-cross_entropy)) ** self.gamma * cross_entropy
        if self.alpha is not None:
            losses = losses * (self.alpha * target + (1 - self.alpha) * (1 - target))
        if self.reduction == "none":
            return losses
        return _reduced(losses.reshape(-1), None, self.reduction)


class LDAMLoss(_WeightedLoss):
    """Label-distribution-aware margin loss (Cao et al., NeurIPS 2019).

    The cross-entropy of ``scale * (z - m_y e_y)``: the logit of a sample's own
    class is lowered by its class's margin ``m_c``, proportional to
    ``n_c ** (-1/4)`` and ``max_margin`` for the rarest class, so rare classes
    must be separated by more. With :class:`DeferredReweighting` it is the
    paper's LDAM-DRW.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples of each class, in the order of the estimator's
        ``classes_`` (sorted labels): ``np.unique(y, return_counts=True)[1]``.
    max_margin : float, default=0.5
        The margin of the rarest class (the paper's ``C`` is chosen so).
    scale : float, default=1.0
        Multiplies the logits inside the cross-entropy. The paper's 30 goes with
        its cosine (normalised) classifier, whose logits lie in [-1, 1]; a plain
        linear head, as :class:`~skcrl.MLP` and :class:`~skcrl.SmallCNN` have,
        keeps 1.
    weight : Tensor of shape (n_classes,), default=None
        Class weights of the cross-entropy (set by :class:`DeferredReweighting`).
    reduction : {"mean", "sum", "none"}, default="mean"

    Examples
    --------
    Counts 16 and 1 give margins ``0.5 / 2 = 0.25`` and ``0.5``. A sample of
    class 0 with logits 0 and 0 then has the loss ``log(1 + exp(0.25))``.

    >>> import math, torch
    >>> from skcrl import LDAMLoss
    >>> ldam = LDAMLoss(class_counts=[16, 1])
    >>> ldam.margins.tolist()
    [0.25, 0.5]
    >>> loss = ldam(torch.zeros(1, 2), torch.tensor([0]))
    >>> round(loss.item(), 6), round(math.log(1 + math.exp(0.25)), 6)
    (0.825939, 0.825939)
    """

    margins: Tensor

    def __init__(
        self,
        class_counts,
        max_margin: float = 0.5,
        scale: float = 1.0,
        weight: Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight=weight, reduction=reduction)
        counts = np.asarray(
            class_counts.cpu() if isinstance(class_counts, Tensor) else class_counts,
            dtype=float,
        )
        if counts.ndim != 1 or len(counts) < 2 or (counts <= 0).any():
            raise ValueError(
                "class_counts must hold a positive count per class (at least two "
                f"classes), got {counts.tolist()}: pass "
                "np.unique(y, return_counts=True)[1]."
            )
        if max_margin <= 0 or scale <= 0:
            raise ValueError(
                f"max_margin and scale must be positive, got {max_margin!r} and "
                f"{scale!r}."
            )
        margins = counts**-0.25
        self.register_buffer(
            "margins",
            torch.as_tensor(
                margins * (max_margin / margins.max()), dtype=torch.float32
            ),
        )
        self.scale = scale

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if logits.shape[-1] != len(self.margins):
            raise ValueError(
                f"LDAMLoss has margins for {len(self.margins)} classes but the "
                f"logits have {logits.shape[-1]} columns: class_counts must count "
                "every class of the estimator."
            )
        shift = torch.zeros_like(logits).scatter_(
            1, target[:, None], self.margins.to(logits)[target][:, None]
        )
        return F.cross_entropy(
            self.scale * (logits - shift),
            target,
            weight=None if self.weight is None else self.weight.to(logits),
            reduction=self.reduction,
        )


class DeferredReweighting(Callback):
    """Deferred re-weighting (DRW, Cao et al., NeurIPS 2019): train unweighted
    first, then weigh the criterion's classes by their effective number
    (:func:`effective_number_weight`) from a later epoch.

    The representation is learned from the natural distribution; the weights
    move the decision boundaries only once it has formed. The paper switches at
    epoch 160 of 200.

    Parameters
    ----------
    start : float in (0, 1) or int, default=0.8
        The first re-weighted epoch: a fraction of ``max_epochs``, or an epoch
        number (1 is the first).
    beta : float, default=0.9999
        Of the effective number.

    Notes
    -----
    It sets the ``weight`` of the estimator's criterion (a
    :class:`~torch.nn.CrossEntropyLoss`, :class:`FocalLoss` or
    :class:`LDAMLoss`) at the beginning of every epoch, replacing any
    ``class_weight``. The counts are those of the labels given to ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl import CRLClassifier, DeferredReweighting, LDAMLoss
    >>> from skcrl.datasets import load_digits_long_tailed
    >>> data = load_digits_long_tailed()
    >>> counts = np.unique(data.y_train, return_counts=True)[1]
    >>> clf = CRLClassifier(
    ...     criterion=LDAMLoss, criterion__class_counts=counts,
    ...     callbacks=[DeferredReweighting(start=0.8)],
    ...     alpha=0, logit_adjustment=0, max_epochs=5, random_state=0,
    ... ).fit(data.X_train, data.y_train)
    >>> clf.criterion_.weight is not None  # epoch 5 of 5 was re-weighted
    True
    """

    def __init__(self, start=0.8, beta=0.9999):
        self.start = start
        self.beta = beta

    def initialize(self):
        start = self.start
        if isinstance(start, bool) or not isinstance(start, numbers.Real):
            raise TypeError(f"start must be a number, got {start!r}.")
        if not (0 < start < 1 or (float(start).is_integer() and start >= 1)):
            raise ValueError(
                "start must be a fraction of max_epochs in (0, 1) or an epoch "
                f"number from 1, got {start!r}."
            )
        _check_beta(self.beta)
        self.weight_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if y is None:
            raise ValueError(
                "DeferredReweighting counts the classes of y, but fit received "
                "none: pass y to fit."
            )
        counts = np.bincount(np.asarray(y), minlength=len(net.classes_))
        # a class absent from this fit keeps weight 1 among the classes present
        present = counts > 0
        weight = np.ones(len(counts))
        weight[present] = _balanced_by_effective_number(counts[present], self.beta)
        self.weight_ = torch.as_tensor(weight, dtype=torch.float32)
        self._first_ = (
            max(1, round(self.start * net.max_epochs))
            if self.start < 1
            else int(self.start)
        )

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # skorch has added this epoch's row
        if epoch >= self._first_:
            net.criterion_.weight = self.weight_.to(net.device)
        else:
            net.criterion_.weight = None
