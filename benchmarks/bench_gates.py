"""The loss's size gates (``skcrl/_gates.py``), both sides timed: where each
rule that picks a path by the batch's shape stands against the path it did not
pick.

Each gate is forced one way, then the other (by patching ``skcrl._gates``), on
the same long-tailed batches (``bench_loss.py``'s, ``--batches`` different ones
per block), in alternating blocks, best of ``--rotations`` each, one thread;
the ratio is the gate's chosen path over the other, so a ratio above 1 at a
size means the rule picks the slower path there.

- ``SELECT_ANCHORS_FROM``: from this many (sample, task) rows on, the rows that
  read their column's lists (the distribution comparison, the sample-by-sample
  path) are narrowed to those of minority columns, ``floor(rho n)`` per task.
- ``class_by_class``: the relative comparison class by class, or sample by
  sample.
- ``ABSOLUTE_ANCHORS_FROM``: the same narrowing for the absolute comparison's
  own path (few columns).
- ``MANY_COLUMNS``: from this many (task, class) columns on, the probabilities
  row by row and the positives from one sort of the batch.
- ``PAIRWISE_MINORITY_UP_TO``: the minority rule by comparing every pair of
  classes, or by a sort (class and instance level).
- ``DENSE_PAIRS``: the instance level's embedding gradient through dense pair
  matrices, or gathered pair by pair in blocks.

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

import skcrl._gates as gates
from skcrl import crl_loss

ON, OFF = 0, sys.maxsize

#: gate: (attribute of skcrl._gates, value that forces it on, value that forces
#: it off, [(level, comparison, n, classes), ...] around its threshold)
GATES = {
    "SELECT_ANCHORS_FROM": (
        "SELECT_ANCHORS_FROM",
        ON,
        OFF,
        [
            ("class", "distribution", 128, 10),
            ("class", "distribution", 256, 10),
            ("class", "distribution", 512, 10),
            ("class", "distribution", 1152, 10),
            ("class", "distribution", 4096, 10),
            ("class", "relative", 512, 100),
            ("class", "absolute", 512, 100),
        ],
    ),
    "ABSOLUTE_ANCHORS_FROM": (
        "ABSOLUTE_ANCHORS_FROM",
        ON,
        OFF,
        [
            ("class", "absolute", 512, 10),
            ("class", "absolute", 1152, 10),
            ("class", "absolute", 2048, 10),
            ("class", "absolute", 4096, 10),
        ],
    ),
    "class_by_class": (
        "class_by_class",
        lambda *_: True,
        lambda *_: False,
        [
            ("class", "relative", 256, 100),
            ("class", "relative", 512, 100),
            ("class", "relative", 1536, 100),
            ("class", "relative", 512, 32),
            ("class", "relative", 128, 10),
        ],
    ),
    "MANY_COLUMNS": (
        "MANY_COLUMNS",
        ON,
        OFF,
        [
            ("class", "relative", 512, 16),
            ("class", "relative", 512, 32),
            ("class", "relative", 512, 64),
            ("class", "distribution", 512, 32),
        ],
    ),
    "PAIRWISE_MINORITY_UP_TO": (
        "PAIRWISE_MINORITY_UP_TO",
        OFF,
        -1,
        [
            ("class", "relative", 512, 10),
            ("class", "relative", 512, 32),
            ("class", "relative", 512, 64),
            ("class", "relative", 1152, 100),
            ("instance", "relative", 512, 10),
            ("instance", "relative", 512, 100),
        ],
    ),
    "DENSE_PAIRS": (
        "DENSE_PAIRS",
        OFF,
        -1,
        [
            ("instance", "relative", 256, 10),
            ("instance", "relative", 512, 10),
            ("instance", "relative", 1024, 10),
        ],
    ),
}


def chosen(gate, n, n_classes):
    """Whether the unpatched rule takes the gated path at this shape."""
    if gate == "MANY_COLUMNS":
        return gates.many_columns(n_classes)
    if gate == "class_by_class":
        return gates.class_by_class(n_classes, min(25, n), n)
    if gate == "PAIRWISE_MINORITY_UP_TO":
        return gates.pairwise_minority(n_classes)
    if gate == "ABSOLUTE_ANCHORS_FROM":
        return gates.selects_absolute_anchors(n, n // 2)
    if gate == "DENSE_PAIRS":
        return gates.dense_pairs(1, n)
    # rows of one task, more than floor(rho n) of them
    return gates.selects_anchors(n, n // 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gates", nargs="+", default=list(GATES), choices=GATES)
    parser.add_argument("--rotations", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(
        "µs per forward + backward, best of "
        f"{args.rotations} interleaved blocks; ratio = the rule's path / the other\n"
    )
    print("| gate | level, comparison | size | on µs | off µs | rule takes | ratio |")
    print("|---|---|---|---:|---:|---|---:|")
    for gate in args.gates:
        attribute, on, off, cases = GATES[gate]
        original = getattr(gates, attribute)
        for level, comparison, n, n_classes in cases:
            takes = chosen(gate, n, n_classes)
            batches = []
            for seed in range(args.batches):
                logits, y, _ = long_tailed_batch(n, n_classes, seed=seed)
                embeddings = torch.randn(
                    n, 64, generator=torch.Generator().manual_seed(seed)
                )
                batches.append(
                    (logits.requires_grad_(), y, embeddings.requires_grad_())
                )
            env = {"crl_loss": crl_loss, "batches": batches}
            stmt = (
                "for logits, y, e in batches: "
                f"crl_loss(logits, y, embeddings=e, level={level!r}, "
                f"comparison={comparison!r}).backward()"
            )
            best = {"on": float("inf"), "off": float("inf")}
            try:
                for _ in range(args.rotations):
                    for side, value in (("on", on), ("off", off)):
                        setattr(gates, attribute, value)
                        seconds = _median_seconds(stmt, env, "cpu") / len(batches)
                        best[side] = min(best[side], seconds * 1e6)
            finally:
                setattr(gates, attribute, original)
            taken, other = (best["on"], best["off"])[:: 1 if takes else -1]
            print(
                f"| {gate} | {level} {comparison} | ({n}, {n_classes}) "
                f"| {best['on']:.0f} "
                f"| {best['off']:.0f} | {'on' if takes else 'off'} "
                f"| {taken / other:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
