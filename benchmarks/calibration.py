"""How well calibrated skcrl's probabilities are, and what calibrating or
thresholding them does to its decisions.

Per task and seed, every method trains the suite's network with the suite's budget
(``run_suite.py``: an MLP of 128, Adam, lr 0.003, batches of 64, the optimiser
steps of 30 epochs) and is scored on the test part, weighted to the training
distribution (``skcrl.benchmark.training_distribution_weight``):

- ``ce``, ``ce+la``, ``ce+ros``, ``crl``: as in ``python -m skcrl``;
- ``crl (balanced_proba)``: the same fitted ``crl``, its balanced probabilities
  (what ``predict_proba`` returned before 2026-12-05);
- ``crl in CalibratedClassifierCV``: scikit-learn's sigmoid calibration on 3
  stratified folds of the training part;
- ``crl in TunedThresholdClassifierCV``: the threshold of the binary tasks tuned
  for balanced accuracy on 3 folds.

Metrics: balanced accuracy of ``predict``, log-loss and Brier score of
``predict_proba``, and the mean predicted probability of the rarest training
class against its training rate. On an attribute task, each attribute's mean
predicted probability against its rate, for ``bce``, ``bce+la`` and ``crl``
(default and balanced probabilities), on both attribute tasks.

    python benchmarks/calibration.py        # ~10 minutes on 2 cores

Writes ``docs/results/calibration.json`` and the reliability diagrams
``docs/results/reliability.png`` (binary tasks, test parts pooled over seeds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.calibration import CalibratedClassifierCV, CalibrationDisplay
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV

from skcrl import CRLMultiLabelClassifier, __version__
from skcrl.benchmark import (
    METHODS,
    SUITE,
    build,
    default_budget,
    make_sampler,
    probability_scores,
    training_distribution_weight,
)

#: the estimators' own budget, as the suite's comparison trains
BUDGET = default_budget()
TASKS = ("yeast4", "vehicle0", "abalone19", "digits-lt40", "segment-lt50")
ATTRIBUTE_TASKS = ("digits-attributes", "fashion-attributes")
#: binary tasks whose pooled test parts are drawn as reliability diagrams
DIAGRAMS = ("yeast4", "vehicle0")
#: drawn in each diagram, in this order
DRAWN = ("ce", "ce+la", "crl", "crl (balanced_proba)", "ce+ros")


def _score(y_test, weight, classes, rarest, predicted, proba):
    scores = probability_scores(y_test, proba, classes, sample_weight=weight)
    column = list(classes).index(rarest)
    return {
        "balanced_accuracy": float(balanced_accuracy_score(y_test, predicted)),
        **scores,
        "mean_proba_rarest": float(np.average(proba[:, column], weights=weight)),
    }


def _folds(seed):
    return StratifiedKFold(3, shuffle=True, random_state=seed)


def run_task(name, seeds):
    """``{method: [scores per seed]}``, the rarest class's training rate, and the
    pooled binary test labels and probabilities for the diagrams."""
    task = SUITE[name]
    records, pooled = {}, {"y": [], "proba": {}}
    rate = None
    for seed in seeds:
        data = task.load(seed)
        X, y = data.X_train, data.y_train
        classes, counts = np.unique(y, return_counts=True)
        rarest = classes[counts.argmin()]
        rate = float(counts.min() / counts.sum())
        weight = training_distribution_weight(y, data.y_test)
        steps = BUDGET["epochs"] * math.ceil(len(y) / BUDGET["batch_size"])
        common = dict(task.network)

        def make(
            method, seed=seed, X=X, y=y, counts=counts, steps=steps, common=common
        ):
            n_fit = len(y)
            if METHODS[method].sampler is not None:
                sampler = make_sampler(METHODS[method], seed, counts.min())
                n_fit = len(sampler.fit_resample(X, y)[1])
            return build(
                METHODS[method],
                n_train=n_fit,
                steps=steps,
                seed=seed,
                smallest_class=counts.min(),
                **common,
            )

        binary = len(classes) == 2
        crl = make("crl")
        estimators = {m: make(m) for m in ("ce", "ce+la", "ce+ros")}
        estimators["crl"] = crl
        estimators["crl in CalibratedClassifierCV"] = CalibratedClassifierCV(
            make("crl"), cv=_folds(seed)
        )
        if binary:
            estimators["crl in TunedThresholdClassifierCV"] = (
                TunedThresholdClassifierCV(
                    make("crl"),
                    scoring="balanced_accuracy",
                    cv=_folds(seed),
                    random_state=seed,
                )
            )
        for method, estimator in estimators.items():
            estimator.fit(X, y)
            proba = estimator.predict_proba(data.X_test)
            predicted = estimator.predict(data.X_test)
            results = {method: proba}
            if method == "crl":  # the same model's balanced probabilities
                estimator.set_params(balanced_proba=True)
                results["crl (balanced_proba)"] = estimator.predict_proba(data.X_test)
                estimator.set_params(balanced_proba=False)
            for label, p in results.items():
                records.setdefault(label, []).append(
                    _score(
                        data.y_test, weight, estimator.classes_, rarest, predicted, p
                    )
                )
                if binary and name in DIAGRAMS and label in DRAWN:
                    column = list(estimator.classes_).index(rarest)
                    pooled["proba"].setdefault(label, []).append(p[:, column])
        if binary and name in DIAGRAMS:
            pooled["y"].append(data.y_test == rarest)
        print(f"{name} seed {seed} done", flush=True)
    return records, rate, pooled


def run_attributes(name, seeds):
    """Per method, each attribute's mean predicted probability on the test part
    weighted to the training distribution, and the training rates."""
    task = SUITE[name]
    methods = {
        "bce": dict(alpha=0.0, logit_adjustment=0.0),
        "bce+la": dict(alpha=0.0),
        "crl": {},
    }
    means, scores = {}, {}
    for seed in seeds:
        data = task.load(seed)
        weight = training_distribution_weight(data.source_train, data.source_test)
        for method, arguments in methods.items():
            clf = CRLMultiLabelClassifier(
                random_state=seed,
                **task.network,
                **arguments,
            ).fit(data.X_train, data.Y_train)
            results = {method: clf.predict_proba(data.X_test)}
            if method == "crl":
                clf.set_params(balanced_proba=True)
                results["crl (balanced_proba)"] = clf.predict_proba(data.X_test)
            for label, proba in results.items():
                means.setdefault(label, []).append(
                    np.average(proba, axis=0, weights=weight).tolist()
                )
                scores.setdefault(label, []).append(
                    probability_scores(data.Y_test, proba, None, sample_weight=weight)
                )
    return {
        "attributes": data.attribute_names.tolist(),
        "rates": data.Y_train.mean(axis=0).tolist(),
        "mean_proba": {m: np.mean(v, axis=0).tolist() for m, v in means.items()},
        "scores": {
            m: {k: float(np.mean([s[k] for s in v])) for k in v[0]}
            for m, v in scores.items()
        },
    }


def plot(pooled, rates, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pooled), figsize=(6 * len(pooled), 5.5))
    for axis, (name, drawn) in zip(np.atleast_1d(axes), pooled.items(), strict=True):
        y = np.concatenate(drawn["y"])
        for label in DRAWN:
            CalibrationDisplay.from_predictions(
                y,
                np.concatenate(drawn["proba"][label]),
                n_bins=8,
                strategy="quantile",
                name=label,
                ax=axis,
            )
        axis.set_title(
            f"{name}: rare class {rates[name]:.1%} of the training part, "
            f"{y.sum()} rare test samples",
            fontsize=10,
        )
        axis.set_xlabel("mean predicted probability of the rare class (bin)")
        axis.set_ylabel("fraction of the rare class (bin)")
        axis.legend(fontsize=8, loc="upper left")
    fig.suptitle("Reliability of predict_proba, test parts of seeds pooled")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(SUITE), default=TASKS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output", type=Path, default=Path("docs/results"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    tasks, rates, pooled = {}, {}, {}
    for name in args.tasks:
        records, rates[name], drawn = run_task(name, args.seeds)
        tasks[name] = {
            "rarest_rate": rates[name],
            "methods": {
                method: {key: [s[key] for s in scores] for key in scores[0]}
                for method, scores in records.items()
            },
        }
        if drawn["y"]:
            pooled[name] = drawn
    attributes = {name: run_attributes(name, args.seeds) for name in ATTRIBUTE_TASKS}
    args.output.mkdir(parents=True, exist_ok=True)
    if pooled:
        plot(pooled, rates, args.output / "reliability.png")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    report = {
        "command": "python benchmarks/calibration.py " + " ".join(argv or sys.argv[1:]),
        "commit": commit,
        "seeds": args.seeds,
        **BUDGET,
        "skcrl": __version__,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "minutes": round((time.perf_counter() - start) / 60, 1),
        "tasks": tasks,
        "attributes": attributes,
    }
    (args.output / "calibration.json").write_text(json.dumps(report, indent=1))
    for name, task in tasks.items():
        print(f"\n{name} (rarest class {task['rarest_rate']:.1%} of training)")
        for method, scores in task["methods"].items():
            print(
                f"  {method:>34}: "
                + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in scores.items())
            )
    for name, entry in attributes.items():
        print(f"\n{name}: rates {np.round(entry['rates'], 3).tolist()}")
        for method, mean in entry["mean_proba"].items():
            print(f"  {method:>22}: {np.round(mean, 3).tolist()}")


if __name__ == "__main__":
    main()
