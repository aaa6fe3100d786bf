"""skorch's own tests of ``NeuralNet`` and ``NeuralNetClassifier`` (its
``TestNeuralNet`` classes of ``test_net.py`` and ``test_classifier.py``, shipped in
its wheel) run on :class:`skcrl.CRLClassifier`.

Where CRLClassifier's defaults differ from skorch's on purpose (cross-entropy on
logits, Adam at 0.001, 20 epochs, no validation split, quiet, shuffled batches, a
divergence guard: several of skorch's tests train on NaN losses without looking),
the substitute takes skorch's, as a user porting a skorch net would write them;
CRL itself (alpha, memory, logit adjustment) stays at its defaults. The tests that
still fail are listed in ``EXPECTED_FAILURES`` with their reason and run as strict
xfails: a test that starts passing fails the suite, so the list stays exact.
"""

import pytest

pytest.importorskip("flaky", reason="skorch's tests need flaky")
pytest.importorskip("skorch.tests.test_net", reason="skorch's wheel lacks its tests")

import torch
from skorch.dataset import ValidSplit
from skorch.tests.conftest import *  # noqa: F403 (skorch's fixtures)
from skorch.tests.test_classifier import (
    TestNeuralNet as _SkorchClassifierTests,
)
from skorch.tests.test_net import TestNeuralNet as _SkorchNetTests

from skcrl import CRLClassifier


class CRLClassifierWithSkorchDefaults(CRLClassifier):
    """CRLClassifier with skorch's defaults for the arguments where it differs."""

    def __init__(
        self,
        module=None,
        *,
        criterion=torch.nn.NLLLoss,
        optimizer=torch.optim.SGD,
        lr=0.01,
        max_epochs=10,
        batch_size=128,
        train_split=ValidSplit(5, stratified=True),  # noqa: B008 (skorch's default)
        verbose=1,
        iterator_train__shuffle=False,
        callbacks__divergence_guard=None,
        callbacks__stopping=None,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            verbose=verbose,
            iterator_train__shuffle=iterator_train__shuffle,
            callbacks__divergence_guard=callbacks__divergence_guard,
            callbacks__stopping=callbacks__stopping,
            **kwargs,
        )


_NAMES_THE_CLASS = (
    "the expected message names NeuralNetClassifier; skorch writes the class's "
    "own name, here CRLClassifierWithSkorchDefaults"
)

#: test function: reason (every parametrisation of it)
EXPECTED_FAILURES = {
    "test_not_init_raises": _NAMES_THE_CLASS,
    "test_not_fitted_raises": _NAMES_THE_CLASS,
    "test_repr_uninitialized_works": _NAMES_THE_CLASS + " (in the repr)",
    "test_repr_initialized_works": _NAMES_THE_CLASS + " (in the repr)",
    "test_repr_fitted_works": _NAMES_THE_CLASS + " (in the repr)",
    "test_pass_empty_classes_raises": _NAMES_THE_CLASS
    + "; and classes=[] is refused at fit with a ValueError rather than fitting a "
    "net without classes_",
    "test_error_when_classes_could_not_be_inferred": "CRLClassifier reads the labels "
    "of a dataset whose y attribute it cannot reach in one pass over its samples, "
    "so classes_ is known (skorch raises; the message also names "
    "NeuralNetClassifier)",
    "test_net_variable_prediction_lengths": "y is a 3-D array of sequences: a "
    "classifier takes one label per sample and refuses it before training",
    "test_net_variable_label_lengths": "y is a ragged array of sequences: a "
    "classifier takes one label per sample and refuses it before training",
}

#: run on skorch's NeuralNetClassifier these fail here too: they load files made on
#: a CUDA machine that skorch's wheel does not ship
SKIPPED = {
    "test_load_cuda_params_to_cpu": "skorch's wheel lacks net_cuda.pt",
    "test_pickle_load": "skorch's wheel lacks net_cuda.pkl",
}


class TestSkorchNeuralNet(_SkorchNetTests):
    @pytest.fixture(scope="module")
    def net_cls(self):
        return CRLClassifierWithSkorchDefaults


class TestSkorchNeuralNetClassifier(_SkorchClassifierTests):
    @pytest.fixture(scope="module")
    def net_cls(self):
        return CRLClassifierWithSkorchDefaults


def test_at_most_15_tests_are_expected_to_fail(request):
    items = [
        item
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and getattr(item, "originalname", None) in EXPECTED_FAILURES
    ]
    # the list is applied (by tests/conftest.py) and stays short
    assert items and all(item.get_closest_marker("xfail") for item in items)
    assert len(items) <= 15
