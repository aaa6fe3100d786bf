"""sample_weight in the estimators (SPEC §10): what weights do to the loss of a
batch, how they travel with their rows, the validation score, routing, errors."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.dataset import ValidSplit

from skcrl import ClassAwareDataLoader, CRLClassifier, CRLMultiLabelClassifier
from skcrl._inputs import WeightedInput

FAST = dict(max_epochs=2, batch_size=32, random_state=0)


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64) + (X[:, 1] > 1.2)
    weight = rng.choice([0.0, 0.5, 1.0, 3.0], size=n)
    return X, y, weight


def _batch_loss(clf, X, y, weight=None):
    """``get_loss`` of one training batch, as fit computes it."""
    logits = clf.module_(torch.as_tensor(X))
    X_in = X if weight is None else WeightedInput(X, torch.as_tensor(weight))
    loss = clf.get_loss(logits, torch.as_tensor(y), X=X_in, training=True)
    return loss, clf._batch_terms_


@pytest.mark.parametrize("level", ["class", "instance"])
def test_zero_one_weights_give_the_loss_of_the_kept_rows(level):
    X, y, _ = _data()
    extra = {"module__return_embeddings": True} if level == "instance" else {}
    clf = CRLClassifier(level=level, memory_size=0, **FAST, **extra).fit(X, y)
    keep = np.random.default_rng(1).random(len(y)) < 0.6
    weighted, (ce_w, crl_w) = _batch_loss(clf, X, y, keep.astype(float))
    kept, (ce_k, crl_k) = _batch_loss(clf, X[keep], y[keep])
    torch.testing.assert_close(ce_w, ce_k)
    torch.testing.assert_close(crl_w, crl_k)
    assert crl_k > 0  # the batch mines something
    torch.testing.assert_close(weighted, kept)


def test_multilabel_zero_one_weights_give_the_loss_of_the_kept_rows():
    X, y, _ = _data()
    Y = np.column_stack([y > 0, X[:, 2] > 0.8]).astype(np.float32)
    clf = CRLMultiLabelClassifier(memory_size=0, class_weight="balanced", **FAST)
    clf.fit(X, Y)
    keep = np.random.default_rng(2).random(len(y)) < 0.6
    weighted, _ = _batch_loss(clf, X, Y, keep.astype(float))
    kept, _ = _batch_loss(clf, X[keep], Y[keep])
    torch.testing.assert_close(weighted, kept)


def test_integer_weights_are_repeated_rows_for_the_cross_entropy():
    X, y, _ = _data()
    clf = CRLClassifier(alpha=0.0, class_weight="balanced", **FAST).fit(X, y)
    counts = np.random.default_rng(3).integers(0, 4, size=len(y))
    weighted, _ = _batch_loss(clf, X, y, counts.astype(float))
    repeated, _ = _batch_loss(clf, np.repeat(X, counts, axis=0), np.repeat(y, counts))
    torch.testing.assert_close(weighted, repeated)


class Recording(CRLClassifier):
    """Records the weight each row arrives with in get_loss."""

    seen: list

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if training and isinstance(X, WeightedInput):
            type(self).seen.append((X.X[:, 3].numpy().copy(), X.weight.numpy().copy()))
        return super().get_loss(y_pred, y_true, X=X, training=training)


@pytest.mark.parametrize(
    "extra",
    [{}, {"iterator_train": ClassAwareDataLoader}, {"train_split": ValidSplit(4)}],
    ids=["shuffled", "class-aware", "split"],
)
def test_weights_travel_with_their_rows(extra):
    X, y, _ = _data()
    X[:, 3] = np.arange(len(X))  # each row names itself
    weight = np.arange(len(X)) % 7 + 0.5
    Recording.seen = []
    Recording(**FAST, **extra).fit(X, y, sample_weight=weight)
    rows = np.concatenate([r for r, _ in Recording.seen]).astype(int)
    arrived = np.concatenate([w for _, w in Recording.seen])
    np.testing.assert_allclose(arrived, weight[rows])
    assert len(set(rows)) > len(X) // 2


def test_the_validation_score_uses_the_weights():
    X, y, weight = _data()
    split = ValidSplit(KFold(4))
    clf = CRLClassifier(train_split=split, **FAST).fit(X, y, sample_weight=weight)
    _, valid = next(KFold(4).split(X))
    expected = accuracy_score(
        y[valid], clf.predict(X[valid]), sample_weight=weight[valid]
    )
    assert clf.history[-1, "valid_acc"] == pytest.approx(expected)
    assert expected != pytest.approx(accuracy_score(y[valid], clf.predict(X[valid])))


def test_weights_change_the_model_and_the_memory_holds_them():
    X, y, weight = _data()
    plain = CRLClassifier(memory_size=64, **FAST).fit(X, y)
    weighted = CRLClassifier(memory_size=64, **FAST).fit(X, y, sample_weight=weight)
    assert not np.allclose(plain.predict_proba(X), weighted.predict_proba(X))
    memory = weighted.criterion_.crl_memory
    assert memory.weight is not None and len(memory.weight) == 64
    assert set(memory.weight.tolist()) <= set(weight.astype(np.float32).tolist())
    weighted.partial_fit(X, y, sample_weight=weight)
    assert len(weighted.history) == 2 * FAST["max_epochs"]


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        (-np.ones(120), "Negative values"),
        (np.r_[np.nan, np.ones(119)], "NaN"),
        (np.ones(119), "119"),
        (np.zeros(120), "non-zero|0 for every sample"),
    ],
)
def test_bad_weights_fail_before_training(weight, message):
    X, y, _ = _data()
    clf = CRLClassifier(**FAST)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y, sample_weight=weight)
    assert not getattr(clf, "history_", None)
    assert not hasattr(clf, "imbalance_")  # refused before anything was fitted


def test_the_callers_weights_are_not_modified():
    X, y, weight = _data()
    kept = weight.copy()
    CRLClassifier(**FAST).fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(weight, kept)


class SeesWeights(CRLClassifier):
    """Records the sample_weight that reaches fit."""

    received: list

    def fit(self, X, y, sample_weight=None, **fit_params):
        type(self).received.append(sample_weight)
        return super().fit(X, y, sample_weight=sample_weight, **fit_params)


def test_metadata_routing_in_a_pipeline_a_search_and_cross_validation():
    X, y, weight = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        SeesWeights.received = []
        clf = SeesWeights(**FAST).set_fit_request(sample_weight=True)
        clf.set_score_request(sample_weight=True)  # weighted scores too
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        make_pipeline(scaler, clf).fit(X, y, sample_weight=weight)
        np.testing.assert_array_equal(SeesWeights.received[-1], weight)

        SeesWeights.received = []
        cross_validate(clf, X, y, cv=KFold(3), params={"sample_weight": weight})
        assert [len(w) for w in SeesWeights.received] == [80, 80, 80]

        SeesWeights.received = []
        search = GridSearchCV(clf, {"eta": [0.5, 1.0]}, cv=KFold(2))
        search.fit(X, y, sample_weight=weight)
        assert all(w is not None for w in SeesWeights.received)


def test_cross_validate_passes_weights_without_routing_too():
    X, y, weight = _data()
    SeesWeights.received = []
    cross_validate(
        SeesWeights(**FAST), X, y, cv=KFold(3), params={"sample_weight": weight}
    )
    assert [len(w) for w in SeesWeights.received] == [80, 80, 80]
