"""The loss of this checkout against the loss of an earlier revision, interleaved in
one process: the figure to read when a change claims a speed-up.

The earlier revision's ``skcrl`` package is taken out of git (``git archive``) into
a temporary folder and imported under another name beside this checkout's. Both
run forward + backward on the same batches (``bench_loss.py``'s long-tailed
batches, ``--batches`` different ones per block, so that no branch predictor
learns one input), in blocks that alternate between the two, best of
``--rotations`` blocks each, one thread; the ratio is now / earlier, and beside
it each one's aten calls per forward + backward.

    python benchmarks/bench_ab.py --against HEAD~3
    python benchmarks/bench_ab.py --against e5e2cc2 --comparisons absolute
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from bench_loss import (
    COMPARISONS,
    SIZES,
    _median_seconds,
    aten_calls,
    long_tailed_batch,
)

from skcrl import crl_loss

ROOT = Path(__file__).resolve().parent.parent
EARLIER = "skcrl_earlier"


def earlier_crl_loss(revision, folder):
    """``crl_loss`` of ``revision``, its package unpacked into ``folder``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "skcrl"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        try:
            tar.extractall(folder, filter="data")
        except TypeError:  # Python before 3.10.12 / 3.11.4: no filters
            tar.extractall(folder)
    (Path(folder) / "skcrl").rename(Path(folder) / EARLIER)
    sys.path.insert(0, str(folder))
    return importlib.import_module(EARLIER).crl_loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, help="a git revision")
    parser.add_argument("--level", default="class", choices=["class", "instance"])
    parser.add_argument("--comparisons", nargs="+", default=COMPARISONS)
    parser.add_argument("--rotations", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        functions = {"earlier": earlier_crl_loss(args.against, folder), "now": crl_loss}
        print(
            f"{args.level} level, this checkout against {args.against}: µs per "
            f"forward + backward, best of {args.rotations} interleaved blocks\n"
        )
        print("| comparison | size | earlier µs | now µs | ratio | aten calls |")
        print("|---|---|---:|---:|---:|---|")
        for comparison in args.comparisons:
            for n, n_classes in SIZES:
                batches = [
                    long_tailed_batch(n, n_classes, seed=seed)
                    for seed in range(args.batches)
                ]
                call = (
                    f"(logits, y, embeddings=e, level={args.level!r}, "
                    f"comparison={comparison!r}).backward()"
                )
                env = {**functions, "batches": batches}
                best = dict.fromkeys(functions, float("inf"))
                for _ in range(args.rotations):
                    for name in functions:
                        stmt = f"for logits, y, e in batches: {name}{call}"
                        seconds = _median_seconds(stmt, env, "cpu") / len(batches)
                        best[name] = min(best[name], seconds * 1e6)
                logits, y, e = batches[0]
                env.update(logits=logits, y=y, e=e)
                calls = {name: aten_calls(name + call, env) for name in functions}
                print(
                    f"| {comparison} | ({n}, {n_classes}) | {best['earlier']:.0f} "
                    f"| {best['now']:.0f} | {best['now'] / best['earlier']:.2f} "
                    f"| {calls['earlier']} -> {calls['now']} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
