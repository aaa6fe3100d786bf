"""The class level's size gates, both sides timed: where each rule that picks a
path by the batch's shape stands against the path it did not pick.

Each gate is forced one way, then the other (by patching the module's rule),
on the same long-tailed batches (``bench_loss.py``'s, ``--batches`` different
ones per block), in alternating blocks, best of ``--rotations`` each, one
thread; the ratio is the gate's chosen path over the other, so a ratio above 1
at a size means the rule picks the slower path there.

- ``SELECT_ANCHORS_FROM``: from this many (sample, task) rows on, the rows that
  read their column's lists (the distribution comparison, the sample-by-sample
  path) are narrowed to those of minority columns, ``floor(rho n)`` per task.
- ``class_by_class``: the relative comparison class by class, or sample by
  sample.
- ``MANY_COLUMNS``: from this many (task, class) columns on, the probabilities
  row by row and the positives from one sort of the batch.

    python benchmarks/bench_gates.py
    python benchmarks/bench_gates.py --gates SELECT_ANCHORS_FROM
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from bench_loss import _median_seconds, long_tailed_batch

import skcrl._class_level as class_level
import skcrl._class_lists as class_lists
from skcrl import crl_loss

#: gate: (module, attribute, value that forces it on, value that forces it
#: off, [(comparison, n, classes), ...] around its threshold)
GATES = {
    "SELECT_ANCHORS_FROM": (
        class_lists,
        "SELECT_ANCHORS_FROM",
        0,
        sys.maxsize,
        [
            ("distribution", 128, 10),
            ("distribution", 256, 10),
            ("distribution", 512, 10),
            ("distribution", 1152, 10),
            ("distribution", 4096, 10),
            ("relative", 512, 100),
            ("absolute", 512, 100),
        ],
    ),
    "class_by_class": (
        class_level,
        "class_by_class",
        lambda *_: True,
        lambda *_: False,
        [
            ("relative", 256, 100),
            ("relative", 512, 100),
            ("relative", 1536, 100),
            ("relative", 512, 32),
            ("relative", 128, 10),
        ],
    ),
    "MANY_COLUMNS": (
        class_level,
        "MANY_COLUMNS",
        0,
        sys.maxsize,
        [
            ("relative", 512, 16),
            ("relative", 512, 32),
            ("relative", 512, 64),
            ("distribution", 512, 32),
        ],
    ),
}


def chosen(gate, comparison, n, n_classes):
    """Whether the unpatched rule takes the gated path at this shape."""
    if gate == "MANY_COLUMNS":
        return n_classes >= class_level.MANY_COLUMNS
    if gate == "class_by_class":
        width = min(25, n)
        return class_level.class_by_class(n_classes, width, n)
    # rows of one task, more than floor(rho n) of them
    return n >= class_lists.SELECT_ANCHORS_FROM


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gates", nargs="+", default=list(GATES), choices=GATES)
    parser.add_argument("--rotations", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(
        "class level, µs per forward + backward, best of "
        f"{args.rotations} interleaved blocks; ratio = the rule's path / the other\n"
    )
    print("| gate | comparison | size | on µs | off µs | rule takes | ratio |")
    print("|---|---|---|---:|---:|---|---:|")
    for gate in args.gates:
        module, attribute, on, off, cases = GATES[gate]
        original = getattr(module, attribute)
        for comparison, n, n_classes in cases:
            takes = chosen(gate, comparison, n, n_classes)
            batches = [
                long_tailed_batch(n, n_classes, seed=seed)
                for seed in range(args.batches)
            ]
            batches = [(x.requires_grad_(), y) for x, y, _ in batches]
            env = {"crl_loss": crl_loss, "batches": batches}
            stmt = (
                "for logits, y in batches: "
                f"crl_loss(logits, y, comparison={comparison!r}).backward()"
            )
            best = {"on": float("inf"), "off": float("inf")}
            try:
                for _ in range(args.rotations):
                    for side, value in (("on", on), ("off", off)):
                        setattr(module, attribute, value)
                        seconds = _median_seconds(stmt, env, "cpu") / len(batches)
                        best[side] = min(best[side], seconds * 1e6)
            finally:
                setattr(module, attribute, original)
            taken, other = (best["on"], best["off"])[:: 1 if takes else -1]
            print(
                f"| {gate} | {comparison} | ({n}, {n_classes}) | {best['on']:.0f} "
                f"| {best['off']:.0f} | {'on' if takes else 'off'} "
                f"| {taken / other:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
