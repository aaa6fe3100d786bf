"""skcrl.Checkpoint: a kill at any moment leaves a checkpoint that resumes to the
uninterrupted run's model; atomic save_params; clear errors on torn files."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoint_worker import EPOCHS, KILLED, PACE, make, resume, target
from skorch.callbacks import Callback
from skorch.callbacks import Checkpoint as SkorchCheckpoint

from skcrl import Checkpoint, CheckpointError, CRLClassifier, NoCheckpointError
from skcrl._checkpoint import torn_files

WORKER = Path(__file__).with_name("checkpoint_worker.py")
ESTIMATORS = ("multi-class", "multi-label")


@pytest.fixture(scope="module")
def uninterrupted():
    """predict_proba of each estimator's run left alone, on its training data."""
    torch.set_num_threads(1)
    out = {}
    for estimator in ESTIMATORS:
        X, y = target(estimator)
        out[estimator] = make(estimator, []).fit(X, y).predict_proba(X)
    return out


def _resumed(directory, estimator, kind="skcrl"):
    X, _ = target(estimator)
    return resume(str(directory), estimator, kind).predict_proba(X)


def _worker(directory, estimator, *kill):
    return subprocess.run(
        [sys.executable, str(WORKER), str(directory), estimator, *map(str, kill)],
        capture_output=True,
        text=True,
        timeout=300,
    )


#: The save steps of a whole run (a kill point past the last would never fire,
#: which the test's exit-code check catches): each of the 4 saves writes 3 torch
#: files and the history, fsyncs them, the manifest, the new directory and its
#: parent, and renames it into place (12 steps); from the third save on, the
#: oldest checkpoint's removal adds a rename and an rmtree.
N_EVENTS = 12 * EPOCHS + 2 * (EPOCHS - 2)


def test_every_injected_kill_resumes_to_the_uninterrupted_model(
    tmp_path, uninterrupted
):
    trials = []
    for estimator in ESTIMATORS:
        for i, kill_at in enumerate(
            np.linspace(0, N_EVENTS - 1, 12).round().astype(int)
        ):
            mode = "inside" if i % 2 else "after"
            trials.append((estimator, int(kill_at), mode))
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(
                lambda t: (t, _worker(tmp_path / f"{t[0]}-{t[1]}-{t[2]}", *t)), trials
            )
        )
    before_first_checkpoint = 0
    for (estimator, kill_at, mode), run in runs:
        assert run.returncode == KILLED, (kill_at, mode, run.stderr[-2000:])
        directory = tmp_path / f"{estimator}-{kill_at}-{mode}"
        committed = Checkpoint(dirname=str(directory)).checkpoints()
        before_first_checkpoint += not committed
        for checkpoint in committed:
            assert not torn_files(checkpoint.iterdir())
        # Checkpoint.resume, and skorch's recipe (load, or fit from scratch on
        # FileNotFoundError), each on its own copy of what the kill left
        copy = tmp_path / f"recipe-{estimator}-{kill_at}-{mode}"
        shutil.copytree(directory, copy)
        for way, proba in (
            ("Checkpoint.resume", _resumed(directory, estimator)),
            ("skorch's recipe", _resumed(copy, estimator, "recipe")),
        ):
            np.testing.assert_allclose(
                proba,
                uninterrupted[estimator],
                rtol=0,
                atol=1e-6,
                err_msg=f"{estimator}, killed at save step {kill_at} ({mode}), "
                f"resumed by {way}",
            )
    # kills during the first save (steps 0-11) left no checkpoint at all
    assert before_first_checkpoint >= 4


