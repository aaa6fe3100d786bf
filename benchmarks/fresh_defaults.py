"""Do the CRL defaults still hold under the training budget? A check on fresh seeds.

``protocol_defaults.py`` chose ``eta=0.5``, ``logit_adjustment=1``, shuffled
batches and no memory on seeds 0-2; ``protocol_budget.py`` then changed the
budget around them (30 epochs at lr 0.003, batches of 64, standardised input).
This check scores the default and each of its one-step neighbours again, on
seeds 3, 4 and 5 of every tabular task of the suite, which neither protocol
read: 3-fold cross-validation of the training part, as the defaults protocol
scores (``protocol_defaults.run_job``), at the estimators' default budget.

The settings: the default; ``eta`` 1 and 2; no logit adjustment; a memory of 1024
rows; class-aware batches; and the baselines ``ce`` and ``ce+la``. The rule is
the protocol's, with its statistics (``skcrl.benchmark.paired_difference``): a
neighbour replaces the default only if its paired gain, pooled over tasks and
seeds, is significant at 5% (paired t-test, two-sided); the defaults hold when
none is.

    python benchmarks/fresh_defaults.py                  # ~25 min on 2 cores
    python benchmarks/fresh_defaults.py --analyse-only

Rows are appended to ``docs/results/fresh_defaults.csv`` as jobs finish (an
interrupted run resumes); the analysis goes to ``docs/results/fresh_defaults.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import numpy as np
from protocol_defaults import FIELDS, baselines, read_rows, run_job, run_resuming
from protocol_defaults import setting_name as name_of

SEEDS = (3, 4, 5)
DEFAULT = dict(
    eta=0.5, logit_adjustment=1.0, batches="shuffled", memory_size=0, weighting="none"
)
#: The default's one-step neighbours, by what they change.
NEIGHBOURS = {
    "eta 1": {"eta": 1.0},
    "eta 2": {"eta": 2.0},
    "no logit adjustment": {"logit_adjustment": 0.0},
    "memory 1024": {"memory_size": 1024},
    "class-aware batches": {"batches": "class-aware"},
}


def settings():
    out = {name_of(**DEFAULT): DEFAULT}
    for change in NEIGHBOURS.values():
        setting = {**DEFAULT, **change}
        out[name_of(**setting)] = setting
    base = baselines()
    out.update({"ce": base["ce"], "ce+la": base["ce+la"]})
    return out


def tabular_tasks():
    from skcrl.benchmark import SUITE

    return [name for name, task in SUITE.items() if task.track == "tabular"]


def analyse(rows):
    from skcrl.benchmark import paired_difference

    by_key = {
        (r["task"], int(r["seed"]), r["setting"]): float(r["score"]) for r in rows
    }
    tasks = tabular_tasks()
    default = name_of(**DEFAULT)

    def scores(name):
        return np.array([by_key[(t, s, name)] for t in tasks for s in SEEDS])

    out = {"seeds": list(SEEDS), "tasks": tasks, "default": default, "against": {}}
    for label, change in [*NEIGHBOURS.items(), ("ce", None), ("ce+la", None)]:
        name = label if change is None else name_of(**{**DEFAULT, **change})
        d = paired_difference(scores(name), scores(default))
        per_task = {
            t: float(
                np.mean([by_key[(t, s, name)] - by_key[(t, s, default)] for s in SEEDS])
            )
            for t in tasks
        }
        out["against"][label] = {
            "setting": name,
            "mean": d.mean,
            "se": d.se,
            "low": d.low,
            "high": d.high,
            "p_value": d.p_value,
            "verdict": d.verdict,
            "worst_task": min(per_task, key=per_task.get),
            "best_task": max(per_task, key=per_task.get),
            "per_task": per_task,
        }
    replaced = [
        label
        for label, row in out["against"].items()
        if label in NEIGHBOURS and row["verdict"] == "better"
    ]
    out["defaults_hold"] = not replaced
    out["better_neighbours"] = replaced
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--output", type=Path, default=Path("docs/results/fresh_defaults.csv")
    )
    parser.add_argument("--analyse-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.analyse_only:
        jobs = [
            (task, seed, name, setting)
            for task in tabular_tasks()
            for seed in SEEDS
            for name, setting in settings().items()
        ]
        run_resuming(
            jobs,
            args.output,
            FIELDS,
            functools.partial(run_job, epochs=None, folds=3),
            n_jobs=args.n_jobs,
            order=lambda job: "fashion" not in job[0],
            report_every=40,
        )
    result = analyse(read_rows(args.output))
    summary = args.output.with_suffix(".json")
    summary.write_text(json.dumps(result, indent=1))
    print(f"default {result['default']}, seeds {SEEDS}, {len(result['tasks'])} tasks:")
    for label, row in result["against"].items():
        print(
            f"  {label} - default: {row['mean']:+.4f} "
            f"[{row['low']:+.4f}, {row['high']:+.4f}] ({row['verdict']}; "
            f"worst task {row['worst_task']} {row['per_task'][row['worst_task']]:+.3f})"
        )
    print("defaults hold" if result["defaults_hold"] else "defaults do not hold")
    print(f"wrote {summary}")


if __name__ == "__main__":
    main()
