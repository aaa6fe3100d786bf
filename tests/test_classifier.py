"""CRLClassifier: behaviour a scikit-learn user can notice."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline as make_imblearn_pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.dataset import ValidSplit

from skcrl import MLP, CRLClassifier

FAST = dict(max_epochs=3, batch_size=32, random_state=0)


def blobs(n_major=120, n_minor=30, n_features=4, seed=0, shift=1.5):
    rng = np.random.default_rng(seed)
    X = np.vstack(
        [
            rng.normal(0, 1, size=(n_major, n_features)),
            rng.normal(shift, 1, size=(n_minor, n_features)),
        ]
    )
    y = np.r_[np.zeros(n_major, dtype=int), np.ones(n_minor, dtype=int)]
    return X, y


X, Y = blobs()


class TwoHeaded(torch.nn.Module):
    """Returns (logits, embeddings)."""

    def __init__(self, n_features=4, n_classes=2, width=8):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(n_features, width), torch.nn.ReLU()
        )
        self.head = torch.nn.Linear(width, n_classes)

    def forward(self, x):
        embeddings = self.body(x)
        return self.head(embeddings), embeddings


class LogitsOnly(torch.nn.Module):
    def __init__(self, n_features=4, n_classes=2):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_classes)

    def forward(self, x):
        return self.linear(x)


class TinyCNN(torch.nn.Module):
    def __init__(self, n_classes=2):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.head = torch.nn.Linear(4 * 6 * 6, n_classes)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).flatten(1))


# -- parameters --------------------------------------------------------------------


def test_own_parameters_are_visible_and_clone():
    clf = CRLClassifier(
        eta=2.0, comparison="absolute", k=5, module__hidden_layer_sizes=(8,)
    )
    params = clf.get_params()
    for name, value in dict(eta=2.0, comparison="absolute", k=5, alpha=None).items():
        assert params[name] == value
    assert params["module__hidden_layer_sizes"] == (8,)
    assert params["train_split"] is None
    assert params["iterator_train__shuffle"] is True
    copy = clone(clf)
    assert copy.get_params()["k"] == 5 and copy is not clf
    copy.set_params(k=7, margin=0.2)
    assert (copy.k, copy.margin, clf.k) == (7, 0.2, 5)


def test_grid_search_over_crl_and_skorch_parameters():
    grid = {
        "eta": [0.5, 2.0],
        "comparison": ["relative", "absolute"],
        "module__hidden_layer_sizes": [(8,)],
        "lr": [0.01],
        "max_epochs": [2],
    }
    search = GridSearchCV(
        CRLClassifier(batch_size=32, random_state=0),
        grid,
        cv=StratifiedKFold(2),
        scoring="balanced_accuracy",
    ).fit(X, Y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.module_.head.in_features == 8


def test_grid_search_in_parallel():
    search = GridSearchCV(
        CRLClassifier(**FAST), {"k": [1, 5]}, cv=StratifiedKFold(2), n_jobs=2
    ).fit(X, Y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


# -- module ------------------------------------------------------------------------


def test_default_module_is_an_mlp_sized_from_the_data():
    Xw, yw = blobs(n_features=7)
    yw = np.where(np.arange(len(yw)) % 10 == 0, 2, yw)  # a third class
    clf = CRLClassifier(**FAST, module__hidden_layer_sizes=(5, 6)).fit(Xw, yw)
    assert isinstance(clf.module_, MLP)
    assert clf.module_.body[1].in_features == 7
    assert clf.module_.head.out_features == 3
    assert clf.module_.head.in_features == 6


def _crl_changes_the_model(module, level):
    """The CRL term is positive and reaches the model: two fits that differ only
    in the CRL term's comparison (which nothing else reads) end apart."""
    fits = [
        CRLClassifier(
            module, level=level, alpha=0.5, comparison=comparison, **FAST
        ).fit(X, Y)
        for comparison in ("relative", "absolute")
    ]
    assert min(fits[0].history[:, "train_crl"]) > 0
    assert np.abs(fits[0].predict_proba(X) - fits[1].predict_proba(X)).max() > 1e-3
    return fits[0]


@pytest.mark.parametrize("level", ["class", "instance"])
def test_module_returning_embeddings_works_at_both_levels(level):
    clf = _crl_changes_the_model(TwoHeaded, level)
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_default_module_returns_embeddings_at_instance_level():
    clf = _crl_changes_the_model(None, "instance")
    assert clf.module_.return_embeddings


