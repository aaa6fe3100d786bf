"""The stopping rule (early_stopping, validation_fraction, n_iter_no_change, tol),
its held-out part, and the budget it meets in pipelines, searches and
partial_fit."""

import numpy as np
import pytest
import torch
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import ValidSplit

from skcrl import CRLClassifier, CRLMultiLabelClassifier, StoppingRule, _stopping
from skcrl._stopping import stratified_holdout


def blobs(n_major=150, n_minor=30, seed=0, shift=2.0):
    rng = np.random.default_rng(seed)
    X = np.vstack(
        [rng.normal(0, 1, (n_major, 4)), rng.normal(shift, 1, (n_minor, 4))]
    ).astype(np.float32)
    y = np.array([0] * n_major + [1] * n_minor)
    return X, y


class EpochParameters(Callback):
    """The module's parameters at the end of every epoch (a copy)."""

    def initialize(self):
        self.parameters_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.parameters_.append(
            {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
        )


def sklearn_rule(losses, n_iter_no_change, tol):
    """MLPClassifier's rule, written out: the epoch (1-based) after which
    training stops, and the epoch of the lowest loss."""
    best, best_epoch, count = np.inf, None, 0
    for epoch, loss in enumerate(losses, 1):
        if loss > best - tol:
            count += 1
        else:
            count = 0
        if loss < best:
            best, best_epoch = loss, epoch
        if count >= n_iter_no_change:
            return epoch, best_epoch
    return len(losses), best_epoch


def test_validation_rule_stops_early_and_restores_the_best_epoch():
    X, y = blobs()
    recorder = EpochParameters()
    clf = CRLClassifier(
        early_stopping=True,
        n_iter_no_change=3,
        tol=0.0,
        max_epochs=200,
        lr=0.03,
        random_state=0,
        callbacks=[("recorder", recorder)],
    ).fit(X, y)
    losses = clf.history[:, "valid_loss"]
    assert clf.n_iter_ == len(clf.history) < 200
    stop, best = sklearn_rule(losses, 3, 0.0)
    assert stop == clf.n_iter_  # it stopped where the rule says, not later
    assert clf.best_epoch_ == best == int(np.argmin(losses)) + 1
    assert clf.best_loss_ == pytest.approx(min(losses))
    kept = clf.module_.state_dict()
    restored = recorder.parameters_[clf.best_epoch_ - 1]
    last = recorder.parameters_[-1]
    assert clf.best_epoch_ < clf.n_iter_  # so that restoring changes something
    for name, value in kept.items():
        torch.testing.assert_close(value, restored[name], rtol=0, atol=0)
    assert any(not torch.equal(kept[name], last[name]) for name in kept)


def test_rule_runs_to_the_cap_when_the_loss_keeps_improving():
    X, y = blobs()
    clf = CRLClassifier(
        early_stopping=True, n_iter_no_change=10, max_epochs=6, random_state=0
    ).fit(X, y)
    assert clf.n_iter_ == 6
    stop, best = sklearn_rule(clf.history[:, "valid_loss"], 10, 1e-4)
    assert stop == 6 and clf.best_epoch_ == best


def test_training_loss_rule_keeps_the_last_epoch():
    X, y = blobs()
    recorder = EpochParameters()
    clf = CRLClassifier(
        early_stopping=True,
        validation_fraction=None,
        n_iter_no_change=2,
        tol=0.05,
        max_epochs=100,
        random_state=0,
        callbacks=[("recorder", recorder)],
    ).fit(X, y)
    assert "valid_loss" not in clf.history[-1]
    losses = clf.history[:, "train_loss"]
    stop, best = sklearn_rule(losses, 2, 0.05)
    assert clf.n_iter_ == stop < 100
    assert clf.best_epoch_ == best and clf.best_loss_ == pytest.approx(min(losses))
    # the last epoch's parameters, not the best epoch's
    for name, value in clf.module_.state_dict().items():
        torch.testing.assert_close(
            value, recorder.parameters_[-1][name], rtol=0, atol=0
        )


def test_fixed_budget_without_the_rule():
    X, y = blobs()
    clf = CRLClassifier(early_stopping=False, max_epochs=4, random_state=0).fit(X, y)
    assert clf.n_iter_ == 4 and clf.best_epoch_ is None and clf.best_loss_ is None
    assert "valid_loss" not in clf.history[-1]


def test_auto_turns_the_rule_on_above_the_row_threshold(monkeypatch):
    X, y = blobs()
    small = CRLClassifier(early_stopping="auto", max_epochs=3, random_state=0)
    small.fit(X, y)
    assert small.best_epoch_ is None and "valid_loss" not in small.history[-1]
    monkeypatch.setattr(_stopping, "AUTO_ROWS", len(y) - 1)
    large = CRLClassifier(early_stopping="auto", max_epochs=3, random_state=0)
    large.fit(X, y)
    assert large.best_epoch_ is not None and "valid_loss" in large.history[-1]


def test_auto_counts_the_rows_the_sampler_hands_over(monkeypatch):
    # 150 + 30 rows become 300 after oversampling: the rule sees 300
    X, y = blobs()
    monkeypatch.setattr(_stopping, "AUTO_ROWS", 200)
    pipeline = make_pipeline(
        RandomOverSampler(random_state=0),
        CRLClassifier(alpha=0.0, early_stopping="auto", max_epochs=2, random_state=0),
    ).fit(X, y)
    assert pipeline[-1].best_epoch_ is not None


def test_held_out_part_is_stratified_and_seeded():
    y = np.array([0] * 50 + [1] * 9 + [2] * 3)
    train, valid = stratified_holdout(y, 0.1, 0, "clf")
    assert np.bincount(y[valid]).tolist() == [5, 1, 1]  # round(0.9)=1, at least 1
    assert np.bincount(y[train]).tolist() == [45, 8, 2]
    assert set(train).isdisjoint(valid) and len(train) + len(valid) == len(y)
    again = stratified_holdout(y, 0.1, 0, "clf")
    assert np.array_equal(valid, again[1])


def test_a_class_of_one_cannot_be_held_out():
    X, y = blobs(n_minor=1)
    with pytest.raises(ValueError, match="class 1 has a single sample"):
        CRLClassifier(early_stopping=True, max_epochs=2).fit(X, y)


def test_multilabel_held_out_part_keeps_positives_of_every_attribute():
    rng = np.random.default_rng(0)
    Y = (rng.random((200, 5)) < [0.5, 0.2, 0.05, 0.02, 0.01]).astype(int)
    Y[:2, 4] = 1  # at least two positives each
    for seed in range(5):
        train, valid = stratified_holdout(Y, 0.1, seed, "clf")
        assert (Y[train].sum(axis=0) > 0).all() and (Y[valid].sum(axis=0) > 0).all()
        assert len(np.intersect1d(train, valid)) == 0
    Y[:, 4] = 0
    Y[0, 4] = 1
    with pytest.raises(ValueError, match="attribute 4 has 1 positive"):
        stratified_holdout(Y, 0.1, 0, "clf")


def test_multilabel_estimator_stops_on_its_held_out_part():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1]).astype(int)
    clf = CRLMultiLabelClassifier(
        early_stopping=True, max_epochs=5, random_state=0
    ).fit(X, Y)
    assert "valid_loss" in clf.history[-1] and clf.best_epoch_ is not None


