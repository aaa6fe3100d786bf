"""Tables of the documentation, built from the files the benchmark commands write.

``conf.py`` calls :func:`generate` at every build: it reads ``docs/results/``
(``benchmarks/protocol_defaults.py``'s CSV and JSON, ``benchmarks/run_suite.py``'s
CSVs, ``benchmarks/bench_fit.py``'s JSON) and writes ``docs/_generated/*.rst.inc``,
which the pages ``.. include::``. README's headline table is
:func:`headline_markdown`; ``tests/test_readme.py`` checks that README holds it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).with_name("results")
GENERATED = Path(__file__).with_name("_generated")

#: The methods the targets compare, and the baselines of the tuned target.
BASELINES = ("ce+balanced", "ce+ros", "ce+smote", "ce+rus", "ce+la")


# -- reading ------------------------------------------------------------------------


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def comparison(results=RESULTS):
    """``{task: {method: array of per-seed scores}}`` and the seconds per fit, from
    the suite's CSVs (balanced accuracy, or mA for attribute tasks)."""
    from skcrl.benchmark import SUITE

    scores, seconds = {}, {}
    for task in SUITE:
        path = results / "comparison" / f"{task}.csv"
        if not path.exists():
            continue
        rows = _rows(path)
        scores[task] = _seed_scores(rows)
        methods = list(scores[task])
        seconds[task] = {
            m: float(np.mean([float(r["seconds"]) for r in rows if r["method"] == m]))
            for m in methods
        }
    return scores, seconds


def split_ratios(results=RESULTS):
    """``{task: n_test / n_train}`` of the suite's CSVs, for the corrected
    resampled t-test; 0 (the plain paired t-test) where a CSV does not record
    the split's sizes (the attribute tasks')."""
    from skcrl.benchmark import SUITE, split_ratio

    ratios = {}
    for task in SUITE:
        path = results / "comparison" / f"{task}.csv"
        if path.exists():
            rows = [
                {k: int(float(r[k])) for k in ("n_train", "n_test") if r.get(k)}
                for r in _rows(path)
            ]
            ratios[task] = split_ratio(rows)
    return ratios


def probability_means(results=RESULTS):
    """``{task: {method: {"log_loss": mean, "brier": mean}}}`` over seeds, from
    the suite's CSVs (NaN where a CSV predates the measurement)."""
    from skcrl.benchmark import SUITE

    means = {}
    for task in SUITE:
        path = results / "comparison" / f"{task}.csv"
        if not path.exists():
            continue
        rows = _rows(path)
        means[task] = {
            m: {
                key: float(
                    np.mean(
                        [float(r.get(key, "nan")) for r in rows if r["method"] == m]
                    )
                )
                for key in ("log_loss", "brier")
            }
            for m in dict.fromkeys(r["method"] for r in rows)
        }
    return means


def _prefix(by_method):
    """``"b"`` for an attribute task (binary cross-entropy baselines), else ``""``."""
    return "b" if "bce" in by_method or "bce+la" in by_method else ""


# -- rendering ----------------------------------------------------------------------


def list_table(header, rows, widths=None):
    """An RST list-table."""
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(map(str, widths)))
    lines.append("")
    for row in [header, *rows]:
        row = [_literal_start(cell) for cell in row]
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def _literal_start(cell):
    """A cell that starts as an RST list item ("+ logit shift") kept as text."""
    cell = str(cell)
    return "\\" + cell if cell[:2] in ("+ ", "- ", "* ") else cell


