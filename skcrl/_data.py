"""Whole batches from array input.

torch's DataLoader fetches a batch by calling ``dataset.__getitems__(indices)`` when
the dataset has it, instead of one ``__getitem__`` per sample followed by a collate
that stacks them. skorch's :class:`~skorch.dataset.Dataset` has none, so a skorch net
pays a Python call per sample. For the validated arrays the estimators hold, one
fancy index per batch does the same work.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset, default_collate

from ._inputs import WeightedInput, WeightedSamples

__all__ = ["ArrayDataset", "collate_for", "indexes_batches"]


class _Batch(NamedTuple):
    """What :meth:`ArrayDataset.__getitems__` returns: a batch already stacked."""

    X: torch.Tensor
    y: torch.Tensor


class ArrayDataset(Dataset):
    """skorch's Dataset of one array ``X`` (and ``y``), fetched a batch at a time.

    Single samples (``dataset[i]``) are skorch's, so anything that reads the dataset
    sample by sample sees no difference.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl._data import ArrayDataset
    >>> data = ArrayDataset(np.arange(12.0).reshape(6, 2), np.arange(6))
    >>> X, y = data.__getitems__([4, 1])
    >>> X.tolist(), y.tolist()
    ([[8.0, 9.0], [2.0, 3.0]], [4, 1])
    """

    def __getitems__(self, indices) -> _Batch:
        index = np.asarray(indices, dtype=np.int64)
        if sp.issparse(self.X):
            X = _sparse_rows(self.X, index)
        else:
            # numpy's fancy index copies into a fresh array, which torch then shares
            X = torch.from_numpy(self.X[index])
        if self.y is None:  # skorch's placeholder, one per sample
            y = torch.zeros(len(index), 1)
        else:
            y = torch.from_numpy(self.y[index])
        return _Batch(X, y)


def _sparse_rows(X, index) -> torch.Tensor:
    """Rows of a scipy sparse matrix as a torch CSR tensor: only the non-zeros
    travel to the device, where the net densifies the batch."""
    rows = sp.csr_array(X[index])
    return torch.sparse_csr_tensor(
        torch.from_numpy(rows.indptr.astype(np.int64)),
        torch.from_numpy(rows.indices.astype(np.int64)),
        torch.from_numpy(rows.data),
        size=rows.shape,
    )


def indexes_batches(dataset) -> bool:
    """Whether ``dataset`` (or the dataset under its ``Subset`` s) is an
    :class:`ArrayDataset`."""
    while isinstance(dataset, (Subset, WeightedSamples)):
        dataset = dataset.dataset
    return isinstance(dataset, ArrayDataset)


def _stacked(batch):
    if isinstance(batch, _Batch):
        return batch.X, batch.y
    return default_collate(batch)


class _PerSample:
    """A user's own ``collate_fn``, given the list of samples it expects."""

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, batch):
        if isinstance(batch, _Batch):
            X = batch.X
            if isinstance(X, WeightedInput):
                X = [WeightedInput(*sample) for sample in zip(*X, strict=True)]
            batch = list(zip(X, batch.y, strict=True))
        return self.collate(batch)


def collate_for(iterator: DataLoader):
    """The collate function for ``iterator`` over an :class:`ArrayDataset`: torch's
    default becomes a pass-through of the stacked batch; any other is kept, fed
    per-sample."""
    if iterator.collate_fn is default_collate:
        return _stacked
    return _PerSample(iterator.collate_fn)
