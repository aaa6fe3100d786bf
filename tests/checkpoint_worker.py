"""A fit with a checkpoint every epoch, killed on purpose (tests/test_checkpoint.py).

    python tests/checkpoint_worker.py DIRECTORY ESTIMATOR [KILL_AT [MODE [KIND]]]
    python tests/checkpoint_worker.py DIRECTORY ESTIMATOR paced

Every step of a save (each file written by ``torch.save``, the history written,
each ``fsync``, each rename, each removal of an old checkpoint) is an event,
numbered from 0 across the whole fit. With ``KILL_AT``, the process ends by
``os._exit`` at that event: ``MODE`` ``"after"`` once the step is done,
``"inside"`` half-way through it (a file written to half its length, a rename
not made). Without, it prints ``ready`` and fits to the end (the caller sends
SIGKILL at some moment). ``KIND`` ``"skorch"`` saves with skorch's own
``Checkpoint`` instead of ``skcrl.Checkpoint`` (benchmarks/fault_injection.py
compares the two). ``paced``: each epoch lasts at least ``PACE`` seconds, and
the worker prints ``saved N`` once epoch N's checkpoint is complete and
``finished`` at the end, so that the caller can kill it between the two.
"""

import functools
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.callbacks import Checkpoint as SkorchCheckpoint
from skorch.history import History

import skcrl._checkpoint as checkpoint_module
from skcrl import (
    Checkpoint,
    ClassAwareDataLoader,
    CRLClassifier,
    CRLMultiLabelClassifier,
)

EPOCHS = 4
KILLED = 86
PACE = 0.25


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 6)).astype(np.float32)
    y = np.where(X[:, 0] > 1.0, 2, np.where(X[:, 1] > 0.5, 1, 0))
    Y = np.column_stack([X[:, 0] > 0.8, X[:, 1] > 0]).astype(np.float32)
    return X, y, Y


def make(estimator, callbacks, max_epochs=EPOCHS):
    """The run's estimator: with a memory and class-aware batches (multi-class),
    or the attribute estimator with its defaults."""
    if estimator == "multi-class":
        return CRLClassifier(
            max_epochs=max_epochs,
            batch_size=32,
            memory_size=64,
            iterator_train=ClassAwareDataLoader,
            random_state=0,
            callbacks=callbacks,
        )
    return CRLMultiLabelClassifier(
        max_epochs=max_epochs, batch_size=32, random_state=0, callbacks=callbacks
    )


def target(estimator):
    X, y, Y = data()
    return X, (y if estimator == "multi-class" else Y)


class _Killer:
    """Counts the events of the saves and ends the process at one of them."""

    def __init__(self, kill_at, mode):
        self.kill_at, self.mode, self.count = kill_at, mode, 0

    def event(self, inside=None):
        if self.count == self.kill_at:
            if self.mode == "inside" and inside is not None:
                inside()
            os._exit(KILLED)
        self.count += 1

    def wrap(self, owner, name, half=None):
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapped(*args, **kwargs):
            if self.count == self.kill_at and self.mode == "inside":
                self.event(
                    inside=(lambda: half(original, *args, **kwargs)) if half else None
                )
            result = original(*args, **kwargs)
            self.event()
            return result

        setattr(owner, name, wrapped)


def _half_history(to_file, history, path):
    """History.to_file, cut off half-way through the file."""
    to_file(history, path)
    text = Path(path).read_text()
    Path(path).write_text(text[: len(text) // 2])


def _half_written(save, obj, path, *args, **kwargs):
    """torch.save of ``obj`` to ``path``, cut off half-way through the file."""
    save(obj, path, *args, **kwargs)
    size = Path(path).stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def install(kill_at, mode):
    """Count (and, at ``kill_at``, end the process at) the steps of the saves;
    returns the counter."""
    killer = _Killer(kill_at, mode)
    killer.wrap(torch, "save", half=_half_written)
    killer.wrap(History, "to_file", half=_half_history)
    killer.wrap(checkpoint_module, "_fsync")
    killer.wrap(checkpoint_module.os, "rename")
    killer.wrap(checkpoint_module.os, "replace")
    killer.wrap(checkpoint_module.shutil, "rmtree")
    return killer


class _Announce(Callback):
    """Prints ``saved N`` after epoch N's checkpoint (callbacks run in order:
    this one after the checkpoint), each epoch lasting at least ``PACE``
    seconds."""

    def on_epoch_begin(self, net, **kwargs):
        self.started = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        time.sleep(max(0.0, PACE - (time.perf_counter() - self.started)))
        print(f"saved {len(net.history)}", flush=True)


def resume_with_recipe(directory, estimator):
    """skorch's recipe, with skcrl.Checkpoint: load the checkpoint, or train
    from scratch when loading raises FileNotFoundError (no checkpoint yet)."""
    X, y = target(estimator)
    cp = Checkpoint(monitor=None, dirname=directory)
    net = make(estimator, [cp])
    net.partial_fit(X, y, epochs=0)  # sized from the data, as initialize would
    try:
        net.load_params(checkpoint=cp)
    except FileNotFoundError:
        return net.fit(X, y)
    return net.partial_fit(X, y, epochs=max(0, EPOCHS - len(net.history)))


def resume_with_skorch(directory, estimator):
    """The recipe with skorch's Checkpoint: load its files when there are some,
    then train the remaining epochs."""
    X, y = target(estimator)
    cp = SkorchCheckpoint(monitor=None, dirname=directory)
    net = make(estimator, [cp])
    if not (Path(directory) / "params.pt").exists():
        return net.fit(X, y)
    net.partial_fit(X, y, epochs=0)
    net.load_params(checkpoint=cp)
    return net.partial_fit(X, y, epochs=max(0, EPOCHS - len(net.history)))


def resume(directory, estimator, kind="skcrl", callbacks=()):
    """The run in ``directory``, finished from where it stands: by
    ``Checkpoint.resume`` (``kind="skcrl"``), skorch's recipe with
    ``skcrl.Checkpoint`` (``"recipe"``) or skorch's own ``Checkpoint``
    (``"skorch"``)."""
    if kind == "skorch":
        return resume_with_skorch(directory, estimator)
    if kind == "recipe":
        return resume_with_recipe(directory, estimator)
    X, y = target(estimator)
    cp = Checkpoint(monitor=None, dirname=directory)
    return cp.resume(make(estimator, [cp, *callbacks]), X, y)


def main():
    directory, estimator = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    killer, callbacks = None, ()
    if len(sys.argv) > 3 and sys.argv[3] == "paced":
        callbacks = (_Announce(),)
    elif len(sys.argv) > 3:
        killer = install(
            int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "after"
        )
    print("ready", flush=True)
    kind = sys.argv[5] if len(sys.argv) > 5 else "skcrl"
    resume(directory, estimator, kind, callbacks)
    if killer is not None:
        print(f"events {killer.count}", flush=True)
    print("finished", flush=True)


if __name__ == "__main__":
    main()
