"""Choose the estimators' training budget and stopping rule by a written protocol,
on training parts only.

The protocol (docs: user_guide/defaults, "How the budget was chosen"):

1. Tasks: the tabular track of ``skcrl.benchmark.SUITE`` (thirteen single-label
   tasks, two attribute tasks) and, for ``early_stopping="auto"``'s large side,
   ``fashion-lt10-large``: flattened Fashion-MNIST, long tail of ratio 10, about
   24,000 training rows. Seeds 0, 1, 2; a seed fixes the task's split (the
   comparison's) and the folds.
2. Candidates, each with the estimators' CRL defaults (``eta``, the logit
   adjustment, no memory), Adam at lr 0.003, batches of 64, one hidden layer of
   128, the input standardised inside the MLP:

   - ``fixed-30``: 30 epochs (the comparison's budget until this protocol);
   - ``fixed-30 raw``: the same without the MLP's standardisation;
   - ``fixed-60``: 60 epochs;
   - ``train-rule``: scikit-learn's rule on the training loss
     (``early_stopping=True, validation_fraction=None``, ``n_iter_no_change=10``,
     ``tol=1e-4``), at most 100 epochs;
   - ``valid-rule``: the rule on the loss of a stratified 10% held out of the
     rows ``fit`` sees, best epoch restored, at most 100 epochs.

   Each is also run as users combine it, with ``class_weight="balanced"``. The
   reference ``old-defaults`` is what ``CRLClassifier()`` trained before: lr
   0.001, batches of 128, hidden layer of 64, 20 epochs, raw input.
3. Score: 3-fold cross-validation of the training part (stratified; shuffled
   folds for attributes), balanced accuracy (mean balanced accuracy for
   attributes). Time: seconds per fit, one thread.
4. Rule, with the paired standard error ``sd / sqrt(n)`` of the same seeds:

   a. Guard: a candidate is out when, on any task, its mean paired difference
      to ``fixed-30`` is below -0.01 minus one standard error, with or without
      class weights.
   b. Best: the highest mean score over the tabular tasks and seeds.
   c. Cost: the candidates within two standard errors (pooled over tasks and
      seeds) of the best; among them the default is the cheapest in time per
      fit.
   d. A costlier default than ``fixed-30`` must confirm on seeds 3, 4, 5: its
      pooled paired gain over ``fixed-30`` there above two standard errors.
   e. ``early_stopping="auto"`` keeps the held-out rule above 10,000 rows only
      if, on the large task, ``valid-rule`` is not below ``fixed-30`` by more
      than one standard error and it saves time; else "auto" is off there too.

    python benchmarks/protocol_budget.py                 # ~1 h on 2 cores
    python benchmarks/protocol_budget.py --analyse-only  # re-read the CSVs

Rows are appended to ``docs/results/protocol_budget.csv`` as jobs finish (an
interrupted run resumes); the analysis is written to
``docs/results/protocol_budget.json``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from protocol_defaults import read_rows, run_resuming

from skcrl.benchmark import paired_difference

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
SEEDS = (0, 1, 2)
CONFIRMATION_SEEDS = (3, 4, 5)
LARGE_TASK = "fashion-lt10-large"
GUARD_TOLERANCE = 0.01
COST_STANDARD_ERRORS = 2.0
BASE = dict(lr=0.003, batch_size=64, module__hidden_layer_sizes=(128,))
CANDIDATES = {
    "fixed-30": dict(BASE, max_epochs=30, early_stopping=False),
    "fixed-30 raw": dict(
        BASE, max_epochs=30, early_stopping=False, module__standardize=False
    ),
    "fixed-60": dict(BASE, max_epochs=60, early_stopping=False),
    "train-rule": dict(
        BASE, max_epochs=100, early_stopping=True, validation_fraction=None
    ),
    "valid-rule": dict(
        BASE, max_epochs=100, early_stopping=True, validation_fraction=0.1
    ),
}
REFERENCE = {
    "old-defaults": dict(
        lr=0.001,
        batch_size=128,
        max_epochs=20,
        early_stopping=False,
        module__hidden_layer_sizes=(64,),
        module__standardize=False,
    )
}
WEIGHTED = " +class_weight"
FIELDS = ("task", "seed", "setting", "score", "fold_scores", "seconds", "epochs")


def settings():
    out = {**REFERENCE}
    for name, arguments in CANDIDATES.items():
        out[name] = arguments
        out[name + WEIGHTED] = {**arguments, "class_weight": "balanced"}
    return out


def load_task(name, seed):
    from skcrl import datasets
    from skcrl.benchmark import SUITE

    if name == LARGE_TASK:
        return datasets.load_fashion_mnist_long_tailed(
            imbalance_ratio=10.0, n_max=6000, as_images=False, random_state=seed
        ), "multi-class"
    task = SUITE[name]
    return task.load(seed), task.kind


def run_job(task_name, seed, name, arguments, folds=3):
    import torch
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import KFold, StratifiedKFold

    from skcrl import CRLClassifier, CRLMultiLabelClassifier
    from skcrl.metrics import mean_balanced_accuracy_score

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    data, kind = load_task(task_name, seed)
    X, y = data.X_train, data.y_train
    if kind == "attributes":
        estimator, metric = CRLMultiLabelClassifier, mean_balanced_accuracy_score
        splitter = KFold(folds, shuffle=True, random_state=seed)
    else:
        estimator, metric = CRLClassifier, balanced_accuracy_score
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    start = time.perf_counter()
    scores, epochs = [], []
    for train, valid in splitter.split(X, y):
        clf = estimator(random_state=seed, **arguments).fit(X[train], y[train])
        scores.append(float(metric(y[valid], clf.predict(X[valid]))))
        epochs.append(clf.n_iter_)
    return {
        "task": task_name,
        "seed": seed,
        "setting": name,
        "score": float(np.mean(scores)),
        "fold_scores": " ".join(f"{s:.6f}" for s in scores),
        "seconds": (time.perf_counter() - start) / folds,
        "epochs": " ".join(map(str, epochs)),
    }


def tabular_tasks():
    from skcrl.benchmark import SUITE

    return [name for name, task in SUITE.items() if task.track == "tabular"]


def jobs(seeds, with_large=True):
    names = settings()
    out = [(t, s, n) for t in tabular_tasks() for s in seeds for n in names]
    if with_large:
        large = ("old-defaults", "fixed-30", "valid-rule")
        out += [(LARGE_TASK, s, n) for s in seeds for n in large]
    return out


def run_setting(task_name, seed, name):
    """:func:`run_job` of the setting called ``name``."""
    return run_job(task_name, seed, name, settings()[name])


def run(todo, output, n_jobs):
    run_resuming(
        todo,
        output,
        FIELDS,
        run_setting,
        n_jobs=n_jobs,
        # the slow jobs first, so that the workers finish together
        order=lambda job: (job[0] != LARGE_TASK, "fashion" not in job[0]),
        report_every=20,
    )


def _paired(a, b):
    d = paired_difference(a, b)
    return {"mean": float(d.mean), "se": float(d.se)}


def analyse(rows, fresh_rows=()):
    tasks = tabular_tasks()
    by_key = {(r["task"], int(r["seed"]), r["setting"]): r for r in rows}

    def scores(task, name, seeds=SEEDS, source=by_key):
        return np.array([float(source[(task, s, name)]["score"]) for s in seeds])

    def seconds(name, task_list=tasks, seeds=SEEDS, source=by_key):
        return float(
            sum(
                float(source[(t, s, name)]["seconds"]) for t in task_list for s in seeds
            )
        )

    def epochs(name, task):
        values = [
            int(e) for s in SEEDS for e in by_key[(task, s, name)]["epochs"].split()
        ]
        return [min(values), max(values)]

    summary = {}
    reference = "fixed-30"
    for name in settings():
        pooled = np.concatenate([scores(t, name) for t in tasks])
        entry = {
            "mean_score": float(pooled.mean()),
            "seconds": seconds(name),
            "time_ratio_to_fixed_30": seconds(name) / seconds(reference),
            "per_task": {
                t: {
                    "mean": float(scores(t, name).mean()),
                    "vs_fixed_30": _paired(scores(t, name), scores(t, reference)),
                    "epochs": epochs(name, t),
                }
                for t in tasks
            },
        }
        summary[name] = entry
    out = {"tasks": tasks, "seeds": list(SEEDS), "settings": summary}
    fails = {}
    for name in CANDIDATES:
        failures = []
        for variant, base in (
            (name, reference),
            (name + WEIGHTED, reference + WEIGHTED),
        ):
            for t in tasks:
                d = _paired(scores(t, variant), scores(t, base))
                if d["mean"] < -GUARD_TOLERANCE - d["se"]:
                    failures.append({"task": t, "run": variant, **d})
        fails[name] = failures
    eligible = [n for n in CANDIDATES if not fails[n]]
    best = max(eligible, key=lambda n: summary[n]["mean_score"])
    within = {}
    for name in eligible:
        d = _paired(
            np.concatenate([scores(t, name) for t in tasks]),
            np.concatenate([scores(t, best) for t in tasks]),
        )
        within[name] = {
            **d,
            "within_noise": d["mean"] >= -COST_STANDARD_ERRORS * d["se"],
        }
    cheapest = min(
        (n for n in eligible if within[n]["within_noise"]),
        key=lambda n: summary[n]["seconds"],
    )
    out.update(guard_failures=fails, best=best, vs_best=within, cheapest=cheapest)
    chosen = cheapest
    if cheapest != reference and fresh_rows:
        fresh = {(r["task"], int(r["seed"]), r["setting"]): r for r in fresh_rows}
        d = _paired(
            np.concatenate(
                [scores(t, cheapest, CONFIRMATION_SEEDS, fresh) for t in tasks]
            ),
            np.concatenate(
                [scores(t, reference, CONFIRMATION_SEEDS, fresh) for t in tasks]
            ),
        )
        confirmed = (
            summary[cheapest]["seconds"] <= summary[reference]["seconds"]
            or d["mean"] > COST_STANDARD_ERRORS * d["se"]
        )
        out["confirmation"] = {**d, "confirmed": bool(confirmed)}
        if not confirmed:
            chosen = reference
    out["chosen"] = chosen
    if all(
        (LARGE_TASK, s, n) in by_key for s in SEEDS for n in ("fixed-30", "valid-rule")
    ):
        d = _paired(scores(LARGE_TASK, "valid-rule"), scores(LARGE_TASK, "fixed-30"))
        saves = seconds("valid-rule", [LARGE_TASK]) < seconds("fixed-30", [LARGE_TASK])
        out["large"] = {
            "task": LARGE_TASK,
            "valid_rule_vs_fixed_30": d,
            "scores": {
                n: float(scores(LARGE_TASK, n).mean())
                for n in ("old-defaults", "fixed-30", "valid-rule")
            },
            "seconds": {
                n: seconds(n, [LARGE_TASK]) / len(SEEDS)
                for n in ("old-defaults", "fixed-30", "valid-rule")
            },
            "epochs": epochs("valid-rule", LARGE_TASK),
            "auto_keeps_rule": bool(saves and d["mean"] >= -d["se"]),
        }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=RESULTS / "protocol_budget.csv")
    parser.add_argument(
        "--confirmation",
        type=Path,
        default=RESULTS / "protocol_budget_confirmation.csv",
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument(
        "--confirm", action="store_true", help="run rule 4d's fresh seeds"
    )
    args = parser.parse_args(argv)
    if not args.analyse_only:
        run(jobs(SEEDS), args.output, args.n_jobs)
    result = analyse(read_rows(args.output), read_rows(args.confirmation))
    if args.confirm and result["cheapest"] != "fixed-30" and not args.analyse_only:
        todo = [
            (t, s, n)
            for t in tabular_tasks()
            for s in CONFIRMATION_SEEDS
            for n in (result["cheapest"], "fixed-30")
        ]
        run(todo, args.confirmation, args.n_jobs)
        result = analyse(read_rows(args.output), read_rows(args.confirmation))
    path = args.output.with_suffix(".json")
    path.write_text(json.dumps(result, indent=1) + "\n")
    for name, entry in result["settings"].items():
        print(
            f"{name:28s} {entry['mean_score']:.4f} "
            f"time x{entry['time_ratio_to_fixed_30']:.2f}"
        )
    print(
        "best",
        result["best"],
        "cheapest",
        result["cheapest"],
        "chosen",
        result["chosen"],
    )
    print("guard failures", {k: len(v) for k, v in result["guard_failures"].items()})
    if "large" in result:
        print("large", result["large"])


if __name__ == "__main__":
    main()
