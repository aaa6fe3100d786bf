"""The class-aware batches: epoch length kept, pairs of several classes per batch."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import StratifiedKFold, cross_validate
from skorch import NeuralNetClassifier

from skcrl import (
    ClassAwareBatchSampler,
    ClassAwareDataLoader,
    CRLClassifier,
    CRLMultiLabelClassifier,
)

LABELS = np.repeat([0, 1, 2, 3, 4], [300, 60, 20, 8, 3])  # 1:100


@pytest.mark.parametrize("batch_size", [16, 32, 100])
@pytest.mark.parametrize("classes_per_batch", [2, 3, 5])
def test_every_batch_holds_pairs_of_several_classes(batch_size, classes_per_batch):
    torch.manual_seed(0)
    sampler = ClassAwareBatchSampler(
        LABELS, batch_size, classes_per_batch=classes_per_batch
    )
    batches = list(sampler)
    # the epoch of a plain shuffled DataLoader: same number and sizes of batches
    plain = list(torch.utils.data.DataLoader(range(len(LABELS)), batch_size=batch_size))
    assert [len(b) for b in batches] == [len(b) for b in plain]
    assert len(sampler) == len(plain)
    for batch in batches:
        counts = np.bincount(LABELS[batch], minlength=5)
        wanted = min(classes_per_batch, len(batch) // 2)
        assert np.sum(counts >= 2) >= wanted
        assert all(0 <= i < len(LABELS) for i in batch)


def test_rare_classes_come_in_pairs_where_random_batches_miss_them():
    torch.manual_seed(0)
    batches = list(ClassAwareBatchSampler(LABELS, 32, classes_per_batch=5))
    # 391 samples: 12 batches of 32, each with a pair of every class, then 7
    # samples with room for 3 pairs
    assert len(batches) == 13
    assert all(np.sum(LABELS[b] == 4) >= 2 for b in batches[:-1])
    # (a shuffled epoch puts the 3 tail samples in at most 3 of its 13 batches)


def test_classes_too_small_for_a_pair_are_left_to_the_fill():
    sampler = ClassAwareBatchSampler([0] * 30 + [1], 8, classes_per_batch=2)
    assert sampler.classes_per_batch == 1
    torch.manual_seed(0)
    assert sum(len(b) for b in sampler) == 31


def test_seeded_by_torch():
    torch.manual_seed(5)
    first = list(ClassAwareBatchSampler(LABELS, 32))
    torch.manual_seed(5)
    assert list(ClassAwareBatchSampler(LABELS, 32)) == first


def test_bad_arguments():
    with pytest.raises(ValueError, match="1-D classes or a 2-D"):
        ClassAwareBatchSampler(np.zeros((4, 2, 1)), 2)
    with pytest.raises(ValueError, match="batch_size"):
        ClassAwareBatchSampler([0, 1], 0)


def _data(n_major=200, n_minor=10, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n_major, 4)), rng.normal(2, 1, (n_minor, 4))])
    y = np.r_[np.zeros(n_major, dtype=int), np.ones(n_minor, dtype=int)]
    return X.astype(np.float32), y


def test_loader_with_crl_classifier_mines_every_batch():
    X, y = _data()
    clf = CRLClassifier(
        iterator_train=ClassAwareDataLoader,
        iterator_train__classes_per_batch=2,
        batch_size=32,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    batches = [b for epoch in clf.history for b in epoch["batches"]]
    assert len(batches) == 2 * 7  # ceil(210 / 32) per epoch
    # every batch holds two samples of the minority class: CRL is never 0
    assert all(b["train_crl"] > 0 for b in batches)


def test_loader_with_a_plain_skorch_net_and_cross_validation():
    X, y = _data()

    class Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.linear(x)

    net = NeuralNetClassifier(
        Linear,
        criterion=torch.nn.CrossEntropyLoss,
        iterator_train=ClassAwareDataLoader,
        iterator_train__shuffle=True,
        train_split=None,
        batch_size=16,
        max_epochs=1,
        verbose=0,
    )
    # each fold builds its sampler from its own training labels
    scores = cross_validate(net, X, y, cv=StratifiedKFold(3), scoring="accuracy")
    assert np.isfinite(scores["test_score"]).all()


def test_attribute_batches_hold_pairs_of_rare_attribute_values():
    rng = np.random.default_rng(0)
    # rates 50 %, 10 %, 2 % (positives rare), and 96 % (its negatives rare)
    attributes = (rng.random((500, 4)) < [0.5, 0.1, 0.02, 0.96]).astype(np.float32)
    torch.manual_seed(0)
    sampler = ClassAwareBatchSampler(attributes, 32, classes_per_batch=3)
    rare_value = np.array([1, 1, 1, 0])  # column 0: its positives (49 %) are rarer
    assert attributes[:, 0].mean() < 0.5
    batches = list(sampler)
    assert [len(b) for b in batches] == [32] * 15 + [20]
    held = np.array([(attributes[b] == rare_value).sum(axis=0) >= 2 for b in batches])
    # every batch holds two samples of the rare value of three attributes
    assert (held.sum(axis=1) >= 3).all()
    # the 2 % attribute comes in pairs in at least as many batches as its turn gives
    assert held[:, 2].sum() >= len(batches) * 3 // 4 - 1


def test_loader_with_the_multilabel_classifier():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1.4]).astype(int)
    clf = CRLMultiLabelClassifier(
        iterator_train=ClassAwareDataLoader,
        iterator_train__classes_per_batch=2,
        max_epochs=2,
        batch_size=16,
        random_state=0,
    ).fit(X, Y)
    # the rare attribute's pairs are in every batch, so CRL acts in every batch
    assert all(b["train_crl"] > 0 for b in clf.history[-1, "batches"])
