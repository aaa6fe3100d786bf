"""Input that is not one array: torch Datasets, dicts of arrays, sparse matrices.

A Dataset's labels are read without loading its inputs where the dataset allows it
(skorch's ``Dataset``, a ``TensorDataset``, a ``targets`` attribute as
torchvision's datasets have, ``Subset`` s of those), else in one pass that keeps the
labels only. Training then sees the dataset through :class:`EncodedTargets`, which
returns each sample's input with its encoded label, so that the loss, the
class-aware batches and skorch's splits all see the same labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
from sklearn.utils import check_array
from skorch.dataset import ERROR_MSG_1_ITEM, Dataset, unpack_data
from skorch.utils import to_numpy
from torch.utils.data import Subset, TensorDataset

__all__ = [
    "EncodedTargets",
    "WeightedInput",
    "WeightedSamples",
    "check_dict_input",
    "dataset_labels",
    "dataset_weights",
    "first_input_shape",
    "root_dataset",
    "stored_labels",
]


class EncodedTargets(torch.utils.data.Dataset):
    """``dataset`` with its labels replaced by ``targets`` (row ``i`` for sample
    ``i``).

    Parameters
    ----------
    dataset : torch Dataset
        Returns ``(X, y)`` per sample, as skorch requires; ``y`` is dropped.
    targets : ndarray of shape (len(dataset),) or (len(dataset), n_attributes)
        The encoded labels.

    Examples
    --------
    >>> import torch
    >>> from skcrl._inputs import EncodedTargets
    >>> data = torch.utils.data.TensorDataset(torch.ones(3, 2), torch.tensor([5, 7, 5]))
    >>> X, y = EncodedTargets(data, np.array([0, 1, 0]))[1]
    >>> X.tolist(), int(y)
    ([1.0, 1.0], 1)
    """

    def __init__(self, dataset, targets):
        self.dataset = dataset
        self.targets = targets

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        X, _ = unpack_data(self.dataset[index])
        return X, self.targets[index]


class WeightedInput(NamedTuple):
    """A sample's (or a batch's) input with its sample weight: how weights travel
    through skorch's batches to ``get_loss`` (the module sees ``X`` only)."""

    X: Any
    weight: Any


class WeightedSamples(torch.utils.data.Dataset):
    """``dataset`` whose samples carry their weight: ``(WeightedInput(X, w), y)``.

    Examples
    --------
    >>> import torch
    >>> from skcrl._inputs import WeightedSamples
    >>> data = torch.utils.data.TensorDataset(torch.ones(3, 2), torch.tensor([0, 1, 0]))
    >>> (X, w), y = WeightedSamples(data, np.array([0.5, 2.0, 1.0]))[1]
    >>> X.tolist(), float(w), int(y)
    ([1.0, 1.0], 2.0, 1)
    """

    def __init__(self, dataset, weights):
        self.dataset = dataset
        self.weights = np.asarray(weights, dtype=np.float32)

    def __len__(self):
        return len(self.weights)

    def __getitem__(self, index):
        X, y = unpack_data(self.dataset[index])
        return WeightedInput(X, self.weights[index]), y

    def __getitems__(self, indices):
        inner = getattr(self.dataset, "__getitems__", None)
        if inner is None:
            return [self[i] for i in indices]
        batch = inner(indices)  # an ArrayDataset's whole batch
        weight = torch.from_numpy(self.weights[np.asarray(indices, dtype=np.int64)])
        return batch._replace(X=WeightedInput(batch.X, weight))


