"""``torch.topk`` against ``skcrl._mining.top_k`` (chunk maxima first), the choice
behind the class level's hard negatives.

Rows are the class-level candidates of one batch: the softmax probabilities of
each class over ``n`` samples, its members struck out with ``-inf``; ``k = 25``.
Both are timed side by side, interleaved, best of 15 blocks, one thread. Each
block runs through 25 different batches, as training does: a top-k's selection
branches on its data, and on one input repeated the processor learns the
branches (``torch.topk`` at 10 x 1,152 then takes half its time).

    python benchmarks/bench_topk.py
"""

from __future__ import annotations

import time

import torch

from skcrl._gates import uses_chunks
from skcrl._mining import top_k

SHAPES = [(2, 1088), (10, 128), (10, 225), (10, 512), (10, 1152), (20, 1152)]
SHAPES += [(32, 512), (32, 1152)]
SHAPES += [(50, 1152), (100, 512), (100, 1536)]


def _block_us(function, inputs):
    start = time.perf_counter()
    for values in inputs:
        function(values)
    return (time.perf_counter() - start) / len(inputs) * 1e6


def candidates(n_classes, n, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, n_classes, generator=generator)
    labels = torch.randint(0, n_classes, (n,), generator=generator)
    probabilities = torch.softmax(logits.t(), dim=0)
    member = torch.arange(n_classes).view(-1, 1) == labels
    return torch.where(member, -torch.inf, probabilities)


def main():
    torch.set_num_threads(1)
    print("| rows x n | torch.topk µs | chunked µs | chunked route taken |")
    print("|---|---:|---:|---|")
    for rows, n in SHAPES:
        inputs = [candidates(rows, n, seed) for seed in range(25)]
        functions = {
            "topk": lambda values: torch.topk(values, 25, dim=-1),
            "chunked": lambda values: top_k(values, 25, force_chunks=True),
        }
        best = dict.fromkeys(functions, float("inf"))
        for _ in range(15):
            for name, function in functions.items():
                best[name] = min(best[name], _block_us(function, inputs))
        chunked = uses_chunks(inputs[0], 25)
        print(
            f"| {rows} x {n} | {best['topk']:.0f} | {best['chunked']:.0f} "
            f"| {'yes' if chunked else 'no'} |"
        )


if __name__ == "__main__":
    main()
