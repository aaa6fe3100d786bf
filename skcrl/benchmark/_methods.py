"""The methods of the comparison, each an estimator built from the public API."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline
from imblearn.under_sampling import RandomUnderSampler

from .._classifier import CRLClassifier
from .._sampler import ClassAwareDataLoader

__all__ = ["METHODS", "Method", "build"]


@dataclass(frozen=True)
class Method:
    """A named way of training the same network."""

    name: str
    description: str
    classifier: dict = field(default_factory=dict)  # CRLClassifier arguments
    sampler: Callable | None = None  # an imblearn sampler class, applied in fit


def _crl(level, comparison, **extra):
    return {"level": level, "comparison": comparison, **extra}


METHODS = {
    m.name: m
    for m in [
        Method("ce", "cross-entropy", {"alpha": 0.0}),
        Method(
            "ce+balanced",
            "cross-entropy, class_weight='balanced'",
            {"alpha": 0.0, "class_weight": "balanced"},
        ),
        Method(
            "ce+ros",
            "RandomOverSampler, cross-entropy",
            {"alpha": 0.0},
            RandomOverSampler,
        ),
        Method("ce+smote", "SMOTE, cross-entropy", {"alpha": 0.0}, SMOTE),
        Method(
            "ce+rus",
            "RandomUnderSampler, cross-entropy",
            {"alpha": 0.0},
            RandomUnderSampler,
        ),
        Method("crl", "CRL class level, relative", _crl("class", "relative")),
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
            "CRL class level, relative, class_weight='balanced'",
            _crl("class", "relative", class_weight="balanced"),
        ),
        Method(
            "crl+sampler",
            "CRL class level, relative, class-aware batches",
            _crl("class", "relative", iterator_train=ClassAwareDataLoader),
        ),
    ]
}


def build(method: Method, *, n_train: int, steps: int, seed: int, **common):
    """The estimator of ``method``, trained for about ``steps`` optimiser steps.

    ``n_train`` is the size of the training set the estimator (or its sampler) will
    see; a sampler changes it, so the epochs are set from the resampled size:
    oversampling must not buy extra training, nor undersampling lose it.
    """
    batch_size = common.get("batch_size", 128)
    epochs = max(1, round(steps / math.ceil(n_train / batch_size)))
    classifier = CRLClassifier(
        **{**common, **method.classifier, "max_epochs": epochs, "random_state": seed}
    )
    if method.sampler is None:
        return classifier
    return make_pipeline(method.sampler(random_state=seed), classifier)
