"""CRLMultiLabelClassifier: behaviour a scikit-learn user can notice."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MultiLabelBinarizer, StandardScaler

from skcrl import CRLClassifier, CRLMultiLabelClassifier, crl_loss
from skcrl.datasets import load_digits_attributes
from skcrl.metrics import (
    mean_balanced_accuracy_score,
    mean_balanced_accuracy_scorer,
)

FAST = dict(max_epochs=3, batch_size=32, random_state=0)


def attributes(n=160, seed=0):
    """Three attributes of Gaussian features: common, medium and rare (1:9)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0.6, X[:, 2] > 1.25]).astype(int)
    return X, Y


X, Y = attributes()


class PerAttributeEmbeddings(torch.nn.Module):
    """Returns logits (n, J) and one embedding per attribute (n, J, D)."""

    def __init__(self, n_features=4, n_attributes=3, width=6):
        super().__init__()
        self.n_attributes, self.width = n_attributes, width
        self.body = torch.nn.Linear(n_features, n_attributes * width)
        self.heads = torch.nn.Parameter(torch.randn(n_attributes, width))

    def forward(self, x):
        embeddings = torch.relu(self.body(x)).view(-1, self.n_attributes, self.width)
        return (embeddings * self.heads).sum(-1), embeddings


def test_shapes_and_dtypes_end_to_end():
    clf = CRLMultiLabelClassifier(**FAST).fit(X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3) and proba.dtype == np.float32
    assert ((proba >= 0) & (proba <= 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1.0)  # sigmoid per attribute
    predicted = clf.predict(X)
    assert predicted.shape == (len(X), 3) and predicted.dtype == np.int64
    # the balanced probabilities against 0.5 (SPEC §8)
    balanced = clf.set_params(balanced_proba=True).predict_proba(X)
    np.testing.assert_array_equal(predicted, (balanced >= 0.5).astype(int))
    # calibrated to the training rates, the default probabilities are lower on
    # the rare attributes than the balanced ones
    rare = Y.mean(axis=0) < 0.5
    assert (proba.mean(axis=0)[rare] < balanced.mean(axis=0)[rare]).all()
    assert clf.n_outputs_ == 3 and clf.n_features_in_ == 4
    assert [c.tolist() for c in clf.classes_] == [[0, 1]] * 3
    assert clf.module_.head.out_features == 3


def test_threshold_per_attribute():
    clf = CRLMultiLabelClassifier(**FAST, balanced_proba=True).fit(X, Y)
    proba = clf.predict_proba(X)  # balanced: those predict thresholds
    thresholds = np.array([0.0, 0.5, 1.0])
    clf.set_params(threshold=thresholds)
    predicted = clf.predict(X)
    assert (predicted[:, 0] == 1).all()
    np.testing.assert_array_equal(predicted[:, 1], proba[:, 1] >= 0.5)
    assert (predicted[:, 2] == 0).all()
    with pytest.raises(ValueError, match="threshold has 2 values"):
        clf.set_params(threshold=[0.5, 0.5]).predict(X)


@pytest.mark.parametrize("threshold", [1.5, -0.1, [[0.5]], [0.2, 2.0, 0.5]])
def test_bad_threshold_fails_before_training(threshold):
    clf = CRLMultiLabelClassifier(threshold=threshold, **FAST)
    with pytest.raises(ValueError, match="threshold"):
        clf.fit(X, Y)
    assert not hasattr(clf, "module_")


def test_imbalance_and_alpha_follow_the_spec():
    clf = CRLMultiLabelClassifier(eta=1.5, **FAST).fit(X, Y)
    # SPEC §5: the mean over attributes of 0.5 * (|p1 - 1/2| + |p0 - 1/2|)
    rates = Y.mean(axis=0)
    omega = np.mean([0.5 * (abs(p - 0.5) + abs(1 - p - 0.5)) for p in rates])
    assert clf.imbalance_ == pytest.approx(omega)
    assert clf.alpha_ == pytest.approx(min(1.0, 1.5 * omega))


def test_loss_is_the_balanced_loss_of_spec_section_6():
    clf = CRLMultiLabelClassifier(alpha=0.3, k=4, logit_adjustment=0.0, **FAST).fit(
        X, Y
    )
    torch.manual_seed(1)
    logits = torch.randn(16, 3, requires_grad=True)
    target = torch.as_tensor(Y[:16], dtype=torch.float32)
    loss = clf.get_loss(logits, target)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    crl = crl_loss(logits, target, k=4)
    assert loss.item() == pytest.approx(0.3 * crl.item() + 0.7 * bce.item(), rel=1e-6)


def test_attribute_without_positive_in_a_batch_adds_no_triplets():
    clf = CRLMultiLabelClassifier(alpha=1.0, **FAST).fit(X, Y)
    torch.manual_seed(2)
    logits = torch.randn(20, 3, requires_grad=True)
    target = torch.as_tensor(Y[:20], dtype=torch.float32)
    target[:, 2] = 0  # no positive of the rare attribute in this batch
    loss = clf.get_loss(logits, target)
    # pooled over attributes, the empty one contributes no triplet at all
    only_others = crl_loss(logits[:, :2], target[:, :2])
    assert loss.item() == pytest.approx(only_others.item(), rel=1e-6)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert (logits.grad[:, 2] == 0).all()


def test_training_with_batches_lacking_the_rare_attribute():
    # batches of 8 with a 1:9 attribute: many batches hold none or one positive
    clf = CRLMultiLabelClassifier(max_epochs=2, batch_size=8, random_state=0)
    clf.fit(X, Y)
    assert np.isfinite(clf.history[:, "train_loss"]).all()
    assert np.isfinite(clf.history[-1, "batches", :, "train_crl"]).all()


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (np.zeros(160, dtype=int), "column 3 \\(no positive\\)"),
        (np.ones(160, dtype=int), "column 3 \\(no negative\\)"),
    ],
)
def test_attribute_with_a_single_value_is_a_clear_error(column, message):
    clf = CRLMultiLabelClassifier(**FAST)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, np.column_stack([Y, column]))
    assert not hasattr(clf, "module_")


