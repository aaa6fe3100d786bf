"""The global batch of data-parallel training (SPEC §9), in pure torch.distributed.

Every process gathers the rows of all processes in rank order and computes the same
loss on them. The gradient of a gathered tensor is summed over the processes and
each keeps the slice of its own rows: since every process backpropagates the same
loss, its rows receive ``world_size`` times the gradient of that loss, and DDP's
averaging of parameter gradients then reproduces single-process training on the
global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather_batch", "is_distributed"]


def is_distributed() -> bool:
    """Whether a default process group of more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _GatherRows(torch.autograd.Function):
    """All processes' ``rows`` (padded to the same length), concatenated in rank
    order; backward sums the gradient over the processes and returns this
    process's slice."""

    @staticmethod
    def forward(ctx, rows):
        ctx.rank, ctx.length = dist.get_rank(), rows.shape[0]
        gathered = [torch.empty_like(rows) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, rows.contiguous())
        return torch.cat(gathered)

    @staticmethod
    def backward(ctx, grad):
        # all_reduce, not reduce_scatter: gloo (CPU) has only the former
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        start = ctx.rank * ctx.length
        return grad[start : start + ctx.length]


def _padded(rows: Tensor, length: int) -> Tensor:
    missing = length - rows.shape[0]
    if missing == 0:
        return rows
    return torch.cat((rows, rows.new_zeros((missing, *rows.shape[1:]))))


def gather_batch(
    logits: Tensor, target: Tensor, *rows: Tensor | None
) -> tuple[Tensor | None, ...]:
    """The global batch: ``logits``, ``target`` and any further ``rows``
    (embeddings, sample weights; None passes) of every process, rows in rank
    order, with gradients flowing back to their owners.

    Shares may differ in size (a last, smaller batch): they are padded for the
    collective and the padding is dropped. That needs the shares' sizes on the
    host, the one synchronisation of global mining. Without a process group of
    several processes, the inputs come back as they are.

    Examples
    --------
    >>> import torch
    >>> from skcrl._distributed import gather_batch
    >>> logits = torch.zeros(3, 2)
    >>> gather_batch(logits, torch.tensor([0, 1, 0]))[0] is logits  # one process
    True
    """
    if not is_distributed():
        return (logits, target, *rows)
    sizes = torch.tensor([logits.shape[0]], device=logits.device)
    shares = [torch.empty_like(sizes) for _ in range(dist.get_world_size())]
    dist.all_gather(shares, sizes)
    shares = torch.cat(shares).tolist()
    length = max(shares)
    valid = torch.cat(
        [
            torch.arange(rank * length, rank * length + share, device=logits.device)
            for rank, share in enumerate(shares)
        ]
    )

    def gather(rows):
        if rows is None:
            return None
        padded = _padded(rows, length)
        if rows.requires_grad:
            gathered = _GatherRows.apply(padded)
        else:
            parts = [torch.empty_like(padded) for _ in shares]
            dist.all_gather(parts, padded.contiguous())
            gathered = torch.cat(parts)
        return gathered.index_select(0, valid)

    return tuple(gather(part) for part in (logits, target, *rows))
