"""The comparison on every task of a track of the suite, on the test parts of seeds 0-2.

Multi-class and binary tasks run ``python -m skcrl``'s comparison (every method of
``skcrl.benchmark.METHODS``); attribute tasks run ``compare_attributes.py``'s
methods. Every method trains the suite's network with the estimators' default
budget (``skcrl.benchmark.default_budget()``: the default MLP, Adam, its
learning rate and batch size, the optimiser steps of ``max_epochs`` epochs).
Per task, ``--output`` receives ``TASK.csv`` (the file the docs' results pages
are built from) and ``TASK.json``, the run that made it.

    python benchmarks/run_suite.py                         # ~30 min on 2 cores
    python benchmarks/run_suite.py --track images          # ~35 min on 2 cores
    python benchmarks/run_suite.py --tasks yeast6 --methods ce crl

The tabular track trains the MLP and every method; the image track trains
``SmallCNN`` on images with the methods of ``skcrl.benchmark.IMAGE_METHODS`` (the
deep long-tail baselines, CRL at both levels, a 4-setting CRL search instead of 12:
the full list costs too much for a CNN on two cores).

Every single-label task also fits the non-neural references
(``skcrl.benchmark.REFERENCES``: a class-weighted logistic regression, gradient
boosting, a balanced random forest, the first two with tuned thresholds on
binary tasks), on flattened pixels for images; attribute tasks do not (the
references take one label a row).

``--methods`` reruns those methods and keeps the other methods' rows of each
task's CSV. After each task it prints the verdict (``skcrl.benchmark.verdict_lines``):
the best method, the best network against the best non-neural model, CRL at its
defaults against plain cross-entropy, the logit-adjusted cross-entropy and the best
network without CRL, by paired t-tests over seeds (corrected for the overlap of
the seeds' test parts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from skcrl.benchmark import default_budget

SEEDS = (0, 1, 2)
#: the estimators' own budget: the comparison trains what a user gets
BUDGET = default_budget()


def run_task(name, methods, seeds, output, device="cpu", channels=None, epochs=None):
    import warnings

    import torch

    from skcrl.benchmark import (
        METHODS,
        SUITE,
        DataSet,
        read_csv,
        run_comparison,
        scores_by_method,
        split_ratio,
        verdict_lines,
        write_csv,
    )

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    task = SUITE[name]
    budget = {**BUDGET, "epochs": epochs or BUDGET["epochs"]}
    network = task.network
    if channels and task.track == "images":
        network["module__channels"] = tuple(channels)
    start = time.perf_counter()
    path = output / f"{name}.csv"
    if task.kind == "attributes":
        import compare_attributes

        chosen = [
            m
            for m in methods or task.methods or compare_attributes.METHODS
            if m in compare_attributes.METHODS
        ]
        records, _ = compare_attributes.run(
            lambda random_state: task.load(random_state),
            {**network, "device": device},
            chosen,
            seeds,
            verbose=False,
            **budget,
        )
        records = _merged(records, path, chosen, compare_attributes.read_csv)
        compare_attributes.write_csv(records, path)
        scores = scores_by_method(records, "mean_balanced_accuracy")
        verdict = verdict_lines(scores, reference="bce", metric="mA")
    else:
        chosen = [m for m in methods or task.methods or METHODS if m in METHODS]
        dataset = DataSet(
            lambda imbalance_ratio, random_state: task.load(random_state), network
        )
        records = run_comparison(
            dataset,
            methods=chosen,
            seeds=seeds,
            progress=False,
            device=device,
            **budget,
        )
        records = _merged(records, path, chosen, read_csv)
        write_csv(records, path)
        verdict = verdict_lines(
            scores_by_method(records), test_train_ratio=split_ratio(records)
        )
    return name, time.perf_counter() - start, verdict


def _merged(records, path, methods, read):
    """The new records, after the rows of other methods already in ``path``
    (``--methods`` reruns some methods of a task and keeps the rest)."""
    if not path.exists():
        return records
    kept = [r for r in read(path) if r["method"] not in methods]
    return kept + records


def main(argv=None):
    from joblib import Parallel, delayed

    from skcrl import __version__
    from skcrl.benchmark import SUITE, TRACKS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--track", choices=TRACKS, default="tabular")
    parser.add_argument(
        "--tasks", nargs="+", choices=list(SUITE), help="instead of --track's tasks"
    )
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--device", default=None, help="torch device; default: cuda where present"
    )
    parser.add_argument(
        "--epochs", type=int, default=BUDGET["epochs"], help="the step budget"
    )
    parser.add_argument(
        "--channels",
        nargs="+",
        type=int,
        default=None,
        help="SmallCNN's channels on image tasks (a deeper variant: 32 64 128)",
    )
    parser.add_argument("--output", type=Path, default=Path("docs/results/comparison"))
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    tasks = args.tasks or [t for t in SUITE if SUITE[t].track == args.track]
    # the slow tasks first, so that the two workers finish together
    tasks.sort(key=lambda t: not SUITE[t].dataset.startswith("fashion"))
    sys.path.insert(0, str(Path(__file__).parent))
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    run = {
        "command": "python benchmarks/run_suite.py " + " ".join(argv or sys.argv[1:]),
        "seeds": args.seeds,
        **BUDGET,
        "epochs": args.epochs,
        "skcrl": __version__,
        "commit": commit,
        "torch": torch.__version__,
        "torch_threads": 1,
        "workers": args.n_jobs,
        "device": device,
        "channels": args.channels,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": sys.version.split()[0],
    }
    if any(SUITE[t].track == "images" for t in tasks) and not args.methods:
        from skcrl.benchmark import IMAGE_METHODS

        print(
            f"Image tasks run {len(IMAGE_METHODS)} methods, not all of them, and "
            "CRL's search covers 4 settings (crl-tuned-small), not 12: the budget "
            "of a CNN on two CPU cores.",
            flush=True,
        )
    start = time.perf_counter()
    for name, seconds, verdict in Parallel(
        n_jobs=args.n_jobs, return_as="generator_unordered"
    )(
        delayed(run_task)(
            task,
            args.methods,
            args.seeds,
            args.output,
            device,
            args.channels,
            args.epochs,
        )
        for task in tasks
    ):
        print(f"\n{name}: {seconds / 60:.1f} min", flush=True)
        print("\n".join(verdict), flush=True)
        settings = {**run, "task": name, "minutes": round(seconds / 60, 1)}
        path = args.output / f"{name}.json"
        if args.methods and path.exists():
            # the rows of the other methods came from the earlier run
            earlier = json.loads(path.read_text())
            settings["methods"] = args.methods
            settings["earlier"] = earlier
        path.write_text(json.dumps(settings, indent=1))
    print(f"\nall tasks: {(time.perf_counter() - start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