def test_a_train_split_of_the_users_is_what_the_rule_monitors():
    X, y = blobs()
    clf = CRLClassifier(
        early_stopping=True,
        train_split=ValidSplit(0.25, stratified=True, random_state=0),
        max_epochs=4,
        random_state=0,
    ).fit(X, y)
    # skorch's split, not ours: a quarter of the rows validate
    batches = clf.history[-1, "batches"]
    assert sum(b.get("valid_batch_size", 0) for b in batches) == 45
    assert clf.best_epoch_ is not None


def test_an_early_stopping_callback_of_the_users_still_stops_first():
    X, y = blobs()
    clf = CRLClassifier(
        early_stopping=True,
        max_epochs=100,
        callbacks=[EarlyStopping(patience=1, threshold=10.0)],
        random_state=0,
    ).fit(X, y)
    assert clf.n_iter_ == 2  # skorch's callback: no 10x improvement after one epoch


def test_partial_fit_trains_max_epochs_and_stops_nothing():
    X, y = blobs()
    # a loss that cannot improve by tol would stop a fit after one epoch
    clf = CRLClassifier(early_stopping=True, n_iter_no_change=1, tol=1e9, max_epochs=3)
    clf.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 6 and clf.best_epoch_ is None
    assert "valid_loss" not in clf.history[-1]


def test_sample_weights_reach_the_held_out_part():
    X, y = blobs()
    weight = np.where(y == 1, 5.0, 1.0)
    clf = CRLClassifier(early_stopping=True, max_epochs=3, random_state=0)
    clf.fit(X, y, sample_weight=weight)
    unweighted = CRLClassifier(early_stopping=True, max_epochs=3, random_state=0)
    unweighted.fit(X, y)
    # the same split and initialisation: only the weights differ the losses
    assert clf.history[0, "valid_loss"] != unweighted.history[0, "valid_loss"]


def test_stopping_parameters_clone_search_and_are_checked():
    X, y = blobs()
    clf = CRLClassifier(early_stopping=True, n_iter_no_change=2, max_epochs=3)
    assert clone(clf).get_params()["n_iter_no_change"] == 2
    search = GridSearchCV(
        CRLClassifier(max_epochs=3, random_state=0),
        {"early_stopping": [False, True]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["early_stopping"] in (False, True)
    for bad in (
        dict(early_stopping="always"),
        dict(validation_fraction=1.0),
        dict(n_iter_no_change=0),
        dict(tol=-1.0),
    ):
        with pytest.raises(ValueError):
            CRLClassifier(max_epochs=1, **bad).fit(X, y)


def test_rule_is_a_default_callback_that_can_be_replaced():
    X, y = blobs()
    clf = CRLClassifier(max_epochs=2).fit(X, y)
    assert isinstance(dict(clf.callbacks_)["stopping"], StoppingRule)
    off = CRLClassifier(
        early_stopping=True, max_epochs=2, callbacks__stopping=None
    ).fit(X, y)
    assert off.n_iter_ == 2 and off.best_epoch_ is None
