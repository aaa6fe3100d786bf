"""Constant tensors the loss reuses from batch to batch, built once per value,
shape, dtype and device.

A Python number in a tensor expression (``x + 0.5``, ``x >= 2``) is wrapped into
a tensor and converted at every call: four extra operations for one addition.
On the CPU a small batch's loss is mostly the dispatch of its operations, so the
loss takes its numbers and index ranges from here instead. Every tensor returned
is shared: read it, never write to it. Every cache here is keyed by device and
dtype, and holds tensors made outside inference mode (:func:`constants`).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

__all__ = ["arange", "clear", "constants", "in_dtype", "numbers", "scalar", "zeros"]

#: every cache of constants, for :func:`clear`
_CACHES: list = []


def constants(maxsize: int):
    """``functools.lru_cache`` for a function that builds constant tensors.

    They are built outside inference mode whatever mode the caller is in: a
    tensor made under :func:`torch.inference_mode` can never be saved for
    backward, so a first call made there (a validation loss) would otherwise
    break every later training step that saves one. Tensors made with gradients
    off are plain constants, usable in any mode.
    """

    def decorate(build):
        @functools.wraps(build)
        def outside_inference_mode(*args, **kwargs):
            with torch.inference_mode(False):
                return build(*args, **kwargs)

        cached = functools.lru_cache(maxsize=maxsize)(outside_inference_mode)
        _CACHES.append(cached)
        return cached

    return decorate


def clear() -> None:
    """Empty every cache of constants."""
    for cache in _CACHES:
        cache.cache_clear()


@constants(maxsize=256)
def scalar(value: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A 0-dim tensor holding ``value`` (filled on the device: no copy from the
    host, which would wait for it)."""
    return torch.full((), value, dtype=dtype, device=device)


@constants(maxsize=128)
def arange(size: int, device: torch.device, dtype: torch.dtype = torch.int64) -> Tensor:
    """``torch.arange(size)``."""
    return torch.arange(size, device=device).to(dtype)


@constants(maxsize=128)
def zeros(shape: tuple, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``torch.zeros(shape)``, to concatenate with or compare against."""
    return torch.zeros(shape, dtype=dtype, device=device)


def numbers(like: Tensor, *values: float) -> list[Tensor]:
    """``values`` as cached 0-dim tensors of ``like``'s dtype and device."""
    return [scalar(float(value), like.dtype, like.device) for value in values]


def in_dtype(tensor: Tensor, dtype: torch.dtype) -> Tensor:
    """``tensor`` in ``dtype``: itself when it is in it already, without the
    ``to`` that would be dispatched (and counted) all the same."""
    return tensor if tensor.dtype == dtype else tensor.to(dtype)
