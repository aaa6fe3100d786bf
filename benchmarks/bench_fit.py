"""What ``fit`` costs: CRLClassifier against a plain skorch NeuralNetClassifier.

Side by side in one run, the median of ``--repeats`` fits that alternate
between the variants, one torch thread: 20,000 x 64
inputs with long-tailed labels (class ``c`` drawn with weight ``ratio ** (-c /
(C - 1))``, ratio 100), ``skcrl.MLP`` (one hidden layer of 64), Adam, 3 epochs,
shuffled batches, no validation split. Three configurations: 10 classes in
batches of 128, 100 classes in batches of 512, and the small problem a
scikit-learn user fits many times in a grid search: 600 rows, 3 classes, batches
of 64, 30 epochs. Every variant trains the same module class on the same data;
ratios are against skorch's ``NeuralNetClassifier`` with cross-entropy.

    python benchmarks/bench_fit.py                  # ~5 min
    python benchmarks/bench_fit.py --output docs/results/bench_fit.json

Run it on an otherwise idle machine: two busy processes on two cores distort it.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier

from skcrl import MLP, CRLClassifier

#: name: (classes, batch size, rows, epochs)
CONFIGURATIONS = {
    "10 classes, batch 128": (10, 128, 20_000, 3),
    "100 classes, batch 512": (100, 512, 20_000, 3),
    "600 rows, 3 classes, batch 64, 30 epochs": (3, 64, 600, 30),
}

#: name: CRLClassifier arguments (None: plain skorch). The first block prices a
#: default step piece by piece: skcrl's loop with the cross-entropy alone, then
#: the logit shift, the history's CE/CRL terms, the divergence guard, the CRL
#: term (the defaults: no memory since the protocol's rule of two standard
#: errors); then memories of three sizes and the instance level.
VARIANTS = {
    "skorch NeuralNetClassifier": None,
    "CRLClassifier(alpha=0, logit_adjustment=0), no guard, no terms": dict(
        alpha=0.0,
        logit_adjustment=0.0,
        callbacks__divergence_guard=None,
        record_terms=False,
    ),
    "+ logit shift": dict(
        alpha=0.0, callbacks__divergence_guard=None, record_terms=False
    ),
    "+ history terms": dict(alpha=0.0, callbacks__divergence_guard=None),
    "CRLClassifier(alpha=0), the CE step": dict(alpha=0.0),
    "CRLClassifier(), the defaults": dict(),
    "memory_size=256": dict(memory_size=256),
    "memory_size=1024": dict(memory_size=1024),
    "memory_size=4096": dict(memory_size=4096),
    "instance level": dict(level="instance", memory_size=0),
    "instance level, memory_size=1024": dict(level="instance", memory_size=1024),
    "instance level, memory_size=4096": dict(level="instance", memory_size=4096),
}


def data(n_classes, n=20_000, n_features=64, ratio=100.0, seed=0):
    rng = np.random.default_rng(seed)
    weights = ratio ** (-np.arange(n_classes) / (n_classes - 1))
    y = rng.choice(n_classes, size=n, p=weights / weights.sum())
    centres = rng.normal(size=(n_classes, n_features))
    X = (centres[y] + rng.normal(scale=2.0, size=(n, n_features))).astype(np.float32)
    return X, y.astype(np.int64)


def net(arguments, n_classes, batch_size, device="cpu", epochs=3):
    common = dict(
        max_epochs=epochs,
        batch_size=batch_size,
        lr=0.001,
        optimizer=torch.optim.Adam,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
    module = dict(
        module=MLP,
        module__n_features=64,
        module__n_classes=n_classes,
        module__hidden_layer_sizes=(64,),
    )
    if arguments is None:
        return NeuralNetClassifier(
            criterion=torch.nn.CrossEntropyLoss, **module, **common, device=device
        )
    arguments = dict(arguments)
    if arguments.get("level") == "instance":
        module["module__return_embeddings"] = True
    estimator = CRLClassifier if arguments.pop("record_terms", True) else _NoTerms
    return estimator(random_state=0, **module, **common, **arguments, device=device)


class _NoTerms(CRLClassifier):
    """CRLClassifier without the per-batch CE and CRL terms in the history, to
    price them."""

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        self._batch_terms_ = None
        super().on_batch_end(net, batch=batch, training=training, **kwargs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=None)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    variants = args.variants or list(VARIANTS)
    if "skorch NeuralNetClassifier" not in variants:
        variants.insert(0, "skorch NeuralNetClassifier")
    results = {}
    for configuration, (n_classes, batch_size, n, epochs) in CONFIGURATIONS.items():
        X, y = data(n_classes, n=n)
        times = {name: [] for name in variants}
        # interleaved repeats: drifts of the machine hit every variant alike
        for _ in range(args.repeats):
            for name in variants:
                estimator = net(
                    VARIANTS[name], n_classes, batch_size, args.device, epochs
                )
                torch.manual_seed(0)
                if args.device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                estimator.fit(X, y)
                if args.device == "cuda":
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["skorch NeuralNetClassifier"])
        steps = epochs * math.ceil(len(y) / batch_size)
        results[configuration] = {
            name: {
                "median_seconds": statistics.median(t),
                "ratio": statistics.median(t) / base,
                "step_us": statistics.median(t) / steps * 1e6,
                "seconds": t,
            }
            for name, t in times.items()
        }
        print(f"\n{configuration} (median of {args.repeats}, 1 thread, {steps} steps)")
        print(
            "| variant | median s | µs per step | ratio to skorch |\n"
            "|---|---:|---:|---:|"
        )
        for name, row in results[configuration].items():
            print(
                f"| {name} | {row['median_seconds']:.2f} | {row['step_us']:.0f} "
                f"| {row['ratio']:.2f}x |"
            )
    if args.output:
        report = {
            "command": "python benchmarks/bench_fit.py "
            + " ".join(argv or sys.argv[1:]),
            "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread",
            "device": args.device,
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "results": results,
        }
        args.output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
