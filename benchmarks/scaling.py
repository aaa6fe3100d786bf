"""What running on several processes buys on this machine: the same work
sequentially and in parallel, side by side, wall-clock seconds.

- ``comparison``: ``run_comparison`` on long-tailed digits (every method, 2
  seeds, 30 epochs), ``n_jobs=1`` against ``n_jobs=2`` (joblib, one process per
  fit);
- ``grid search``: ``GridSearchCV`` over ``CRLClassifier`` (4 points, 3 folds, 100
  epochs) with ``n_jobs=1`` against a Dask ``LocalCluster`` of 2 single-threaded
  workers;
- ``data-parallel fit``: one ``CRLClassifier(SmallCNN)`` fit on long-tailed
  Fashion-MNIST (7,443 images, 2 epochs) in one process with batches of 256,
  against skorch's ``AccelerateMixin`` on 2 processes (``torch.distributed.run``,
  gloo) with 128 each and ``mining="global"``: the same global batches.

Each side runs single-threaded per process, so that 2 processes use the 2 cores.

    python benchmarks/scaling.py --output docs/results/scaling.json   # ~3 min
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

#: the data-parallel fit: global batch and epochs
DDP_BATCH, DDP_EPOCHS = 256, 2


def _ddp_data():
    from skcrl.datasets import load_fashion_mnist_long_tailed

    data = load_fashion_mnist_long_tailed(imbalance_ratio=100, n_max=3000)
    return data.X_train, data.y_train


def _ddp_net(cls, batch_size, **extra):
    from skcrl import SmallCNN

    return cls(
        SmallCNN,
        module__n_classes=10,
        batch_size=batch_size,
        max_epochs=DDP_EPOCHS,
        mining="global",
        iterator_train__shuffle=False,
        random_state=0,
        **extra,
    )


def ddp_worker(out):
    """One process of the data-parallel fit (run under torch.distributed.run)."""
    from accelerate import Accelerator
    from skorch.hf import AccelerateMixin

    from skcrl import CRLClassifier

    class AcceleratedCRL(AccelerateMixin, CRLClassifier):
        pass

    torch.set_num_threads(1)
    X, y = _ddp_data()
    accelerator = Accelerator(cpu=True)
    net = _ddp_net(AcceleratedCRL, DDP_BATCH // 2, accelerator=accelerator)
    start = time.perf_counter()
    net.fit(X, y)
    seconds = time.perf_counter() - start
    if accelerator.is_main_process:
        Path(out).write_text(json.dumps({"seconds": seconds}))


def data_parallel():
    from skcrl import CRLClassifier

    X, y = _ddp_data()
    start = time.perf_counter()
    _ddp_net(CRLClassifier, DDP_BATCH).fit(X, y)
    one = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "ddp.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        subprocess.run(
            [*command, "--nproc_per_node", "2", __file__, "--ddp-worker", str(out)],
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            check=True,
            capture_output=True,
        )
        two = json.loads(out.read_text())["seconds"]
    return {"1 process": one, "2 processes": two}


def comparison():
    from skcrl.benchmark import run_comparison

    settings = dict(seeds=[0, 1], epochs=30, progress=False)
    seconds, records = {}, {}
    for n_jobs in (1, 2):
        start = time.perf_counter()
        found = run_comparison(n_jobs=n_jobs, **settings)
        seconds[f"n_jobs={n_jobs}"] = time.perf_counter() - start
        records[n_jobs] = [
            {k: v for k, v in r.items() if k != "seconds"} for r in found
        ]
    return seconds, records[1] == records[2]


def grid_search():
    from dask.distributed import Client, LocalCluster
    from joblib import parallel_backend
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skcrl import CRLClassifier
    from skcrl.datasets import load_digits_long_tailed

    data = load_digits_long_tailed(imbalance_ratio=20, random_state=0)
    X, y = data.X_train, data.y_train

    def search():
        return GridSearchCV(
            CRLClassifier(max_epochs=100, random_state=0),
            {"eta": [0.5, 2.0], "lr": [1e-3, 3e-3]},
            scoring="balanced_accuracy",
            cv=StratifiedKFold(3, shuffle=True, random_state=0),
        )

    start = time.perf_counter()
    alone = search().set_params(n_jobs=1).fit(X, y).cv_results_["mean_test_score"]
    one = time.perf_counter() - start
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        with parallel_backend("dask"):
            search().set_params(n_jobs=-1).fit(X, y)  # workers warm: imports done
            start = time.perf_counter()
            found = search().set_params(n_jobs=-1).fit(X, y)
            two = time.perf_counter() - start
    same = bool(np.array_equal(found.cv_results_["mean_test_score"], alone))
    return {"n_jobs=1": one, "Dask, 2 workers": two}, same


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--ddp-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ddp_worker:
        ddp_worker(args.ddp_worker)
        return
    torch.set_num_threads(1)
    results = {}
    seconds, same = comparison()
    results["comparison (2 seeds x every method)"] = {
        "seconds": seconds,
        "identical results": same,
    }
    seconds, same = grid_search()
    results["grid search (12 fits)"] = {"seconds": seconds, "identical results": same}
    results["data-parallel fit"] = {"seconds": data_parallel()}
    for name, row in results.items():
        print(name, row)
    report = {
        "command": "python benchmarks/scaling.py " + " ".join(argv or sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, 1 thread per "
        "process",
        "torch": torch.__version__,
        "results": results,
    }
    if args.output:
        args.output.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
