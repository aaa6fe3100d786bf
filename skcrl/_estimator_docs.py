"""The shared parameters' documentation of both estimators, and their
signature."""

from __future__ import annotations

import inspect

from ._base import _CRLNet
from ._checks import (
    BALANCE_PARAMETER_DOCS,
    CRL_PARAMETER_DOCS,
)
from ._docstrings import with_docs


def with_shared_signature(cls):
    """Show :class:`_CRLNet`'s keyword arguments in ``cls``'s own signature (for
    ``help``, IDEs, Sphinx and scikit-learn's signature-reading checks) and its
    shared parameters in ``cls``'s docstring."""
    own = inspect.signature(cls.__init__)
    shared = inspect.signature(_CRLNet.__init__).parameters.values()
    head = [p for p in own.parameters.values() if p.kind != p.VAR_KEYWORD]
    names = {p.name for p in head}
    tail = [p for p in shared if p.kind == p.KEYWORD_ONLY and p.name not in names]
    cls.__init__.__signature__ = own.replace(
        parameters=[*head, *tail, own.parameters["kwargs"]]
    )
    return with_docs(
        crl_parameters=_CRL_PARAMETERS,
        training_parameters=_TRAINING_PARAMETERS,
        stopping_attributes=_STOPPING_ATTRIBUTES,
    )(cls)


_CRL_PARAMETERS = (
    """\
    eta : float, default={default_eta}
        ``alpha = min(1, eta * imbalance_)`` when ``alpha`` is None. This default,
        ``logit_adjustment``'s and ``memory_size``'s were chosen together by a
        written protocol on the training parts of fifteen offline tasks, with
        class weights and sample weights on top of them checked too (user
        guide, "How the defaults were chosen"; ``benchmarks/protocol_defaults.py``).
    alpha : float in [0, 1], default=None
        Fixed weight of the CRL term, overriding ``eta``.
"""
    + CRL_PARAMETER_DOCS
    + BALANCE_PARAMETER_DOCS.replace(
        "in validation or prediction.",
        "in validation or prediction. It lives in ``criterion_`` (as\n"
        "        ``criterion_.crl_memory``), so that skorch's ``Checkpoint``\n"
        "        saves it; ``fit`` empties it, ``partial_fit`` and a warm start\n"
        "        keep it.",
    )
)

_TRAINING_PARAMETERS = """\
    balanced_proba : bool, default={default_balanced_proba}
        What ``predict_proba`` returns. False: the probabilities the
        cross-entropy term was fitted to, those of the logits shifted by
        ``logit_adjustment`` (SPEC §8), calibrated to the class distribution
        of the training labels as a plain cross-entropy model's are (with
        ``class_weight`` or ``sample_weight``: to the distribution the weighted
        loss saw, as in scikit-learn). True: the class-balanced probabilities
        of the raw logits, on which ``predict`` decides either way. Without a
        logit adjustment (``logit_adjustment=0``, or weights that balance the
        classes) the two are the same.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch shuffling and dropout of each ``fit``
        without touching the global torch random state. None: the global state.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default={default_lr}
    max_epochs : int, default={default_max_epochs}
        The number of epochs of ``fit``; with the stopping rule on, the most.
        The learning rate, batch size, epochs and the default MLP (one hidden
        layer of 128, standardised input) are the budget the comparison and
        the suite measure, chosen by ``benchmarks/protocol_budget.py`` (user
        guide, "How the defaults were chosen").
    batch_size : int, default={default_batch_size}
    early_stopping : "auto" or bool, default={default_early_stopping}
        scikit-learn's stopping rule (:class:`~skcrl.StoppingRule`): stop when
        the monitored loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs. ``"auto"``: on above 10,000 training rows,
        as HistGradientBoostingClassifier's. Off by default: on the protocol's
        tasks, the large one included, a held-out part cost balanced accuracy
        and the rule on the training loss bought none for twice the time.
        ``partial_fit`` never stops early.
    validation_fraction : float in (0, 1) or None, default={default_validation_fraction}
        With the rule on, the share of each class held out (stratified, seeded
        by ``random_state``; multi-label: every attribute keeps positives on
        both sides) whose loss is monitored, the best epoch's parameters being
        restored at the end. None: the training loss is monitored and the last
        epoch's parameters kept, as MLPClassifier does without
        ``early_stopping``. A ``train_split`` of yours is monitored instead.
        Behind a sampler the held-out rows are drawn from the resampled ones.
    n_iter_no_change : int, default={default_n_iter_no_change}
    tol : float, default={default_tol}
    train_split : callable or None, default=None
        No internal validation split, as for scikit-learn estimators (inside
        cross-validation a second split would take minority samples away).
    verbose : int, default={default_verbose}
        Print skorch's epoch table when 1.
    iterator_train__shuffle : bool, default=True
        Shuffle training batches: resampled data arrive sorted by class.
    **kwargs
        Any other :class:`skorch.NeuralNet` argument (``device``, ``callbacks``,
        ``warm_start``, ``module__*``, ``optimizer__*``, ``iterator_train__*``...).
"""

_STOPPING_ATTRIBUTES = """\
    n_iter_ : int
        Epochs trained, all calls together (``len(history_)``).
    best_epoch_, best_loss_ : int or None, float or None
        With the stopping rule on (``early_stopping``), the epoch of the lowest
        monitored loss and that loss (on the held-out part, whose best epoch's
        parameters the module holds; or on the training loss); None without it.
"""