def _pm(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def _pm_pair(pair):
    return "{:.3f} ± {:.3f}".format(*pair)


def _gain(entry, mean="mean", se="se"):
    return f"{entry[mean]:+.4f} ± {entry[se]:.4f}"


def protocol_tables(results=RESULTS):
    summary = json.loads((results / "protocol_summary.json").read_text())
    tasks = summary["tasks"]
    chosen = summary["chosen"]
    candidates = summary["candidates"]
    by_name = {c["setting"]: c for c in candidates}

    def guards(c):
        def what(fail):
            run = fail["run"]
            if "+" in run.split()[-1]:  # a weighted run: "... +class_weight"
                return f"{fail['task']} ({run.split()[-1]})"
            return f"{fail['task']} (vs {fail['against']})"

        return ", ".join(what(f) for f in c["fails"]) or "none"

    ranking = list_table(
        [
            "rank",
            "eta",
            "logit_adjustment",
            "batches",
            "memory_size",
            "mean CV score",
            "− best (± se)",
            "within 2 se",
            "s/fit",
            "out on (against)",
        ],
        [
            [
                str(i),
                f"{c['eta']:g}",
                f"{c['logit_adjustment']:g}",
                c["batches"],
                str(c["memory_size"]),
                f"{c['mean_score']:.4f}",
                _gain(c["vs_best"]) if "vs_best" in c else "",
                "**yes**" if c.get("within_noise") else "",
                f"{c['seconds_per_fit']:.2f}",
                guards(c),
            ]
            for i, c in enumerate(candidates, 1)
        ]
        + [
            ["", name, "", "", "", f"{b['mean_score']:.4f}", "", "", "", ""]
            for name, b in summary["baselines"].items()
        ],
    )
    detail = summary.get("chosen_detail", {})
    columns = [
        ("ce", "``ce``"),
        ("ce+la", "``ce+la``"),
        ("ce+balanced", "``ce+balanced``"),
        ("default", "default"),
        ("default+class_weight", "default + ``class_weight``"),
        ("default+sample_weight", "default + sample weights"),
    ]
    paired = [
        ("default - ce", "default − ``ce``"),
        ("default - ce+la", "default − ``ce+la``"),
        ("default+class_weight - ce+balanced", "+ ``class_weight`` − ``ce+balanced``"),
        ("default+sample_weight - ce+balanced", "+ sample weights − ``ce+balanced``"),
    ]
    per_task = list_table(
        ["task", *(label for _, label in columns), *(label for _, label in paired)],
        [
            [task]
            + [
                _pm_pair(detail[task][key]) if key in detail[task] else "n/a"
                for key, _ in columns
            ]
            + [
                _gain(detail[task]["paired"][key])
                if key in detail[task]["paired"]
                else "n/a"
                for key, _ in paired
            ]
            for task in tasks
        ],
    )

    def fresh(row):
        if "fresh_seeds" not in row:
            return "not run"
        gain = row["fresh_seeds"]
        return (
            f"{_gain(gain, 'gain_mean', 'gain_se')} "
            f"({gain['gain_mean'] / gain['gain_se']:.2f} se)"
        )

    costs = list_table(
        [
            "costly feature",
            "paired gain (± se), seeds " + ", ".join(map(str, summary["seeds"])),
            "on fresh seeds",
            "time ratio",
        ],
        [
            [
                label,
                _gain(row, "gain_mean", "gain_se"),
                fresh(row),
                f"{row['time_ratio']:.2f}x",
            ]
            for label, row in summary.get("costly_features", {}).items()
        ],
    )
    class_aware = summary["class_aware_batches"]
    adjustment = summary["class_aware_adjustment"]
    class_aware_table = list_table(
        ["task", "Ω of the labels", "Ω of class-aware batches"],
        [
            [
                task,
                f"{class_aware[task]['labels_imbalance']:.3f}",
                f"{class_aware[task]['batches_imbalance']:.3f}",
            ]
            for task in tasks
        ],
    ) + (
        "\n``logit_adjustment=1`` against 0 at the chosen ``eta`` and memory, paired "
        "over tasks and seeds: "
        + "; ".join(
            f"with {batches} batches {_gain(row, 'gain_mean', 'gain_se')}"
            for batches, row in adjustment.items()
        )
        + ".\n"
    )
    # the memory around the chosen setting, and around the paper's loss at the
    # old default (eta 2, no adjustment, shuffled batches)
    c = by_name[chosen]
    sizes = sorted({x["memory_size"] for x in candidates})
    by_parameters = {
        (x["eta"], x["logit_adjustment"], x["batches"], x["memory_size"]): x
        for x in candidates
    }
    slices = {
        "chosen": (c["eta"], c["logit_adjustment"], c["batches"]),
        "plain": (2.0, 0.0, "shuffled"),
    }
    memory = {}
    for key, (eta, tau, batches) in slices.items():
        around = [by_parameters[(eta, tau, batches, m)] for m in sizes]
        memory[f"memory_effect_{key}"] = list_table(
            ["task", *(f"memory_size={m}" for m in sizes)],
            [[task] + [f"{x['scores'][task][0]:.3f}" for x in around] for task in tasks]
            + [["mean score"] + [f"{x['mean_score']:.4f}" for x in around]],
        )
    hours = summary["seconds"] / 3600
    within = [x["setting"] for x in candidates if x.get("within_noise")]
    passing = [x for x in candidates if not x["fails"]]
    confirmation = summary.get("confirmation")
    rule_4 = confirmation["chosen_by_rule_4"] if confirmation else chosen
    facts = (
        f"{len(candidates)} candidates (each also with ``class_weight='balanced'`` "
        f"and with balanced sample weights) and {len(summary['baselines'])} "
        f"baselines, {len(tasks)} tasks, seeds "
        f"{', '.join(map(str, summary['seeds']))}; {hours:.1f} hours of training in "
        f"all. {len(passing)} candidate{'s' * (len(passing) != 1)} pass every guard"
        + (
            ": " + ", ".join(f"``{x['setting']}``" for x in passing)
            if len(passing) <= 4
            else ""
        )
        + f". The best by mean score is ``{summary['best']}``; {len(within)} "
        f"{'is' if len(within) == 1 else 'are'} within two standard errors of it, "
        f"and the cheapest of those is ``{rule_4}``.\n"
    )
    if confirmation:
        for feature, row in confirmation["features"].items():
            facts += (
                f"\nStep 5, on seeds {', '.join(map(str, confirmation['seeds']))}: "
                f"``{feature}`` against ``{row['twin']}`` gains "
                f"{row['gain_mean']:+.4f} ± {row['gain_se']:.4f} (paired, over tasks "
                "and seeds): "
                + ("confirmed, it stays" if row["confirmed"] else "not confirmed")
                + ".\n"
            )
        facts += f"\nThe default: ``{chosen}``.\n"
    else:
        facts += (
            "\nIt has no costly feature, so step 5 has nothing to confirm. The "
            f"default: ``{chosen}``.\n"
        )
    return {
        "protocol_facts": facts,
        "protocol_ranking": ranking,
        "protocol_tasks": per_task,
        "protocol_costs": costs,
        "protocol_class_aware": class_aware_table,
        **memory,
    }


def verdict_example(results=RESULTS, task="digits-lt10"):
    """The verdict lines of one task of the suite, as ``python -m skcrl`` prints
    them."""
    from skcrl.benchmark import verdict_lines

    scores, _ = comparison(results)
    if task not in scores:
        return {"verdict_example": "(``benchmarks/run_suite.py`` has not been run.)\n"}
    lines = verdict_lines(scores[task], test_train_ratio=split_ratios(results)[task])
    return {
        "verdict_example": f"On {task}, from ``python benchmarks/run_suite.py``:\n\n"
        + "\n".join([".. code-block:: text", ""] + ["    " + v for v in lines])
        + "\n"
    }


def comparison_tables(results=RESULTS):
    from skcrl.benchmark import SUITE, verdict_lines

    scores, seconds = comparison(results)
    probabilities = probability_means(results)
    ratios = split_ratios(results)
    out = []
    for task, by_method in scores.items():
        reference = _prefix(by_method) + "ce"
        metric = "mA" if reference == "bce" else "balanced accuracy"
        out.append(f"{task}\n{'~' * len(task)}\n")
        kind = SUITE[task].kind
        ratio = SUITE[task].imbalance_ratio
        out.append(
            f"{kind}"
            + (
                f", long-tailed at ratio {ratio:g}"
                if ratio and kind != "binary"
                else ""
            )
            + f"; test-set {metric}, mean ± std over {len(by_method[reference])} "
            f"seeds; Δ: paired difference to ``{reference}``; log-loss and Brier "
            "score of ``predict_proba`` on the test part at the training "
            "distribution, means over seeds.\n"
        )
        run_file = results / "comparison" / f"{task}.json"
        if run_file.exists():
            run = json.loads(run_file.read_text())
            out.append(_run_line(run))
        verdict = verdict_lines(
            by_method,
            reference=reference,
            metric=metric,
            test_train_ratio=ratios[task],
        )
        if verdict:
            out.append(
                "\n".join([".. code-block:: text", ""] + ["    " + v for v in verdict])
                + "\n"
            )
        order = sorted(by_method, key=lambda m: -by_method[m].mean())
        out.append(
            list_table(
                ["method", metric, f"Δ to {reference}", "log-loss", "Brier", "s/fit"],
                [
                    [
                        f"``{m}``",
                        _pm(by_method[m]),
                        f"{np.mean(by_method[m] - by_method[reference]):+.3f}",
                        f"{probabilities[task][m]['log_loss']:.3f}",
                        f"{probabilities[task][m]['brier']:.3f}",
                        f"{seconds[task][m]:.1f}",
                    ]
                    for m in order
                ],
            )
        )
    return {"comparison_tasks": "\n".join(out)}


def _run_line(run):
    """The command, commit and minutes of a run, and of the runs whose rows it
    kept (``--methods``)."""
    line = (
        f"``{run['command'].strip()}`` at commit ``{run['commit']}``, "
        f"{run['minutes']:g} minutes ({run['machine']}, torch {run['torch']}, "
        f"{run['torch_threads']} thread per process)"
    )
    if "earlier" in run:
        line += "; the other methods' rows from " + _run_line(run["earlier"])[:-2]
    return line + ".\n"


def _diff(s, a, b, ratio=0.0):
    from skcrl.benchmark import paired_difference

    return paired_difference(s[a], s[b], test_train_ratio=ratio)


def targets(results=RESULTS):
    """The targets of the defaults, each per task, from the suite's CSVs: paired
    differences (:func:`skcrl.benchmark.paired_difference`, the corrected
    resampled t where the CSV records the split), and the best network against
    the best non-neural reference (None where no reference ran)."""
    from skcrl.benchmark import against_baselines
    from skcrl.benchmark._verdict import overall

    scores, _ = comparison(results)
    ratios = split_ratios(results)
    rows = []
    for task, s in scores.items():
        ce = _prefix(s) + "ce"
        r = ratios[task]
        row = dict(
            task=task,
            ratio=r,
            attributes=ce == "bce",
            crl_vs_ce=_diff(s, "crl", ce, r),
            crl_vs_la=_diff(s, "crl", ce + "+la", r),
            balanced_vs_balanced=_diff(s, "crl+balanced", ce + "+balanced", r),
        )
        if "crl+balanced-sw" in s:
            row["sw_vs_balanced"] = _diff(s, "crl+balanced-sw", ce + "+balanced", r)
        *_, (_, best, versus_best) = against_baselines(
            s, reference=ce, test_train_ratio=r
        )
        row.update(best_without_crl=best, crl_vs_best=versus_best)
        if "crl-tuned" in s:
            best_baseline = max(BASELINES, key=lambda m: s[m].mean())
            row["tuned_vs_best"] = s["crl-tuned"].mean() - s[best_baseline].mean()
            row["best"] = best_baseline
        best_overall, _, _, network, non_neural, gap = overall(s, test_train_ratio=r)
        row.update(
            best_overall=best_overall,
            network=network,
            non_neural=non_neural,
            neural_gap=gap,
        )
        rows.append(row)
    return rows


def findings(results=RESULTS):
    """What the comparison says, in numbers computed from its files."""
    rows = targets(results)
    n = len(rows)

    def count(key, verdict):
        return sum(r[key].verdict == verdict for r in rows)

    def listed(key, verdict):
        return ", ".join(
            f"{r['task']} ({r[key].mean:+.3f})"
            for r in rows
            if r[key].verdict == verdict
        )

    lines = []
    for key, what in (
        ("crl_vs_ce", "plain cross-entropy"),
        ("crl_vs_la", "the logit-adjusted cross-entropy alone"),
        ("crl_vs_best", "the best network without CRL on each task"),
    ):
        better, worse = count(key, "better"), count(key, "worse")
        text = (
            f"- Against {what}, the default is better on {better} of {n} tasks, "
            f"worse on {worse}, not told apart on {n - better - worse}"
        )
        if better and key != "crl_vs_ce":
            text += f"; better on {listed(key, 'better')}"
        if worse:
            text += f"; worse on {listed(key, 'worse')}"
        lines.append(text + ".")
    return {"findings": "\n".join(lines) + "\n"}


def target_tables(results=RESULTS):
    rows = targets(results)
    single = [r for r in rows if not r["attributes"]]

    def paired(d):
        return f"{d.mean:+.3f} ± {d.sd:.3f}"

    table = list_table(
        [
            "task",
            "crl − ce",
            "crl − ce+la",
            "crl+balanced − ce+balanced",
            "crl+balanced-sw − ce+balanced",
            "crl − best network without CRL",
        ],
        [
            [
                r["task"],
                paired(r["crl_vs_ce"]),
                paired(r["crl_vs_la"]),
                paired(r["balanced_vs_balanced"]),
                paired(r["sw_vs_balanced"]) if "sw_vs_balanced" in r else "n/a",
                f"{paired(r['crl_vs_best'])} (``{r['best_without_crl']}``, "
                f"{r['crl_vs_best'].verdict_text()})",
            ]
            for r in rows
        ],
    )
    weighted = [r for r in rows if "sw_vs_balanced" in r]
    tuned = [r for r in single if "tuned_vs_best" in r]
    holds = [
        (
            "default ≥ plain cross-entropy (mean of paired seeds)",
            sum(r["crl_vs_ce"].mean >= 0 for r in rows),
            len(rows),
            len(rows),
        ),
        (
            "default at most 0.01 below the logit-adjusted cross-entropy",
            sum(r["crl_vs_la"].mean >= -0.01 for r in rows),
            len(rows),
            len(rows),
        ),
        (
            "default + ``class_weight='balanced'`` at most 0.015 below "
            "class-weighted cross-entropy",
            sum(r["balanced_vs_balanced"].mean >= -0.015 for r in rows),
            len(rows),
            len(rows),
        ),
        (
            "default + balanced sample weights at most 0.015 below "
            "class-weighted cross-entropy",
            sum(r["sw_vs_balanced"].mean >= -0.015 for r in weighted),
            len(weighted),
            len(weighted),
        ),
        (
            "``crl-tuned`` ≥ the best of "
            + ", ".join(f"``{b}``" for b in BASELINES)
            + " on at least half",
            sum(r["tuned_vs_best"] >= 0 for r in tuned),
            len(tuned),
            (len(tuned) + 1) // 2,
        ),
    ]
    summary = list_table(
        ["target", "tasks where it holds", "needed", "verdict"],
        [
            [text, f"{k} of {total}", str(need), "holds" if k >= need else "**missed**"]
            for text, k, total, need in holds
        ],
    )
    return {"targets": summary + "\n" + table}


def bench_fit_table(results=RESULTS):
    path = results / "bench_fit.json"
    if not path.exists():
        return {"bench_fit": "(``benchmarks/bench_fit.py`` has not been run.)\n"}
    report = json.loads(path.read_text())
    configurations = list(report["results"])
    variants = list(report["results"][configurations[0]])

    def cell(row):
        step = f", {row['step_us']:.0f} µs/step" if "step_us" in row else ""
        seconds = row.get("median_seconds", row.get("best_seconds"))
        return f"{row['ratio']:.2f}x ({seconds:.2f} s{step})"

    table = list_table(
        ["variant", *configurations],
        [
            [name] + [cell(report["results"][c][name]) for c in configurations]
            for name in variants
        ],
    )
    return {
        "bench_fit": f"``{report['command']}`` ({report['machine']}, torch "
        f"{report['torch']}); the median of fits alternating between the "
        "variants, ratio to skorch's "
        f"``NeuralNetClassifier``:\n\n" + table
    }


def call_path_table(results=RESULTS):
    """The modules ``crl_loss`` enters, in order (``benchmarks/call_path.py``)."""
    path = results / "call_path.json"
    if not path.exists():
        return {"call_path": "(``benchmarks/call_path.py`` has not been run.)\n"}
    report = json.loads(path.read_text())
    rows = [
        [
            f"``{row['revision']}``",
            f"{row['level']} {row['comparison']}",
            str(row["climbs"]),
            str(row["returns"]),
            " -> ".join(f"``{module}``" for module in row["path"]),
        ]
        for row in report["rows"]
    ]
    return {
        "call_path": f"``{report['command']}``:\n\n"
        + list_table(["revision", "loss", "climbs", "returns", "path"], rows)
    }


def bench_step_table(results=RESULTS):
    """Where a fit's time goes, per configuration (``benchmarks/bench_step.py``)."""
    path = results / "bench_step.json"
    if not path.exists():
        return {"bench_step": "(``benchmarks/bench_step.py`` has not been run.)\n"}
    report = json.loads(path.read_text())

    def cell(row):
        if "ratio" in row:
            return f"{row['ms_per_fit']:,.0f} ms ({row['ratio']:.2f}x)"
        if "ms_per_fit" in row:
            return f"{row['ms_per_fit']:,.1f} ms"
        return f"{row['us_per_step']:,.0f} µs"

    out = [
        f"``{report['command']}`` ({report['machine']}, torch {report['torch']}); "
        f"the median of {report['repeats']} fits alternating between the variants; "
        "per fit, then per training step:\n"
    ]
    for configuration, result in report["results"].items():
        parts = result["parts"]
        names = list(parts)
        alone = result["loss_alone"]
        out.append(f"**{configuration}** ({result['steps']} steps)\n")
        out.append(
            list_table(
                ["part", *(f"``{name}``" for name in names)],
                [
                    [part] + [cell(parts[name][part]) for name in names]
                    for part in parts[names[-1]]
                ],
            )
        )
        out.append(
            f"``crl_loss`` alone at this batch shape, forward and backward: "
            f"{alone['crl_loss_us']:,.0f} µs in a loop, "
            f"{alone['first_crl_loss_us']:,.0f} µs for its first call at a new "
            f"shape (which builds the constants); cross-entropy "
            f"{alone['cross_entropy_us']:,.0f} µs.\n"
        )
    return {"bench_step": "\n".join(out)}


def bench_loss_tables(results=RESULTS):
    """The loss's time against cross-entropy per batch size, and its peak memory."""
    path = results / "bench_loss.json"
    if not path.exists():
        not_run = "(``benchmarks/bench_loss.py`` has not been run.)\n"
        return {
            "bench_loss": not_run,
            "bench_loss_memory": not_run,
            "bench_loss_calls": not_run,
        }
    report = json.loads(path.read_text())
    rows = report["timing"]
    names = [key for key in rows[0] if "/" in key and key != "aten_calls"]
    pml = [key for key in rows[0] if key.startswith("pytorch-metric-learning")]
    sizes = [f"({r['n']}, {r['C']})" for r in rows]
    body = [["cross-entropy (µs)"] + [f"{r['cross_entropy_us']:.0f}" for r in rows]]
    body += [[f"``{name}``"] + [f"{r[name]:.1f}x" for r in rows] for name in names]
    for name in pml:
        body.append([name] + [f"{r[name]:.1f}x" for r in rows])
        body.append(
            ["``instance/relative`` / batch-hard triplet"]
            + [f"**{r['instance/relative'] / r[name]:.2f}**" for r in rows]
        )
    timing = list_table(["time of forward + backward", *sizes], body)
    if "aten_calls" in rows[0]:
        counted = list(rows[0]["aten_calls"])
        calls = list_table(
            ["aten calls of forward + backward", *sizes],
            [
                [name if name == "cross_entropy" else f"``{name}``"]
                + [str(r["aten_calls"][name]) for r in rows]
                for name in counted
            ],
        )
    else:
        calls = "(not counted in this run)\n"
    memory = list_table(
        ["variant", "peak memory (MiB)"],
        [
            [f"``{name}``", f"{peak / 2**20:.0f}"]
            for name, peak in report["peak_memory_bytes"].items()
        ],
    )
    return {
        "bench_loss": f"``{report['command']}`` ({report['machine']}, "
        f"{report['device']}, torch {report['torch']}); median time of one forward "
        "and backward, as a multiple of cross-entropy's on the same logits "
        "(batch size, classes):\n\n" + timing,
        "bench_loss_memory": memory,
        "bench_loss_calls": calls,
    }


def large_data_table(results=RESULTS):
    """Peak memory and time of fit from lazily read image files against an array."""
    path = results / "large_data.json"
    if not path.exists():
        return {"large_data": "(``benchmarks/large_data.py`` has not been run.)\n"}
    report = json.loads(path.read_text())
    rows = [
        [name, f"{row['peak_rss_mib']:.0f}", f"{row['seconds']:.1f}"]
        for name, row in report["results"].items()
    ]
    table = list_table(["input", "peak resident memory (MiB)", "fit (s)"], rows)
    return {
        "large_data": f"``{report['command']}`` ({report['machine']}, torch "
        f"{report['torch']}): {report['n_images']:,} images (class counts "
        f"{report['class_counts']}), {report['array_mib']:.0f} MiB as one float32 "
        f"array, {report['images_on_disk_mib']:.0f} MiB of files; each input in "
        "its own process, 1 epoch of ``SmallCNN``:\n\n" + table
    }


def fault_injection_table(results=RESULTS):
    """What kills during saves left, per checkpoint kind and way of killing."""
    path = results / "fault_injection.json"
    if not path.exists():
        return {
            "fault_injection": "(``benchmarks/fault_injection.py`` has not been run.)\n"
        }
    report = json.loads(path.read_text())
    names = {
        "skcrl": "``skcrl.Checkpoint``, ``Checkpoint.resume``",
        "skcrl-recipe": "``skcrl.Checkpoint``, skorch's recipe",
        "skorch": "skorch's ``Checkpoint``",
    }
    ways = {"kill": "at each step of a save", "sigkill": "SIGKILL at random moments"}
    rows = []
    for key, row in report["summary"].items():
        kind, how = key.split(", ")
        rows.append(
            [
                names[kind],
                ways[how],
                str(row["killed"]),
                str(row["exact"]),
                str(row["different"])
                + (f" (up to {row['largest_gap']:.3f})" if row["different"] else ""),
                str(row["unresumable"]),
            ]
        )
    table = list_table(
        [
            "checkpoint",
            "killed",
            "runs killed",
            "resumed exactly",
            "resumed to another model",
            "could not resume",
        ],
        rows,
    )
    return {
        "fault_injection": f"``{report['command'].strip()}`` ({report['machine']}, "
        f"torch {report['torch']}); {report['epochs']} epochs, a checkpoint every "
        "epoch, both estimators:\n\n" + table
    }


def scaling_table(results=RESULTS):
    """Wall-clock seconds of the same work in one process and in two."""
    path = results / "scaling.json"
    if not path.exists():
        return {"scaling": "(``benchmarks/scaling.py`` has not been run.)\n"}
    report = json.loads(path.read_text())
    rows = []
    for name, row in report["results"].items():
        (one_name, one), (two_name, two) = row["seconds"].items()
        same = row.get("identical results")
        rows.append(
            [
                name,
                f"{one:.1f} ({one_name})",
                f"{two:.1f} ({two_name})",
                f"{one / two:.2f}x",
                "n/a" if same is None else ("yes" if same else "**no**"),
            ]
        )
    table = list_table(
        ["work", "1 process (s)", "2 processes (s)", "speed-up", "same results"],
        rows,
    )
    return {
        "scaling": f"``{report['command']}`` ({report['machine']}, torch "
        f"{report['torch']}):\n\n" + table
    }


#: The ways to state costs, side by side on the binary tasks ("Costs and thresholds").
COST_METHODS = (
    ("ce", "nothing: cross-entropy"),
    ("ce+balanced", "class_weight='balanced'"),
    ("ce+threshold", "threshold tuned"),
    ("crl", "CRL (defaults)"),
    ("crl+balanced", "CRL + class_weight='balanced'"),
    ("crl+balanced-sw", "CRL + balanced sample weights"),
    ("crl+threshold", "CRL + threshold tuned"),
    ("logreg", "class-weighted logistic regression"),
    ("logreg+threshold", "logistic regression, threshold tuned"),
    ("hgb", "class-weighted gradient boosting"),
    ("hgb+threshold", "gradient boosting, threshold tuned"),
    ("brf", "balanced random forest"),
)


def costs_table(results=RESULTS):
    """Balanced accuracy of the cost-sensitive methods on each binary task."""
    from skcrl.benchmark import SUITE

    scores, _ = comparison(results)
    binary = [t for t in scores if SUITE[t].kind == "binary"]
    if not binary or not any("ce+threshold" in scores[t] for t in binary):
        return {"costs": "(the binary tasks have not been run with thresholds.)\n"}
    rows = []
    for method, label in COST_METHODS:
        row = [f"``{method}`` ({label})"]
        for task in binary:
            values = scores[task].get(method)
            row.append("not run" if values is None else _pm(values))
        rows.append(row)
    best = {
        task: max(
            (m for m, _ in COST_METHODS if m in scores[task]),
            key=lambda m, t=task: scores[t][m].mean(),
        )
        for task in binary
    }
    for row, (method, _) in zip(rows, COST_METHODS, strict=True):
        for column, task in enumerate(binary, start=1):
            if best[task] == method:
                row[column] = f"**{row[column]}**"
    return {
        "costs": "Test-set balanced accuracy, mean ± std over the seeds of "
        "``python benchmarks/run_suite.py``; the best of these methods per task in "
        "bold.\n\n" + list_table(["method", *binary], rows)
    }


#: The tracks of the answer (attribute tasks of either network form their own),
#: and the CRL searches: ``crl-tuned`` (12 settings) on the tabular track,
#: ``crl-tuned-small`` (4) on the image track.
TRACK_LABELS = {
    "tabular": "tabular (MLP)",
    "images": "images (CNN)",
    "attributes": "attributes (MLP, CNN)",
}
TUNED = ("crl-tuned", "crl-tuned-small")


def tracks(results=RESULTS):
    """``{track: [row]}``: per task, the defaults' paired differences to the
    logit-adjusted cross-entropy and to the best network without CRL, the CRL
    search's to the best network without CRL, the instance level's (on the
    network's embeddings) to the logit-adjusted cross-entropy, and the best
    network's and the defaults' to the best non-neural reference (None where
    not run)."""
    from skcrl.benchmark import SUITE, against_baselines

    scores, _ = comparison(results)
    out = {track: [] for track in TRACK_LABELS}
    for row in targets(results):
        task = SUITE[row["task"]]
        by_method = scores[row["task"]]
        ratio = row["ratio"]
        tuned = next((m for m in TUNED if m in by_method), None)
        versus_best = None
        if tuned is not None:
            reference = _prefix(by_method) + "ce"
            *_, (_, _, versus_best) = against_baselines(
                by_method, tuned, reference, test_train_ratio=ratio
            )
        track = "attributes" if task.kind == "attributes" else task.track
        instance = None
        if "crl-inst" in by_method:
            instance = _diff(by_method, "crl-inst", _prefix(by_method) + "ce+la", ratio)
        versus_reference = None
        if row["non_neural"] is not None:
            versus_reference = _diff(by_method, "crl", row["non_neural"], ratio)
        out[track].append(
            dict(
                task=row["task"],
                reference=versus_reference,
                la=row["crl_vs_la"],
                instance=instance,
                best=row["crl_vs_best"],
                tuned=versus_best,
                tuned_name=tuned,
                neural=row["neural_gap"],
                network=row["network"],
                non_neural=row["non_neural"],
                best_overall=row["best_overall"],
            )
        )
    return {track: rows for track, rows in out.items() if rows}


#: The comparisons of the answer per track: (key of :func:`tracks`' rows,
#: header).
COMPARISONS = (
    ("la", "`crl` against `ce+la`"),
    ("neural", "best network against best non-neural model"),
    ("reference", "`crl` against the best non-neural model"),
    ("best", "`crl` against the best network without CRL"),
    ("tuned", "CRL tuned against the best network without CRL"),
    ("instance", "`crl-inst` against `ce+la`"),
)

#: README's columns: CRL against the logit adjustment, the networks against
#: the references.
README_COMPARISONS = ("la", "neural")


def _verdict_counts(differences):
    """ "2 better, 9 cannot tell, 4 worse" of paired differences, and how many
    of them hold after Holm's correction over the tasks of the cell."""
    from skcrl.benchmark._statistics import LEVEL, holm

    differences = [d for d in differences if d is not None]
    if not differences:
        return "not run"
    counts = {
        verdict: sum(d.verdict == verdict for d in differences)
        for verdict in ("better", "cannot tell", "worse")
    }
    text = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n)
    if counts["better"] + counts["worse"] and len(differences) > 1:
        adjusted = holm([d.p_value for d in differences])
        kept = [
            d.verdict
            for d, p in zip(differences, adjusted, strict=True)
            if p < LEVEL and d.verdict in ("better", "worse")
        ]
        held = ", ".join(
            f"{kept.count(v)} {v}" for v in ("better", "worse") if kept.count(v)
        )
        text += f" (Holm: {held or 'none holds'})"
    return text


