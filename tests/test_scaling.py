"""Fits in parallel: the comparison's --n-jobs, and searches and comparisons on a
Dask cluster (joblib's dask backend), with the results of a sequential run."""

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skcrl import CRLClassifier
from skcrl.__main__ import main
from skcrl.benchmark import read_csv, run_comparison

COMPARISON = dict(methods=["ce", "ce+ros", "crl"], seeds=[0, 1], epochs=2)


def _without_seconds(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.fixture(scope="module")
def sequential():
    return _without_seconds(run_comparison(progress=False, **COMPARISON))


def test_comparison_in_parallel_is_the_sequential_one(sequential):
    parallel = run_comparison(progress=False, n_jobs=2, **COMPARISON)
    assert _without_seconds(parallel) == sequential


def _search():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4)).astype(np.float32)
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=150) > 0.9, "rare", "common")
    search = GridSearchCV(
        CRLClassifier(max_epochs=3, random_state=0),
        {"eta": [0.5, 2.0], "comparison": ["relative", "absolute"]},
        scoring="balanced_accuracy",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    return search, X, y


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed", reason="needs dask")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


def test_grid_search_on_dask_scores_as_one_process(cluster):
    search, X, y = _search()
    alone = search.set_params(n_jobs=1).fit(X, y).cv_results_["mean_test_score"]
    with parallel_backend("dask"):
        search, X, y = _search()
        on_dask = search.set_params(n_jobs=-1).fit(X, y).cv_results_
    np.testing.assert_array_equal(on_dask["mean_test_score"], alone)
    assert np.ptp(alone) > 0  # the grid's points differ


def test_the_comparison_command_on_dask(cluster, sequential, tmp_path):
    argv = ["--methods", *COMPARISON["methods"], "--seeds", "0", "1", "--epochs", "2"]
    argv += ["--no-progress", "--output", str(tmp_path)]
    assert main([*argv, "--dask", cluster.scheduler.address]) == 0
    records = read_csv(tmp_path / "results.csv")
    on_dask = _without_seconds(records)
    assert len(on_dask) == len(sequential)
    for got, expected in zip(on_dask, sequential, strict=True):
        assert got["method"] == expected["method"] and got["seed"] == expected["seed"]
        for metric in ("balanced_accuracy", "macro_f1", "g_mean", "tail_recall"):
            assert got[metric] == pytest.approx(expected[metric], abs=1e-12)
