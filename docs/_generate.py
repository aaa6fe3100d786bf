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
        metric = (
            "mean_balanced_accuracy"
            if "mean_balanced_accuracy" in rows[0]
            else "balanced_accuracy"
        )
        methods = list(dict.fromkeys(r["method"] for r in rows))
        scores[task] = {
            m: np.array([float(r[metric]) for r in rows if r["method"] == m])
            for m in methods
        }
        seconds[task] = {
            m: float(np.mean([float(r["seconds"]) for r in rows if r["method"] == m]))
            for m in methods
        }
    return scores, seconds


def _prefix(by_method):
    """``"b"`` for an attribute task (binary cross-entropy baselines), else ``""``."""
    return "b" if "bce" in by_method else ""


# -- rendering ----------------------------------------------------------------------


def list_table(header, rows, widths=None):
    """An RST list-table."""
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(map(str, widths)))
    lines.append("")
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def _pm(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def protocol_tables(results=RESULTS):
    summary = json.loads((results / "protocol_summary.json").read_text())
    tasks = summary["tasks"]
    chosen = summary["chosen"]
    by_name = {c["setting"]: c for c in summary["candidates"]}
    ranking = list_table(
        [
            "rank",
            "eta",
            "logit_adjustment",
            "batches",
            "memory_size",
            "mean rank",
            "mean CV score",
            "loses to CE on",
        ],
        [
            [
                str(i),
                f"{c['eta']:g}",
                f"{c['logit_adjustment']:g}",
                c["batches"],
                str(c["memory_size"]),
                f"{c['mean_rank']:.2f}",
                f"{c['mean_score']:.4f}",
                ", ".join(c["loses_on"]) or "none",
            ]
            for i, c in enumerate(summary["candidates"], 1)
        ]
        + [
            [
                "",
                "CE (reference)",
                "",
                "",
                "",
                "",
                f"{summary['reference']['mean_score']:.4f}",
                "",
            ]
        ],
    )
    reference = summary["reference"]["scores"]
    per_task = list_table(
        ["task", "CE (reference)", "chosen default", "best candidate on the task"],
        [
            [
                task,
                "{:.3f} ± {:.3f}".format(*reference[task]),
                "{:.3f} ± {:.3f}".format(*by_name[chosen]["scores"][task]),
                "{1:.3f}: {0}".format(
                    *max(
                        (
                            (c["setting"], c["scores"][task][0])
                            for c in summary["candidates"]
                        ),
                        key=lambda pair: pair[1],
                    )
                ),
            ]
            for task in tasks
        ],
    )
    # the memory sizes around the chosen setting, and around the paper's loss at
    # the old default (eta 2, no adjustment, shuffled batches)
    c = by_name[chosen]
    sizes = (0, 256, 1024, 4096)
    by_parameters = {
        (x["eta"], x["logit_adjustment"], x["batches"], x["memory_size"]): x
        for x in summary["candidates"]
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
            + [["mean rank (of 48)"] + [f"{x['mean_rank']:.2f}" for x in around]],
        )
    hours = summary["seconds"] / 3600
    facts = (
        f"{len(summary['candidates'])} candidates and the reference, "
        f"{len(tasks)} tasks, seeds {', '.join(map(str, summary['seeds']))}; "
        f"{hours:.1f} hours of training in all. Chosen: ``{chosen}``.\n"
    )
    return {
        "protocol_facts": facts,
        "protocol_ranking": ranking,
        "protocol_tasks": per_task,
        **memory,
    }


def comparison_tables(results=RESULTS):
    from skcrl.benchmark import SUITE

    scores, seconds = comparison(results)
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
            f"seeds; Δ: paired difference to ``{reference}``.\n"
        )
        run_file = results / "comparison" / f"{task}.json"
        if run_file.exists():
            run = json.loads(run_file.read_text())
            out.append(
                f"``{run['command'].strip()}`` at commit ``{run['commit']}``, "
                f"{run['minutes']:g} minutes ({run['machine']}, torch {run['torch']}, "
                f"{run['torch_threads']} thread per process).\n"
            )
        order = sorted(by_method, key=lambda m: -by_method[m].mean())
        out.append(
            list_table(
                ["method", metric, f"Δ to {reference}", "s/fit"],
                [
                    [
                        f"``{m}``",
                        _pm(by_method[m]),
                        f"{np.mean(by_method[m] - by_method[reference]):+.3f}",
                        f"{seconds[task][m]:.1f}",
                    ]
                    for m in order
                ],
            )
        )
    return {"comparison_tasks": "\n".join(out)}


