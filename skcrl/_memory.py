"""A first-in-first-out memory of recent training rows for CRL (docs/spec.md §11).

A rare class seldom comes twice in one batch, so a batch alone never mines it. The
memory keeps the detached logits, targets (embeddings, at instance level, and sample
weights, when training is weighted) of the last ``size`` training samples, on the
device of the logits, for :func:`skcrl.crl_loss` to mine over the batch and the
memory together.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CRLMemory"]

_FIELDS = ("logits", "target", "embeddings", "weight")


class CRLMemory(nn.Module):
    """The detached rows of the last ``size`` training samples, newest first.

    Its rows are buffers, so that a module's ``state_dict`` (and so skorch's
    ``Checkpoint``, which saves the criterion) carries them; loading restores
    a memory of any length.

    Parameters
    ----------
    size : int
        Rows kept; 0 keeps none.

    Examples
    --------
    >>> import torch
    >>> from skcrl._memory import CRLMemory
    >>> memory = CRLMemory(3)
    >>> memory.push(torch.zeros(2, 4), torch.tensor([0, 1]))
    >>> memory.push(torch.ones(2, 4), torch.tensor([2, 3]))
    >>> memory.contents()[1]  # the newest rows first, the oldest dropped
    tensor([2, 3, 0])
    """

    logits: Tensor | None
    target: Tensor | None
    embeddings: Tensor | None
    weight: Tensor | None

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = int(size)
        for name in _FIELDS:
            self.register_buffer(name, None)
        self._staged = None
        self._stores = {}

    def extra_repr(self) -> str:
        return f"size={self.size}, rows={len(self)}"

    def __len__(self) -> int:
        return 0 if self.logits is None else self.logits.shape[0]

    def contents(self) -> tuple[Tensor, ...] | None:
        """``(logits, target)``, ``(logits, target, embeddings)`` or, with sample
        weights, ``(logits, target, embeddings or None, weight)``, as
        :func:`skcrl.crl_loss` takes them as ``memory=``; None when empty."""
        if self.logits is None:
            return None
        if self.weight is not None:
            return self.logits, self.target, self.embeddings, self.weight
        if self.embeddings is None:
            return self.logits, self.target
        return self.logits, self.target, self.embeddings

    @torch.no_grad()
    def push(
        self,
        logits: Tensor,
        target: Tensor,
        embeddings: Tensor | None = None,
        weight: Tensor | None = None,
    ) -> None:
        """Put a batch's rows in front and drop the oldest beyond ``size``."""
        if self.size == 0:
            return
        weight = self._weights_for(logits, weight)
        fields = (logits, target, embeddings, weight)
        buffers = self._buffers
        stores = self.__dict__.setdefault("_stores", {})
        # straight into the buffers: nn.Module.__setattr__ costs more than the
        # copy of a batch, at every step
        for name, rows in zip(_FIELDS, fields, strict=True):
            if rows is None:
                if buffers[name] is not None:
                    buffers[name] = None
                    stores.pop(name, None)
                continue
            if rows.requires_grad:
                rows = rows.detach()
            if rows.shape[0] > self.size:
                rows = rows[: self.size]
            buffers[name] = self._in_front(stores, name, rows)

    def _in_front(self, stores: dict, name: str, rows: Tensor) -> Tensor:
        """The new window of field ``name``: ``rows``, then the held rows that
        still fit.

        Each field's rows are a window of a store twice ``size`` long, which
        moves towards its start as batches come: a batch is written once, just
        in front of the window, and the window is copied only when it reaches
        the start of the store (once every ``size / batch`` batches), instead of
        the whole memory twice at every batch. The rows stay newest first, and a
        window once handed out is never written to again. Rows that are not the
        window last handed out (loaded, moved to another device, unpickled)
        start a new store.
        """
        held = self._buffers[name]
        n = rows.shape[0]
        keep = 0
        if held is not None and held.shape[1:] == rows.shape[1:]:
            keep = min(held.shape[0], self.size - n)
        store, start, window = stores.get(name, (None, 0, None))
        in_store = (
            held is window
            and keep > 0
            and start >= n
            and rows.dtype == store.dtype
            and rows.device == store.device
        )
        if not in_store:
            store = rows.new_empty((2 * self.size, *rows.shape[1:]))
            start = store.shape[0] - keep
            if keep:
                store[start:] = held[:keep]
        start -= n
        store[start : start + n] = rows
        window = store[start : start + n + keep]
        stores[name] = (store, start, window)
        return window

    def stage(
        self,
        logits: Tensor,
        target: Tensor,
        embeddings: Tensor | None = None,
        weight: Tensor | None = None,
    ) -> None:
        """Hold a batch's rows for :meth:`commit`, replacing any held before: an
        optimiser that evaluates the loss several times per step (LBFGS) must
        not put the batch in twice."""
        self.__dict__["_staged"] = tuple(
            None if rows is None else rows.detach()
            for rows in (logits, target, embeddings, weight)
        )

    def commit(self) -> None:
        """:meth:`push` the staged rows, if any."""
        staged = self.__dict__.get("_staged")
        if staged is not None:
            self.__dict__["_staged"] = None
            self.push(*staged)

    def _weights_for(self, rows: Tensor, weight: Tensor | None) -> Tensor | None:
        """``weight``, or ones for a batch without weights pushed into a memory
        that holds some (and the other way round): every row keeps a weight."""
        if weight is None and self.weight is None:
            return None
        if weight is None:
            return torch.ones(
                rows.shape[0], dtype=self.weight.dtype, device=rows.device
            )
        if self.weight is None and self.logits is not None:
            self.weight = torch.ones(
                self.logits.shape[0], dtype=weight.dtype, device=weight.device
            )
        return weight

    def clear(self) -> None:
        """Forget every row."""
        for name in _FIELDS:
            setattr(self, name, None)
        self._stores = {}

    def __getstate__(self):
        # pickled (as skorch pickles a whole net) without the stores: the rows
        # alone, each field a tensor of its own (object.__getstate__ is 3.11+)
        state = dict(self.__dict__)
        state["_stores"] = {}
        state["_buffers"] = {
            name: None if rows is None else rows.clone()
            for name, rows in state["_buffers"].items()
        }
        return state

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # the rows alone, not the store they are a window of
        for name in _FIELDS:
            rows = getattr(self, name)
            if rows is not None:
                destination[prefix + name] = rows if keep_vars else rows.clone()

    def _load_from_state_dict(
        self,
        state_dict,
        prefix,
        local_metadata,
        strict,
        missing_keys,
        unexpected_keys,
        error_msgs,
    ):
        # The rows saved may be fewer than `size` (or none): take them as they are
        # instead of copying into buffers of a fixed shape.
        for name in _FIELDS:
            saved = state_dict.get(prefix + name)
            setattr(self, name, None if saved is None else saved.detach().clone())
