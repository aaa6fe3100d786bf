"""The logit-adjusted cross-entropy (SPEC §8) in the loss and both estimators."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_sample_weight

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
    # SPEC §8: the prior of the weighted loss, pi_c * w_c / sum_k pi_k * w_k
    seen = prior * weight / (prior * weight).sum()
    shifted = logits + tau * torch.log(seen)
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
    # absent class: 1 / (n + C) = 1 / 13, then renormalised by 1 + 1/13 = 14/13
    np.testing.assert_allclose(clf.class_prior_, [0.65, 0.3 * 13 / 14, 1 / 14])


def test_loss_prior_is_reweighted_per_attribute():
    # prior 0.2 with weights (negative 1, positive 4): 0.8 / (0.8 + 0.8) = 0.5,
    # no shift; prior 0.5 with weights (1, 3): 1.5 / 2 = 0.75, log(3) shift
    criterion = ClassRectificationLoss(
        alpha=0.0,
        logit_adjustment=1.0,
        prior=torch.tensor([0.2, 0.5], dtype=torch.float64),
        weight=torch.tensor([[1.0, 4.0], [1.0, 3.0]], dtype=torch.float64),
    )
    logits = torch.zeros(2, 2, dtype=torch.float64)
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    shift = torch.tensor([0.0, math.log(3.0)], dtype=torch.float64)
    entry_weight = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    losses = F.binary_cross_entropy_with_logits(
        logits + shift, target, reduction="none"
    )
    torch.testing.assert_close(
        criterion.cross_entropy(logits, target),
        (entry_weight * losses).sum() / entry_weight.sum(),
    )


def test_loss_balanced_weight_leaves_no_adjustment():
    # weights 1 / pi make the weighted prior uniform: the adjusted loss is the
    # weighted cross-entropy of the raw logits
    rng = np.random.default_rng(1)
    logits = torch.as_tensor(rng.normal(size=(30, 3)), dtype=torch.float64)
    target = torch.as_tensor(rng.integers(0, 3, size=30))
    prior = torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64)
    weight = 1 / (3 * prior)
    criterion = ClassRectificationLoss(
        alpha=0.0, logit_adjustment=2.0, prior=prior, weight=weight
    )
    torch.testing.assert_close(
        criterion.cross_entropy(logits, target),
        F.cross_entropy(logits, target, weight=weight),
    )


def test_classifier_prior_counts_sample_and_class_weights():
    # labels a a a b, sample weights 1 1 2 1, class weights a: 1, b: 3:
    # a counts 1 + 1 + 2 = 4, b counts 1 * 3 = 3, so pi = (4/7, 3/7)
    X, _ = _imbalanced(n=4)
    y = np.array(["a", "a", "a", "b"])
    clf = CRLClassifier(class_weight={"b": 3.0}, max_epochs=1, random_state=0)
    clf.fit(X, y, sample_weight=[1.0, 1.0, 2.0, 1.0])
    np.testing.assert_allclose(clf.class_prior_, [4 / 7, 3 / 7])
    # the criterion's own weight counts in class_weight's place: a 2, b 1
    clf = CRLClassifier(
        criterion__weight=torch.tensor([2.0, 1.0]), max_epochs=1, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(clf.class_prior_, [6 / 7, 1 / 7])


def _balanced_weights(y):
    return compute_sample_weight("balanced", y)


@pytest.mark.parametrize("weighting", ["class_weight", "sample_weight"])
def test_balanced_weights_give_the_model_of_no_adjustment(weighting):
    # SPEC §8: the weights correct for the prior, the adjustment does not again
    X, y = _imbalanced()
    common = dict(max_epochs=4, lr=0.01, random_state=0)
    fit_params = {}
    if weighting == "class_weight":
        common["class_weight"] = "balanced"
    else:
        fit_params["sample_weight"] = _balanced_weights(y)
    adjusted = CRLClassifier(logit_adjustment=1.0, **common).fit(X, y, **fit_params)
    plain = CRLClassifier(logit_adjustment=0.0, **common).fit(X, y, **fit_params)
    np.testing.assert_allclose(adjusted.class_prior_, [0.5, 0.5])
    np.testing.assert_array_equal(adjusted.predict_proba(X), plain.predict_proba(X))


def test_partial_class_weights_shrink_the_adjustment():
    # rare weighed 4: the adjustment is log(pi_rare * 4 / (pi_common + 4 pi_rare)),
    # between the full one (weight 1) and none (weight n_common / n_rare)
    X, y = _imbalanced()
    rare = np.mean(y == "rare")
    clf = CRLClassifier(
        alpha=0.0, class_weight={"rare": 4.0}, max_epochs=1, random_state=0
    ).fit(X, y)
    seen = np.array([1 - rare, 4 * rare]) / (1 - rare + 4 * rare)
    np.testing.assert_allclose(clf.class_prior_, seen)
    shift = np.log(seen) - np.log(seen).mean()
    np.testing.assert_allclose(clf._logit_shift_.numpy(), shift, rtol=1e-6)
    full = np.log([1 - rare, rare])
    assert 0 < np.ptp(shift) < np.ptp(full)


def test_multilabel_balanced_class_weight_gives_the_model_of_no_adjustment():
    X, _ = _imbalanced()
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1.3]).astype(int)
    common = dict(class_weight="balanced", max_epochs=3, lr=0.01, random_state=0)
    adjusted = CRLMultiLabelClassifier(logit_adjustment=1.0, **common).fit(X, Y)
    plain = CRLMultiLabelClassifier(logit_adjustment=0.0, **common).fit(X, Y)
    np.testing.assert_allclose(adjusted.class_prior_, [0.5, 0.5])
    np.testing.assert_array_equal(adjusted.predict_proba(X), plain.predict_proba(X))
    # one attribute weighed: (negative 1, positive 2) on attribute 0 only
    weighted = CRLMultiLabelClassifier(
        alpha=0.0, class_weight=[{1: 2.0}, {}], max_epochs=1, random_state=0
    ).fit(X, Y)
    rate = Y.mean(axis=0)
    np.testing.assert_allclose(
        weighted.class_prior_, [2 * rate[0] / (2 * rate[0] + 1 - rate[0]), rate[1]]
    )


def test_classifier_cross_entropy_and_probabilities_are_adjusted_not_predict():
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
    # predict_proba: the probabilities the cross-entropy was fitted to (SPEC §8);
    # predict: the argmax of the raw logits
    np.testing.assert_allclose(
        clf.predict_proba(X), shifted.softmax(dim=1).detach().numpy(), rtol=1e-5
    )
    np.testing.assert_array_equal(
        clf.predict(X), clf.classes_[logits.argmax(dim=1).numpy()]
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
        clf.predict_proba(X), torch.sigmoid(logits + shift).detach().numpy(), rtol=1e-5
    )
    np.testing.assert_array_equal(clf.predict(X), (logits >= 0).long().numpy())


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
