"""Where a small fit's time goes: CRLClassifier() against skorch, piece by piece.

The small problem of ``bench_fit.py`` (600 rows, 3 long-tailed classes, batches
of 64, 30 epochs, ``skcrl.MLP``, Adam, one torch thread), fitted ``--repeats``
times by plain skorch's ``NeuralNetClassifier``, ``CRLClassifier(alpha=0)`` (skcrl's
loop with the cross-entropy alone) and ``CRLClassifier()`` in alternation. Each
fit's wall time is split by timers around the methods skorch calls:

- ``initialize``: module, criterion, optimiser, callbacks;
- the first epoch and the median of the others (skorch's ``EpochTimer``);
- per training step: the data (the batches' iteration), ``infer`` (the
  forward pass), ``get_loss`` and within it the CRL term, the backward pass
  with the callbacks' ``on_grad_computed`` (the rest of ``train_step_single``),
  the optimiser's step and zeroing, and the callbacks of a batch;
- per epoch: the callbacks at its end;
- the constants the class level builds for a new batch shape: its first loss
  against later ones.

The timers add about a microsecond per call to every variant; ``fit`` is the
median over the repeats, each part the median of its per-fit totals.

    python benchmarks/bench_breakdown.py                   # ~1 min
    python benchmarks/bench_breakdown.py --output docs/results/bench_breakdown.json

Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from skorch import NeuralNetClassifier

sys.path.insert(0, str(Path(__file__).parent))
from bench_fit import CONFIGURATIONS, data, net

import skcrl._base
from skcrl import CRLClassifier

SMALL = "600 rows, 3 classes, batch 64, 30 epochs"
VARIANTS = {
    "skorch NeuralNetClassifier": None,
    "CRLClassifier(alpha=0)": dict(alpha=0.0),
    "CRLClassifier()": dict(),
}

#: the parts reported per fit; the others per training step
PER_FIT = ("fit", "initialize", "first epoch", "later epoch (median)")

#: (owner, method, part): timers around these; nested parts are subtracted
#: from their parents when the report is built
TIMED = [
    ("net", "initialize", "initialize"),
    ("net", "infer", "forward (infer)"),
    ("net", "get_loss", "get_loss"),
    ("base", "crl_with_memory", "of which the CRL term"),
    ("net", "train_step_single", "train_step_single"),
    ("net", "train_step", "train_step"),
    ("net", "notify", "notify"),
    ("net", "run_single_epoch", "run_single_epoch"),
]


class Timers:
    """Accumulated seconds and calls per part, for the fit in progress."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self.notify_by_event = defaultdict(float)

    def reset(self):
        self.seconds.clear()
        self.calls.clear()
        self.notify_by_event.clear()


def install(timers):
    """Wrap the methods of ``TIMED`` where the nets' classes define them (and
    the CRL term); a method that calls its parent's is timed once, outermost."""
    depth = defaultdict(int)

    def wrap(owner, name, part):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            depth[part] += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                depth[part] -= 1
                if not depth[part]:
                    elapsed = time.perf_counter() - start
                    timers.seconds[part] += elapsed
                    timers.calls[part] += 1
                    if name == "notify":
                        event = args[1] if len(args) > 1 else kwargs["method_name"]
                        timers.notify_by_event[event] += elapsed

        setattr(owner, name, timed)

    for owner_name, name, part in TIMED:
        if owner_name == "base":
            wrap(skcrl._base, name, part)
            continue
        owners = {
            next(c for c in cls.__mro__ if name in c.__dict__)
            for cls in (NeuralNetClassifier, CRLClassifier)
        }
        for cls in (NeuralNetClassifier, CRLClassifier):
            owners.update(c for c in cls.__mro__ if name in c.__dict__)
        for owner in owners:
            wrap(owner, name, part)


