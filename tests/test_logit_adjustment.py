"""The logit-adjusted cross-entropy (SPEC.md §8) in the loss and both estimators."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skcrl import (
    ClassRectificationLoss,
    CRLClassifier,
    CRLMultiLabelClassifier,
    crl_loss,
)


def test_hand_worked_multi_class_value():
    # Zero logits shifted by log(pi): the softmax is pi itself, so the loss of a
    # sample of class c is -log(pi_c); mean of -log 0.8 and -log 0.2.
    criterion = ClassRectificationLoss(
        alpha=0.0, logit_adjustment=1.0, prior=torch.tensor([0.8, 0.2])
    )
    ce = criterion.cross_entropy(torch.zeros(2, 2), torch.tensor([0, 1]))
    assert ce.item() == pytest.approx(-(math.log(0.8) + math.log(0.2)) / 2)


def test_hand_worked_multi_label_value():
    # Zero logits shifted by log(pi / (1 - pi)): sigmoid gives pi, so a positive
    # costs -log(pi) and a negative -log(1 - pi).
    criterion = ClassRectificationLoss(
        alpha=0.0, logit_adjustment=1.0, prior=torch.tensor([0.2, 0.5])
    )
    target = torch.tensor([[1, 0], [0, 1]])
    ce = criterion.cross_entropy(torch.zeros(2, 2), target)
    want = -(math.log(0.2) + math.log(0.5) + math.log(0.8) + math.log(0.5)) / 4
    assert ce.item() == pytest.approx(want)


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_matches_cross_entropy_on_shifted_logits(tau):
    rng = np.random.default_rng(0)
    logits = torch.as_tensor(rng.normal(size=(40, 4)), dtype=torch.float64)
    target = torch.as_tensor(rng.integers(0, 4, size=40))
    prior = torch.tensor([0.6, 0.25, 0.1, 0.05], dtype=torch.float64)
    weight = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    criterion = ClassRectificationLoss(
        alpha=0.3, logit_adjustment=tau, prior=prior, weight=weight
    )
    terms = criterion.terms(logits, target)
    shifted = logits + tau * torch.log(prior)
    torch.testing.assert_close(
        terms.cross_entropy, F.cross_entropy(shifted, target, weight=weight)
    )
    # the CRL term reads the raw logits
    torch.testing.assert_close(terms.crl, crl_loss(logits, target))


def test_prior_is_checked():
    with pytest.raises(ValueError, match="needs prior="):
        ClassRectificationLoss(alpha=0.5, logit_adjustment=1.0)
    with pytest.raises(ValueError, match="prior must be"):
        ClassRectificationLoss(alpha=0.5, logit_adjustment=1.0, prior=[0.0, 1.0])
    with pytest.raises(ValueError, match="logit_adjustment"):
        ClassRectificationLoss(alpha=0.5, logit_adjustment=-1.0, prior=[0.5, 0.5])
    criterion = ClassRectificationLoss(alpha=0, logit_adjustment=1, prior=[0.5, 0.5])
    with pytest.raises(ValueError, match="one value per class"):
        criterion(torch.zeros(4, 3), torch.tensor([0, 1, 2, 0]))


def _imbalanced(seed=0, n=200):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = np.where(X[:, 0] > 1.0, "rare", "common")
    return X, y


def test_classifier_prior_counts_absent_classes():
    X, _ = _imbalanced(n=10)
    y = np.array(["a"] * 7 + ["b"] * 3)
    clf = CRLClassifier(max_epochs=1, random_state=0)
    clf.partial_fit(X, y, classes=["a", "b", "c"])
    # absent class: 1 / (n + C) = 1 / 13
    np.testing.assert_allclose(clf.class_prior_, [0.7, 0.3, 1 / 13])


def test_classifier_cross_entropy_is_adjusted_and_prediction_is_not():
    X, y = _imbalanced()
    clf = CRLClassifier(
        alpha=0.0, logit_adjustment=1.5, max_epochs=3, random_state=0
    ).fit(X, y)
    prior = np.array([np.mean(y == "common"), np.mean(y == "rare")])
    np.testing.assert_allclose(clf.class_prior_, prior)
    logits = clf.module_(torch.as_tensor(X))
    target = torch.as_tensor(np.searchsorted(clf.classes_, y))
    shifted = logits + 1.5 * torch.log(torch.as_tensor(prior, dtype=torch.float32))
    torch.testing.assert_close(
        clf.get_loss(logits, target), F.cross_entropy(shifted, target)
    )
    # predict_proba: softmax of the raw logits
    np.testing.assert_allclose(
        clf.predict_proba(X), logits.softmax(dim=1).detach().numpy(), rtol=1e-5
    )


def test_multilabel_cross_entropy_is_adjusted_per_attribute():
    X, _ = _imbalanced()
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1.3]).astype(int)
    clf = CRLMultiLabelClassifier(
        alpha=0.0, logit_adjustment=1.0, max_epochs=2, random_state=0
    ).fit(X, Y)
    rate = Y.mean(axis=0)
    np.testing.assert_allclose(clf.class_prior_, rate)
    logits = clf.module_(torch.as_tensor(X))
    shift = torch.as_tensor(np.log(rate / (1 - rate)), dtype=torch.float32)
    target = torch.as_tensor(Y, dtype=torch.float32)
    torch.testing.assert_close(
        clf.get_loss(logits, target),
        F.binary_cross_entropy_with_logits(logits + shift, target),
    )
    np.testing.assert_allclose(
        clf.predict_proba(X), torch.sigmoid(logits).detach().numpy(), rtol=1e-5
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logit_adjustment_raises_rare_recall_of_cross_entropy(seed):
    # Menon et al.'s point: the adjusted loss aims at the balanced error, so on
    # overlapping classes a network trained with it finds more of the rare class.
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(1000) < 0.05, "rare", "common")
    X = rng.normal(size=(1000, 3)).astype(np.float32)
    X[y == "rare", 0] += 1.5
    common = dict(alpha=0.0, max_epochs=10, lr=0.01, random_state=seed)
    plain = CRLClassifier(logit_adjustment=0.0, **common).fit(X, y)
    adjusted = CRLClassifier(logit_adjustment=1.0, **common).fit(X, y)

    def rare_recall(clf):
        return np.mean(clf.predict(X[y == "rare"]) == "rare")

    assert rare_recall(adjusted) > rare_recall(plain) + 0.3


@pytest.mark.parametrize("value", [-0.5, "1"])
def test_estimators_reject_bad_values_before_training(value):
    X, y = _imbalanced()
    with pytest.raises((ValueError, TypeError), match="logit_adjustment"):
        CRLClassifier(logit_adjustment=value).fit(X, y)
