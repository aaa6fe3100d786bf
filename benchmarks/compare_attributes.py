"""CRL against binary cross-entropy on the built-in attribute data set.

Every method trains the same network (an MLP on digits, ``SmallCNN`` on
Fashion-MNIST) with the same seed and the estimator's default budget (or
``--epochs``, ``--batch-size``, ``--lr``); only the loss differs.
Test metric: the class-balanced accuracy of each attribute and their mean (mA);
beside it, the log-loss and Brier score of ``predict_proba`` (means over the
attributes) on the test part weighted to the training distribution.

    python benchmarks/compare_attributes.py                  # digits, seeds 0-4
    python benchmarks/compare_attributes.py --dataset fashion --seeds 0 --epochs 15
    python benchmarks/compare_attributes.py --output attributes.csv

``--output`` writes one row per method and seed: ``mean_balanced_accuracy`` (mA),
the balanced accuracy of each attribute and the seconds of the fit.
"""

from __future__ import annotations

import argparse
import csv
import functools
import time

import numpy as np
import torch

from skcrl import (
    ClassAwareDataLoader,
    CRLMultiLabelClassifier,
    SigmoidFocalLoss,
    SmallCNN,
)
from skcrl.benchmark import probability_scores, training_distribution_weight
from skcrl.datasets import (
    load_digits_attributes,
    load_fashion_mnist_attributes,
)
from skcrl.metrics import balanced_accuracy_per_attribute

#: plain binary cross-entropy: no CRL term, and no logit adjustment (the
#: estimator's default has one)
BCE = dict(alpha=0.0, logit_adjustment=0.0)

#: the paper's loss alone: what the estimator's defaults add, turned off
PLAIN_CRL = dict(logit_adjustment=0.0, memory_size=0)

#: ``crl`` is the estimator at its defaults; ``crl+...`` add one thing to the
#: plain loss, as in ``python -m skcrl``.
METHODS = {
    "bce": BCE,
    "bce+balanced": dict(BCE, class_weight="balanced"),
    "bce+la": dict(alpha=0.0, logit_adjustment=1.0),
    "bce+sampler": dict(BCE, iterator_train=ClassAwareDataLoader),
    # Lin et al. 2017, gamma 2, positives and negatives alike (alpha None)
    "focal": dict(BCE, criterion=SigmoidFocalLoss),
    "crl": dict(),
    "crl-plain": PLAIN_CRL,
    "crl+la": dict(PLAIN_CRL, logit_adjustment=1.0),
    "crl+memory": dict(PLAIN_CRL, memory_size=1024),
    "crl+sampler": dict(PLAIN_CRL, iterator_train=ClassAwareDataLoader),
    "crl+balanced": dict(class_weight="balanced"),
    "crl-abs": dict(comparison="absolute"),
    "crl-inst": dict(level="instance"),
}

#: The columns of a record before the balanced accuracy of each attribute: mA,
#: then log-loss and Brier score of the probabilities (means over attributes)
SCORES = ("method", "seed", "mean_balanced_accuracy", "log_loss", "brier", "seconds")

DATASETS = {
    "digits": (load_digits_attributes, {}),
    "fashion-mlp": (
        functools.partial(load_fashion_mnist_attributes, as_images=False),
        {},
    ),
    "fashion": (load_fashion_mnist_attributes, dict(module=SmallCNN)),
}


def run(
    load,
    network,
    methods,
    seeds,
    *,
    epochs=None,
    batch_size=None,
    lr=None,
    verbose=True,
):
    """One record per (method, seed): mA and the balanced accuracy of each
    attribute on the test part. ``epochs``, ``batch_size``, ``lr``: None keeps
    the estimator's default."""
    budget = {
        name: value
        for name, value in (
            ("max_epochs", epochs),
            ("batch_size", batch_size),
            ("lr", lr),
        )
        if value is not None
    }
    records = []
    for seed in seeds:
        data = load(random_state=seed)
        for name in methods:
            start = time.perf_counter()
            clf = CRLMultiLabelClassifier(
                random_state=seed, **{**budget, **network, **METHODS[name]}
            ).fit(data.X_train, data.Y_train)
            seconds = time.perf_counter() - start
            per_attribute = balanced_accuracy_per_attribute(
                data.Y_test, clf.predict(data.X_test)
            )
            # the probabilities on the test part at the training distribution
            # of the classes the attributes come from
            probabilities = probability_scores(
                data.Y_test,
                clf.predict_proba(data.X_test),
                None,
                sample_weight=training_distribution_weight(
                    data.get("source_train", data.y_train),
                    data.get("source_test", data.y_test),
                ),
            )
            records.append(
                dict(
                    method=name,
                    seed=seed,
                    mean_balanced_accuracy=float(per_attribute.mean()),
                    **probabilities,
                    per_attribute=dict(
                        zip(data.attribute_names.tolist(), per_attribute, strict=True)
                    ),
                    seconds=seconds,
                )
            )
            if verbose:
                print(
                    f"seed {seed} {name:>13}: mA {per_attribute.mean():.3f} "
                    f"(alpha {clf.alpha_:.2f})",
                    flush=True,
                )
    return records, data


def write_csv(records, path):
    names = list(records[0]["per_attribute"])
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*SCORES, *names])
        for r in records:
            writer.writerow(
                [r[key] for key in SCORES] + [r["per_attribute"][n] for n in names]
            )


def read_csv(path):
    """The records :func:`write_csv` wrote (a score the file lacks reads NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        {
            "method": row["method"],
            "seed": int(row["seed"]),
            **{key: float(row.get(key, "nan")) for key in SCORES[2:]},
            "per_attribute": {k: float(v) for k, v in row.items() if k not in SCORES},
        }
        for row in rows
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: the estimator's"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: the estimator's"
    )
    parser.add_argument(
        "--lr", type=float, default=None, help="default: the estimator's"
    )
    parser.add_argument("--output", default=None, help="CSV file of the records")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load, network = DATASETS[args.dataset]
    methods = args.methods or list(METHODS)
    records, data = run(
        load,
        network,
        methods,
        args.seeds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
    )
    if args.output:
        write_csv(records, args.output)

    names = data.attribute_names.tolist()
    rates = data.Y_train.mean(axis=0)
    print(f"\n{data.description}\n")
    header = " | ".join(f"{n} ({r:.1%})" for n, r in zip(names, rates, strict=True))
    print(f"| method | mA, mean ± std | {header} | log-loss | Brier | s/fit |")
    print("|---|---:|" + "---:|" * (len(names) + 2) + "---:|")

    def of(name):
        return [r for r in records if r["method"] == name]

    for name in sorted(
        methods, key=lambda m: -np.mean([r["mean_balanced_accuracy"] for r in of(m)])
    ):
        table = np.array([list(r["per_attribute"].values()) for r in of(name)])
        print(
            f"| {name} | {table.mean(axis=1).mean():.3f} ± "
            f"{table.mean(axis=1).std():.3f} | "
            + " | ".join(f"{m:.3f}" for m in table.mean(axis=0))
            + "".join(
                f" | {np.mean([r[key] for r in of(name)]):.3f}"
                for key in ("log_loss", "brier")
            )
            + f" | {np.mean([r['seconds'] for r in of(name)]):.1f} |"
        )


if __name__ == "__main__":
    main()