def suite_tests(results=RESULTS):
    """``{(track, key): SignedRankTest}`` over each track's tasks, for every
    comparison of :data:`COMPARISONS` that ran, and ``{(track, key): Holm
    p-value}`` over all of them together (None where too few tasks)."""
    from skcrl.benchmark._statistics import holm, signed_rank_test

    tests = {}
    for track, rows in tracks(results).items():
        for key, _ in COMPARISONS:
            means = [r[key].mean for r in rows if r[key] is not None]
            if means:
                tests[track, key] = signed_rank_test(means)
    adjusted = dict(zip(tests, holm([t.p_value for t in tests.values()]), strict=True))
    return tests, adjusted


def _suite_cell(test, adjusted):
    """A signed-rank test over tasks as a table cell."""
    if test is None:
        return "not run"
    head = f"{test.mean:+.3f} mean, ahead on {test.wins} of {test.n_tasks}"
    if test.p_value is None:
        return f"{head}; no test with fewer than 6 tasks"
    verdict = (
        ("better" if test.mean > 0 else "worse") if adjusted < 0.05 else "cannot tell"
    )
    return f"{head}; p = {test.p_value:.2g}, Holm {adjusted:.2g}: {verdict}"


def _track_cells(rows, track, tests, adjusted, keys):
    cells = [str(len(rows))]
    for key in keys:
        per_task = _verdict_counts(r[key] for r in rows)
        if key == "tuned":
            names = sorted({r["tuned_name"] for r in rows if r["tuned_name"]})
            per_task += "".join(f" (`{name}`)" for name in names)
        cells.append(per_task)
        cells.append(_suite_cell(tests.get((track, key)), adjusted.get((track, key))))
    return cells


