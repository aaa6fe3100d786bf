"""The comparison's table, CSV and plot."""

from __future__ import annotations

import csv
from pathlib import Path

from ._run import METRICS

__all__ = ["format_table", "plot", "write_csv"]


def format_table(summary) -> str:
    """A Markdown table: mean ± std over seeds, best balanced accuracy first."""
    header = "| method | " + " | ".join(METRICS) + " | s/fit |"
    lines = [header, "|---|" + "---:|" * (len(METRICS) + 1)]
    for row in summary:
        cells = [f"{row[m]:.3f} ± {row[m + '_std']:.3f}" for m in METRICS]
        lines.append(
            f"| {row['method']} | " + " | ".join(cells) + f" | {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


def write_csv(records, path: Path) -> None:
    """One row per (method, seed), the per-class recalls head to tail as columns."""
    n_classes = len(records[0]["recall_per_class"])
    fields = ["method", "seed", *METRICS, "seconds"]
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(fields + [f"recall_class_rank_{i}" for i in range(n_classes)])
        for r in records:
            writer.writerow([r[f] for f in fields] + list(r["recall_per_class"]))


def plot(summary, path: Path, title: str) -> None:
    """Balanced accuracy per method (error bars: std over seeds) and the recall of
    each class from head to tail."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [row["method"] for row in summary][::-1]
    means = [row["balanced_accuracy"] for row in summary][::-1]
    stds = [row["balanced_accuracy_std"] for row in summary][::-1]
    colours = ["tab:red" if n.startswith("crl") else "tab:blue" for n in names]
    left.barh(names, means, xerr=stds, color=colours, capsize=3)
    left.set_xlabel("balanced accuracy (mean ± std over seeds)")
    left.set_xlim(min(means) - 0.1, min(1.0, max(means) + 0.05))
    right.set_prop_cycle(color=plt.cm.tab20.colors)  # one colour per method
    for row in summary:
        style = "-" if row["method"].startswith("crl") else "--"
        right.plot(
            row["recall_per_class"],
            style,
            marker="o",
            markersize=3,
            label=row["method"],
        )
    right.set_xlabel("class, from head (most training samples) to tail")
    right.set_ylabel("test recall (mean over seeds)")
    right.legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
