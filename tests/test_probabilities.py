"""What predict_proba and predict return (docs/spec.md §8, as changed on 2026-12-05):
the probabilities the cross-entropy was fitted to, and the class-balanced
decision of the raw logits."""

import math

import numpy as np
import pytest
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import get_scorer, log_loss
from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV

from skcrl import CRLClassifier, CRLMultiLabelClassifier


class Logits(torch.nn.Module):
    """Returns its input as the logits, so that a test chooses them."""

    def __init__(self, **kwargs):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))  # for the optimiser

    def forward(self, X):
        return X + 0 * self.unused


class Probabilities(Logits):
    """Returns the softmax of its input, for criterion=NLLLoss."""

    def forward(self, X):
        return torch.softmax(super().forward(X), dim=-1)


#: lr=0: the module's output is the input, whatever the training
FIXED = dict(module=Logits, lr=0.0, max_epochs=1, alpha=0.0, random_state=0)

#: 6, 3 and 1 samples of classes "a", "b", "c": pi = (0.6, 0.3, 0.1)
Y = np.array(["a"] * 6 + ["b"] * 3 + ["c"])
X_TRAIN = np.zeros((10, 3), dtype=np.float32)

#: test logits: zeros, (log 2, 0, log 3), and one whose raw argmax is "c"
LOGITS = np.array(
    [[0.0, 0.0, 0.0], [math.log(2), 0.0, math.log(3)], [0.0, 0.0, 1.0]],
    dtype=np.float32,
)


def _fitted(**kwargs):
    return CRLClassifier(**{**FIXED, **kwargs}).fit(X_TRAIN, Y)


def test_hand_worked_probabilities_at_tau_1():
    proba = _fitted(logit_adjustment=1.0).predict_proba(LOGITS)
    # softmax(z + log pi) is proportional to pi * exp(z):
    # zeros -> pi; (log 2, 0, log 3) -> (1.2, 0.3, 0.3) / 1.8;
    # (0, 0, 1) -> (0.6, 0.3, 0.1 e) / (0.9 + 0.1 e)
    e = math.e
    want = [
        [0.6, 0.3, 0.1],
        [2 / 3, 1 / 6, 1 / 6],
        [0.6 / (0.9 + 0.1 * e), 0.3 / (0.9 + 0.1 * e), 0.1 * e / (0.9 + 0.1 * e)],
    ]
    np.testing.assert_allclose(proba, want, rtol=1e-5)


def test_hand_worked_probabilities_at_tau_2():
    # softmax(0 + 2 log pi) = pi^2 / sum(pi^2) = (0.36, 0.09, 0.01) / 0.46
    proba = _fitted(logit_adjustment=2.0).predict_proba(LOGITS[:1])
    np.testing.assert_allclose(proba, [[0.36 / 0.46, 0.09 / 0.46, 0.01 / 0.46]])


def test_predict_is_the_raw_argmax_and_the_switch_gives_the_raw_softmax():
    clf = _fitted(logit_adjustment=1.0)
    # (0, 0, 1): "c" has the largest raw logit, "a" the largest probability
    np.testing.assert_array_equal(clf.predict(LOGITS[2:]), ["c"])
    assert clf.classes_[clf.predict_proba(LOGITS[2:]).argmax()] == "a"
    raw = torch.softmax(torch.as_tensor(LOGITS), dim=1).numpy()
    balanced = clf.set_params(balanced_proba=True)
    np.testing.assert_allclose(balanced.predict_proba(LOGITS), raw, rtol=1e-6)
    np.testing.assert_array_equal(balanced.predict(LOGITS[2:]), ["c"])


def test_no_adjustment_leaves_the_raw_softmax():
    proba = _fitted(logit_adjustment=0.0).predict_proba(LOGITS)
    raw = torch.softmax(torch.as_tensor(LOGITS), dim=1).numpy()
    np.testing.assert_array_equal(proba, raw)


def test_class_weight_gives_the_weighted_distribution():
    # class "c" weighed 3: pi proportional to (0.6, 0.3, 0.3), i.e. (0.5, 0.25, 0.25)
    proba = _fitted(logit_adjustment=1.0, class_weight={"c": 3.0}).predict_proba(
        LOGITS[:1]
    )
    np.testing.assert_allclose(proba, [[0.5, 0.25, 0.25]], rtol=1e-5)


def test_sample_weight_gives_the_weighted_distribution():
    # the samples of "b" weigh 2: counts 6, 6, 1 of 13
    weight = np.where(Y == "b", 2.0, 1.0)
    clf = CRLClassifier(**FIXED, logit_adjustment=1.0).fit(
        X_TRAIN, Y, sample_weight=weight
    )
    np.testing.assert_allclose(
        clf.predict_proba(LOGITS[:1]), [[6 / 13, 6 / 13, 1 / 13]], rtol=1e-5
    )