def _header(keys):
    header = ["track", "tasks"]
    for key in keys:
        label = dict(COMPARISONS)[key]
        header += [f"{label}: per task", "over tasks"]
    return header


def expected_by_chance(results=RESULTS):
    """How many per-task verdicts noise alone would give each column."""
    from skcrl.benchmark._statistics import LEVEL

    by_track = tracks(results)
    counts = ", ".join(
        f"{TRACK_LABELS[t]} {len(rows) * LEVEL:.2f}" for t, rows in by_track.items()
    )
    return (
        f"Each per-task verdict is a two-sided test at {LEVEL:.0%}: where nothing "
        f"differs, a column holds by chance about {counts} better-or-worse "
        "verdicts; Holm's correction over a cell's tasks keeps those that survive "
        "reading them together. *Over tasks*: the mean of the per-task mean "
        "differences, the tasks ahead, and the Wilcoxon signed-rank test on them "
        "(Demšar 2006), Holm-corrected over every cell of the table; with fewer "
        "than 6 tasks it cannot reach 5% and is not run."
    )


def headline_markdown(results=RESULTS):
    """README's one table: per track, CRL at its defaults against the
    logit-adjusted cross-entropy and the best network against the best
    non-neural model, per task (paired tests over seeds) and over tasks
    (signed-rank, Holm)."""
    tests, adjusted = suite_tests(results)
    header = _header(README_COMPARISONS)
    lines = [
        "| " + " | ".join(header) + " |",
        "|---|---:|" + "---|" * (len(header) - 2),
    ]
    for track, rows in tracks(results).items():
        cells = _track_cells(rows, track, tests, adjusted, README_COMPARISONS)
        lines.append("| " + " | ".join([TRACK_LABELS[track], *cells]) + " |")
    return "\n".join(lines) + "\n"