def test_instance_level_without_embeddings_is_a_clear_error():
    with pytest.raises(ValueError, match=r"returns \(logits, embeddings\)"):
        CRLClassifier(LogitsOnly, level="instance", **FAST).fit(X, Y)


# -- labels and inputs -------------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["rare", "common"]),
        np.array([-5, 100]),
        np.array([True, False]),
        np.array([2.0, 7.0]),
    ],
)
def test_any_labels_come_back(labels):
    y = labels[Y]
    clf = CRLClassifier(**FAST).fit(X, y)
    assert list(clf.classes_) == sorted(labels.tolist())
    predicted = clf.predict(X)
    assert set(predicted.tolist()) <= set(labels.tolist())
    assert predicted.dtype == clf.classes_.dtype
    # predict is the most probable class of the balanced probabilities, in
    # classes_ order (SPEC §8)
    balanced = clf.set_params(balanced_proba=True).predict_proba(X)
    assert np.array_equal(predicted, clf.classes_[balanced.argmax(1)])


def test_validation_accuracy_with_string_labels():
    clf = CRLClassifier(**FAST, train_split=ValidSplit(4, stratified=True))
    clf.fit(X, np.array(["a", "b"])[Y])
    accuracy = clf.history[-1, "valid_acc"]
    assert 0 <= accuracy <= 1
    assert "valid_ce" in clf.history[-1] and "valid_crl" in clf.history[-1]


@pytest.mark.parametrize(
    "convert",
    [
        lambda X, y: (X.astype(np.float64), y),
        lambda X, y: (np.round(X * 10).astype(np.int64), y),
        lambda X, y: (pd.DataFrame(X, columns=list("abcd")), pd.Series(y)),
        lambda X, y: (X.tolist(), y.tolist()),
    ],
    ids=["float64", "int64", "pandas", "lists"],
)
def test_input_types(convert):
    Xc, yc = convert(X, Y)
    clf = CRLClassifier(**FAST).fit(Xc, yc)
    proba = clf.predict_proba(Xc)
    assert proba.dtype == np.float32 and proba.shape == (len(X), 2)
    assert clf.n_features_in_ == 4


def test_image_shaped_input_passes_through():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(60, 1, 6, 6))
    labels = np.r_[np.zeros(50, dtype=int), np.ones(10, dtype=int)]
    clf = CRLClassifier(TinyCNN, **FAST).fit(images, labels)
    assert clf.predict(images).shape == (60,)
    # the default MLP flattens such input
    mlp = CRLClassifier(**FAST).fit(images, labels)
    assert mlp.module_.body[1].in_features == 36


# -- imbalance, alpha, history, defaults -------------------------------------------


def test_imbalance_and_alpha():
    clf = CRLClassifier(eta=1.5, **FAST).fit(X, Y)
    # 120:30 -> 0.5 * (|0.8 - 0.5| + |0.2 - 0.5|) = 0.3; alpha = 1.5 * 0.3
    assert clf.imbalance_ == pytest.approx(0.3)
    assert clf.alpha_ == pytest.approx(0.45)
    assert CRLClassifier(eta=10, **FAST).fit(X, Y).alpha_ == 1.0
    assert CRLClassifier(alpha=0.2, eta=10, **FAST).fit(X, Y).alpha_ == 0.2


def test_history_records_both_terms_per_batch_and_epoch():
    clf = CRLClassifier(**FAST).fit(X, Y)
    alpha = clf.alpha_
    for epoch in clf.history:
        assert epoch["train_loss"] == pytest.approx(
            alpha * epoch["train_crl"] + (1 - alpha) * epoch["train_ce"], rel=1e-5
        )
        for batch in epoch["batches"]:
            assert batch["train_loss"] == pytest.approx(
                alpha * batch["train_crl"] + (1 - alpha) * batch["train_ce"], rel=1e-5
            )
    assert any(b["train_crl"] > 0 for e in clf.history for b in e["batches"])


def test_defaults_for_imbalanced_data():
    clf = CRLClassifier()
    assert clf.train_split is None
    assert clf.iterator_train__shuffle is True
    fitted = CRLClassifier(**FAST).fit(X, Y)
    np.testing.assert_allclose(fitted.predict_proba(X).sum(axis=1), 1, rtol=1e-5)
    assert len(fitted.history) == 3  # every epoch on all the data, no split


