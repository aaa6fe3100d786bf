"""Where a fit's time goes, CRLClassifier against skorch, part by part.

``benchmarks/bench_fit.py``'s configurations (10 classes in batches of 128, 100
in batches of 512, and the small problem: 600 rows, 3 classes, batches of 64, 30
epochs), ``skcrl.MLP``, Adam, one torch thread. Plain skorch's
``NeuralNetClassifier``, ``CRLClassifier(alpha=0)`` (skcrl's loop with the
cross-entropy alone) and ``CRLClassifier()`` are fitted ``--repeats`` times in
alternation, with timers around the methods skorch calls:

- per fit: ``initialize`` (module, criterion, optimiser, callbacks), the first
  epoch and the median of the others (skorch's ``EpochTimer``);
- per training step: the forward pass (``infer``); ``get_loss`` without the CRL
  term, and the CRL term's forward; the backward pass with the callbacks'
  ``on_grad_computed`` (of which that, apart); the optimiser (``zero_grad`` and
  ``step``); the callbacks of a batch and, spread over its steps, of an epoch;
  the data and the history (skorch's loop less its steps and callbacks).

Each part is the median of its per-fit totals; the timers add about a
microsecond per call to every variant. Then the CRL term alone
(``crl_loss`` forward and backward at the configuration's batch shape, in a
loop, ``torch.utils.benchmark``), and its first call at a new shape, which
builds the constants the class level reuses: inside a fit each operation runs
with caches that the module, the optimiser and the loop have just used, and
costs more than in a loop of the loss alone.

    python benchmarks/bench_step.py                          # ~1 min
    python benchmarks/bench_step.py --output docs/results/bench_step.json
    python benchmarks/bench_step.py --configurations small

Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier

sys.path.insert(0, str(Path(__file__).parent))

from bench_fit import CONFIGURATIONS, data, net
from bench_loss import _median_seconds, long_tailed_batch

import skcrl._base
from skcrl import CRLClassifier, crl_loss
from skcrl._cached import clear

VARIANTS = {
    "skorch NeuralNetClassifier": None,
    "CRLClassifier(alpha=0)": dict(alpha=0.0),
    "CRLClassifier()": dict(),
}

#: short names of bench_fit's configurations, for --configurations
SHORT_NAMES = dict(
    zip(("10-classes", "100-classes", "small"), CONFIGURATIONS, strict=True)
)

#: the parts reported per fit (ms); the others per training step (µs)
PER_FIT = ("fit", "initialize", "first epoch", "later epoch (median)")

#: (owner, method, timer): the methods timed; "base" is skcrl._base's name
#: for the CRL term
TIMED = [
    ("net", "initialize", "initialize"),
    ("net", "infer", "infer"),
    ("net", "get_loss", "get_loss"),
    ("base", "crl_with_memory", "crl"),
    ("net", "train_step_single", "train_step_single"),
    ("net", "train_step", "train_step"),
    ("net", "notify", "notify"),
    ("net", "run_single_epoch", "run_single_epoch"),
]


class Timers:
    """Seconds spent in the timed methods during the fit in progress, by
    timer, and in ``notify`` by event; a method that calls its parent's is
    timed once, outermost."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.by_event = defaultdict(float)
        self._depth = defaultdict(int)

    def reset(self):
        self.seconds.clear()
        self.by_event.clear()

    def wrap(self, owner, name, timer):
        original = owner.__dict__[name]

        def timed(*args, **kwargs):
            self._depth[timer] += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth[timer] -= 1
                if not self._depth[timer]:
                    elapsed = time.perf_counter() - start
                    self.seconds[timer] += elapsed
                    if name == "notify":
                        event = args[1] if len(args) > 1 else kwargs["method_name"]
                        self.by_event[event] += elapsed

        setattr(owner, name, timed)

    def install(self):
        for owner_name, name, timer in TIMED:
            if owner_name == "base":
                self.wrap(skcrl._base, name, timer)
                continue
            owners = {
                cls
                for net_class in (NeuralNetClassifier, CRLClassifier)
                for cls in net_class.__mro__
                if name in cls.__dict__
            }
            for owner in owners:
                self.wrap(owner, name, timer)


