"""Class-aware batches: every batch holds two or more samples of several classes.

CRL only acts on a batch that holds at least two samples of a minority class; under
strong imbalance most random batches hold none. These batches keep the epoch length
(the same number and sizes of batches as a plain shuffled epoch) and fill each batch
partly from per-class streams, so that rare classes appear in pairs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from ._inputs import dataset_labels

__all__ = ["ClassAwareBatchSampler", "ClassAwareDataLoader"]


class ClassAwareBatchSampler(Sampler):
    """Batches of indices with ``min_per_class`` samples of several classes each.

    Each batch first takes ``min_per_class`` samples from each of
    ``classes_per_batch`` classes, visiting the classes in turn (a reshuffled order
    each round, so rare classes come as often as common ones), then fills up from a
    shuffled pass over all samples. An epoch has as many batches, of the same sizes,
    as a plain shuffled epoch of ``len(labels)`` samples. Classes with fewer than
    ``min_per_class`` samples are left to the fill.

    Parameters
    ----------
    labels : array-like of shape (n_samples,) or (n_samples, n_attributes)
        Class of each sample of the dataset, or its 0/1 attributes: then each
        attribute's rarer value (usually its positives) plays the part of a class,
        and ``classes_per_batch`` counts attributes.
    batch_size : int
        Samples per batch (the last batch may be smaller, as without the sampler).
    classes_per_batch : int, default=None
        Classes guaranteed in each batch; by default ``batch_size // 8``, at least 2,
        at most the number of classes with ``min_per_class`` samples.
    min_per_class : int, default=2
        Samples guaranteed of each of those classes.

    Notes
    -----
    Randomness comes from torch's global generator (one draw per epoch), so a
    ``torch.manual_seed``, or the estimators' ``random_state``, fixes the batches.

    Examples
    --------
    >>> import torch
    >>> from skcrl import ClassAwareBatchSampler
    >>> labels = [0] * 95 + [1] * 5
    >>> _ = torch.manual_seed(0)
    >>> sampler = ClassAwareBatchSampler(labels, batch_size=20, classes_per_batch=2)
    >>> batches = list(sampler)
    >>> [len(b) for b in batches]
    [20, 20, 20, 20, 20]
    >>> all(sum(labels[i] == 1 for i in b) >= 2 for b in batches)
    True
    """

    def __init__(self, labels, batch_size, classes_per_batch=None, min_per_class=2):
        labels = np.asarray(labels)
        if labels.ndim not in (1, 2):
            raise ValueError(
                f"labels must be 1-D classes or a 2-D 0/1 attribute matrix, got "
                f"shape {labels.shape}."
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        self.labels = labels
        self.batch_size = int(batch_size)
        self.min_per_class = int(min_per_class)
        members = _minority_members(labels) if labels.ndim == 2 else _members(labels)
        self._members = [m for m in members if len(m) >= self.min_per_class]
        fits = self.batch_size // max(1, self.min_per_class)
        if classes_per_batch is None:
            classes_per_batch = max(2, self.batch_size // 8)
        self.classes_per_batch = int(min(classes_per_batch, len(self._members), fits))

    def __len__(self):
        return math.ceil(len(self.labels) / self.batch_size)

    def _sizes(self):
        n = len(self.labels)
        return [
            min(self.batch_size, n - start) for start in range(0, n, self.batch_size)
        ]

    def __iter__(self):
        seed = int(torch.randint(0, 2**31 - 1, ()).item())
        rng = np.random.default_rng(seed)
        streams = [_Stream(members, rng) for members in self._members]
        fill = _Stream(np.arange(len(self.labels)), rng)
        class_order = _Stream(np.arange(len(self._members)), rng)
        for size in self._sizes():
            n_classes = min(self.classes_per_batch, size // max(1, self.min_per_class))
            batch = []
            for c in class_order.take_distinct(n_classes):
                batch.extend(streams[c].take(self.min_per_class))
            batch.extend(fill.take(size - len(batch)))
            yield [int(i) for i in rng.permutation(batch)]


def _members(labels):
    """Samples of each class."""
    _, inverse = np.unique(labels, return_inverse=True)
    return [np.flatnonzero(inverse == c) for c in range(inverse.max() + 1)]


def _minority_members(attributes):
    """Samples holding each attribute's rarer value (its positives, when rare)."""
    rare_value = np.where(attributes.mean(axis=0) > 0.5, 0, 1)
    return [
        np.flatnonzero(column == value)
        for column, value in zip(attributes.T, rare_value, strict=True)
    ]


class _Stream:
    """Endless shuffled passes over ``items``."""

    def __init__(self, items, rng):
        self.items = np.asarray(items)
        self.rng = rng
        self.queue = np.empty(0, dtype=self.items.dtype)

    def take(self, count):
        while len(self.queue) < count:
            self.queue = np.concatenate([self.queue, self.rng.permutation(self.items)])
        taken, self.queue = self.queue[:count], self.queue[count:]
        return taken.tolist()

    def take_distinct(self, count):
        """``count`` different items; repeats (at a pass boundary) wait their turn."""
        chosen, deferred = [], []
        while len(chosen) < count:
            item = self.take(1)[0]
            (deferred if item in chosen else chosen).append(item)
        self.queue = np.concatenate(
            [np.asarray(deferred, dtype=self.items.dtype), self.queue]
        )
        return chosen


class ClassAwareDataLoader(DataLoader):
    """A DataLoader with :class:`ClassAwareBatchSampler` batches, built from the
    labels of the dataset it is given.

    Pass it as ``iterator_train`` to :class:`CRLClassifier`,
    :class:`CRLMultiLabelClassifier` or any skorch net:
    skorch builds one per fit from the training split (a cross-validation fold
    included), so the sampler always matches the data. ``shuffle`` is accepted and
    ignored: the batches are always shuffled.

    Parameters
    ----------
    dataset : torch Dataset
        A dataset whose labels can be read: skorch's ``Dataset``, a
        ``TensorDataset``, one with a ``targets`` attribute, a ``Subset`` of
        those, or any other that returns ``(X, y)`` per sample (read in one pass).
    batch_size : int, default=1
    classes_per_batch : int, default=None
        See :class:`ClassAwareBatchSampler`.
    min_per_class : int, default=2
        See :class:`ClassAwareBatchSampler`.
    **kwargs
        Other DataLoader arguments (``num_workers``, ``collate_fn``...).

    Examples
    --------
    >>> from skcrl import ClassAwareDataLoader, CRLClassifier
    >>> clf = CRLClassifier(
    ...     iterator_train=ClassAwareDataLoader,
    ...     iterator_train__classes_per_batch=4,
    ... )
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        classes_per_batch=None,
        min_per_class=2,
        **kwargs,
    ):
        sampler = ClassAwareBatchSampler(
            dataset_labels(dataset, type(self).__name__),
            batch_size,
            classes_per_batch=classes_per_batch,
            min_per_class=min_per_class,
        )
        super().__init__(dataset, batch_sampler=sampler, **kwargs)