def track_tables(results=RESULTS):
    """The results page's answer per track, and each track's tasks."""
    by_track = tracks(results)
    if not by_track:
        return {"tracks": "(``benchmarks/run_suite.py`` has not been run.)\n"}
    tests, adjusted = suite_tests(results)
    keys = [key for key, _ in COMPARISONS]
    summary = list_table(
        [h.replace("`", "``") for h in _header(keys)],
        [
            [
                TRACK_LABELS[t],
                *(
                    c.replace("`", "``")
                    for c in _track_cells(rows, t, tests, adjusted, keys)
                ),
            ]
            for t, rows in by_track.items()
        ],
    )

    per_task = list_table(
        [
            "track",
            "task",
            "crl − ce+la",
            "best network − best non-neural",
            "crl − best non-neural",
            "crl − best network without CRL",
            "tuned − best",
            "crl-inst − ce+la",
        ],
        [
            [
                TRACK_LABELS[t],
                r["task"],
                _paired_cell(r["la"]),
                _paired_cell(r["neural"])
                + (
                    f" (``{r['network']}`` − ``{r['non_neural']}``)"
                    if r["neural"] is not None
                    else ""
                ),
                _paired_cell(r["reference"]),
                _paired_cell(r["best"]),
                _paired_cell(r["tuned"]),
                _paired_cell(r["instance"]),
            ]
            for t, rows in by_track.items()
            for r in rows
        ],
    )
    return {"tracks": summary + "\n" + expected_by_chance(results) + "\n\n" + per_task}


