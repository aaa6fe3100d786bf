"""``python -m skcrl``: does CRL help on a long-tailed problem? Train the same
network with CRL and with the alternatives, and show which wins."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import joblib
import torch

from . import __version__
from .benchmark import (
    DATASETS,
    METHODS,
    REFERENCES,
    csv_dataset,
    default_budget,
    format_table,
    plot,
    plotting_available,
    run_comparison,
    scores_by_method,
    split_ratio,
    summarise,
    verdict_lines,
    write_csv,
)
from .benchmark._report import NO_MATPLOTLIB

QUICK_METHODS = ("ce", "ce+balanced", "ce+ros", "crl")

#: What the comparison runs by default: plain, class-weighted and logit-adjusted
#: cross-entropy, imbalanced-learn's three resamplers, cross-entropy with a tuned
#: threshold (binary tasks), CRL at its defaults and tuned on the training part,
#: and the models a user would fit instead of a network
#: (:data:`skcrl.benchmark.REFERENCES`). ``--methods all`` runs every method of
#: :data:`skcrl.benchmark.METHODS`.
DEMO_METHODS = (
    "ce",
    "ce+balanced",
    "ce+la",
    "ce+ros",
    "ce+smote",
    "ce+rus",
    "ce+threshold",
    "crl",
    "crl-tuned",
    *REFERENCES,
)

#: Fewer test rows than this in the rarest class, and one row more or less
#: moves the balanced accuracy by more than the differences the table shows.
FEW_TEST_ROWS = 20


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m skcrl",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    parser.add_argument(
        "--csv",
        type=Path,
        default=None,
        metavar="FILE",
        help="your own table instead of --dataset: a CSV file with a header row; "
        "numeric columns are imputed and standardised, the others one-hot encoded "
        "(skcrl.benchmark.tabular_preprocessor, fit on each training part)",
    )
    parser.add_argument(
        "--target",
        default=None,
        metavar="COLUMN",
        help="with --csv: the column holding the class of each row",
    )
    parser.add_argument(
        "--imbalance-ratio",
        type=float,
        default=10.0,
        help="head / tail training samples",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=[*METHODS, "all"],
        default=list(DEMO_METHODS),
        metavar="METHOD",
        help="'all', or any of: " + ", ".join(METHODS),
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--epochs",
        type=int,
        default=default_budget()["epochs"],
        help="the networks' optimiser-step budget, in epochs of the long-tailed "
        "training set (CRLClassifier's max_epochs)",
    )
    parser.add_argument(
        "--eta", type=float, default=None, help="CRLClassifier's eta (default: its own)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="fits run in parallel (joblib; -1: every core); the results are those "
        "of a sequential run",
    )
    parser.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help="run the fits on the Dask scheduler at ADDRESS (tcp://host:port), "
        "through joblib's dask backend; needs pip install skcrl[distributed]",
    )
    parser.add_argument("--output", type=Path, default=Path("skcrl-results"))
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: methods {', '.join(QUICK_METHODS)}, one seed, 5 epochs",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if (args.csv is None) != (args.target is None):
        parser.error("--csv and --target go together: --csv FILE --target COLUMN")
    if "all" in args.methods:
        args.methods = list(METHODS)
    if args.quick:
        args.methods, args.seeds, args.epochs = list(QUICK_METHODS), [0], 5
    return args


def _long_tailed(args) -> bool:
    """Whether --imbalance-ratio shapes the data set (it does not for natural
    imbalances and tables)."""
    return args.csv is None and args.dataset in (
        "digits",
        "vowel",
        "segment",
        "fashion",
        "fashion-mlp",
    )


@contextmanager
def _backend(address):
    """joblib's dask backend on the scheduler at ``address`` (None: joblib's own)."""
    if address is None:
        yield
        return
    try:
        from dask.distributed import Client
    except ImportError:
        raise SystemExit(
            "--dask needs dask.distributed: pip install 'skcrl[distributed]'"
        ) from None
    with Client(address), joblib.parallel_backend("dask"):
        yield


def _settings(args) -> dict:
    """The run's settings, without those that did not apply to it."""
    settings = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
    }
    if args.csv is None:
        del settings["csv"], settings["target"]
    else:
        del settings["dataset"]
    if not _long_tailed(args):
        del settings["imbalance_ratio"]
    for flag in ("dask", "eta"):
        if settings[flag] is None:
            del settings[flag]
    if not args.quick:
        del settings["quick"]
    return settings