def test_sigkill_at_random_moments_resumes_to_the_uninterrupted_model(
    tmp_path, uninterrupted
):
    # Each epoch of the paced worker lasts PACE seconds at least; it says when
    # its first checkpoint is complete and when it has finished. Killed a random
    # moment within an epoch of the first checkpoint, it is mid-run: the test
    # shows it (a checkpoint, no "finished").
    rng = np.random.default_rng(0)
    for trial, delay in enumerate(rng.uniform(0.0, PACE, size=4)):
        estimator = ESTIMATORS[trial % 2]
        directory = tmp_path / f"sigkill-{trial}"
        process = subprocess.Popen(
            [sys.executable, str(WORKER), str(directory), estimator, "paced"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout.readline().strip() == "ready"
        assert process.stdout.readline().strip() == "saved 1"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL
        assert "finished" not in rest and f"saved {EPOCHS}" not in rest, rest
        assert Checkpoint(dirname=str(directory)).latest() is not None
        copy = tmp_path / f"sigkill-recipe-{trial}"
        shutil.copytree(directory, copy)
        for kind, path in (("skcrl", directory), ("recipe", copy)):
            np.testing.assert_allclose(
                _resumed(path, estimator, kind),
                uninterrupted[estimator],
                rtol=0,
                atol=1e-6,
            )


class _InterruptAt(Callback):
    """Ctrl-C during the given epoch's given batch."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, net, training=False, **kwargs):
        if (
            training
            and len(net.history) == self.epoch
            and len(net.history[-1, "batches"]) == self.batch
        ):
            raise KeyboardInterrupt


def test_ctrl_c_leaves_a_net_that_is_saved_and_resumed_exactly(tmp_path, uninterrupted):
    estimator = "multi-class"
    X, y = target(estimator)
    cp = Checkpoint(monitor=None, dirname=str(tmp_path / "run"))
    net = make(estimator, [cp, _InterruptAt(epoch=3, batch=4)])
    net.fit(X, y)  # skorch ends training at a KeyboardInterrupt
    assert len(net.history) == 3 and len(cp.checkpoints()) == 2
    # the interrupted net itself saves and loads exactly
    files = {
        f"f_{part}": str(tmp_path / f"{part}.pt")
        for part in ("params", "optimizer", "criterion")
    }
    net.save_params(**files, f_history=str(tmp_path / "history.json"))
    copy = make(estimator, [])
    copy.partial_fit(X, y, epochs=0)
    copy.load_params(**files, f_history=str(tmp_path / "history.json"))
    np.testing.assert_array_equal(copy.predict_proba(X), net.predict_proba(X))
    # and the run goes on from its last complete checkpoint, as if never stopped
    np.testing.assert_allclose(
        _resumed(tmp_path / "run", estimator), uninterrupted[estimator], atol=1e-6
    )


def test_ctrl_c_during_a_save_keeps_the_previous_checkpoint(
    tmp_path, uninterrupted, monkeypatch
):
    import skcrl._checkpoint as checkpoint_module

    estimator = "multi-label"
    X, y = target(estimator)
    fsync, calls = checkpoint_module._fsync, []

    def interrupted(path):
        calls.append(path)
        if len(calls) == 20:  # inside the third save
            raise KeyboardInterrupt
        fsync(path)

    monkeypatch.setattr(checkpoint_module, "_fsync", interrupted)
    cp = Checkpoint(monitor=None, dirname=str(tmp_path))
    make(estimator, [cp]).fit(X, y)
    monkeypatch.setattr(checkpoint_module, "_fsync", fsync)
    assert [p.name for p in cp.checkpoints()] == [
        "checkpoint-00000001",
        "checkpoint-00000002",
    ]
    np.testing.assert_allclose(
        _resumed(tmp_path, estimator), uninterrupted[estimator], atol=1e-6
    )


def _fitted(tmp_path, **kwargs):
    X, y = target("multi-class")
    cp = Checkpoint(monitor=None, dirname=str(tmp_path), **kwargs)
    net = make("multi-class", [cp], max_epochs=3).fit(X, y)
    return cp, net, X, y


def test_layout_manifest_and_keep(tmp_path):
    cp, *_ = _fitted(tmp_path, keep=1)
    (committed,) = cp.checkpoints()
    manifest = json.loads((committed / "MANIFEST.json").read_text())
    assert manifest["epoch"] == 3
    assert set(manifest["files"]) == {
        "params.pt",
        "optimizer.pt",
        "criterion.pt",
        "history.json",
    }
    assert not list(tmp_path.glob(".incoming-*"))


def test_a_damaged_checkpoint_is_refused_with_a_clear_error(tmp_path):
    cp, net, *_ = _fitted(tmp_path)
    params = cp.checkpoints()[-1] / "params.pt"
    params.write_bytes(params.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"torn: params\.pt differs"):
        net.load_params(checkpoint=cp)


def test_an_interrupted_save_is_no_checkpoint_and_is_cleaned_up(tmp_path):
    cp, net, *_ = _fitted(tmp_path)
    leftover = tmp_path / ".incoming-00000009-deadbeef"
    leftover.mkdir()
    (leftover / "params.pt").write_bytes(b"half")
    assert cp.latest().name == "checkpoint-00000003"
    cp.save_model(net)
    assert not leftover.exists()
    assert cp.latest().name == "checkpoint-00000004"


def test_file_names_only(tmp_path):
    with pytest.raises(TypeError, match="must be a file name"):
        with open(os.devnull, "wb") as sink:
            Checkpoint(f_params=sink)
    with pytest.raises(ValueError, match="keep must be an int >= 1"):
        Checkpoint(keep=0)


def test_save_params_writes_each_file_whole(tmp_path, monkeypatch):
    _, net, *_ = _fitted(tmp_path / "run")
    target_file = tmp_path / "params.pt"
    net.save_params(f_params=str(target_file))
    before = target_file.read_bytes()

    def torn_save(obj, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 half")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        net.save_params(f_params=str(target_file))
    # the old file stands; no partial file is left beside it
    assert target_file.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["params.pt"]


def test_loading_a_torn_file_names_it(tmp_path):
    _, net, X, y = _fitted(tmp_path / "run")
    torn = tmp_path / "params.pt"
    net.save_params(f_params=str(torn))
    torn.write_bytes(torn.read_bytes()[:200])
    fresh = CRLClassifier(max_epochs=1, random_state=0)
    fresh.partial_fit(X, y, epochs=0)
    with pytest.raises(CheckpointError, match=r"params\.pt is torn"):
        fresh.load_params(f_params=str(torn))


def test_skorchs_checkpoint_files_torn_by_a_kill_are_named(tmp_path):
    # skorch's own Checkpoint writes in place; what a kill leaves is named
    X, y = target("multi-class")
    cp = SkorchCheckpoint(monitor=None, dirname=str(tmp_path))
    net = make("multi-class", [cp], max_epochs=2).fit(X, y)
    optimizer = tmp_path / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:50])
    with pytest.raises(CheckpointError, match=r"optimizer\.pt is torn"):
        net.load_params(checkpoint=cp)


def test_no_checkpoint_yet_is_a_file_not_found_error(tmp_path):
    X, y = target("multi-class")
    (tmp_path / ".incoming-00000001-deadbeef").mkdir()  # a first save cut short
    cp = Checkpoint(monitor=None, dirname=str(tmp_path))
    net = make("multi-class", [cp])
    net.partial_fit(X, y, epochs=0)
    with pytest.raises(NoCheckpointError, match="no complete checkpoint") as error:
        net.load_params(checkpoint=cp)
    assert isinstance(error.value, FileNotFoundError)
    # skorch's own Checkpoint on an empty folder: its FileNotFoundError, not an
    # IndexError from the empty history
    empty = SkorchCheckpoint(monitor=None, dirname=str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError):
        make("multi-class", [empty]).partial_fit(X, y, epochs=0).load_params(
            checkpoint=empty
        )