def _paired_cell(d):
    """A paired difference as a table cell: the mean, its 95% interval and the
    verdict; "not run" for None."""
    if d is None:
        return "not run"
    if d.verdict == "one seed":
        return f"{d.mean:+.3f} (one seed)"
    return f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}] ({d.verdict})"


def _seed_scores(rows):
    """``{method: scores in seed order}`` of one task's CSV rows (mA for
    attributes), so that two methods' arrays pair seed by seed."""
    metric = (
        "mean_balanced_accuracy"
        if "mean_balanced_accuracy" in rows[0]
        else "balanced_accuracy"
    )
    by_method = {}
    for row in sorted(rows, key=lambda r: int(r["seed"])):
        by_method.setdefault(row["method"], []).append(float(row[metric]))
    return {m: np.array(v) for m, v in by_method.items()}


def image_variant_tables(results=RESULTS):
    """Runs of image tasks with one setting changed: a deeper ``SmallCNN``
    (``--channels 32 64 128 --output docs/results/image_deeper``) and twice the
    epochs (``--epochs 60 --output docs/results/image_60_epochs``). Per task, the
    variant's ``ce+la`` against the suite's, and each other method against the
    variant's ``ce+la``; seeds paired."""
    scores, _ = comparison(results)
    pieces = {}
    for name, label in (("image_deeper", "deeper"), ("image_60_epochs", "60 epochs")):
        paths = sorted((results / name).glob("*.csv"))
        if not paths:
            pieces[name] = "(this variant has not been run.)\n"
            continue
        rows, header = [], None
        for path in paths:
            variant = _seed_scores(_rows(path))
            others = [m for m in variant if m != "ce+la"]
            header = header or others
            shipped = {"suite": scores[path.stem]["ce+la"], "variant": variant["ce+la"]}
            rows.append(
                [
                    path.stem,
                    _pm(variant["ce+la"]),
                    _paired_cell(_diff(shipped, "variant", "suite")),
                    *(_paired_cell(_diff(variant, m, "ce+la")) for m in others),
                ]
            )
        run = json.loads(paths[0].with_suffix(".json").read_text())
        pieces[name] = (
            f"``{run['command'].strip()}`` at commit ``{run['commit']}``; seeds "
            "0-2, paired.\n\n"
            + list_table(
                [
                    "task",
                    f"{label}: ce+la",
                    f"{label} ce+la − suite's ce+la",
                    *(f"{label}: {m} − ce+la" for m in header),
                ],
                rows,
            )
        )
    return pieces


