"""Kill a checkpointed fit at every step of its saves, resume it, and compare the
model with the uninterrupted run's: ``skcrl.Checkpoint`` against skorch's own
``Checkpoint``.

Each trial runs ``tests/checkpoint_worker.py`` (4 epochs, a checkpoint every
epoch; ``CRLClassifier`` with a memory and class-aware batches, or
``CRLMultiLabelClassifier``) in a process of its own and ends it by ``os._exit``
at one step of one save (each file written, the history, each ``fsync``, each
rename, each removal of an old checkpoint), once the step is done or half-way
through it (a file written to half its length); then by SIGKILL at random
moments. The run is then resumed from what it left: with ``skcrl.Checkpoint``,
``Checkpoint.resume``, and (on a copy of what the kill left) skorch's recipe,
``load_params(checkpoint=cp)`` then the remaining epochs, or a fit from scratch
when loading raises ``FileNotFoundError``; with skorch's ``Checkpoint``, its
files loaded by ``load_params(checkpoint=cp)`` and the remaining epochs
trained. A trial is *exact* when ``predict_proba`` matches the uninterrupted
run's within 1e-6, *different* when it resumes to another model, *unresumable*
when loading fails.

    python benchmarks/fault_injection.py --output docs/results/fault_injection.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import torch

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from checkpoint_worker import EPOCHS, KILLED, make, resume, target  # noqa: E402

WORKER = TESTS / "checkpoint_worker.py"
ESTIMATORS = ("multi-class", "multi-label")
KINDS = ("skcrl", "skorch")
#: how a run left by each kind of checkpoint is resumed (the worker's resume kinds)
RESUMED_BY = {
    "skcrl": {"skcrl": "skcrl", "skcrl-recipe": "recipe"},
    "skorch": {"skorch": "skorch"},
}


def count_events(estimator, kind):
    """The save steps of a whole run, as the worker counts them."""
    with TemporaryDirectory() as folder:
        run = subprocess.run(
            [sys.executable, str(WORKER), folder, estimator, "-1", "after", kind],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    return int(run.stdout.split("events")[-1].split()[0])


def _kill_trial(directory, estimator, kind, kill_at, mode):
    run = subprocess.run(
        [
            sys.executable,
            str(WORKER),
            str(directory),
            estimator,
            str(kill_at),
            mode,
            kind,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return run.returncode


def _sigkill_trial(directory, estimator, kind, delay):
    process = subprocess.Popen(
        [sys.executable, str(WORKER), str(directory), estimator, "-1", "after", kind],
        stdout=subprocess.PIPE,
        text=True,
    )
    process.stdout.readline()  # "ready"
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=600)


def _outcome(directory, estimator, kind, reference):
    X, _ = target(estimator)
    try:
        proba = resume(str(directory), estimator, kind).predict_proba(X)
    except Exception as error:  # what a user would meet
        return {
            "outcome": "unresumable",
            "error": f"{type(error).__name__}: {error}"[:300],
        }
    gap = float(np.abs(proba - reference).max())
    return {"outcome": "exact" if gap <= 1e-6 else "different", "max_gap": gap}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sigkills", type=int, default=8, help="per estimator and kind"
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    reference = {}
    for estimator in ESTIMATORS:
        X, y = target(estimator)
        reference[estimator] = make(estimator, []).fit(X, y).predict_proba(X)
    rng = np.random.default_rng(0)
    events = {(k, e): count_events(e, k) for k in KINDS for e in ESTIMATORS}
    print("save steps per run:", events, flush=True)
    trials = [
        (kind, estimator, "kill", (kill_at, mode))
        for (kind, estimator), n_events in events.items()
        for kill_at in range(n_events)
        for mode in ("after", "inside")
    ] + [
        (kind, estimator, "sigkill", (float(delay),))
        for kind in KINDS
        for estimator in ESTIMATORS
        for delay in rng.uniform(0.0, 1.5, size=args.sigkills)
    ]
    results = []
    with TemporaryDirectory() as folder:

        def run(index_trial):
            index, (kind, estimator, how, arguments) = index_trial
            directory = Path(folder) / f"trial-{index}"
            if how == "kill":
                code = _kill_trial(directory, estimator, kind, *arguments)
            else:
                code = _sigkill_trial(directory, estimator, kind, *arguments)
            return index, code

        with ThreadPoolExecutor(args.n_jobs) as pool:
            codes = dict(pool.map(run, enumerate(trials)))
        for index, (kind, estimator, how, arguments) in enumerate(trials):
            directory = Path(folder) / f"trial-{index}"
            copies = {}
            for label in RESUMED_BY[kind]:  # each way of resuming on its own copy
                copies[label] = Path(folder) / f"trial-{index}-{label}"
                if directory.exists():
                    shutil.copytree(directory, copies[label])
            for label, way in RESUMED_BY[kind].items():
                record = {
                    "checkpoint": label,
                    "estimator": estimator,
                    "kill": how,
                    "at": list(arguments),
                    "killed": codes[index] in (KILLED, -signal.SIGKILL),
                }
                record.update(
                    _outcome(copies[label], estimator, way, reference[estimator])
                )
                results.append(record)
    summary = {}
    for kind in [label for ways in RESUMED_BY.values() for label in ways]:
        for how in ("kill", "sigkill"):
            mine = [r for r in results if r["checkpoint"] == kind and r["kill"] == how]
            killed = [r for r in mine if r["killed"]]
            summary[f"{kind}, {how}"] = {
                "trials": len(mine),
                "killed": len(killed),
                **{
                    outcome: sum(r["outcome"] == outcome for r in killed)
                    for outcome in ("exact", "different", "unresumable")
                },
                "largest_gap": max(
                    (
                        r.get("max_gap", 0.0)
                        for r in killed
                        if r["outcome"] == "different"
                    ),
                    default=0.0,
                ),
            }
    for name, row in summary.items():
        print(name, row)
    if args.output is not None:
        args.output.write_text(
            json.dumps(
                {
                    "command": "python benchmarks/fault_injection.py "
                    + " ".join(argv if argv is not None else sys.argv[1:]),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "torch": torch.__version__,
                    "epochs": EPOCHS,
                    "save_steps": {f"{k}, {e}": n for (k, e), n in events.items()},
                    "summary": summary,
                    "trials": results,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
