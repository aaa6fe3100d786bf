"""The methods of the comparison, each an estimator built from the public API."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from imblearn.ensemble import BalancedRandomForestClassifier
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    TunedThresholdClassifierCV,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from torch.utils.data import DataLoader

from .._classifier import CRLClassifier
from .._long_tail import (
    DeferredReweighting,
    FocalLoss,
    LDAMLoss,
    effective_number_weight,
)
from .._sampler import ClassAwareDataLoader

__all__ = [
    "IMAGE_TUNING_GRID",
    "METHODS",
    "REFERENCES",
    "TUNING_GRID",
    "Method",
    "build",
    "flatten_samples",
    "make_sampler",
    "restore_samples",
]

#: What ``crl-tuned`` searches, by 3-fold stratified cross-validation of the
#: training part scored by balanced accuracy: 12 settings. Under
#: ``class_weight="balanced"`` the logit adjustment vanishes (SPEC §8), so that
#: half of the grid does not vary it.
TUNING_GRID = [
    {
        "eta": [0.5, 2.0],
        "logit_adjustment": [0.0, 1.0],
        "class_weight": [None],
        "iterator_train": [DataLoader, ClassAwareDataLoader],
    },
    {
        "eta": [0.5, 2.0],
        "class_weight": ["balanced"],
        "iterator_train": [DataLoader, ClassAwareDataLoader],
    },
]

#: What ``crl-tuned-small`` searches, the same way: the CRL term's weight and the
#: batches, 4 settings, where a network costs too much for the 12 of
#: :data:`TUNING_GRID` (the image track).
IMAGE_TUNING_GRID = {
    "eta": [0.5, 2.0],
    "iterator_train": [DataLoader, ClassAwareDataLoader],
}


@dataclass(frozen=True)
class Method:
    """A named way of training the same network.

    Parameters
    ----------
    name : str
    description : str
    classifier : dict
        :class:`~skcrl.CRLClassifier` arguments of the method (``alpha=0`` for
        cross-entropy).
    sampler : imbalanced-learn sampler class or None
        Applied before the classifier in an ``imblearn`` pipeline, in ``fit`` only.
    search : dict or None
        A parameter grid: the method is a :class:`~sklearn.model_selection.GridSearchCV`
        over it, on the training part only (3 stratified folds, balanced
        accuracy), refitted on the whole training part.
    threshold : bool, default=False
        Tune the decision threshold: the method is scikit-learn's
        :class:`~sklearn.model_selection.TunedThresholdClassifierCV` around the
        classifier, maximising balanced accuracy over 3 stratified folds of the
        training part. Binary tasks only.
    sample_weight : {"balanced"} or None, default=None
        ``"balanced"``: ``fit`` receives scikit-learn's balanced sample weights
        (``compute_sample_weight("balanced", y)``), as a user who weighs the
        classes per sample would pass them.
    from_labels : callable or None, default=None
        Called with the training labels; returns more classifier arguments
        (class weights or counts), as a user computes them from ``y`` before
        ``fit``.
    reference : callable or None, default=None
        A model a user would fit instead of a network: called with the seed, it
        returns an unfitted scikit-learn or imbalanced-learn estimator, which
        the method fits in place of :class:`~skcrl.CRLClassifier` (``classifier``
        then does not apply). Images reach it flattened.

    Examples
    --------
    >>> from skcrl.benchmark import METHODS
    >>> METHODS["ce+smote"].description
    'SMOTE, cross-entropy'
    >>> METHODS["crl"].classifier  # the estimator's defaults
    {'level': 'class', 'comparison': 'relative'}
    >>> METHODS["hgb"].neural, METHODS["crl"].neural
    (False, True)
    """

    name: str
    description: str
    classifier: dict = field(default_factory=dict)  # CRLClassifier arguments
    sampler: Callable | None = None  # an imblearn sampler class, applied in fit
    search: dict | None = None  # a GridSearchCV parameter grid
    threshold: bool = False  # TunedThresholdClassifierCV around it (binary only)
    sample_weight: str | None = None  # "balanced": fit(X, y, sample_weight=...)
    from_labels: Callable | None = None  # y -> more CRLClassifier arguments
    reference: Callable | None = None  # seed -> a non-neural estimator

    @property
    def neural(self) -> bool:
        """Whether the method trains the network (False: a reference model)."""
        return self.reference is None


def _crl(level, comparison, **extra):
    return {"level": level, "comparison": comparison, **extra}


#: Plain cross-entropy: no CRL term and, unlike the estimator's default, no logit
#: adjustment.
_CE = {"alpha": 0.0, "logit_adjustment": 0.0}

#: The paper's loss alone: what the defaults add around it, turned off.
_PLAIN = {"logit_adjustment": 0.0, "memory_size": 0, "iterator_train": DataLoader}


def _plain_crl(**extra):
    return _crl("class", "relative", **{**_PLAIN, **extra})


def _class_weight_by_effective_number(y, beta):
    # module-level (with functools.partial): methods reach joblib's workers pickled
    return {"class_weight": effective_number_weight(y, beta=beta)}


def _ldam_drw(y):
    """LDAM's margins from the class counts, re-weighted by effective number
    (beta 0.9999) from 80% of the epochs, as Cao et al. (160 of 200)."""
    return {
        "criterion__class_counts": np.unique(y, return_counts=True)[1],
        "callbacks": [DeferredReweighting(start=0.8, beta=0.9999)],
    }


def _logistic_regression(seed):
    # lbfgs is deterministic; the seed is kept for a solver that is not
    return Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "model",
                LogisticRegression(
                    class_weight="balanced", max_iter=1000, random_state=seed
                ),
            ),
        ]
    )


def _gradient_boosting(seed):
    return HistGradientBoostingClassifier(class_weight="balanced", random_state=seed)


def _balanced_random_forest(seed):
    # imbalanced-learn's own defaults from 0.13 on, set so that older releases
    # fit the same forest: each tree on a balanced bootstrap of the classes
    return BalancedRandomForestClassifier(
        sampling_strategy="all", replacement=True, bootstrap=False, random_state=seed
    )


#: The models a user with a table would fit instead of a network: a
#: class-weighted logistic regression behind a scaler, a class-weighted
#: gradient-boosted tree and imbalanced-learn's balanced random forest (an
#: undersampling ensemble), the first two also with a decision threshold tuned
#: for balanced accuracy (binary tasks). Names of :data:`METHODS`.
REFERENCES = ("logreg", "logreg+threshold", "hgb", "hgb+threshold", "brf")

#: The methods of the comparison by name (``python -m skcrl --methods``).
METHODS = {
    m.name: m
    for m in [
        Method("ce", "cross-entropy", _CE),
        Method(
            "ce+balanced",
            "cross-entropy, class_weight='balanced'",
            {**_CE, "class_weight": "balanced"},
        ),
        Method(
            "ce+ros",
            "RandomOverSampler, cross-entropy",
            _CE,
            RandomOverSampler,
        ),
        Method("ce+smote", "SMOTE, cross-entropy", _CE, SMOTE),
        Method(
            "ce+rus",
            "RandomUnderSampler, cross-entropy",
            _CE,
            RandomUnderSampler,
        ),
        Method(
            "ce+sampler",
            "cross-entropy, class-aware batches",
            {**_CE, "iterator_train": ClassAwareDataLoader},
        ),
        Method(
            "ce+la",
            "logit-adjusted cross-entropy (Menon et al. 2021), tau 1",
            {"alpha": 0.0, "logit_adjustment": 1.0},
        ),
        Method(
            "focal",
            "focal loss (Lin et al. 2017), gamma 2",
            {**_CE, "criterion": FocalLoss},
        ),
        Method(
            "ce+cb",
            "cross-entropy, class-balanced weights (Cui et al. 2019), beta 0.9999",
            _CE,
            from_labels=functools.partial(
                _class_weight_by_effective_number, beta=0.9999
            ),
        ),
        Method(
            "ce+cb-0.999",
            "cross-entropy, class-balanced weights (Cui et al. 2019), beta 0.999",
            _CE,
            from_labels=functools.partial(
                _class_weight_by_effective_number, beta=0.999
            ),
        ),
        Method(
            "ldam-drw",
            "LDAM, deferred re-weighting from 80% of the epochs (Cao et al. 2019)",
            {**_CE, "criterion": LDAMLoss},
            from_labels=_ldam_drw,
        ),
        Method("crl", "CRLClassifier at its defaults", _crl("class", "relative")),
        Method(
            "crl-plain",
            "CRL alone: no logit adjustment, no memory, shuffled batches",
            _plain_crl(),
        ),
        Method("crl-abs", "CRL class level, absolute", _crl("class", "absolute")),
        Method(
            "crl-dist", "CRL class level, distribution", _crl("class", "distribution")
        ),
        Method(
            "crl-inst", "CRL instance level, relative", _crl("instance", "relative")
        ),
        Method(
            "crl-inst-abs", "CRL instance level, absolute", _crl("instance", "absolute")
        ),
        Method(
            "crl-inst-dist",
            "CRL instance level, distribution",
            _crl("instance", "distribution"),
        ),
        Method(
            "crl+balanced",
            "CRLClassifier at its defaults, class_weight='balanced'",
            _crl("class", "relative", class_weight="balanced"),
        ),
        Method(
            "crl+balanced-sw",
            "CRLClassifier at its defaults, balanced sample weights",
            _crl("class", "relative"),
            sample_weight="balanced",
        ),
        Method(
            "crl+sampler",
            "crl-plain with class-aware batches",
            _plain_crl(iterator_train=ClassAwareDataLoader),
        ),
        Method(
            "crl+la",
            "crl-plain with the logit-adjusted cross-entropy (tau 1)",
            _plain_crl(logit_adjustment=1.0),
        ),
        Method(
            "crl+memory",
            "crl-plain with a memory of 1024 rows",
            _plain_crl(memory_size=1024),
        ),
        Method(
            "crl-tuned",
            "CRL, GridSearchCV on the training part over TUNING_GRID",
            _crl("class", "relative"),
            search=TUNING_GRID,
        ),
        Method(
            "crl-tuned-small",
            "CRL, GridSearchCV on the training part over IMAGE_TUNING_GRID",
            _crl("class", "relative"),
            search=IMAGE_TUNING_GRID,
        ),
        Method(
            "ce+threshold",
            "cross-entropy, decision threshold tuned for balanced accuracy",
            _CE,
            threshold=True,
        ),
        Method(
            "crl+threshold",
            "CRLClassifier at its defaults, threshold tuned for balanced accuracy",
            _crl("class", "relative"),
            threshold=True,
        ),
        Method(
            "logreg",
            "LogisticRegression(class_weight='balanced') behind a StandardScaler",
            reference=_logistic_regression,
        ),
        Method(
            "logreg+threshold",
            "logreg, decision threshold tuned for balanced accuracy",
            threshold=True,
            reference=_logistic_regression,
        ),
        Method(
            "hgb",
            "HistGradientBoostingClassifier(class_weight='balanced')",
            reference=_gradient_boosting,
        ),
        Method(
            "hgb+threshold",
            "hgb, decision threshold tuned for balanced accuracy",
            threshold=True,
            reference=_gradient_boosting,
        ),
        Method(
            "brf",
            "imbalanced-learn's BalancedRandomForestClassifier",
            reference=_balanced_random_forest,
        ),
    ]
}


def make_sampler(method: Method, seed: int, smallest_class: int | None = None):
    """``method``'s sampler, seeded. SMOTE interpolates between a sample and its
    ``k_neighbors`` nearest of the same class, so it needs ``k_neighbors + 1``
    samples of every class it grows: its default 5 shrinks to fit
    ``smallest_class`` (the size of the rarest training class).

    Examples
    --------
    >>> from skcrl.benchmark import METHODS, make_sampler
    >>> make_sampler(METHODS["ce+smote"], seed=0, smallest_class=3).k_neighbors
    2
    >>> make_sampler(METHODS["ce+smote"], seed=0, smallest_class=40).k_neighbors
    5
    """
    arguments = {"random_state": seed}
    if method.sampler is SMOTE and smallest_class is not None:
        arguments["k_neighbors"] = max(1, min(5, smallest_class - 1))
    return method.sampler(**arguments)


def flatten_samples(X):
    """``(n, ...)`` to ``(n, features)``: imbalanced-learn's samplers take 2-D X."""
    return X.reshape(len(X), -1)