@pytest.mark.parametrize(
    ("y_bad", "match"),
    [
        (Y[:, 0], "CRLClassifier"),
        ([["a"], ["a", "b"]] * 80, "ragged.*MultiLabelBinarizer"),
        (Y * 2, "0 \\(absent\\) and 1 \\(present\\)"),
        (Y[:-1], "inconsistent numbers of samples"),
        (np.where(Y == 1, np.nan, 0.0), "NaN"),
    ],
)
def test_bad_targets_fail_before_training(y_bad, match):
    clf = CRLMultiLabelClassifier(**FAST)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y_bad)
    assert not hasattr(clf, "module_")


def test_multiclass_classifier_points_to_the_multilabel_one():
    with pytest.raises(ValueError, match="CRLMultiLabelClassifier"):
        CRLClassifier(**FAST).fit(X, Y)


def test_target_formats():
    labels = [
        {name for name, present in zip("abc", row, strict=True) if present} for row in Y
    ]
    binarizer = MultiLabelBinarizer(classes=list("abc"))
    reference = CRLMultiLabelClassifier(**FAST).fit(X, Y).predict_proba(X)
    for y in (
        binarizer.fit_transform(labels),
        MultiLabelBinarizer(classes=list("abc"), sparse_output=True).fit_transform(
            labels
        ),
        pd.DataFrame(Y, columns=list("abc")),
        Y.astype(bool),
        Y.astype(np.float64).tolist(),
    ):
        proba = CRLMultiLabelClassifier(**FAST).fit(X, y).predict_proba(X)
        np.testing.assert_allclose(proba, reference, rtol=1e-5)
    assert sp.issparse(MultiLabelBinarizer(sparse_output=True).fit_transform(labels))


def test_input_is_not_modified():
    X_in, Y_in = X.copy(), Y.copy()
    CRLMultiLabelClassifier(**FAST).fit(X_in, Y_in)
    np.testing.assert_array_equal(X_in, X)
    np.testing.assert_array_equal(Y_in, Y)


