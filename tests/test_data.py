"""Whole batches from array input (skcrl._data) and alpha = 0 without CRL."""

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset, ValidSplit
from torch.utils.data import default_collate

import skcrl._criterion
from skcrl import (
    ClassAwareDataLoader,
    ClassRectificationLoss,
    CRLClassifier,
    CRLMultiLabelClassifier,
)
from skcrl._data import ArrayDataset


class PerSampleDataset(Dataset):
    """skorch's own Dataset under another name: the estimators leave it alone."""


def _data(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = np.where(X[:, 0] > 0.9, "rare", "common")
    return X, y


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"iterator_train": ClassAwareDataLoader},
        {"train_split": ValidSplit(3, stratified=True)},
    ],
)
def test_whole_batches_train_the_same_model(extra):
    X, y = _data()
    common = dict(max_epochs=3, batch_size=16, random_state=0, **extra)
    fast = CRLClassifier(**common).fit(X, y)
    assert isinstance(fast.get_dataset(X), ArrayDataset)
    slow = CRLClassifier(dataset=PerSampleDataset, **common).fit(X, y)
    assert not isinstance(slow.get_dataset(X), ArrayDataset)
    np.testing.assert_array_equal(fast.predict_proba(X), slow.predict_proba(X))


def test_multilabel_batches_keep_their_dtype():
    X, _ = _data()
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1.0]).astype(int)
    fast = CRLMultiLabelClassifier(max_epochs=2, random_state=0).fit(X, Y)
    slow = CRLMultiLabelClassifier(
        dataset=PerSampleDataset, max_epochs=2, random_state=0
    ).fit(X, Y)
    np.testing.assert_array_equal(fast.predict_proba(X), slow.predict_proba(X))


def test_a_user_collate_still_gets_samples():
    X, y = _data()
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return default_collate(samples)

    clf = CRLClassifier(
        max_epochs=1, batch_size=50, iterator_train__collate_fn=collate
    ).fit(X, y)
    assert seen == [50, 50, 50]
    assert clf.predict(X).shape == (150,)


def test_alpha_zero_computes_no_crl(monkeypatch):
    X, y = _data()

    def refuse(*args, **kwargs):
        raise AssertionError("the CRL term computed with alpha = 0")

    monkeypatch.setattr(skcrl._criterion, "crl_with_memory", refuse)
    clf = CRLClassifier(
        alpha=0.0, logit_adjustment=0.0, memory_size=64, max_epochs=2
    ).fit(X, y)
    assert all(b["train_crl"] == 0 for e in clf.history for b in e["batches"])
    logits = clf.module_(torch.as_tensor(X))
    target = torch.as_tensor(np.searchsorted(clf.classes_, y))
    torch.testing.assert_close(
        clf.get_loss(logits, target), torch.nn.functional.cross_entropy(logits, target)
    )


@pytest.mark.parametrize("class_weight", [None, {"common": 0.5, "rare": 3.0}])
def test_estimator_and_criterion_compose_one_loss(class_weight):
    # The estimators and ClassRectificationLoss build the balanced loss in one
    # helper (skcrl._criterion.balanced_terms): the same batch gives the same
    # loss, class weights, logit adjustment and sample weights included.
    X, y = _data()
    clf = CRLClassifier(max_epochs=1, class_weight=class_weight, random_state=0)
    clf.fit(X, y)
    logits = clf.module_(torch.as_tensor(X))
    target = torch.as_tensor(np.searchsorted(clf.classes_, y))
    sample_weight = torch.linspace(0.5, 2.0, len(y))
    weight = None
    if class_weight is not None:
        weight = torch.tensor([class_weight[c] for c in clf.classes_])
    criterion = ClassRectificationLoss(
        alpha=clf.alpha_,
        weight=weight,
        logit_adjustment=clf.logit_adjustment,
        prior=torch.as_tensor(
            np.bincount(target.numpy(), minlength=2) / len(y), dtype=torch.float32
        ),
        **{name: getattr(clf, name) for name in ("k", "margin", "rho", "n_bins")},
    )
    from skcrl._inputs import WeightedInput

    torch.testing.assert_close(
        clf.get_loss(logits, target, X=WeightedInput(X, sample_weight.numpy())),
        criterion(logits, target, sample_weight=sample_weight),
    )