def root_dataset(dataset):
    """The dataset under ``dataset``'s ``Subset`` s."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return dataset


def _rows_of(dataset, read):
    """``read`` of the dataset under ``dataset``'s ``Subset`` s, restricted to the
    rows those select (None stays None)."""
    if isinstance(dataset, Subset):
        values = _rows_of(dataset.dataset, read)
        return None if values is None else values[np.asarray(dataset.indices)]
    return read(dataset)


def dataset_weights(dataset):
    """The sample weights of ``dataset`` (through its ``Subset`` s), or None."""
    return _rows_of(
        dataset, lambda d: d.weights if isinstance(d, WeightedSamples) else None
    )


def _as_labels(values):
    if torch.is_tensor(values):
        return to_numpy(values)
    return np.asarray(values)


def stored_labels(dataset):
    """The labels a dataset holds as an attribute (no input is read), or None."""
    return _rows_of(dataset, _own_labels)


def _own_labels(dataset):
    if isinstance(dataset, EncodedTargets):
        return dataset.targets
    if isinstance(dataset, WeightedSamples):
        return stored_labels(dataset.dataset)
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        return _as_labels(dataset.tensors[1])
    if isinstance(dataset, Dataset):
        # skorch's Dataset: y=None has no labels at all (a placeholder per sample)
        return None if dataset.y is None else _labels_of_skorch_dataset(dataset)
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return _as_labels(targets)
    return None


def _labels_of_skorch_dataset(dataset):
    y = dataset.y
    if isinstance(y, (list, tuple)) or hasattr(y, "iloc"):
        return np.asarray(y)
    return _as_labels(y)


def dataset_labels(dataset, caller):
    """The labels of every sample of ``dataset``, in order.

    Read from the dataset's attributes where it has them, else in one pass over
    its samples that keeps the labels only.

    Raises
    ------
    ValueError
        When the dataset has no labels (skorch's ``Dataset(X, y=None)``), returns
        something other than ``(X, y)`` per sample, or has no length.
    """
    labels = stored_labels(dataset)
    if labels is not None:
        return labels
    if isinstance(root_dataset(dataset), Dataset):  # skorch's, built with y=None
        raise ValueError(
            f"{caller} was given a skorch Dataset without y, so the labels are "
            "unknown: build it with Dataset(X, y), or call fit(dataset, y)."
        )
    try:
        n_samples = len(dataset)
    except TypeError:
        raise ValueError(
            f"{caller} needs the labels of the dataset, and "
            f"{type(dataset).__name__} has no length to read them from: call "
            "fit(dataset, y) with y the labels of its samples, in order."
        ) from None
    rows = []
    for index in range(n_samples):
        sample = dataset[index]
        if not isinstance(sample, (tuple, list)):
            raise ValueError(ERROR_MSG_1_ITEM)
        _, y = unpack_data(sample)
        rows.append(to_numpy(y) if torch.is_tensor(y) else y)
    return np.asarray(rows)


def first_input_shape(dataset):
    """Shape of the first sample's input, as ``(1, ...)`` (one sample read)."""
    if len(dataset) == 0:
        raise ValueError("The dataset is empty: a classifier needs samples to fit.")
    X, _ = unpack_data(dataset[0])
    if isinstance(X, Mapping):
        return None
    return (1, *np.shape(to_numpy(X) if torch.is_tensor(X) else X))


def check_dict_input(X, caller, n_samples=None):
    """A dict of inputs for a module with several ``forward`` arguments, each value
    checked as an array (finite, numeric, one row per sample) and made float32.

    A new dict is returned; the caller's arrays are not modified.
    """
    if not X:
        raise ValueError(f"{caller} was given an empty dict as X.")
    checked = {}
    for name, values in X.items():
        if not isinstance(name, str):
            raise TypeError(
                f"X is a dict whose keys name the module's forward arguments; got "
                f"the key {name!r}, which is not a string."
            )
        try:
            checked[name] = check_array(
                values,
                dtype=np.float32,
                allow_nd=True,
                ensure_2d=False,
                input_name=f"X[{name!r}]",
            )
        except ValueError as error:
            raise ValueError(f"X[{name!r}]: {error}") from None
    lengths = {name: len(values) for name, values in checked.items()}
    if len(set(lengths.values())) > 1 or (
        n_samples is not None and set(lengths.values()) != {n_samples}
    ):
        expected = "" if n_samples is None else f" (y has {n_samples})"
        raise ValueError(
            "The arrays of X must hold one row per sample each, but their lengths "
            f"differ: {lengths}{expected}."
        )
    return checked
