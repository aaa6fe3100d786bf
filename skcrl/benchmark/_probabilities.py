"""How good a method's probabilities are: log-loss and Brier score on a test part
at the training distribution."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss

__all__ = ["probability_scores", "training_distribution_weight"]


def training_distribution_weight(y_train, y_test):
    """Weights that put a test part at the class distribution of the training part.

    A model calibrated to its training data is judged on data of that
    distribution. A stratified split's test part is there already (each class
    within one sample of its share): None. A long-tailed task's test part is
    balanced instead, and each test sample of class ``c`` weighs
    ``p_train(c) / p_test(c)``: the weighted means of a loss are its expectation
    under the training distribution (importance weighting for label shift),
    from every test sample rather than from a subsample of the head classes.

    Parameters
    ----------
    y_train, y_test : array-like of shape (n_train,) and (n_test,)
        Class labels; for attribute tasks, the class each row's attributes were
        derived from.

    Returns
    -------
    ndarray of shape (n_test,), mean 1, or None

    Examples
    --------
    A balanced test part of a 3:1 training part: the common class weighs 1.5,
    the rare one 0.5.

    >>> from skcrl.benchmark import training_distribution_weight
    >>> y_train = [0] * 6 + [1] * 2
    >>> training_distribution_weight(y_train, [0, 0, 0, 0, 1, 1, 1, 1]).tolist()
    [1.5, 1.5, 1.5, 1.5, 0.5, 0.5, 0.5, 0.5]
    >>> training_distribution_weight(y_train, [0, 0, 0, 1]) is None  # stratified
    True
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    classes, train_counts = np.unique(y_train, return_counts=True)
    position = np.searchsorted(classes, y_test).clip(max=len(classes) - 1)
    if not np.array_equal(classes[position], y_test):
        raise ValueError("y_test holds classes that y_train does not.")
    test_counts = np.bincount(position, minlength=len(classes))
    share = train_counts / train_counts.sum()
    if np.all(np.abs(test_counts - share * len(y_test)) <= 1):
        return None
    # a class of the training part that the test part lacks has no one to weigh
    present = test_counts > 0
    ratio = np.zeros(len(classes))
    ratio[present] = share[present] / share[present].sum()
    ratio[present] /= test_counts[present] / len(y_test)
    return ratio[position]


def probability_scores(y_true, proba, classes, sample_weight=None):
    """Log-loss and Brier score of predicted probabilities (lower is better).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, J)
        Labels, or a 0/1 indicator of ``J`` attributes.
    proba : array-like of shape (n, C) or (n, J)
        ``predict_proba`` of an estimator: columns in the order of ``classes``,
        or one probability per attribute.
    classes : array-like of shape (C,) or None
        The estimator's ``classes_``; None for attributes.
    sample_weight : array-like of shape (n,), default=None
        :func:`training_distribution_weight`.

    Returns
    -------
    dict
        ``log_loss`` and ``brier`` (multi-class: the sum over classes of the
        squared error, scikit-learn's :func:`~sklearn.metrics.brier_score_loss`;
        attributes: each the mean over attributes of the binary score).

    Examples
    --------
    >>> from skcrl.benchmark import probability_scores
    >>> scores = probability_scores(["a", "b"], [[0.8, 0.2], [0.4, 0.6]], ["a", "b"])
    >>> round(scores["brier"], 3)  # ((0.2 ** 2) + (0.4 ** 2)) / 2
    0.1
    """
    proba = np.asarray(proba, dtype=float)
    y_true = np.asarray(y_true)
    if y_true.ndim == 2:
        columns = [
            probability_scores(y_true[:, j], proba[:, j], None, sample_weight)
            for j in range(y_true.shape[1])
        ]
        return {key: float(np.mean([c[key] for c in columns])) for key in columns[0]}
    if classes is None:  # one binary attribute: the probability of 1
        labels, proba = [0, 1], np.column_stack([1 - proba, proba])
    else:
        labels = list(classes)
        # float32 rows sum to 1 within 1e-7, beyond scikit-learn's float64 check
        proba = proba / proba.sum(axis=1, keepdims=True)
    return {
        "log_loss": float(
            log_loss(y_true, proba, labels=labels, sample_weight=sample_weight)
        ),
        "brier": float(
            brier_score_loss(y_true, proba, labels=labels, sample_weight=sample_weight)
        ),
    }
