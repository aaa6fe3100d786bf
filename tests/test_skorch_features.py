"""skorch's features on both estimators, with CRL's own history keys: splits,
checkpoints, early stopping, schedulers, whole-set batches, LBFGS, gradient
accumulation, progress bars."""

import numpy as np
import pytest
import torch
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    LoadInitState,
    LRScheduler,
    PrintLog,
    ProgressBar,
)
from skorch.dataset import ValidSplit

from skcrl import CRLClassifier, CRLMultiLabelClassifier

FAST = dict(max_epochs=3, batch_size=32, random_state=0)


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0.8).astype(np.int64)
    Y = np.column_stack([y, X[:, 1] > 0]).astype(np.int64)
    return X, y, Y


ESTIMATORS = {
    "multi-class": (CRLClassifier, "valid_acc", 1),
    "multi-label": (CRLMultiLabelClassifier, "valid_mean_bacc", 2),
}


@pytest.fixture(params=list(ESTIMATORS))
def estimator(request):
    cls, score, columns = ESTIMATORS[request.param]
    X, y, Y = _data()
    return cls, score, X, (y if columns == 1 else Y)


def _terms_add_up(history, prefix, alpha):
    for epoch in history:
        for batch in epoch["batches"]:
            if f"{prefix}_loss" in batch:
                expected = (
                    alpha * batch[f"{prefix}_crl"] + (1 - alpha) * batch[f"{prefix}_ce"]
                )
                assert batch[f"{prefix}_loss"] == pytest.approx(expected, rel=1e-5)


def test_validation_split_records_the_terms(estimator):
    cls, score, X, y = estimator
    clf = cls(train_split=ValidSplit(4, stratified=False), **FAST).fit(X, y)
    last = clf.history[-1]
    for key in ("train_ce", "train_crl", "valid_ce", "valid_crl", score):
        assert np.isfinite(last[key])
    _terms_add_up(clf.history, "train", clf.alpha_)
    _terms_add_up(clf.history, "valid", clf.alpha_)
    # skorch's default callbacks, by skorch's names, the divergence guard and
    # the stopping rule
    names = [name for name, _ in clf.callbacks_]
    expected = ["epoch_timer", "train_loss", "valid_loss", score, "divergence_guard"]
    assert names == [*expected, "stopping", "print_log"]


def test_checkpoint_and_load_init_state_without_a_split(estimator, tmp_path):
    cls, _, X, y = estimator
    checkpoint = Checkpoint(monitor="train_loss_best", dirname=str(tmp_path))
    first = cls(callbacks=[checkpoint], **FAST).fit(X, y)
    assert (tmp_path / "params.pt").exists()
    best = int(np.argmin(first.history[:, "train_loss"]))
    resumed = cls(
        callbacks=[LoadInitState(checkpoint)],
        warm_start=True,
        **{**FAST, "max_epochs": 1},
    )
    resumed.fit(X, y)
    # the history continues from the checkpoint's epoch
    assert len(resumed.history) == best + 2


def test_early_stopping_on_the_training_loss(estimator):
    cls, _, X, y = estimator
    stop = EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    clf = cls(callbacks=[stop], **{**FAST, "max_epochs": 20}).fit(X, y)
    assert len(clf.history) == 2


def test_lr_scheduler(estimator):
    cls, _, X, y = estimator
    scheduler = LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    clf = cls(lr=0.01, callbacks=[scheduler], **FAST).fit(X, y)
    assert clf.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**3)


def test_whole_set_batches_and_lbfgs(estimator):
    cls, _, X, y = estimator
    clf = cls(optimizer=torch.optim.LBFGS, lr=0.5, **{**FAST, "batch_size": -1}).fit(
        X, y
    )
    sizes = clf.history[:, "batches", :, "train_batch_size"]
    assert sizes == [[len(X)]] * FAST["max_epochs"]
    assert clf.history[-1, "train_loss"] < clf.history[0, "train_loss"]


def test_gradient_accumulation_recipe(estimator):
    # skorch's documented recipe: scale the loss, step every n batches
    cls, _, X, y = estimator
    steps = []

    class Accumulating(cls):
        def get_loss(self, *args, **kwargs):
            return super().get_loss(*args, **kwargs) / 2

        def train_step(self, batch, **fit_params):
            step = self.train_step_single(batch, **fit_params)
            if len(self.history[-1, "batches"]) % 2 == 0:
                steps.append(1)
                self.optimizer_.step()
                self.optimizer_.zero_grad()
            return step

    Accumulating(**FAST).fit(X, y)
    batches = int(np.ceil(len(X) / FAST["batch_size"]))
    assert len(steps) == FAST["max_epochs"] * (batches // 2)


def test_progress_bar_shows_the_terms(estimator):
    cls, _, X, y = estimator
    shown = []

    class Recording(ProgressBar):
        def on_batch_end(self, net, **kwargs):
            shown.append(self._get_postfix_dict(net))
            super().on_batch_end(net, **kwargs)

    bar = Recording(postfix_keys=["train_loss", "train_ce", "train_crl"])
    cls(callbacks=[bar], **{**FAST, "max_epochs": 1}).fit(X, y)
    assert len(shown) == 4
    assert all(set(postfix) == set(bar.postfix_keys) for postfix in shown)


def test_the_log_prints_as_skorch_when_verbose_and_builds_nothing_when_not(
    estimator, capsys, monkeypatch
):
    cls, _, X, y = estimator
    skorch_run = cls(callbacks__print_log=PrintLog(), verbose=1, **FAST).fit(X, y)
    skorch_lines = capsys.readouterr().out.splitlines()
    ours = cls(verbose=1, **FAST).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    # the same header and one row per epoch; the columns differ only by the
    # durations
    assert len(lines) == len(skorch_lines) == 2 + FAST["max_epochs"]
    assert lines[0].split() == skorch_lines[0].split()
    assert len(skorch_run.history) == len(ours.history)

    def no_table(self, row):
        raise AssertionError("the table was built")

    monkeypatch.setattr(PrintLog, "table", no_table)
    cls(**FAST).fit(X, y)  # verbose=0: nothing to print, no table built
    assert capsys.readouterr().out == ""
    printed = []
    with pytest.raises(AssertionError, match="table was built"):
        cls(callbacks__print_log__sink=printed.append, **FAST).fit(X, y)


def test_every_training_step_runs_in_training_mode(estimator):
    # a callback that puts the module in evaluation mode before each step:
    # skorch sets training mode again at every step, and so must the net
    cls, _, X, y = estimator
    modes = []

    class Evaluating(Callback):
        def on_batch_begin(self, net, training=False, **kwargs):
            net.module_.eval()

    class Recording(Callback):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            modes.append(all(m.training for m in net.module_.modules()))

    net = cls(callbacks=[Evaluating(), Recording()], **FAST).fit(X, y)
    assert modes and all(modes)
    net.predict(X)
    assert not any(m.training for m in net.module_.modules())
    net.partial_fit(X, y)  # and back, after a prediction
    assert len(modes) > len(X) // FAST["batch_size"] * FAST["max_epochs"]
    assert all(modes)
