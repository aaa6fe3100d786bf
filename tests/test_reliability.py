"""A diverging run says so and keeps what it had; a resumed run is the same run."""

import copy

import numpy as np
import pytest
import torch
from skorch.callbacks import Checkpoint, LoadInitState

from skcrl import (
    MLP,
    ClassAwareDataLoader,
    CRLClassifier,
    CRLMultiLabelClassifier,
    DivergenceError,
)


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0.8).astype(np.int64)
    Y = np.column_stack([y, X[:, 1] > 0.3]).astype(np.int64)
    return X, y, Y


class TurnsNaN(torch.nn.Module):
    """A linear module whose output turns NaN from its ``at``-th call on."""

    def __init__(self, at=5, n_outputs=2, crl_only=False):
        super().__init__()
        self.linear = torch.nn.Linear(4, n_outputs)
        self.at, self.calls = at, 0

    def forward(self, X):
        self.calls += 1
        out = self.linear(X)
        if self.calls >= self.at:
            out = out * torch.nan
        return out


def test_a_nan_output_stops_fit_naming_epoch_batch_and_term():
    X, y, _ = _data()
    snapshots = []

    class Recording(TurnsNaN):
        def forward(self, X):
            snapshots.append(copy.deepcopy(self.linear.state_dict()))
            return super().forward(X)

    clf = CRLClassifier(Recording, batch_size=40, max_epochs=3, random_state=0)
    with pytest.raises(DivergenceError) as error:
        clf.fit(X, y)
    message = str(error.value)
    # 3 batches per epoch: the 5th forward is epoch 2, batch 2
    assert message.startswith("Training diverged at epoch 2, batch 2: ")
    assert "the cross-entropy term is nan" in message
    assert "callbacks__divergence_guard=None" in message
    # the parameters of the last finite step: those the failing forward saw
    for name, value in clf.module_.linear.state_dict().items():
        torch.testing.assert_close(value, snapshots[-1][name])
        assert torch.isfinite(value).all()


def test_the_guard_names_the_crl_term(monkeypatch):
    X, y, _ = _data()
    clf = CRLClassifier(batch_size=40, max_epochs=2, random_state=0)
    real = CRLClassifier.get_loss

    def crl_goes_infinite(self, y_pred, y_true, X=None, training=False):
        loss = real(self, y_pred, y_true, X=X, training=training)
        ce, crl = self._batch_terms_
        self._batch_terms_ = (ce, crl + torch.inf)
        return loss

    monkeypatch.setattr(CRLClassifier, "get_loss", crl_goes_infinite)
    with pytest.raises(DivergenceError, match="epoch 1, batch 1: the CRL term is inf"):
        clf.fit(X, y)


def test_a_finite_loss_with_a_non_finite_gradient_stops_too():
    X, y, _ = _data()

    class InfiniteGradient(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, X):
            # sqrt at 0: a finite value, an infinite derivative
            return self.linear(X) + torch.sqrt(self.linear.bias.sum() * 0)

    clf = CRLClassifier(InfiniteGradient, max_epochs=1, random_state=0)
    with pytest.raises(DivergenceError, match=r"loss is finite .* but a gradient"):
        clf.fit(X, y)


def test_finite_parts_whose_sum_overflows_do_not_stop_training(monkeypatch):
    # the guard sums the terms and the gradients' norms in one number: two
    # finite terms of 3e38 overflow float32's 3.4e38 there, but nothing diverged
    X, y, _ = _data()
    real = CRLClassifier.get_loss

    def huge_terms(self, y_pred, y_true, X=None, training=False):
        loss = real(self, y_pred, y_true, X=X, training=training)
        huge = torch.tensor(3e38, dtype=torch.float32)
        self._batch_terms_ = (huge, huge)
        return loss

    monkeypatch.setattr(CRLClassifier, "get_loss", huge_terms)
    clf = CRLClassifier(batch_size=40, max_epochs=2, random_state=0).fit(X, y)
    assert len(clf.history) == 2
    assert clf.history[-1, "train_ce"] == pytest.approx(3e38)


def test_the_guard_can_be_turned_off():
    X, y, _ = _data()
    clf = CRLClassifier(
        TurnsNaN,
        batch_size=40,
        max_epochs=3,
        random_state=0,
        callbacks__divergence_guard=None,
    ).fit(X, y)
    assert np.isnan(clf.history[-1, "train_loss"])