def targets(results=RESULTS):
    """The targets of the results issue, each per task, from the suite's CSVs."""
    scores, _ = comparison(results)
    rows = []
    for task, s in scores.items():
        if "bce" in s:
            gain = s["crl"] - s["bce"]
            rows.append(
                dict(
                    task=task,
                    attributes=True,
                    crl_vs_ce=gain,
                    crl_vs_balanced=s["crl"].mean() - s["bce+balanced"].mean(),
                )
            )
            continue
        best = max(BASELINES, key=lambda m: s[m].mean())
        rows.append(
            dict(
                task=task,
                attributes=False,
                crl_vs_ce=s["crl"] - s["ce"],
                crl_vs_balanced=s["crl"].mean() - s["ce+balanced"].mean(),
                tuned_vs_best=s["crl-tuned"].mean() - s[best].mean(),
                best=best,
            )
        )
    return rows


def findings(results=RESULTS):
    """What the comparison says, in numbers computed from its files."""
    scores, _ = comparison(results)

    def gain(s, a, b):
        return float(np.mean(s[a] - s[b]))

    rows = []
    for task, s in scores.items():
        ce = _prefix(s) + "ce"
        rows.append((task, gain(s, "crl", ce), gain(s, "crl", ce + "+la")))
    wins = [r for r in rows if r[1] >= 0]
    close = [r for r in rows if abs(r[2]) <= 0.005]
    far = [r for r in rows if abs(r[2]) > 0.005]
    lost = [r for r in rows if r[1] < 0]
    text = (
        f"- The default beats plain cross-entropy on {len(wins)} of {len(rows)} tasks, "
        f"by {min(r[1] for r in wins):+.3f} to {max(r[1] for r in wins):+.3f}"
        + (
            "; it loses on " + ", ".join(f"{t} ({g:+.3f})" for t, g, _ in lost)
            if lost
            else ""
        )
        + ".\n"
        + (
            "- Nearly all of that gain is the logit adjustment's"
            if len(close) >= 0.75 * len(rows)
            else "- Part of that gain is the logit adjustment's"
        )
        + ": against the logit-adjusted cross-entropy alone (``ce+la``, ``bce+la``) "
        f"the default is within ±0.005 on {len(close)} of {len(rows)} tasks"
        + (
            " and differs on " + ", ".join(f"{t} ({d:+.3f})" for t, _, d in far)
            if far
            else ""
        )
        + ". At ``eta = 0.5`` the CRL term's weight is small (``alpha = 0.5 * "
        "Omega_imb``, always below 0.5: from 0.12 on the digit attributes to 0.35 "
        "on page-blocks), and so is what it adds.\n"
    )
    return {"findings": text}


