"""Data-parallel training with skorch's AccelerateMixin in 2 CPU processes
(torch.distributed.run, gloo), launched by tests/accelerate_worker.py."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("accelerate", reason="needs the distributed extra")

import accelerate_worker as worker

from skcrl import CRLClassifier, CRLMultiLabelClassifier

WORKER = Path(__file__).with_name("accelerate_worker.py")
KINDS = {"multi-class": (CRLClassifier, 1), "multi-label": (CRLMultiLabelClassifier, 2)}


def _launch(directory, precision):
    # Accelerate picks its CPU backend (gloo) only when told to use the CPU
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    subprocess.run(
        [*command, "--nproc_per_node", "2", str(WORKER), str(directory), precision],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return [torch.load(directory / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    return _launch(tmp_path_factory.mktemp("accelerate"), "no")


def _largest_difference(first, second):
    return max((first[name] - second[name]).abs().max().item() for name in first)


def _single_process(kind):
    cls, _ = KINDS[kind]
    X, y, Y = worker.data()
    target = y if kind == "multi-class" else Y
    # the global batch of the 2 processes, in one process
    return cls(**worker.settings("local", 2 * worker.BATCH)).fit(X, target)


def test_two_processes_run(ranks):
    assert [r["world"] for r in ranks] == [2, 2]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("mining", ["global", "local"])
def test_processes_end_with_identical_parameters(ranks, kind, mining):
    first, second = (r[kind, mining] for r in ranks)
    assert _largest_difference(first["state"], second["state"]) == 0
    assert first["train_loss"] == second["train_loss"]  # averaged over processes


@pytest.mark.parametrize("kind", list(KINDS))
def test_global_mining_is_single_process_training_on_the_global_batch(ranks, kind):
    single = _single_process(kind)
    state = {k: v.detach() for k, v in single.module_.state_dict().items()}
    trained = ranks[0][kind, "global"]
    assert _largest_difference(trained["state"], state) < 1e-5
    np.testing.assert_allclose(
        trained["train_loss"], single.history[:, "train_loss"], rtol=1e-5
    )
    # the memory holds global batches, as the single process's does
    assert trained["memory"] == len(single.criterion_.crl_memory) == 64
    # each process mining only its share trains another model
    assert _largest_difference(ranks[0][kind, "local"]["state"], state) > 1e-3


def test_bf16_mixed_precision_through_accelerate(tmp_path):
    ranks = _launch(tmp_path, "bf16")
    for kind in KINDS:
        first, second = (r[kind, "global"] for r in ranks)
        assert np.isfinite(first["train_loss"]).all()
        assert np.isfinite(first["train_crl"]).all()
        assert _largest_difference(first["state"], second["state"]) == 0