def constants_cost(repeats=200):
    """The first class-level loss at a new batch shape, against later ones (µs)."""
    from skcrl import crl_loss
    from skcrl._cached import clear

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 3, generator=generator, requires_grad=True)
    target = torch.multinomial(
        torch.tensor([0.6, 0.3, 0.1]), 64, True, generator=generator
    )
    firsts, later = [], []
    for _ in range(repeats):
        clear()
        start = time.perf_counter()
        crl_loss(logits, target).backward()
        firsts.append(time.perf_counter() - start)
        start = time.perf_counter()
        crl_loss(logits, target).backward()
        later.append(time.perf_counter() - start)
    return {
        "first_loss_us": statistics.median(firsts) * 1e6,
        "later_loss_us": statistics.median(later) * 1e6,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n_classes, batch_size, n, epochs = CONFIGURATIONS[SMALL]
    X, y = data(n_classes, n=n)
    steps = epochs * -(-n // batch_size)
    timers = Timers()
    install(timers)
    per_fit = {name: defaultdict(list) for name in VARIANTS}
    for arguments in VARIANTS.values():  # imports and first-call costs
        net(arguments, n_classes, batch_size, epochs=1).fit(X, y)
    for _ in range(args.repeats):
        for name, arguments in VARIANTS.items():
            estimator = net(arguments, n_classes, batch_size, epochs=epochs)
            timers.reset()
            torch.manual_seed(0)
            start = time.perf_counter()
            estimator.fit(X, y)
            total = time.perf_counter() - start
            parts = per_fit[name]
            parts["fit"].append(total)
            durations = estimator.history[:, "dur"]
            parts["first epoch"].append(durations[0])
            parts["later epoch (median)"].append(statistics.median(durations[1:]))
            s = timers.seconds
            events = timers.notify_by_event
            batch_callbacks = sum(events[e] for e in ("on_batch_begin", "on_batch_end"))
            grad_callbacks = events["on_grad_computed"]
            loss = s["get_loss"]
            crl = s["of which the CRL term"]
            single = s["train_step_single"]
            parts["initialize"].append(s["initialize"])
            parts["forward (infer)"].append(s["forward (infer)"])
            parts["get_loss without the CRL term"].append(loss - crl)
            parts["the CRL term (forward)"].append(crl)
            parts["backward and on_grad_computed"].append(
                single - loss - s["forward (infer)"]
            )
            parts["of which on_grad_computed"].append(grad_callbacks)
            # train_step less train_step_single: zero_grad, the optimiser's step
            parts["optimiser (zero_grad, step)"].append(s["train_step"] - single)
            parts["batch callbacks (begin, end)"].append(batch_callbacks)
            parts["epoch callbacks"].append(
                sum(v for e, v in events.items() if e.startswith("on_epoch"))
            )
            # the loop less its steps and batch callbacks: fetching the batches
            # and recording the history
            parts["data and history"].append(
                s["run_single_epoch"] - s["train_step"] - batch_callbacks
            )
    results = {}
    for name, parts in per_fit.items():
        results[name] = {}
        for part, values in parts.items():
            seconds = statistics.median(values)
            per_step = part not in (
                "fit",
                "initialize",
                "first epoch",
                "later epoch (median)",
            )
            results[name][part] = {
                "ms_per_fit": seconds * 1e3,
                "us_per_step": seconds / steps * 1e6 if per_step else None,
            }
    base = results["skorch NeuralNetClassifier"]["fit"]["ms_per_fit"]
    for name in results:
        results[name]["fit"]["ratio"] = results[name]["fit"]["ms_per_fit"] / base
    constants = constants_cost()
    print(f"{SMALL}: {steps} steps, median of {args.repeats} alternating fits\n")
    header = "| part | " + " | ".join(VARIANTS) + " |"
    print(header + "\n|---|" + "---:|" * len(VARIANTS))
    for part in results["CRLClassifier()"]:
        cells = []
        for name in VARIANTS:
            row = results[name].get(part)
            if row is None:
                cells.append("")
            elif row["us_per_step"] is None:
                cells.append(f"{row['ms_per_fit']:.1f} ms")
            else:
                cells.append(f"{row['us_per_step']:.0f} µs")
        print(f"| {part} | " + " | ".join(cells) + " |")
    print(
        "\nfit ratio to skorch: "
        + ", ".join(f"{n} {r['fit']['ratio']:.2f}x" for n, r in results.items())
    )
    print(
        "class-level constants for a new shape: first loss "
        f"{constants['first_loss_us']:.0f} µs, later "
        f"{constants['later_loss_us']:.0f} µs"
    )
    if args.output:
        report = {
            "command": "python benchmarks/bench_breakdown.py "
            + " ".join(argv or sys.argv[1:]),
            "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread",
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "configuration": SMALL,
            "steps": steps,
            "repeats": args.repeats,
            "results": results,
            "constants": constants,
        }
        args.output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