def test_class_weight():
    balanced = CRLMultiLabelClassifier(class_weight="balanced", **FAST).fit(X, Y)
    positives = Y.sum(axis=0)
    expected = np.column_stack(
        [len(Y) / (2 * (len(Y) - positives)), len(Y) / (2 * positives)]
    )
    np.testing.assert_allclose(balanced.class_weight_, expected)

    weights = [{1: 2.0}, {0: 0.5}, {0: 1.0, 1: 9.0}]
    clf = CRLMultiLabelClassifier(
        class_weight=weights, alpha=0.0, logit_adjustment=0.0, **FAST
    ).fit(X, Y)
    np.testing.assert_allclose(clf.class_weight_, [[1, 2], [0.5, 1], [1, 9]])
    logits = torch.randn(10, 3)
    target = torch.as_tensor(Y[:10], dtype=torch.float32)
    # hand-written weighted binary cross-entropy: sum(w * l) / sum(w)
    p = torch.sigmoid(logits.double())
    t = target.double()
    losses = -(t * torch.log(p) + (1 - t) * torch.log(1 - p))
    w = torch.tensor(clf.class_weight_)
    per_entry = w[:, 0] * (1 - t) + w[:, 1] * t
    expected_loss = (per_entry * losses).sum() / per_entry.sum()
    assert clf.get_loss(logits, target).item() == pytest.approx(
        expected_loss.item(), rel=1e-5
    )

    same_for_all = CRLMultiLabelClassifier(class_weight={1: 3.0}, **FAST).fit(X, Y)
    np.testing.assert_allclose(same_for_all.class_weight_, [[1, 3]] * 3)
    with pytest.raises(ValueError, match="one dict per attribute"):
        CRLMultiLabelClassifier(class_weight=[{1: 2.0}], **FAST).fit(X, Y)
    with pytest.raises(ValueError, match="keys 0 and/or 1"):
        CRLMultiLabelClassifier(class_weight={"yes": 2.0}, **FAST).fit(X, Y)


@pytest.mark.parametrize("module", [None, PerAttributeEmbeddings])
def test_instance_level_with_shared_or_per_attribute_embeddings(module):
    clf = CRLMultiLabelClassifier(module=module, level="instance", **FAST).fit(X, Y)
    assert clf.history[-1, "train_crl"] > 0
    assert clf.predict(X).shape == Y.shape


def test_clone_grid_search_with_the_scorer_and_cross_validate():
    clf = CRLMultiLabelClassifier(**FAST)
    assert clone(clf).get_params()["threshold"] == 0.5
    search = GridSearchCV(
        clf,
        {"eta": [0.0, 2.0], "threshold": [0.3, 0.5]},
        scoring=mean_balanced_accuracy_scorer,
        cv=KFold(2),
    ).fit(X, Y)
    assert search.cv_results_["mean_test_score"].shape == (4,)
    assert search.best_estimator_.predict(X).shape == Y.shape
    # the scorer is the metric on the estimator's predictions
    fitted = search.best_estimator_
    assert mean_balanced_accuracy_scorer(fitted, X, Y) == pytest.approx(
        mean_balanced_accuracy_score(Y, fitted.predict(X))
    )
    scores = cross_validate(
        make_pipeline(StandardScaler(), clf),
        X,
        Y,
        cv=3,
        scoring={"mA": mean_balanced_accuracy_scorer},
    )
    assert ((scores["test_mA"] >= 0) & (scores["test_mA"] <= 1)).all()


def test_pickle_and_random_state():
    clf = CRLMultiLabelClassifier(**FAST).fit(X, Y)
    again = CRLMultiLabelClassifier(**FAST).fit(X, Y)
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_partial_fit_checks_the_number_of_attributes():
    clf = CRLMultiLabelClassifier(**FAST).partial_fit(X, Y)
    clf.partial_fit(X, Y)
    assert len(clf.history) == 6
    with pytest.raises(ValueError, match="2 attributes but the classifier"):
        clf.partial_fit(X, Y[:, :2])