def restore_samples(X, shape):
    """Back to ``(n, *shape)`` after a sampler."""
    return X.reshape(len(X), *shape)


def build(
    method: Method,
    *,
    n_train: int,
    steps: int,
    seed: int,
    sample_shape=None,
    smallest_class=None,
    labels=None,
    **common,
):
    """The estimator of ``method``, trained for about ``steps`` optimiser steps.

    ``n_train`` is the size of the training set the estimator (or its sampler) will
    see; a sampler changes it, so the epochs are set from the resampled size:
    oversampling must not buy extra training, nor undersampling lose it. Samples of
    ``sample_shape`` (an image's ``(channels, height, width)``) are flattened for the
    sampler and restored after it, by picklable module-level functions. A
    reference model (``method.reference``) is built as its own function makes it,
    behind a flattening step for images: the budget and ``common`` are the
    network's and do not apply to it.

    Parameters
    ----------
    method : Method
        One of :data:`METHODS`.
    n_train : int
        Training samples the estimator (or its sampler) will be given.
    steps : int
        The optimiser-step budget.
    seed : int
        ``random_state`` of the classifier and the sampler.
    sample_shape : tuple of int, default=None
        Shape of one sample, when it is an image.
    smallest_class : int, default=None
        Training samples of the rarest class, for :func:`make_sampler`.
    labels : array-like of shape (n_samples,), default=None
        The training labels, for a method whose arguments come from them
        (``Method.from_labels``).
    **common
        :class:`~skcrl.CRLClassifier` arguments shared by every method.

    Returns
    -------
    estimator : CRLClassifier, imblearn Pipeline, GridSearchCV or
        TunedThresholdClassifierCV

    Examples
    --------
    200 samples in batches of 50 are 4 steps an epoch: 40 steps are 10 epochs.

    >>> from skcrl.benchmark import METHODS, build
    >>> build(METHODS["crl"], n_train=200, steps=40, seed=0, batch_size=50).max_epochs
    10
    >>> pipeline = build(
    ...     METHODS["ce+ros"], n_train=400, steps=40, seed=0, batch_size=50
    ... )
    >>> pipeline[-1].max_epochs  # the oversampled set of 400 is 8 steps an epoch
    5
    """
    if not method.neural:
        return _reference(method, seed, sample_shape)
    batch_size = common.get("batch_size", CRLClassifier().batch_size)
    epochs = max(1, round(steps / math.ceil(n_train / batch_size)))
    if method.from_labels is not None and labels is None:
        raise ValueError(
            f"method {method.name!r} computes its arguments from the training "
            "labels: pass labels=y_train."
        )
    arguments = {
        **common,
        **method.classifier,
        **(method.from_labels(labels) if method.from_labels is not None else {}),
        "max_epochs": epochs,
        "random_state": seed,
    }
    if arguments.get("module") is not None and arguments.get("level") == "instance":
        # the default networks do this themselves; a module of the user's is told
        arguments["module__return_embeddings"] = True
    classifier = CRLClassifier(**arguments)
    if method.threshold:
        return _tuned_threshold(classifier, seed)
    if method.search is not None:
        return GridSearchCV(
            classifier,
            method.search,
            scoring="balanced_accuracy",
            cv=StratifiedKFold(3, shuffle=True, random_state=seed),
        )
    if method.sampler is None:
        return classifier
    sampler = make_sampler(method, seed, smallest_class)
    if sample_shape is None or len(sample_shape) < 2:
        return make_pipeline(sampler, classifier)
    return make_pipeline(
        FunctionTransformer(flatten_samples),
        sampler,
        FunctionTransformer(restore_samples, kw_args={"shape": tuple(sample_shape)}),
        classifier,
    )


def _tuned_threshold(classifier, seed):
    return TunedThresholdClassifierCV(
        classifier,
        scoring="balanced_accuracy",
        cv=StratifiedKFold(3, shuffle=True, random_state=seed),
        random_state=seed,
    )


def _reference(method, seed, sample_shape):
    """A reference model: the network's training budget does not apply to it."""
    model = method.reference(seed)
    if sample_shape is not None and len(sample_shape) >= 2:
        model = make_pipeline(FunctionTransformer(flatten_samples), model)
    return _tuned_threshold(model, seed) if method.threshold else model
