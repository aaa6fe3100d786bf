"""Where a training step's time goes, inside ``fit``, and what the loss costs there
against the same call alone.

``benchmarks/bench_fit.py``'s data and networks (20,000 x 64, long-tailed labels,
``skcrl.MLP``, Adam, 3 epochs), one torch thread. Each fit runs with timers around
the module's forward (``infer``), ``get_loss`` (cross-entropy, and the CRL term
when ``alpha > 0``), the backward pass and the callbacks (``notify``); the rest of
the step is skorch's loop, the batch and the optimiser. Best of ``--repeats``
fits per variant, per step. Then ``crl_loss`` forward and backward on one batch
of the same shape, timed alone (``torch.utils.benchmark``): inside a fit each of
its operations runs with caches that the module, the optimiser and the loop have
just used, and costs more than in a loop of the loss alone.

    python benchmarks/bench_step.py                   # ~2 min
    python benchmarks/bench_step.py --classes 100 --batch-size 512
"""

from __future__ import annotations

import argparse
import collections
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))

from bench_fit import VARIANTS, data, net
from bench_loss import _median_seconds, long_tailed_batch

from skcrl import CRLClassifier, crl_loss

STEP_VARIANTS = [
    "CRLClassifier(alpha=0), the CE step",
    "CRLClassifier(memory_size=0)",
    "CRLClassifier()",
]
PARTS = ["infer", "get_loss", "backward", "notify"]


class _Timers:
    """Wall time spent in the wrapped callables, summed by name."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)
        self._undo = []

    def wrap(self, owner, name, key=None):
        original = getattr(owner, name)
        key = key or name

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start

        self._undo.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, timed)

    def restore(self):
        for owner, name, own in reversed(self._undo):
            if own is None:  # inherited: the base class's is found again
                delattr(owner, name)
            else:
                setattr(owner, name, own)


def step_parts(variant, n_classes, batch_size, repeats):
    """Per-step µs of the whole step and of each part, best of ``repeats`` fits."""
    X, y = data(n_classes)
    steps = 3 * math.ceil(len(y) / batch_size)
    best = None
    for _ in range(repeats):
        timers = _Timers()
        for part in ("infer", "get_loss", "notify"):
            timers.wrap(CRLClassifier, part)
        timers.wrap(torch.Tensor, "backward")
        try:
            estimator = net(VARIANTS[variant], n_classes, batch_size)
            torch.manual_seed(0)
            start = time.perf_counter()
            estimator.fit(X, y)
            total = time.perf_counter() - start
        finally:
            timers.restore()
        row = {part: timers.seconds[part] / steps * 1e6 for part in PARTS}
        row["step"] = total / steps * 1e6
        row["rest"] = row["step"] - sum(row[part] for part in PARTS)
        if best is None or row["step"] < best["step"]:
            best = row
    return best


def loss_alone(n_classes, batch_size, rows):
    """µs of ``crl_loss`` forward + backward (defaults) and of cross-entropy's on
    one batch of ``rows`` rows, timed alone."""
    logits, labels, _ = long_tailed_batch(rows, n_classes)
    env = dict(F=F, crl_loss=crl_loss, logits=logits, y=labels)

    return (
        _median_seconds("crl_loss(logits, y).backward()", env, "cpu") * 1e6,
        _median_seconds("F.cross_entropy(logits, y).backward()", env, "cpu") * 1e6,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = {
        variant: step_parts(variant, args.classes, args.batch_size, args.repeats)
        for variant in STEP_VARIANTS
    }
    print(
        f"\n{args.classes} classes, batch {args.batch_size}: µs per step, best of "
        f"{args.repeats} fits, 1 thread\n"
    )
    print("| variant | step | " + " | ".join(PARTS) + " | rest |")
    print("|---|" + "---:|" * (len(PARTS) + 2))
    for variant, row in rows.items():
        cells = " | ".join(f"{row[part]:.0f}" for part in ["step", *PARTS, "rest"])
        print(f"| {variant} | {cells} |")
    ce_step = rows[STEP_VARIANTS[0]]
    for variant, n_rows in (
        (STEP_VARIANTS[1], args.batch_size),
        (STEP_VARIANTS[2], args.batch_size + 1024),
    ):
        inside = sum(
            rows[variant][part] - ce_step[part] for part in ("get_loss", "backward")
        )
        crl, ce = loss_alone(args.classes, args.batch_size, n_rows)
        print(
            f"\n{variant}: the CRL term adds {inside:.0f} µs to get_loss and the "
            f"backward pass inside the fit; crl_loss at ({n_rows}, {args.classes}) "
            f"alone takes {crl:.0f} µs forward and backward (cross-entropy {ce:.0f})"
        )


if __name__ == "__main__":
    main()