def test_validation_split_scores_mean_balanced_accuracy():
    from skorch.dataset import ValidSplit

    clf = CRLMultiLabelClassifier(train_split=ValidSplit(4), **FAST).fit(X, Y)
    score = clf.history[-1, "valid_mean_bacc"]
    assert 0 <= score <= 1


@pytest.mark.parametrize(
    "loss",
    [
        # the defaults (eta 0.5: alpha = 0.12; logit adjustment; memory of 1024)
        {},
        # the paper's loss alone, at the old default eta = 2 (alpha = 0.49), on
        # the raw pixels: on standardised ones its lead over plain BCE is gone
        # (-0.002 to -0.009 on seeds 0-2), the logit-adjusted default's is not
        {
            "eta": 2.0,
            "logit_adjustment": 0.0,
            "memory_size": 0,
            "module__standardize": False,
        },
    ],
    ids=["defaults", "plain-crl"],
)
def test_crl_raises_mean_balanced_accuracy_over_binary_cross_entropy(loss):
    """The end-to-end check on the built-in attribute set: same MLP, seed and
    optimiser steps against plain binary cross-entropy (alpha = 0, no
    adjustment)."""
    torch.set_num_threads(1)
    gains = []
    plain_bce = {"alpha": 0.0, "logit_adjustment": 0.0, "memory_size": 0}
    # the same network on both sides
    plain_bce.update({k: v for k, v in loss.items() if k.startswith("module__")})
    for seed in range(3):
        data = load_digits_attributes(random_state=seed)
        scores = []
        for setting in (plain_bce, loss):
            clf = CRLMultiLabelClassifier(
                max_epochs=100, batch_size=256, lr=0.003, random_state=seed, **setting
            ).fit(data.X_train, data.Y_train)
            scores.append(
                mean_balanced_accuracy_score(data.Y_test, clf.predict(data.X_test))
            )
        gains.append(scores[1] - scores[0])
    assert min(gains) > 0, gains
    assert np.mean(gains) > 0.01, gains


def test_generic_estimator_properties_on_indicator_targets():
    """What scikit-learn's checks test, with 0/1 targets (see test_common.py)."""
    clf = CRLMultiLabelClassifier(**FAST)
    assert clf.fit(X, Y) is clf
    reference = clf.predict_proba(X)
    # float32, float64, int and list input give the same model
    for X_as in (X.astype(np.float32), X.tolist()):
        again = CRLMultiLabelClassifier(**FAST).fit(X_as, Y)
        np.testing.assert_allclose(again.predict_proba(X), reference, rtol=1e-5)
    assert (
        CRLMultiLabelClassifier(**FAST).fit(X.round().astype(int), Y).predict(X).shape
        == Y.shape
    )
    # subsets and order of the samples do not change their predictions
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(clf.predict_proba(X[order]), reference[order], rtol=1e-5)
    np.testing.assert_allclose(clf.predict_proba(X[:7]), reference[:7], rtol=1e-5)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])
    params = clf.get_params()
    clf.fit(X, Y)
    assert clf.get_params().keys() == params.keys()


def test_a_reducing_criterion_works_but_cannot_take_class_weights():
    reducing = torch.nn.BCEWithLogitsLoss()  # an instance: used as it is
    clf = CRLMultiLabelClassifier(
        criterion=reducing, alpha=0.0, logit_adjustment=0.0, **FAST
    ).fit(X, Y)
    logits = torch.randn(10, 3)
    target = torch.as_tensor(Y[:10], dtype=torch.float32)
    assert clf.get_loss(logits, target).item() == pytest.approx(
        torch.nn.functional.binary_cross_entropy_with_logits(logits, target).item()
    )
    weighted = CRLMultiLabelClassifier(
        criterion=reducing, class_weight="balanced", **FAST
    )
    with pytest.raises(ValueError, match="per-entry losses"):
        weighted.fit(X, Y)
    assert not weighted.history  # before any training