def test_balanced_weights_leave_nothing_to_shift():
    proba = _fitted(logit_adjustment=1.0, class_weight="balanced").predict_proba(
        LOGITS[:1]
    )
    np.testing.assert_allclose(proba, [[1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


def test_a_module_returning_probabilities_is_shifted_in_log_space():
    # NLLLoss: the module returns softmax(z); the fitted probabilities are
    # softmax(log softmax(z) + log pi) = pi for z = 0
    clf = _fitted(
        module=Probabilities, criterion=torch.nn.NLLLoss, logit_adjustment=1.0
    )
    np.testing.assert_allclose(
        clf.predict_proba(LOGITS[:2]),
        [[0.6, 0.3, 0.1], [2 / 3, 1 / 6, 1 / 6]],
        rtol=1e-4,
    )
    np.testing.assert_array_equal(clf.predict(LOGITS[2:]), ["c"])
    # the switch: the module's output as it is, as skorch returns it
    np.testing.assert_array_equal(
        clf.set_params(balanced_proba=True).predict_proba(LOGITS),
        torch.softmax(torch.as_tensor(LOGITS), dim=1).numpy(),
    )


def test_multilabel_hand_worked():
    # attribute rates 0.2 and 0.5: shifts log(0.2 / 0.8) = -log 4 and 0
    Y2 = np.column_stack([[1, 1] + [0] * 8, [1] * 5 + [0] * 5])
    clf = CRLMultiLabelClassifier(**FIXED, logit_adjustment=1.0).fit(
        np.zeros((10, 2), dtype=np.float32), Y2
    )
    logits = np.array([[0.0, 0.0], [math.log(4), 1.0], [1.0, -0.5]], dtype=np.float32)
    sigmoid = 1 / (1 + math.exp(-1))
    want = [
        [0.2, 0.5],  # sigmoid(-log 4) = 1 / 5
        [0.5, sigmoid],  # sigmoid(log 4 - log 4)
        [1 / (1 + 4 * math.exp(-1)), 1 / (1 + math.exp(0.5))],
    ]
    np.testing.assert_allclose(clf.predict_proba(logits), want, rtol=1e-5)
    # predict thresholds the raw sigmoid at 0.5: logit >= 0
    np.testing.assert_array_equal(clf.predict(logits), [[1, 1], [1, 1], [1, 0]])
    raw = torch.sigmoid(torch.as_tensor(logits)).numpy()
    np.testing.assert_allclose(
        clf.set_params(balanced_proba=True).predict_proba(logits), raw, rtol=1e-6
    )


def test_balanced_proba_is_validated():
    with pytest.raises(ValueError, match="balanced_proba"):
        CRLClassifier(balanced_proba="yes").fit(X_TRAIN, Y)


def test_scorers_read_the_fitted_probabilities():
    clf = _fitted(logit_adjustment=1.0)
    y_test = np.array(["a", "b", "c"])
    score = get_scorer("neg_log_loss")(clf, LOGITS, y_test)
    assert score == pytest.approx(-log_loss(y_test, clf.predict_proba(LOGITS)))


def _rare_event(n, rate, seed):
    """n samples of a binary task whose positive class has probability ``rate``:
    the positives' first feature shifted by 1.5."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    X[y == 1, 0] += 1.5
    return X, y


def test_calibration_in_the_large_at_the_defaults():
    # A model fitted to its training distribution predicts, on average over fresh
    # samples of it, the base rate. Tolerance: 3 standard errors of the training
    # rate plus 3 of a mean of n_test probabilities (each at most
    # sqrt(rate (1 - rate) / n)).
    rate, n_train, n_test = 0.05, 3000, 3000
    X, y = _rare_event(n_train, rate, seed=0)
    X_test, _ = _rare_event(n_test, rate, seed=1)
    clf = CRLClassifier(lr=0.01, max_epochs=15, random_state=0).fit(X, y)
    tolerance = (
        3
        * math.sqrt(rate * (1 - rate))
        * (1 / math.sqrt(n_train) + 1 / math.sqrt(n_test))
    )
    assert abs(clf.predict_proba(X_test)[:, 1].mean() - rate) < tolerance
    # the balanced probabilities, which the estimator returned before, do not
    balanced = clf.set_params(balanced_proba=True).predict_proba(X_test)[:, 1]
    assert balanced.mean() > rate + 5 * tolerance


def test_multilabel_calibration_in_the_large():
    rates = np.array([0.3, 0.03])
    n = 3000
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2 * n, 4)).astype(np.float32)
    Y = (rng.random((2 * n, 2)) < rates).astype(int)
    X[:, :2] += 1.5 * Y
    clf = CRLMultiLabelClassifier(lr=0.01, max_epochs=15, random_state=0)
    clf.fit(X[:n], Y[:n])
    mean = clf.predict_proba(X[n:]).mean(axis=0)
    tolerance = 3 * np.sqrt(rates * (1 - rates)) * 2 / math.sqrt(n)
    np.testing.assert_array_less(np.abs(mean - rates), tolerance)


def test_threshold_tuning_and_calibration_compose():
    rate = 0.1
    X, y = _rare_event(600, rate, seed=0)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    common = dict(lr=0.01, max_epochs=5, random_state=0)
    tuned = TunedThresholdClassifierCV(
        CRLClassifier(**common), scoring="balanced_accuracy", cv=folds
    ).fit(X, y)
    # on probabilities calibrated to a 10% rate the balanced threshold lies far
    # below 0.5 (on the balanced ones it would lie near it)
    assert tuned.best_threshold_ < 0.3
    calibrated = CalibratedClassifierCV(CRLClassifier(**common), cv=folds).fit(X, y)
    proba = calibrated.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert abs(proba[:, 1].mean() - rate) < 3 * math.sqrt(rate * (1 - rate) / 600)
