"""Choose the estimators' defaults by a written protocol, on training parts only.

The protocol (docs: user_guide/tuning, "How the defaults were chosen"):

1. Tasks: every task of ``skcrl.benchmark.SUITE``: five multi-class long tails,
   three naturally imbalanced binary sets, two attribute sets. Seeds 0, 1, 2; a
   seed fixes the task's split, the same split the comparison tests on.
2. Candidates: the full grid of ``eta`` in {0.5, 1, 2}, ``logit_adjustment`` in
   {0, 1}, training batches {shuffled, class-aware (``ClassAwareDataLoader``)} and
   ``memory_size`` in {0, 256, 1024, 4096}: 48 settings, everything else at the
   estimators' defaults. The reference is plain cross-entropy (``alpha=0``,
   shuffled batches, no memory, no adjustment).
3. Score: for each task and seed, 3-fold cross-validation *of the training part*
   (stratified for one label per sample, shuffled folds for attributes), seeded by
   the seed; balanced accuracy (mean balanced accuracy over attributes, mA, for
   attribute tasks). The comparison's network and budget: an MLP with one hidden
   layer of 128, Adam, lr 0.003, batches of 64, 30 epochs. Test parts are never
   read.
4. Rule: a candidate *loses* on a task when its mean over seeds is below the
   reference's mean by more than the reference's standard deviation over seeds
   (numpy's, ddof 0). Among the candidates that lose on no task, the default is
   the one with the best mean rank over tasks (rank 1 the best mean score on a
   task, ties sharing the mean of their ranks); remaining ties go to the cheaper
   setting (smaller memory, then shuffled batches, then no adjustment, then the
   smaller ``eta``).

    python benchmarks/protocol_defaults.py                # everything, ~1 h on 2 cores
    python benchmarks/protocol_defaults.py --analyse-only # re-read the CSV

It appends one row per (task, seed, setting) to ``--output`` as jobs finish and
skips rows already there, so an interrupted run resumes; ``--analyse-only`` then
writes ``protocol_summary.json`` beside it and prints the ranking.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

ETAS = (0.5, 1.0, 2.0)
LOGIT_ADJUSTMENTS = (0.0, 1.0)
BATCHES = ("shuffled", "class-aware")
MEMORY_SIZES = (0, 256, 1024, 4096)
REFERENCE = "ce"
PARAMETERS = ("eta", "logit_adjustment", "batches", "memory_size")
FIELDS = (
    "task",
    "seed",
    "setting",
    "eta",
    "logit_adjustment",
    "batches",
    "memory_size",
    "score",
    "fold_scores",
    "seconds",
)


def setting_name(eta, logit_adjustment, batches, memory_size):
    return f"eta={eta:g} la={logit_adjustment:g} {batches} memory={memory_size}"


def candidates():
    """The 48 settings of the grid, cheapest first within each eta."""
    grid = itertools.product(ETAS, LOGIT_ADJUSTMENTS, BATCHES, MEMORY_SIZES)
    return {
        setting_name(*values): dict(zip(PARAMETERS, values, strict=True))
        for values in grid
    }


def reference():
    plain = dict(eta=0.0, logit_adjustment=0.0, batches="shuffled", memory_size=0)
    return {REFERENCE: plain}


def _cost_key(setting):
    """The tie-break of rule 4: cheaper settings first."""
    return (
        setting["memory_size"],
        setting["batches"] != "shuffled",
        setting["logit_adjustment"],
        setting["eta"],
    )


def run_job(task_name, seed, name, setting, epochs, folds):
    """Cross-validated score of one setting on one task's training part."""
    import torch
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import KFold, StratifiedKFold

    from skcrl import ClassAwareDataLoader, CRLClassifier, CRLMultiLabelClassifier
    from skcrl.benchmark import SUITE
    from skcrl.metrics import mean_balanced_accuracy_score

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    task = SUITE[task_name]
    data = task.load(seed)
    X, y = data.X_train, data.y_train
    attributes = task.kind == "attributes"
    arguments = dict(
        batch_size=64,
        lr=0.003,
        max_epochs=epochs,
        random_state=seed,
        eta=setting["eta"],
        logit_adjustment=setting["logit_adjustment"],
        memory_size=setting["memory_size"],
        **task.network,
    )
    if name == REFERENCE:
        arguments["alpha"] = 0.0
    if setting["batches"] == "class-aware":
        arguments["iterator_train"] = ClassAwareDataLoader
    if attributes:
        estimator_class, metric = CRLMultiLabelClassifier, mean_balanced_accuracy_score
        splitter = KFold(folds, shuffle=True, random_state=seed)
    else:
        estimator_class, metric = CRLClassifier, balanced_accuracy_score
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    start = time.perf_counter()
    scores = []
    for train, valid in splitter.split(X, y):
        clf = estimator_class(**arguments).fit(X[train], y[train])
        scores.append(float(metric(y[valid], clf.predict(X[valid]))))
    return {
        "task": task_name,
        "seed": seed,
        "setting": name,
        **setting,
        "score": float(np.mean(scores)),
        "fold_scores": " ".join(f"{s:.6f}" for s in scores),
        "seconds": time.perf_counter() - start,
    }