def _test_rows(summary) -> list:
    """The test rows of each class, and a warning where the rarest has too few
    for the differences to mean much."""
    row = summary[0]
    if "test_counts" not in row:
        return []
    classes, counts = row["classes"], row["test_counts"]
    lines = [
        "Test rows per class (head to tail, mean over seeds): "
        + ", ".join(f"{c}: {n:g}" for c, n in zip(classes, counts, strict=True))
    ]
    rarest = int(min(counts))
    if rarest < FEW_TEST_ROWS:
        name = classes[int(min(range(len(counts)), key=counts.__getitem__))]
        lines.append(
            f"note: the rarest class, {name}, has {rarest} test row"
            f"{'s' * (rarest != 1)}: one row more or less moves its recall by "
            f"{1 / max(rarest, 1):.2f} and the balanced accuracy by "
            f"{1 / max(rarest, 1) / len(classes):.3f}; differences below that mean "
            "little. More data in the test part, or more seeds, tell more."
        )
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        if args.csv is not None:
            try:
                dataset, name = csv_dataset(args.csv, args.target), args.csv.name
            except (OSError, ValueError) as error:
                # a user's mistake (a missing or empty file, a wrong column): one
                # line, no traceback
                print(f"python -m skcrl: error: {error}", file=sys.stderr)
                return 2
        else:
            dataset, name = args.dataset, args.dataset
    for note in notes:
        print(f"note: {note.message}")
    with _backend(args.dask), warnings.catch_warnings(record=True) as notes:
        warnings.filterwarnings("always", message=".*binary tasks only")
        records = run_comparison(
            dataset,
            methods=args.methods,
            seeds=args.seeds,
            epochs=args.epochs,
            imbalance_ratio=args.imbalance_ratio,
            eta=args.eta,
            device=args.device,
            progress=not args.no_progress,
            n_jobs=-1 if args.dask else args.n_jobs,
        )
    for note in notes:
        if "binary tasks only" in str(note.message):
            print(f"note: {note.message}")
        else:  # any other warning, as Python would show it
            warnings.showwarning(
                note.message, note.category, note.filename, note.lineno
            )
    summary = summarise(records)
    ratio = f"imbalance ratio {args.imbalance_ratio:g}, " if _long_tailed(args) else ""
    title = f"{name}, {ratio}seeds {args.seeds}, {args.epochs} epochs of steps"
    verdict = verdict_lines(
        scores_by_method(records), test_train_ratio=split_ratio(records)
    )
    if verdict:
        # the question first: which model wins here, beyond the noise between
        # seeds, and does CRL help?
        print("\n" + "\n".join(verdict) + "\n")
    print(title)
    print("\n".join(_test_rows(summary)) + "\n")
    print(format_table(summary))
    print(
        "\nEach cell: mean ± standard deviation over the seeds; s/fit: seconds "
        "of training, one thread."
    )
    args.output.mkdir(parents=True, exist_ok=True)
    write_csv(records, args.output / "results.csv")
    written = ["results.csv", "settings.json"]
    if plotting_available():
        plot(summary, args.output / "comparison.png", title)
        written.insert(1, "comparison.png")
    else:
        print(f"\nnote: {NO_MATPLOTLIB}")
    settings = {
        **_settings(args),
        "skcrl": __version__,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    (args.output / "settings.json").write_text(json.dumps(settings, indent=2))
    print(f"\nwrote {args.output}/" + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