def target_tables(results=RESULTS):
    rows = targets(results)
    single = [r for r in rows if not r["attributes"]]
    table = list_table(
        [
            "task",
            "crl − ce (paired, per seed)",
            "crl ≥ ce",
            "crl − ce+balanced",
            "crl-tuned − best baseline",
        ],
        [
            [
                r["task"],
                " ".join(f"{d:+.3f}" for d in r["crl_vs_ce"])
                + f" (mean {np.mean(r['crl_vs_ce']):+.3f})",
                "yes" if np.mean(r["crl_vs_ce"]) >= 0 else "**no**",
                f"{r['crl_vs_balanced']:+.3f}",
                (
                    f"{r['tuned_vs_best']:+.3f} (vs ``{r['best']}``)"
                    if not r["attributes"]
                    else "n/a"
                ),
            ]
            for r in rows
        ],
    )
    n = len(single)
    holds = [
        (
            "default ``CRLClassifier`` ≥ ``ce`` on every task (mean of paired seeds)",
            sum(np.mean(r["crl_vs_ce"]) >= 0 for r in single),
            n,
            n,
        ),
        (
            "default ``CRLClassifier`` ≥ ``ce+balanced`` on at least half",
            sum(r["crl_vs_balanced"] >= 0 for r in single),
            n,
            (n + 1) // 2,
        ),
        (
            "``crl-tuned`` ≥ the best of "
            + ", ".join(f"``{b}``" for b in BASELINES)
            + " on at least half",
            sum(r["tuned_vs_best"] >= 0 for r in single),
            n,
            (n + 1) // 2,
        ),
    ]
    attributes = [r for r in rows if r["attributes"]]
    holds.append(
        (
            "default ``CRLMultiLabelClassifier`` > ``bce`` (mA) on every attribute set",
            sum(np.mean(r["crl_vs_ce"]) > 0 for r in attributes),
            len(attributes),
            len(attributes),
        )
    )
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
    table = list_table(
        ["variant", *configurations],
        [
            [name]
            + [
                "{:.2f}x ({:.1f} s)".format(
                    report["results"][c][name]["ratio"],
                    report["results"][c][name]["best_seconds"],
                )
                for c in configurations
            ]
            for name in variants
        ],
    )
    return {
        "bench_fit": f"``{report['command']}`` ({report['machine']}, torch "
        f"{report['torch']}); best of the repeats, ratio to skorch's "
        f"``NeuralNetClassifier``:\n\n" + table
    }


def bench_loss_tables(results=RESULTS):
    """The loss's time against cross-entropy per batch size, and its peak memory."""
    path = results / "bench_loss.json"
    if not path.exists():
        return {"bench_loss": "(``benchmarks/bench_loss.py`` has not been run.)\n"}
    report = json.loads(path.read_text())
    rows = report["timing"]
    names = [key for key in rows[0] if "/" in key]
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
    ("crl+threshold", "CRL + threshold tuned"),
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


def headline_markdown(results=RESULTS):
    """README's one table: test balanced accuracy (mA for attributes) per task."""
    scores, _ = comparison(results)
    columns = ["ce", "ce+balanced", "ce+la", "best resampler", "crl", "crl-tuned"]
    lines = [
        "| task | "
        + " | ".join(f"`{c}`" if c != "best resampler" else c for c in columns)
        + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for task, s in scores.items():
        if "bce" in s:
            cells = [s["bce"], s["bce+balanced"], s["bce+la"], None, s["crl"], None]
        else:
            resampler = max(("ce+ros", "ce+smote", "ce+rus"), key=lambda m: s[m].mean())
            cells = [
                s["ce"],
                s["ce+balanced"],
                s["ce+la"],
                s[resampler],
                s["crl"],
                s["crl-tuned"],
            ]
        lines.append(
            f"| {task} | "
            + " | ".join("–" if c is None else f"{c.mean():.3f}" for c in cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def generate(results=RESULTS, generated=GENERATED):
    generated.mkdir(exist_ok=True)
    pieces = {}
    if (results / "protocol_summary.json").exists():
        pieces.update(protocol_tables(results))
    if (results / "comparison").exists():
        pieces.update(comparison_tables(results))
        pieces.update(costs_table(results))
        pieces.update(target_tables(results))
        pieces.update(findings(results))
    pieces.update(bench_fit_table(results))
    pieces.update(bench_loss_tables(results))
    pieces.update(large_data_table(results))
    pieces.update(scaling_table(results))
    for name, text in pieces.items():
        (generated / f"{name}.rst.inc").write_text(text)
    return pieces