def read_rows(path):
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run(args):
    from joblib import Parallel, delayed

    from skcrl.benchmark import SUITE

    settings = {**reference(), **candidates()}
    tasks = args.tasks or list(SUITE)
    done = {(r["task"], int(r["seed"]), r["setting"]) for r in read_rows(args.output)}
    jobs = [
        (task, seed, name, setting)
        for task in tasks
        for seed in args.seeds
        for name, setting in settings.items()
        if (task, seed, name) not in done
    ]
    print(f"{len(jobs)} jobs to run ({len(done)} done already)", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.output.exists()
    with open(args.output, "a", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        results = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
            delayed(run_job)(task, seed, name, setting, args.epochs, args.folds)
            for task, seed, name, setting in jobs
        )
        start = time.perf_counter()
        for i, row in enumerate(results, 1):
            writer.writerow(row)
            out.flush()
            if i % 25 == 0 or i == len(jobs):
                elapsed = time.perf_counter() - start
                print(
                    f"{i}/{len(jobs)} jobs, {elapsed / 60:.1f} min, "
                    f"~{elapsed / i * (len(jobs) - i) / 60:.0f} min left",
                    flush=True,
                )


def analyse(rows, seeds):
    """Rule 4 on the rows of the CSV; returns the summary written as JSON."""
    settings = {**reference(), **candidates()}
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    by_key = {
        (r["task"], int(r["seed"]), r["setting"]): float(r["score"]) for r in rows
    }
    missing = [
        (t, s, n)
        for t in tasks
        for s in seeds
        for n in settings
        if (t, s, n) not in by_key
    ]
    if missing:
        raise SystemExit(f"{len(missing)} rows missing, e.g. {missing[:3]}: run first.")

    def scores(task, name):
        return np.array([by_key[(task, s, name)] for s in seeds])

    names = list(candidates())
    mean = {t: {n: float(scores(t, n).mean()) for n in settings} for t in tasks}
    std = {t: {n: float(scores(t, n).std()) for n in settings} for t in tasks}
    ranks = {
        t: dict(zip(names, rankdata([-mean[t][n] for n in names]), strict=True))
        for t in tasks
    }
    summary = []
    for name in names:
        losses = [
            t for t in tasks if mean[t][name] < mean[t][REFERENCE] - std[t][REFERENCE]
        ]
        summary.append(
            {
                "setting": name,
                **settings[name],
                "mean_rank": float(np.mean([ranks[t][name] for t in tasks])),
                "loses_on": losses,
                "mean_score": float(np.mean([mean[t][name] for t in tasks])),
                "scores": {t: [mean[t][name], std[t][name]] for t in tasks},
            }
        )
    summary.sort(key=lambda s: (s["mean_rank"], _cost_key(s)))
    eligible = [s for s in summary if not s["loses_on"]]
    chosen = eligible[0] if eligible else None
    return {
        "tasks": tasks,
        "seeds": list(seeds),
        "reference": {
            "setting": REFERENCE,
            "scores": {t: [mean[t][REFERENCE], std[t][REFERENCE]] for t in tasks},
            "mean_score": float(np.mean([mean[t][REFERENCE] for t in tasks])),
        },
        "candidates": summary,
        "chosen": chosen["setting"] if chosen else None,
        "seconds": float(sum(float(r["seconds"]) for r in rows)),
    }


def report(result):
    lines = [
        "| rank | setting | mean rank | mean score | loses to CE on |",
        "|---:|---|---:|---:|---|",
    ]
    for i, s in enumerate(result["candidates"], 1):
        lines.append(
            f"| {i} | {s['setting']} | {s['mean_rank']:.2f} | {s['mean_score']:.4f} "
            f"| {', '.join(s['loses_on']) or '-'} |"
        )
    lines.append(f"| | ce (reference) | | {result['reference']['mean_score']:.4f} | |")
    lines.append(f"\nchosen: {result['chosen']}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--output", type=Path, default=Path("docs/results/protocol.csv")
    )
    parser.add_argument("--analyse-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.analyse_only:
        run(args)
    result = analyse(read_rows(args.output), args.seeds)
    summary_path = args.output.with_name("protocol_summary.json")
    summary_path.write_text(json.dumps(result, indent=1))
    print(report(result))
    print(f"\nwrote {summary_path}")


if __name__ == "__main__":
    main()