def image_confirmation_table(results=RESULTS):
    """The image track's CRL rows on fresh seeds (``--seeds 3 4 5 --output
    docs/results/image_confirmation``): class and instance level against the
    logit-adjusted cross-entropy on those seeds, and on all six with the suite's."""
    paths = sorted((results / "image_confirmation").glob("*.csv"))
    if not paths:
        return {
            "image_confirmation": "(the confirmation on seeds 3-5 has not been run.)\n"
        }
    scores, _ = comparison(results)
    rows = []
    for path in paths:
        task = path.stem
        by_method = _seed_scores(_rows(path))
        la = _prefix(by_method) + "ce+la"
        both = {m: np.concatenate([scores[task][m], v]) for m, v in by_method.items()}
        cells = [task]
        for a, b in (("crl", la), ("crl-inst", la), ("crl-inst", "crl")):
            for source in (by_method, both):
                cells.append(_paired_cell(_diff(source, a, b)))
        rows.append(cells)
    run = json.loads(paths[0].with_suffix(".json").read_text())
    return {
        "image_confirmation": f"``{run['command'].strip()}`` at commit "
        f"``{run['commit']}``; paired over seeds 3-5, then over 0-5 with the "
        "suite's rows.\n\n"
        + list_table(
            [
                "task",
                "crl − ce+la, seeds 3-5",
                "seeds 0-5",
                "crl-inst − ce+la, seeds 3-5",
                "seeds 0-5",
                "crl-inst − crl, seeds 3-5",
                "seeds 0-5",
            ],
            rows,
        )
    }


def image_curve_tables(results=RESULTS):
    """``benchmarks/image_curves.py``'s CNN-against-MLP comparison and its
    learning curves at the suite's 30 epochs and at 60."""
    from skcrl.benchmark import paired_difference

    path = results / "image_curves.json"
    if not path.exists():
        missing = "(``benchmarks/image_curves.py`` has not been run.)\n"
        return {"cnn_vs_mlp": missing, "image_curves": missing}
    data = json.loads(path.read_text())
    run = data["run"]
    source = (
        f"``{run['command'].strip()}``, {run['minutes']:g} minutes "
        f"({run['machine']}, torch {run['torch']}).\n\n"
    )
    rows = []
    for label in dict.fromkeys(p["data"] for p in data["cnn_against_mlp"]):
        mine = [p for p in data["cnn_against_mlp"] if p["data"] == label]
        cnn, mlp = [p["cnn"] for p in mine], [p["mlp"] for p in mine]
        rows.append(
            [
                label,
                str(mine[0]["n_train"]),
                _pm(np.array(cnn)),
                _pm(np.array(mlp)),
                _paired_cell(paired_difference(cnn, mlp)),
            ]
        )
    pixels = list_table(
        ["data", "training images", "SmallCNN", "default MLP", "CNN − MLP"], rows
    )
    curves = list_table(
        [
            "task",
            "method",
            "test balanced accuracy, epoch 30",
            "epoch 60",
            "training loss, epoch 30",
            "epoch 60",
        ],
        [
            [
                c["task"],
                f"``{c['method']}``",
                f"{c['test_balanced_accuracy'][29]:.3f}",
                f"{c['test_balanced_accuracy'][-1]:.3f}",
                f"{c['train_loss'][29]:.3f}",
                f"{c['train_loss'][-1]:.3f}",
            ]
            for c in data["curves"]
        ],
    )
    return {"cnn_vs_mlp": source + pixels, "image_curves": source + curves}


def calibration_target_table(results=RESULTS, bound=0.05):
    """Per task of the suite: log-loss and Brier score of plain cross-entropy,
    the logit-adjusted one and CRL at its defaults, and the defaults' excess
    over plain cross-entropy against ``bound``."""
    probabilities = probability_means(results)
    rows, held = [], []
    for task, by_method in probabilities.items():
        ce = "bce" if "bce" in by_method else "ce"
        crl = by_method["crl"]
        if np.isnan(crl["log_loss"]):
            continue
        excess = {k: crl[k] / by_method[ce][k] - 1 for k in ("log_loss", "brier")}
        ok = all(v <= bound for v in excess.values())
        held.append(ok)
        rows.append(
            [task]
            + [
                f"{by_method[m]['log_loss']:.3f} / {by_method[m]['brier']:.3f}"
                if m in by_method
                else "n/a"
                for m in (ce, ce + "+la", "crl")
            ]
            + [
                f"{excess['log_loss']:+.1%} / {excess['brier']:+.1%}",
                "holds" if ok else "**missed**",
            ]
        )
    if not rows:
        return {
            "calibration_targets": "(``benchmarks/run_suite.py`` has not been "
            "run since the probabilities are measured.)\n"
        }
    table = list_table(
        [
            "task",
            "plain CE: log-loss / Brier",
            "CE + logit adjustment",
            "CRL defaults",
            "defaults − plain CE",
            f"within {bound:.0%}",
        ],
        rows,
    )
    return {
        "calibration_targets": f"The defaults' probabilities are within {bound:.0%} "
        f"of plain cross-entropy's in log-loss and Brier score on {sum(held)} of "
        f"{len(held)} tasks (``python benchmarks/run_suite.py``; plain binary "
        "cross-entropy on the attribute tasks):\n\n" + table
    }