def test_training_batches_are_shuffled():
    seen = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, x):
            if self.training:
                seen.append(x[:, 0].detach().clone())
            return self.linear(x)

    Xs = np.c_[np.arange(len(X)), X[:, 1:]]
    CRLClassifier(Recorder, max_epochs=1, batch_size=len(X), random_state=0).fit(Xs, Y)
    assert not torch.equal(seen[0], torch.arange(len(X), dtype=torch.float32))


def test_random_state_makes_fits_repeatable_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    fitted = CRLClassifier(**FAST, module__dropout=0.3).fit(X, Y)
    assert torch.equal(torch.get_rng_state(), before)
    # (prediction draws from it: every DataLoader iterator takes a base seed)
    first = fitted.predict_proba(X)
    second = CRLClassifier(**FAST, module__dropout=0.3).fit(X, Y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = CRLClassifier(**{**FAST, "random_state": 1}).fit(X, Y).predict_proba(X)
    assert not np.array_equal(first, other)


def test_class_weight():
    balanced = CRLClassifier(class_weight="balanced", **FAST).fit(X, Y)
    # n / (C * count): 150 / (2 * 120), 150 / (2 * 30)
    np.testing.assert_allclose(balanced.class_weight_, [0.625, 2.5])
    np.testing.assert_allclose(balanced.criterion_.weight.numpy(), [0.625, 2.5])
    by_label = CRLClassifier(class_weight={"b": 3.0}, **FAST).fit(
        X, np.array(["a", "b"])[Y]
    )
    np.testing.assert_allclose(by_label.class_weight_, [1.0, 3.0])


# -- ecosystem ---------------------------------------------------------------------


def test_sklearn_pipeline_and_cross_validate():
    pipe = make_pipeline(StandardScaler(), CRLClassifier(**FAST))
    scores = cross_validate(
        pipe, X, Y, cv=StratifiedKFold(3), scoring="balanced_accuracy"
    )
    assert scores["test_score"].shape == (3,)


@pytest.mark.parametrize("sampler", [RandomOverSampler, SMOTE, RandomUnderSampler])
def test_imblearn_pipeline_with_samplers(sampler):
    pipe = make_imblearn_pipeline(
        StandardScaler(), sampler(random_state=0), CRLClassifier(**FAST)
    )
    pipe.fit(X, Y)
    clf = pipe[-1]
    # the sampler balanced what the classifier saw
    assert clf.imbalance_ == pytest.approx(0.0)
    assert clf.alpha_ == 0.0
    assert pipe.predict(X).shape == (len(X),)


def test_calibrated_classifier():
    calibrated = CalibratedClassifierCV(CRLClassifier(**FAST), cv=2).fit(X, Y)
    assert calibrated.predict_proba(X).shape == (len(X), 2)


def test_pickle_round_trip():
    clf = CRLClassifier(**FAST).fit(X, np.array(["a", "b"])[Y])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert list(restored.classes_) == ["a", "b"]


def test_save_and_load_params(tmp_path):
    clf = CRLClassifier(**FAST).fit(X, Y)
    clf.save_params(f_params=tmp_path / "params.pt")
    fresh = CRLClassifier(**{**FAST, "max_epochs": 0}).fit(X, Y)
    assert not np.array_equal(fresh.predict_proba(X), clf.predict_proba(X))
    fresh.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))


def test_warm_start_continues_and_cold_start_restarts():
    warm = CRLClassifier(**FAST, warm_start=True).fit(X, Y)
    weights = warm.module_.head.weight.detach().clone()
    warm.fit(X, Y)
    assert len(warm.history) == 6
    assert not torch.equal(weights, warm.module_.head.weight)
    cold = CRLClassifier(**FAST).fit(X, Y).fit(X, Y)
    assert len(cold.history) == 3


def test_partial_fit_accumulates_epochs():
    clf = CRLClassifier(**FAST)
    clf.partial_fit(X, Y)
    clf.partial_fit(X, Y)
    assert len(clf.history) == 6
    with pytest.raises(ValueError, match="unknown"):
        clf.partial_fit(X, Y + 5)