def test_the_guard_is_a_default_callback_of_both():
    X, y, Y = _data()
    for clf, target in ((CRLClassifier(), y), (CRLMultiLabelClassifier(), Y)):
        clf.set_params(max_epochs=1).fit(X, target)
        assert "divergence_guard" in dict(clf.callbacks_)


# -- exact resume -------------------------------------------------------------

RESUMABLE = {
    "multi-class": (CRLClassifier, {}),
    "class-aware batches": (CRLClassifier, {"iterator_train": ClassAwareDataLoader}),
    "multi-label": (CRLMultiLabelClassifier, {}),
    "dropout": (CRLClassifier, {"module__dropout": 0.3}),
}


@pytest.mark.parametrize("case", list(RESUMABLE))
def test_fit_two_then_resume_two_is_fit_four(case, tmp_path):
    cls, extra = RESUMABLE[case]
    X, y, Y = _data()
    target = Y if cls is CRLMultiLabelClassifier else y
    settings = dict(batch_size=32, random_state=0, memory_size=64, **extra)
    straight = cls(max_epochs=4, **settings).fit(X, target)

    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    cls(max_epochs=2, callbacks=[checkpoint], **settings).fit(X, target)
    # a new estimator, as after a restart, loads the checkpoint and goes on
    resumed = cls(
        max_epochs=2, callbacks=[checkpoint, LoadInitState(checkpoint)], **settings
    ).fit(X, target)

    assert len(resumed.history) == 4
    np.testing.assert_allclose(
        resumed.history[:, "train_loss"], straight.history[:, "train_loss"], rtol=1e-6
    )
    np.testing.assert_allclose(
        resumed.predict_proba(X), straight.predict_proba(X), atol=1e-6
    )


def _save_and_reload(tmp_path, settings, X, y, keep_random_state=True):
    """fit 2 epochs, save_params, then a new estimator: initialize, load_params,
    partial_fit 2 epochs."""
    first = CRLClassifier(max_epochs=2, **settings).fit(X, y)
    files = {
        name: str(tmp_path / f"{name}.pt")
        for name in ("f_params", "f_optimizer", "f_criterion", "f_history")
    }
    first.save_params(**files)
    resumed = CRLClassifier(max_epochs=2, **settings).initialize()
    resumed.load_params(**files)
    if not keep_random_state:
        resumed.criterion_.crl_random_state.loaded = False
    return resumed.partial_fit(X, y)


MLP_SETTINGS = dict(
    module=MLP,
    module__n_features=4,
    module__n_classes=2,
    batch_size=32,
    random_state=0,
    memory_size=64,
)


def test_save_params_and_load_params_keep_the_random_state(tmp_path):
    X, y, _ = _data()
    straight = CRLClassifier(max_epochs=4, **MLP_SETTINGS).fit(X, y)
    resumed = _save_and_reload(tmp_path, MLP_SETTINGS, X, y)
    assert len(resumed.history) == 4
    np.testing.assert_allclose(
        resumed.predict_proba(X), straight.predict_proba(X), atol=1e-6
    )


def test_without_the_kept_random_state_a_resumed_run_differs(tmp_path):
    # what the kept state buys: without it the shuffling restarts from a new seed
    X, y, _ = _data()
    straight = CRLClassifier(max_epochs=4, **MLP_SETTINGS).fit(X, y)
    resumed = _save_and_reload(tmp_path, MLP_SETTINGS, X, y, keep_random_state=False)
    assert np.abs(resumed.predict_proba(X) - straight.predict_proba(X)).max() > 1e-4


def test_class_weights_resume_from_a_saved_criterion(tmp_path):
    # a net initialised before seeing data has no class weights yet: the saved
    # criterion brings them instead of being refused as an unexpected key
    X, y, _ = _data()
    settings = {**MLP_SETTINGS, "class_weight": "balanced"}
    straight = CRLClassifier(max_epochs=4, **settings).fit(X, y)
    resumed = _save_and_reload(tmp_path, settings, X, y)
    torch.testing.assert_close(resumed.criterion_.weight, straight.criterion_.weight)
    expected = len(y) / (2 * np.bincount(y))
    np.testing.assert_allclose(resumed.criterion_.weight.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(
        resumed.predict_proba(X), straight.predict_proba(X), atol=1e-6
    )