def parts_of(timers, estimator, total):
    """The parts of one fit, in seconds per fit."""
    s, events = timers.seconds, timers.by_event
    durations = estimator.history[:, "dur"]
    batch_callbacks = events["on_batch_begin"] + events["on_batch_end"]
    single = s["train_step_single"]
    return {
        "fit": total,
        "initialize": s["initialize"],
        "first epoch": durations[0],
        "later epoch (median)": statistics.median(durations[1:]),
        "forward (infer)": s["infer"],
        "get_loss without the CRL term": s["get_loss"] - s["crl"],
        "the CRL term (forward)": s["crl"],
        "backward and on_grad_computed": single - s["get_loss"] - s["infer"],
        "of which on_grad_computed": events["on_grad_computed"],
        "optimiser (zero_grad, step)": s["train_step"] - single,
        "batch callbacks (begin, end)": batch_callbacks,
        "epoch callbacks": sum(
            v for e, v in events.items() if e.startswith("on_epoch")
        ),
        "data and history": s["run_single_epoch"] - s["train_step"] - batch_callbacks,
    }


def loss_alone(n_classes, batch_size, repeats=100):
    """µs of ``crl_loss`` (the defaults) forward and backward on one batch of
    the configuration's shape, in a loop; of its first call after the cached
    constants were dropped; and of the cross-entropy's."""
    logits, labels, _ = long_tailed_batch(batch_size, n_classes)
    env = dict(F=F, crl_loss=crl_loss, logits=logits, y=labels)
    first = []
    for _ in range(repeats):
        clear()
        start = time.perf_counter()
        crl_loss(logits, labels).backward()
        first.append(time.perf_counter() - start)
    return {
        "crl_loss_us": _median_seconds("crl_loss(logits, y).backward()", env, "cpu")
        * 1e6,
        "first_crl_loss_us": statistics.median(first) * 1e6,
        "cross_entropy_us": _median_seconds(
            "F.cross_entropy(logits, y).backward()", env, "cpu"
        )
        * 1e6,
    }


def run_configuration(configuration, repeats, timers):
    n_classes, batch_size, n, epochs = CONFIGURATIONS[configuration]
    X, y = data(n_classes, n=n)
    steps = epochs * math.ceil(n / batch_size)
    for arguments in VARIANTS.values():  # imports and first calls, not timed
        net(arguments, n_classes, batch_size, epochs=1).fit(X, y)
    per_fit = {name: defaultdict(list) for name in VARIANTS}
    for _ in range(repeats):
        for name, arguments in VARIANTS.items():
            estimator = net(arguments, n_classes, batch_size, epochs=epochs)
            timers.reset()
            torch.manual_seed(0)
            start = time.perf_counter()
            estimator.fit(X, y)
            total = time.perf_counter() - start
            for part, seconds in parts_of(timers, estimator, total).items():
                per_fit[name][part].append(seconds)
    results = {}
    for name, parts in per_fit.items():
        results[name] = {}
        for part, values in parts.items():
            seconds = statistics.median(values)
            results[name][part] = (
                {"ms_per_fit": seconds * 1e3}
                if part in PER_FIT
                else {"us_per_step": seconds / steps * 1e6}
            )
    base = results["skorch NeuralNetClassifier"]["fit"]["ms_per_fit"]
    for row in results.values():
        row["fit"]["ratio"] = row["fit"]["ms_per_fit"] / base
    return {
        "steps": steps,
        "parts": results,
        "loss_alone": loss_alone(n_classes, batch_size),
    }


def print_configuration(configuration, report, repeats):
    print(
        f"\n{configuration}: {report['steps']} steps, median of {repeats} "
        "alternating fits, 1 thread\n"
    )
    names = list(report["parts"])
    print("| part | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))
    for part in report["parts"][names[-1]]:
        cells = []
        for name in names:
            row = report["parts"][name][part]
            if "ratio" in row:
                cells.append(f"{row['ms_per_fit']:.0f} ms ({row['ratio']:.2f}x)")
            elif "ms_per_fit" in row:
                cells.append(f"{row['ms_per_fit']:.1f} ms")
            else:
                cells.append(f"{row['us_per_step']:.0f} µs")
        print(f"| {part} | " + " | ".join(cells) + " |")
    alone = report["loss_alone"]
    print(
        f"\ncrl_loss alone, forward and backward: {alone['crl_loss_us']:.0f} µs "
        f"(its first call at a new shape {alone['first_crl_loss_us']:.0f} µs; "
        f"cross-entropy {alone['cross_entropy_us']:.0f} µs)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configurations", nargs="+", choices=list(SHORT_NAMES), default=SHORT_NAMES
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    timers = Timers()
    timers.install()
    reports = {}
    for configuration in (SHORT_NAMES[name] for name in args.configurations):
        reports[configuration] = run_configuration(configuration, args.repeats, timers)
        print_configuration(configuration, reports[configuration], args.repeats)
    if args.output:
        report = {
            "command": "python benchmarks/bench_step.py "
            + " ".join(argv or sys.argv[1:]),
            "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread",
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "repeats": args.repeats,
            "results": reports,
        }
        args.output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
