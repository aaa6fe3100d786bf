"""Forward + backward time of ``crl_loss`` against ``F.cross_entropy``, and peak memory.

Both run on the same logits and the same long-tailed labels (class ``c`` drawn with
probability proportional to ``ratio ** (-c / (C - 1))``), single-threaded, timed side
by side in one process by ``torch.utils.benchmark``; the ratio is the figure to read.

    python benchmarks/bench_loss.py                 # every variant, every size
    python benchmarks/bench_loss.py --quick         # class level, relative only
    python benchmarks/bench_loss.py --device cuda

Beside each time it counts the aten operations one forward + backward dispatches
(nested ones included), with torch's profiler.

Peak memory of one forward + backward at (65536, 2), k = 25, is measured in a fresh
subprocess per variant: on the CPU as the rise of the resident set (Linux), on CUDA
with ``torch.cuda.max_memory_allocated``.

Where pytorch-metric-learning is installed (``pip install --no-deps
pytorch-metric-learning``), its ``TripletMarginLoss(margin=0.5)`` with
``BatchHardMiner`` on the same embeddings and labels is timed beside the instance
level, in the same run, as the reference for a batch-hard triplet loss.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils import benchmark

from skcrl import crl_loss

#: (batch size, classes): a small binary batch, the default estimator's batch of
#: 128 with 10 classes, 100 classes in batches of 512, a batch of 128 mined with
#: a memory of 1024 rows, and a large batch
SIZES = [(64, 2), (128, 10), (512, 100), (1152, 10), (4096, 10)]
MEMORY_SIZE = (65536, 2)
LEVELS = ["class", "instance"]
COMPARISONS = ["relative", "absolute", "distribution"]
EMBEDDING_DIM = 64
PML = "pytorch-metric-learning batch-hard triplet"


def long_tailed_batch(n, n_classes, ratio=100.0, device="cpu", seed=0):
    """Logits, labels and embeddings of one batch with a long-tailed label draw."""
    rng = np.random.default_rng(seed)
    weights = ratio ** (-np.arange(n_classes) / (n_classes - 1))
    labels = rng.choice(n_classes, size=n, p=weights / weights.sum())
    logits = torch.as_tensor(rng.normal(size=(n, n_classes)), dtype=torch.float32)
    embeddings = torch.as_tensor(
        rng.normal(size=(n, EMBEDDING_DIM)), dtype=torch.float32
    )
    return (
        logits.to(device).requires_grad_(),
        torch.as_tensor(labels).to(device),
        embeddings.to(device).requires_grad_(),
    )


def _median_seconds(stmt, env, device):
    timer = benchmark.Timer(stmt=stmt, globals=env, num_threads=1)
    if device == "cuda":
        torch.cuda.synchronize()
    return timer.blocked_autorange(min_run_time=0.5).median


def _batch_hard_triplet():
    """pytorch-metric-learning's batch-hard triplet loss, or None."""
    try:
        from pytorch_metric_learning import losses, miners
    except ImportError:
        return None
    loss, miner = losses.TripletMarginLoss(margin=0.5), miners.BatchHardMiner()
    return lambda e, y: loss(e, y, miner(e, y))


def aten_calls(stmt, env):
    """The aten operations one run of ``stmt`` dispatches, nested ones included
    (a ``.to()`` counts with the copy it makes): the dispatch overhead that
    dominates a small batch's time on the CPU."""
    exec(stmt, env)  # warm: caches, lazy initialisation
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU]
    ) as run:
        exec(stmt, env)
    return sum(event.name.startswith("aten::") for event in run.events())


def time_size(n, n_classes, variants, device):
    logits, labels, embeddings = long_tailed_batch(n, n_classes, device=device)
    env = dict(F=F, crl_loss=crl_loss, logits=logits, y=labels, e=embeddings)
    ce_stmt = "F.cross_entropy(logits, y).backward()"
    ce = _median_seconds(ce_stmt, env, device)
    row = {"n": n, "C": n_classes, "cross_entropy_us": ce * 1e6}
    row["aten_calls"] = {"cross_entropy": aten_calls(ce_stmt, env)}
    triplet = _batch_hard_triplet()
    if triplet is not None and any(level == "instance" for level, _ in variants):
        env["triplet"] = triplet
        row[PML] = _median_seconds("triplet(e, y).backward()", env, device) / ce
    for level, comparison in variants:
        stmt = (
            "crl_loss(logits, y, embeddings=e, "
            f"level={level!r}, comparison={comparison!r}).backward()"
        )
        row[f"{level}/{comparison}"] = _median_seconds(stmt, env, device) / ce
        row["aten_calls"][f"{level}/{comparison}"] = aten_calls(stmt, env)
    return row


_MEMORY_PROBE = """
import sys, torch
sys.path.insert(0, {here!r})
from bench_loss import long_tailed_batch
from skcrl import crl_loss

def rss_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])

torch.set_num_threads(1)
logits, y, e = long_tailed_batch({n}, {c}, device={device!r})
if {device!r} == "cuda":
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
else:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak resident set to the current one
    base = rss_kib("VmRSS:") * 1024
crl_loss(logits, y, embeddings=e, level={level!r}, comparison={comparison!r}).backward()
if {device!r} == "cuda":
    torch.cuda.synchronize(); peak = torch.cuda.max_memory_allocated()
else:
    peak = rss_kib("VmHWM:") * 1024
print(peak - base)
"""


def peak_memory_bytes(level, comparison, device, size=MEMORY_SIZE):
    here = sys.path[0]
    code = _MEMORY_PROBE.format(
        here=here,
        n=size[0],
        c=size[1],
        level=level,
        comparison=comparison,
        device=device,
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="class/relative only")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    variants = (
        [("class", "relative")]
        if args.quick
        else [(level, comparison) for level in LEVELS for comparison in COMPARISONS]
    )
    print(
        f"torch {torch.__version__}, {args.device}, {platform.machine()}, "
        f"1 thread; ratio = time(crl_loss fwd+bwd) / time(cross_entropy fwd+bwd)"
    )
    rows = [time_size(n, c, variants, args.device) for n, c in SIZES]
    names = [f"{level}/{comparison}" for level, comparison in variants]
    print("| variant | " + " | ".join(f"({r['n']}, {r['C']})" for r in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    print(
        "| cross-entropy (µs) | "
        + " | ".join(f"{r['cross_entropy_us']:.0f}" for r in rows)
        + " |"
    )
    if PML in rows[0]:
        names.append(PML)
    for name in names:
        print(f"| {name} | " + " | ".join(f"{r[name]:.1f}×" for r in rows) + " |")
    print("\naten calls of one forward + backward (nested ones included):")
    print("| variant | " + " | ".join(f"({r['n']}, {r['C']})" for r in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for name in rows[0]["aten_calls"]:
        print(
            f"| {name} | " + " | ".join(str(r["aten_calls"][name]) for r in rows) + " |"
        )

    memory = {}
    print(f"\npeak memory of one forward + backward at {MEMORY_SIZE}, k = 25:")
    for level, comparison in variants:
        peak = peak_memory_bytes(level, comparison, args.device)
        memory[f"{level}/{comparison}"] = peak
        print(f"  {level}/{comparison}: {peak / 2**20:.0f} MiB")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    "command": "python benchmarks/bench_loss.py --json " + args.json,
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                    "1 torch thread",
                    "device": args.device,
                    "torch": torch.__version__,
                    "timing": rows,
                    "peak_memory_bytes": memory,
                },
                out,
                indent=2,
            )


if __name__ == "__main__":
    main()