def calibration_tables(results=RESULTS):
    """The tables of ``benchmarks/calibration.py``: per task and method, the
    decisions' balanced accuracy and the probabilities' log-loss, Brier score
    and mean probability of the rarest class; per attribute, the mean
    probability against the rate."""
    path = results / "calibration.json"
    if not path.exists():
        not_run = "(``benchmarks/calibration.py`` has not been run.)\n"
        return {"calibration": not_run, "calibration_attributes": not_run}
    report = json.loads(path.read_text())
    out = [
        f"``{report['command'].strip()}`` at commit ``{report['commit']}`` "
        f"({report['machine']}, torch {report['torch']}), seeds "
        f"{', '.join(map(str, report['seeds']))}; means over seeds.\n"
    ]
    for task, entry in report["tasks"].items():
        out.append(
            f"**{task}**, rarest class {entry['rarest_rate']:.1%} of the "
            "training part:\n"
        )
        out.append(
            list_table(
                [
                    "method",
                    "balanced accuracy of ``predict``",
                    "log-loss",
                    "Brier",
                    "mean probability of the rarest class",
                ],
                [
                    [f"``{method}``"]
                    + [
                        f"{np.mean(scores[key]):.3f}"
                        for key in (
                            "balanced_accuracy",
                            "log_loss",
                            "brier",
                            "mean_proba_rarest",
                        )
                    ]
                    for method, scores in entry["methods"].items()
                ],
            )
        )
    tables = []
    for task, attributes in report["attributes"].items():
        names = attributes["attributes"]
        tables.append(f"**{task}**:\n")
        tables.append(
            list_table(
                ["method", *names, "log-loss", "Brier"],
                [["training rate", *(f"{r:.3f}" for r in attributes["rates"]), "", ""]]
                + [
                    [f"``{method}``"]
                    + [f"{p:.3f}" for p in mean]
                    + [
                        f"{attributes['scores'][method][key]:.3f}"
                        for key in ("log_loss", "brier")
                    ]
                    for method, mean in attributes["mean_proba"].items()
                ],
            )
        )
    return {
        "calibration": "\n".join(out),
        "calibration_attributes": "Mean predicted probability of each attribute on "
        "the test part weighted to the training distribution, means over seeds:\n\n"
        + "\n".join(tables),
    }


def protocol_budget_tables(results=RESULTS):
    """The budget protocol (``benchmarks/protocol_budget.py``): every setting's
    mean score, time and guard failures; its large task; the raw-features check
    (``benchmarks/raw_features.py``)."""
    path = results / "protocol_budget.json"
    if not path.exists():
        return {
            "protocol_budget": "(``benchmarks/protocol_budget.py`` has not been run.)\n"
        }
    summary = json.loads(path.read_text())
    fails = summary["guard_failures"]
    rows = []
    for name, entry in summary["settings"].items():
        base = name.replace(" +class_weight", "")
        failing = sorted({f["task"] for f in fails.get(base, []) if f["run"] == name})
        epochs = sorted({e for t in entry["per_task"].values() for e in t["epochs"]})
        rows.append(
            [
                f"``{name}``",
                f"{entry['mean_score']:.4f}",
                f"{entry['time_ratio_to_fixed_30']:.2f}",
                f"{epochs[0]}-{epochs[-1]}",
                (", ".join(failing) or "none") if base in fails else "(reference)",
            ]
        )
    text = list_table(
        ["setting", "mean score", "time / fixed-30", "epochs", "guard fails on"], rows
    )
    text += (
        f"\nChosen: ``{summary['chosen']}`` (best ``{summary['best']}``, cheapest "
        f"within two standard errors ``{summary['cheapest']}``).\n"
    )
    large = summary.get("large")
    if large:
        d = large["valid_rule_vs_fixed_30"]
        text += (
            f"\nOn ``{large['task']}`` (about 16,000 training rows per fold): "
            + ", ".join(
                f"``{n}`` {v:.3f} in {large['seconds'][n]:.0f} s per fit"
                for n, v in large["scores"].items()
            )
            + f"; the held-out rule against ``fixed-30``: {_gain(d)}, stopping "
            f"after {large['epochs'][0]}-{large['epochs'][1]} epochs. "
            + (
                '``early_stopping="auto"`` keeps the rule above 10,000 rows.'
                if large["auto_keeps_rule"]
                else "So the rule stays off by default on large data too "
                "(``early_stopping=False``)."
            )
            + "\n"
        )
    raw = results / "raw_features.json"
    if raw.exists():
        report = json.loads(raw.read_text())
        text += (
            f"\nFeatures on very different scales (``{report['command']}``: "
            f"{report['data']}, seeds 0-{len(report['seeds']) - 1}), balanced "
            "accuracy on the test half:\n\n"
        )
        text += list_table(
            ["setting", "mean ± sd", "lowest seed", "minus scaled"],
            [
                [
                    name,
                    f"{e['mean']:.3f} ± {e['sd']:.3f}",
                    f"{e['min']:.3f}",
                    f"{e['minus_scaled']:+.3f}",
                ]
                for name, e in report["scores"].items()
            ],
        )
    fixed = summary["settings"]["fixed-30"]
    n_fits = len(summary["tasks"]) * len(summary["seeds"])
    fit_time = (
        f"A default fit (``CRLClassifier()``, 30 epochs) on two thirds of a suite "
        f"task's training part takes {fixed['seconds'] / n_fits:.1f} s on average "
        f"over the {len(summary['tasks'])} tabular tasks and seeds 0-2, on one "
        "thread (``python benchmarks/protocol_budget.py``); the rule on the "
        "training loss would take "
        f"{summary['settings']['train-rule']['time_ratio_to_fixed_30']:.2f} times "
        "as long, the held-out rule "
        f"{summary['settings']['valid-rule']['time_ratio_to_fixed_30']:.2f} times.\n"
    )
    return {"protocol_budget": text, "default_fit_time": fit_time}


def generate(results=RESULTS, generated=GENERATED):
    generated.mkdir(exist_ok=True)
    pieces = {}
    if (results / "protocol_summary.json").exists():
        pieces.update(protocol_tables(results))
    else:
        not_run = "(``benchmarks/protocol_defaults.py`` has not been run.)\n"
        pieces.update(
            {
                name: not_run
                for name in (
                    "protocol_facts",
                    "protocol_ranking",
                    "protocol_tasks",
                    "protocol_costs",
                    "protocol_class_aware",
                    "memory_effect_chosen",
                    "memory_effect_plain",
                )
            }
        )
    if (results / "comparison").exists():
        pieces.update(comparison_tables(results))
        pieces.update(costs_table(results))
        pieces.update(target_tables(results))
        pieces.update(track_tables(results))
        pieces.update(findings(results))
        pieces.update(verdict_example(results))
        pieces.update(calibration_target_table(results))
    pieces.update(protocol_budget_tables(results))
    pieces.update(calibration_tables(results))
    pieces.update(image_curve_tables(results))
    pieces.update(image_confirmation_table(results))
    pieces.update(image_variant_tables(results))
    pieces.update(bench_fit_table(results))
    pieces.update(bench_step_table(results))
    pieces.update(call_path_table(results))
    pieces.update(bench_loss_tables(results))
    pieces.update(large_data_table(results))
    pieces.update(scaling_table(results))
    pieces.update(fault_injection_table(results))
    for name, text in pieces.items():
        (generated / f"{name}.rst.inc").write_text(text)
    return pieces