def test_partial_fit_with_classes_absent_from_the_first_batch():
    clf = CRLClassifier(**FAST).partial_fit(X, Y, classes=[0, 1, 2])
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.predict_proba(X).shape == (len(X), 3)


# -- bad input ---------------------------------------------------------------------


def _with_nan():
    bad = X.copy()
    bad[3, 1] = np.nan
    return bad


def _with_inf():
    bad = X.copy()
    bad[0, 0] = np.inf
    return bad


@pytest.mark.parametrize(
    ("params", "X_bad", "y_bad", "match"),
    [
        ({}, _with_nan(), Y, "NaN"),
        ({}, _with_inf(), Y, "infinity"),
        ({}, np.empty((0, 4)), np.empty(0), "0 sample"),
        ({}, X, Y[:-1], "inconsistent numbers of samples"),
        ({}, X, np.zeros(len(Y)), "single class"),
        ({}, X, np.c_[Y, Y], "CRLMultiLabelClassifier"),
        ({}, X, np.linspace(0, 1, len(Y)), "continuous"),
        ({}, X, None, "requires y"),
        (dict(level="pixel"), X, Y, "level"),
        (dict(comparison="cosine"), X, Y, "comparison"),
        (dict(k=0), X, Y, "'k' parameter"),
        (dict(k=True), X, Y, "k must be an int"),
        (dict(eta=-1.0), X, Y, "'eta' parameter"),
        (dict(alpha=1.5), X, Y, "'alpha' parameter"),
        (dict(rho=0.0), X, Y, "'rho' parameter"),
        (dict(rho=1.2), X, Y, "'rho' parameter"),
        (dict(class_weight={7: 2.0}), X, Y, "class_weight has keys"),
        (dict(class_weight="inverse"), X, Y, "class_weight"),
    ],
)
def test_bad_input_fails_before_training(params, X_bad, y_bad, match):
    clf = CRLClassifier(**FAST, **params)
    X_copy = None if X_bad is None else np.array(X_bad, copy=True)
    with pytest.raises((ValueError, TypeError), match=match):
        clf.fit(X_bad, y_bad)
    assert not clf.history or len(clf.history) == 0
    np.testing.assert_array_equal(X_bad, X_copy)


def test_inputs_are_not_modified():
    Xf = X.astype(np.float64)
    Xc, yc = Xf.copy(), Y.copy()
    CRLClassifier(**FAST).fit(Xf, Y).predict(Xf)
    np.testing.assert_array_equal(Xf, Xc)
    np.testing.assert_array_equal(Y, yc)


def test_predict_checks_the_number_of_features():
    clf = CRLClassifier(**FAST).fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


# -- the effect --------------------------------------------------------------------


def test_crl_raises_minority_recall_over_cross_entropy():
    """1:20 imbalance, same module, seed and epochs: only the loss differs."""
    gains = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        X_train = np.vstack(
            [rng.normal(0, 1, (1000, 10)), rng.normal(0.8, 1, (50, 10))]
        )
        y_train = np.r_[np.zeros(1000, dtype=int), np.ones(50, dtype=int)]
        X_test = np.vstack([rng.normal(0, 1, (300, 10)), rng.normal(0.8, 1, (300, 10))])
        y_test = np.r_[np.zeros(300, dtype=int), np.ones(300, dtype=int)]
        recalls = []
        for alpha in (0.0, 0.9):
            # the paper's loss alone: neither adjustment nor memory
            clf = CRLClassifier(
                alpha=alpha,
                logit_adjustment=0.0,
                memory_size=0,
                max_epochs=15,
                random_state=seed,
            )
            clf.fit(X_train, y_train)
            recalls.append(recall_score(y_test, clf.predict(X_test)))
        gains.append(recalls[1] - recalls[0])
    assert min(gains) > 0.05
    assert np.mean(gains) > 0.25


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("level", ["class", "instance"])
def test_cuda(level):
    clf = CRLClassifier(TwoHeaded, level=level, device="cuda", **FAST).fit(X, Y)
    assert next(clf.module_.parameters()).is_cuda
    assert clf.predict(X).shape == (len(X),)
    cpu = CRLClassifier(TwoHeaded, level=level, **FAST).fit(X, Y)
    assert np.mean(cpu.predict(X) == clf.predict(X)) > 0.9
