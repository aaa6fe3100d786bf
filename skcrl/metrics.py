"""The paper's metric for attributes: the mean over attributes of the class-balanced
accuracy, as a function and as a scorer for ``GridSearchCV`` and ``cross_validate``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import balanced_accuracy_score, make_scorer
from sklearn.utils import check_consistent_length

__all__ = [
    "balanced_accuracy_per_attribute",
    "mean_balanced_accuracy_score",
    "mean_balanced_accuracy_scorer",
]


def _as_columns(y, name):
    if sp.issparse(y):
        y = y.toarray()
    y = np.asarray(y)
    if y.ndim == 1:
        return y.reshape(-1, 1)
    if y.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D labels or a 2-D indicator matrix, got shape {y.shape}."
        )
    return y


def balanced_accuracy_per_attribute(y_true, y_pred, *, sample_weight=None):
    """Class-balanced accuracy (mean of per-class recall) of each attribute.

    Each column is scored by :func:`sklearn.metrics.balanced_accuracy_score`.

    Parameters
    ----------
    y_true : array-like or sparse matrix of shape (n_samples, n_attributes)
        True 0/1 attributes (a 1-D array counts as one attribute).
    y_pred : array-like or sparse matrix of shape (n_samples, n_attributes)
        Predicted 0/1 attributes.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    scores : ndarray of shape (n_attributes,)

    Examples
    --------
    >>> from skcrl.metrics import balanced_accuracy_per_attribute
    >>> y_true = [[1, 0], [0, 0], [0, 0], [0, 1]]
    >>> y_pred = [[1, 0], [1, 0], [0, 0], [0, 0]]
    >>> balanced_accuracy_per_attribute(y_true, y_pred).tolist()
    [0.8333333333333333, 0.5]
    """
    y_true = _as_columns(y_true, "y_true")
    y_pred = _as_columns(y_pred, "y_pred")
    check_consistent_length(y_true, y_pred, sample_weight)
    if y_true.shape[1] != y_pred.shape[1]:
        raise ValueError(
            f"y_true has {y_true.shape[1]} attributes but y_pred has {y_pred.shape[1]}."
        )
    return np.array(
        [
            balanced_accuracy_score(
                y_true[:, j], y_pred[:, j], sample_weight=sample_weight
            )
            for j in range(y_true.shape[1])
        ]
    )


def mean_balanced_accuracy_score(y_true, y_pred, *, sample_weight=None):
    """Mean over attributes of the class-balanced accuracy (the paper's ``mA``).

    For each attribute the mean of the recall of its positives and of its negatives
    (:func:`sklearn.metrics.balanced_accuracy_score`), then the mean over
    attributes: every attribute weighs the same however rare its positives, and
    predicting "absent" everywhere scores 0.5. A 1-D ``y`` is one attribute (or one
    multi-class task), where this is the balanced accuracy.

    Parameters
    ----------
    y_true : array-like or sparse matrix of shape (n_samples, n_attributes)
        True 0/1 attributes.
    y_pred : array-like or sparse matrix of shape (n_samples, n_attributes)
        Predicted 0/1 attributes.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    See Also
    --------
    mean_balanced_accuracy_scorer : the same as a scorer, for ``scoring=``.

    Examples
    --------
    The first attribute's positive is found (recall 1) and one of its three
    negatives is missed (recall 2/3); the second attribute is never predicted
    (recalls 0 and 1):

    >>> from skcrl.metrics import mean_balanced_accuracy_score
    >>> y_true = [[1, 0], [0, 0], [0, 0], [0, 1]]
    >>> y_pred = [[1, 0], [1, 0], [0, 0], [0, 0]]
    >>> round(mean_balanced_accuracy_score(y_true, y_pred), 4)  # (5/6 + 1/2) / 2
    0.6667
    """
    scores = balanced_accuracy_per_attribute(
        y_true, y_pred, sample_weight=sample_weight
    )
    return float(scores.mean())


#: :func:`mean_balanced_accuracy_score` as a scorer (greater is better), for
#: ``GridSearchCV(..., scoring=mean_balanced_accuracy_scorer)`` and
#: ``cross_validate``; it scores the estimator's ``predict``.
mean_balanced_accuracy_scorer = make_scorer(mean_balanced_accuracy_score)
