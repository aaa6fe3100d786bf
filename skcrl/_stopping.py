"""When ``fit`` stops: scikit-learn's rule (``early_stopping``,
``validation_fraction``, ``n_iter_no_change``, ``tol``), the held-out part it
monitors, and the skorch callback that applies it."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state
from skorch.callbacks import Callback

__all__ = ["AUTO_ROWS", "StoppingPlan", "StoppingRule", "plan_stopping"]

#: ``early_stopping="auto"`` turns the rule on above this many training rows, as
#: HistGradientBoostingClassifier's does: on smaller data a held-out part costs
#: the network more than the epochs it saves (docs: user_guide/tuning).
AUTO_ROWS = 10_000


class StoppingPlan(NamedTuple):
    """The rule of one ``fit``: the history key it reads, and scikit-learn's
    patience and tolerance."""

    monitor: str
    n_iter_no_change: int
    tol: float

    @property
    def restore_best(self):
        """Whether the best epoch's parameters are restored at the end: on a
        validation part, as MLPClassifier's early stopping does."""
        return self.monitor == "valid_loss"


def uses_rule(early_stopping, n_samples):
    """Whether ``early_stopping`` (True, False or ``"auto"``) is on for a fit on
    ``n_samples`` rows."""
    if early_stopping == "auto":
        return n_samples > AUTO_ROWS
    return bool(early_stopping)


def plan_stopping(net, n_samples, user_split):
    """The :class:`StoppingPlan` of a ``fit`` on ``n_samples`` rows, or None for a
    fixed budget of ``max_epochs``.

    A validation part of the user's (``train_split``) is monitored as it is;
    otherwise ``validation_fraction`` of the rows is held out, or, when it is
    None, the training loss is monitored (MLPClassifier's rule without
    ``early_stopping``), and the last epoch's parameters are kept."""
    if not uses_rule(net.early_stopping, n_samples):
        return None
    validated = user_split or net.validation_fraction is not None
    return StoppingPlan(
        monitor="valid_loss" if validated else "train_loss",
        n_iter_no_change=net.n_iter_no_change,
        tol=net.tol,
    )


def stratified_holdout(y, fraction, random_state, caller):
    """Indices ``(train, valid)`` with ``fraction`` of the rows of every class of
    ``y`` (encoded labels, or a 0/1 indicator matrix) in ``valid``.

    Each class puts ``round(fraction * n_c)`` of its ``n_c`` rows in the
    validation part, at least one and at most ``n_c - 1``, so that both parts
    keep every class. For an indicator matrix the rows are drawn at random and
    then moved, one at a time, until every attribute has a positive on both
    sides. Where that is impossible (a class or an attribute with a single
    positive) a ValueError says so."""
    rng = check_random_state(random_state)
    y = np.asarray(y)
    advice = (
        "Set validation_fraction=None to monitor the training loss instead, "
        "early_stopping=False for a fixed number of epochs, or pass a "
        "train_split of your own."
    )
    if y.ndim == 2:
        return _multilabel_holdout(y, fraction, rng, caller, advice)
    valid = []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        if rows.size < 2:
            raise ValueError(
                f"{caller} holds out a stratified validation_fraction="
                f"{fraction:g} for early stopping, but class {label} has a single "
                f"sample, which cannot be in both parts. {advice}"
            )
        n_valid = int(np.clip(round(fraction * rows.size), 1, rows.size - 1))
        valid.append(rows[:n_valid])
    valid = np.sort(np.concatenate(valid))
    return np.setdiff1d(np.arange(len(y)), valid), valid


def _multilabel_holdout(Y, fraction, rng, caller, advice):
    positives = Y.sum(axis=0)
    if (positives < 2).any():
        attribute = int(np.flatnonzero(positives < 2)[0])
        raise ValueError(
            f"{caller} holds out a validation_fraction={fraction:g} for early "
            f"stopping, but attribute {attribute} has {int(positives[attribute])} "
            f"positive sample(s): both parts need one. {advice}"
        )
    n = len(Y)
    n_valid = int(np.clip(round(fraction * n), 1, n - 1))
    in_valid = np.zeros(n, dtype=bool)
    in_valid[rng.permutation(n)[:n_valid]] = True
    # A move can take an earlier attribute's only positive from one side; a few
    # passes settle it, and an attribute with two positives always can be.
    for _ in range(10):
        moved = False
        for attribute in range(Y.shape[1]):
            rows = np.flatnonzero(Y[:, attribute] == 1)
            side = in_valid[rows]
            if side.all() or not side.any():
                in_valid[rng.choice(rows)] = not side.all()
                moved = True
        if not moved:
            return np.flatnonzero(~in_valid), np.flatnonzero(in_valid)
    raise ValueError(
        f"{caller} could not hold out a validation part with a positive of every "
        f"attribute on both sides. {advice}"
    )


class StoppingRule(Callback):
    """Stop ``fit`` when the monitored loss has not improved by more than ``tol``
    for ``n_iter_no_change`` epochs in a row, scikit-learn's rule.

    A default callback of the estimators (name ``"stopping"``), configured by
    their ``early_stopping``, ``validation_fraction``, ``n_iter_no_change`` and
    ``tol`` at each ``fit`` (``partial_fit`` trains one epoch and stops nothing).
    As in :class:`~sklearn.neural_network.MLPClassifier`, an epoch counts as no
    improvement when its loss is above the best so far minus ``tol``, and the
    best is the lowest loss seen. On a validation part the best epoch's
    parameters are restored when training ends; on the training loss the last
    epoch's stay.

    The decision is taken at the end of an epoch, after every scoring callback
    has written it to the history; training stops before the next epoch begins
    (:meth:`~skcrl.CRLClassifier.on_epoch_begin`), so that every callback,
    ``print_log`` included, has seen the last epoch.
    """

    def initialize(self):
        self.plan_ = None
        self.stop_ = False
        self.best_loss_ = None
        self.best_epoch_ = None
        self._best_parameters = None
        self._no_improvement = 0
        return self

    def on_train_begin(self, net, **kwargs):
        self.initialize()
        self.plan_ = getattr(net, "_stopping_plan_", None)

    def on_epoch_end(self, net, **kwargs):
        plan = self.plan_
        if plan is None:
            return
        loss = net.history[-1].get(plan.monitor)
        if loss is None:
            raise ValueError(
                f"The stopping rule monitors {plan.monitor!r}, which the history "
                "does not hold: keep the default callback of that name."
            )
        if self.best_loss_ is not None and loss > self.best_loss_ - plan.tol:
            self._no_improvement += 1
        else:
            self._no_improvement = 0
        if self.best_loss_ is None or loss < self.best_loss_:
            self.best_loss_ = float(loss)
            self.best_epoch_ = int(net.history[-1]["epoch"])
            if plan.restore_best:
                # kept on the module's device: no copy to the host per epoch
                self._best_parameters = {
                    name: value.detach().clone()
                    for name, value in net.module_.state_dict().items()
                }
        self.stop_ = self._no_improvement >= plan.n_iter_no_change

    def on_train_end(self, net, **kwargs):
        if self._best_parameters is not None:
            net.module_.load_state_dict(self._best_parameters)
            self._best_parameters = None
