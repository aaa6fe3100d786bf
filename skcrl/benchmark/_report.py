"""The comparison's table, CSV and plot."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from ._run import METRICS, class_names, per_class

__all__ = ["format_table", "plot", "read_csv", "write_csv"]


def format_table(summary) -> str:
    """A Markdown table: mean ± std over seeds, best balanced accuracy first.

    Parameters
    ----------
    summary : list of dict
        What :func:`summarise` returns.

    Returns
    -------
    str

    Examples
    --------
    >>> from skcrl.benchmark import format_table, summarise
    >>> record = dict(balanced_accuracy=0.9, macro_f1=0.8, g_mean=0.85,
    ...               tail_recall=0.7, log_loss=0.25, brier=0.1,
    ...               recall_per_class=[1.0, 0.7], seconds=2.0)
    >>> table = format_table(summarise([dict(method="crl", seed=0, **record)]))
    >>> header, rule, row = table.splitlines()
    >>> header.split(" | ")
    ['| method', 'balanced_accuracy', 'macro_f1', 'g_mean', 'tail_recall',
     'log_loss', 'brier', 's/fit |']
    >>> row.split(" | ")[:3], row.split(" | ")[-1]
    (['| crl', '0.900 ± 0.000', '0.800 ± 0.000'], '2.0 |')
    """
    header = "| method | " + " | ".join(METRICS) + " | s/fit |"
    lines = [header, "|---|" + "---:|" * (len(METRICS) + 1)]
    for row in summary:
        cells = [f"{row[m]:.3f} ± {row[m + '_std']:.3f}" for m in METRICS]
        lines.append(
            f"| {row['method']} | " + " | ".join(cells) + f" | {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


def write_csv(records, path: Path) -> None:
    """One row per (method, seed): the metrics, the sizes of the split, then each
    class's test recall (``recall_<class>``) and test rows (``test_rows_<class>``),
    the classes head to tail as the first record orders them.

    Parameters
    ----------
    records : list of dict
        What :func:`run_comparison` returns.
    path : str or Path
        The CSV file to write.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skcrl.benchmark import write_csv
    >>> record = dict(method="ce", seed=0, balanced_accuracy=0.9, macro_f1=0.8,
    ...               g_mean=0.85, tail_recall=0.7, log_loss=0.25, brier=0.1,
    ...               recall_per_class=[1.0, 0.7], seconds=2.0, n_train=80,
    ...               n_test=20, classes=["no", "yes"], test_counts=[15, 5])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "results.csv"
    ...     write_csv([record], path)
    ...     print(path.read_text().splitlines()[0])
    method,seed,balanced_accuracy,macro_f1,g_mean,tail_recall,log_loss,brier,seconds,n_train,n_test,recall_no,recall_yes,test_rows_no,test_rows_yes
    """
    classes = class_names(records[0])
    fields = ["method", "seed", *METRICS, "seconds", "n_train", "n_test"]
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            fields
            + [f"recall_{c}" for c in classes]
            + [f"test_rows_{c}" for c in classes]
        )
        for r in records:
            writer.writerow(
                [r.get(f, "") for f in fields]
                + per_class(r, "recall_per_class", classes)
                + per_class(r, "test_counts", classes)
            )


def read_csv(path: Path) -> list:
    """The records :func:`write_csv` wrote, for :func:`summarise` or a report.

    A metric the file lacks (a CSV written before it was measured) reads NaN;
    class labels read as text.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    records : list of dict

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skcrl.benchmark import read_csv, write_csv
    >>> record = dict(method="ce", seed=0, balanced_accuracy=0.9, macro_f1=0.8,
    ...               g_mean=0.85, tail_recall=0.7, log_loss=0.25, brier=0.1,
    ...               recall_per_class=[1.0, 0.7], seconds=2.0, n_train=80,
    ...               n_test=20, classes=["no", "yes"], test_counts=[15, 5])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "results.csv"
    ...     write_csv([record], path)
    ...     read_csv(path) == [record]
    True
    """
    records = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            recalls = [k for k in row if k.startswith("recall_")]
            record = {"method": row["method"], "seed": int(row["seed"])}
            record.update(
                {m: float(row.get(m) or "nan") for m in (*METRICS, "seconds")}
            )
            for size in ("n_train", "n_test"):
                if row.get(size):
                    record[size] = int(row[size])
            record["recall_per_class"] = [float(row[k]) for k in recalls]
            names = [k.removeprefix("recall_") for k in recalls]
            if not names[0].startswith("class_rank_"):
                record["classes"] = names
            rows = [f"test_rows_{c}" for c in names]
            if all(row.get(k) for k in rows):
                record["test_counts"] = [int(row[k]) for k in rows]
            records.append(record)
    return records


NO_MATPLOTLIB = (
    "matplotlib is not installed, so no figure was drawn; "
    'pip install "skcrl[plot]" (or make demo) adds it'
)


def plotting_available() -> bool:
    """Whether matplotlib, which only :func:`plot` needs, can be imported.

    Examples
    --------
    >>> from skcrl.benchmark import plotting_available
    >>> isinstance(plotting_available(), bool)
    True
    """
    return importlib.util.find_spec("matplotlib") is not None


def plot(summary, path: Path, title: str) -> None:
    """Balanced accuracy per method (error bars: std over seeds) and a heatmap of
    each method's recall of each class by name, head to tail, saved as an image.
    CRL (red) at its defaults, the best network without CRL (blue) and the best
    non-neural model (grey) are named in bold on both panels.

    Parameters
    ----------
    summary : list of dict
        What :func:`summarise` returns.
    path : str or Path
        The image file (PNG by its suffix).
    title : str

    Raises
    ------
    ImportError
        Without matplotlib (the ``plot`` extra).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skcrl.benchmark import plot, summarise
    >>> record = dict(method="crl", seed=0, balanced_accuracy=0.9, macro_f1=0.8,
    ...               g_mean=0.85, tail_recall=0.7, log_loss=0.25, brier=0.1,
    ...               recall_per_class=[1.0, 0.7], seconds=2.0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "comparison.png"
    ...     plot(summarise([record]), path, title="one method")
    ...     path.read_bytes()[:4]
    b'\\x89PNG'
    """
    if not plotting_available():
        raise ImportError(NO_MATPLOTLIB)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ._verdict import is_network

    names = [row["method"] for row in summary]  # best first
    neural = [is_network(n) for n in names]
    others = [n for n, net in zip(names, neural, strict=True) if net and n[:3] != "crl"]
    references = [n for n, net in zip(names, neural, strict=True) if not net]
    marked = {"crl", *others[:1], *references[:1]}
    recall = np.array([row["recall_per_class"] for row in summary])
    n_methods, n_classes = recall.shape
    height = max(3.5, 0.35 * n_methods + 1.5)
    fig, (left, right) = plt.subplots(
        1,
        2,
        figsize=(6 + max(4, 0.45 * n_classes), height),
        gridspec_kw={"width_ratios": [1, max(1.2, 0.12 * n_classes)]},
    )
    rows = np.arange(n_methods)
    means = [row["balanced_accuracy"] for row in summary]
    stds = [row["balanced_accuracy_std"] for row in summary]
    colours = [
        "tab:red" if n.startswith("crl") else "tab:blue" if net else "tab:gray"
        for n, net in zip(names, neural, strict=True)
    ]
    left.barh(rows, means, xerr=stds, color=colours, capsize=3)
    left.set_xlim(min(means) - 0.1, min(1.0, max(means) + 0.05))
    left.set_xlabel("balanced accuracy (mean ± std over seeds)")
    from matplotlib.patches import Patch

    kinds = {"tab:red": "CRL", "tab:blue": "network", "tab:gray": "non-neural"}
    left.legend(
        handles=[Patch(color=c, label=kinds[c]) for c in kinds if c in colours],
        loc="lower right",
        fontsize=7,
    )
    # the colour scale spans the recalls seen, so that close ones differ
    low = float(np.floor(recall.min() * 10) / 10) if recall.size else 0.0
    image = right.imshow(recall, aspect="auto", cmap="viridis", vmin=low, vmax=1)
    if n_classes <= 20:
        for i in range(n_methods):
            for j in range(n_classes):
                right.text(
                    j,
                    i,
                    f"{recall[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if recall[i, j] < (low + 1) / 2 else "black",
                )
    classes = summary[0].get("classes", [str(i) for i in range(n_classes)])
    right.set_xticks(
        range(n_classes), labels=classes, rotation=90 if n_classes > 10 else 0
    )
    right.set_xlabel("class, from head (most training samples) to tail")
    right.set_title("test recall of each class (mean over seeds)", fontsize=10)
    fig.colorbar(image, ax=right, fraction=0.04, pad=0.02)
    left.invert_yaxis()  # best at the top, as the heatmap's first row
    for axis in (left, right):
        axis.set_yticks(rows)
        axis.set_yticklabels(names)
        for label in axis.get_yticklabels():
            if label.get_text() in marked:
                label.set_fontweight("bold")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
