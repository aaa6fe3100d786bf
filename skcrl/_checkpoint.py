"""Checkpoints that a kill at any instant cannot tear: each one is written whole
into a directory of its own, then committed by one atomic rename.

skorch's ``Checkpoint`` writes ``params.pt``, ``optimizer.pt``, ``criterion.pt`` and
``history.json`` one after another, each in place: a process killed during a save
leaves a torn file or the files of two epochs, and the only checkpoint is lost.
:class:`Checkpoint` writes the same files, as durable storage systems commit a
transaction: into a fresh directory, each file flushed to the disk (``fsync``),
then a manifest of their sizes and checksums, then the directory renamed to its
final name (one atomic step on a POSIX file system) and the rename itself made
durable. A kill at any instant leaves the previous complete checkpoint or the new
complete one, never a mix; loading takes the newest complete one and refuses, with
a clear error, one whose files do not match its manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import uuid
import zipfile
from pathlib import Path

from skorch import NeuralNet
from skorch.callbacks import Checkpoint as SkorchCheckpoint

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "NoCheckpointError",
    "replace_atomically",
    "torn_files",
]

_COMMITTED = re.compile(r"^checkpoint-(\d{8})$")
_MANIFEST = "MANIFEST.json"
_FORMAT = 1


class CheckpointError(OSError):
    """A checkpoint cannot be loaded: its files are missing, torn or not the
    ones its manifest lists."""


class NoCheckpointError(CheckpointError, FileNotFoundError):
    """No complete checkpoint exists in the folder yet (a run killed before, or
    during, its first save). A :class:`FileNotFoundError`, as skorch's own
    ``Checkpoint`` raises there, so that skorch's resume recipe, which catches
    it and trains from scratch, works unchanged."""


def _fsync(path: Path) -> None:
    """Flush a file's (or a directory's entries') data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def replace_atomically(write, target) -> None:
    """``write(temporary_path)``, then the file flushed to the disk and renamed
    to ``target`` (one atomic step), the rename made durable: ``target`` holds
    the old file or the whole new one, never a torn one."""
    target = Path(target)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        write(str(temporary))
        _fsync(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync(target.parent)


def torn_files(paths, safetensors=False) -> list[Path]:
    """Those of ``paths`` (file names; others are skipped) that exist but are not
    whole: a history that is not JSON, a torch file that is not a sound zip
    archive (torch's format; with ``safetensors``, only JSON files are checked)."""
    torn = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
            continue
        path = Path(path)
        if path.suffix == ".json":
            try:
                json.loads(path.read_text())
            except (ValueError, UnicodeDecodeError):
                torn.append(path)
        elif not safetensors:
            try:
                with zipfile.ZipFile(path) as archive:
                    damaged = archive.testzip() is not None
            except (zipfile.BadZipFile, OSError, EOFError):
                damaged = True
            if damaged:
                torn.append(path)
    return torn


def _remove(path: Path) -> None:
    """Remove a directory: first out of the checkpoints' names (one rename), so
    that a kill half-way through leaves no torn checkpoint behind."""
    trash = path.with_name(f".removing-{path.name}-{uuid.uuid4().hex[:8]}")
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def verify(directory) -> dict:
    """The manifest of a committed checkpoint directory, after checking that every
    file it lists is there with its size and checksum.

    Raises
    ------
    CheckpointError
        When the manifest is missing or unreadable, or a file is missing or
        differs from it.
    """
    directory = Path(directory)
    try:
        manifest = json.loads((directory / _MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"{directory} is not a complete checkpoint: its manifest is missing or "
            f"unreadable ({error})."
        ) from None
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"checkpoint {directory} lacks its file {name}.")
        if (
            path.stat().st_size != expected["size"]
            or _digest(path) != expected["sha256"]
        ):
            raise CheckpointError(
                f"checkpoint {directory} is torn: {name} differs from its manifest "
                "(size or checksum). Load an earlier checkpoint, or delete this one."
            )
    return manifest


class Checkpoint(SkorchCheckpoint):
    """skorch's ``Checkpoint``, writing each checkpoint as one unit.

    A drop-in replacement for :class:`skorch.callbacks.Checkpoint`: the same
    arguments, the same files (``params.pt``, ``optimizer.pt``, ``criterion.pt``,
    ``history.json``, ``f_pickle``...), loaded by ``net.load_params(checkpoint=cp)``
    and by skorch's ``LoadInitState(cp)``. Each checkpoint goes into a directory
    ``dirname/checkpoint-NNNNNNNN`` of its own: written into a temporary directory
    first, every file ``fsync``-ed, a manifest of their sizes and SHA-256 checksums
    added, then committed by one atomic rename. A process killed at any moment
    leaves either the previous complete checkpoint or the new complete one.

    Loading takes the newest complete checkpoint. A committed checkpoint whose
    files no longer match its manifest (a disk error, a file edited by hand) is
    refused with a :class:`CheckpointError` naming it; a save that was cut short
    never became a checkpoint and is ignored (and cleaned up by the next save).

    Parameters
    ----------
    monitor, f_params, f_optimizer, f_criterion, f_history, f_pickle, fn_prefix,
    dirname, event_name, sink, load_best, use_safetensors, **kwargs
        As in :class:`skorch.callbacks.Checkpoint`; ``dirname`` defaults to the
        current directory, and every ``f_*`` given must be a file name (a
        file-like object cannot be renamed into place).
    keep : int, default=2
        Complete checkpoints kept; older ones are removed after each save (at
        least 1).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skcrl import Checkpoint, CRLClassifier
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(100, 4)), rng.integers(0, 2, size=100)
    >>> folder = tempfile.mkdtemp()
    >>> cp = Checkpoint(monitor=None, dirname=folder)
    >>> clf = CRLClassifier(max_epochs=3, random_state=0, callbacks=[cp]).fit(X, y)
    >>> [path.name for path in cp.checkpoints()]
    ['checkpoint-00000002', 'checkpoint-00000003']

    A run killed at any moment goes on from its newest complete checkpoint
    (:meth:`resume`), here to 5 epochs in all:

    >>> longer = CRLClassifier(max_epochs=5, random_state=0, callbacks=[cp])
    >>> len(cp.resume(longer, X, y).history)
    5
    """

    def __init__(
        self,
        monitor="valid_loss_best",
        f_params="params.pt",
        f_optimizer="optimizer.pt",
        f_criterion="criterion.pt",
        f_history="history.json",
        f_pickle=None,
        fn_prefix="",
        dirname="",
        keep=2,
        **kwargs,
    ):
        self.keep = keep  # before skorch's __init__, which validates
        super().__init__(
            monitor=monitor,
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            f_pickle=f_pickle,
            fn_prefix=fn_prefix,
            dirname=dirname,
            **kwargs,
        )

    def _validate_filenames(self):
        super()._validate_filenames()
        for name, value in self._f_kwargs().items():
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise TypeError(
                    f"{type(self).__name__} writes each checkpoint into a directory "
                    f"of its own, so {name} must be a file name, got "
                    f"{type(value).__name__}; use skorch's Checkpoint for file-like "
                    "objects."
                )
        if (
            isinstance(self.keep, bool)
            or not isinstance(self.keep, int)
            or self.keep < 1
        ):
            raise ValueError(f"keep must be an int >= 1, got {self.keep!r}.")

    # -- where the checkpoints are ----------------------------------------------

    @property
    def root(self) -> Path:
        return Path(self.dirname or ".")

    def checkpoints(self) -> list[Path]:
        """The committed checkpoint directories, oldest first."""
        if not self.root.is_dir():
            return []
        found = [p for p in self.root.iterdir() if _COMMITTED.match(p.name)]
        return sorted(found, key=lambda p: p.name)

    def latest(self) -> Path | None:
        """The newest complete checkpoint directory, or None when there is none.

        Raises
        ------
        CheckpointError
            When the newest committed checkpoint does not match its manifest.
        """
        committed = self.checkpoints()
        if not committed:
            return None
        verify(committed[-1])
        return committed[-1]

    def _ensure_committed(self) -> None:
        """Raise :class:`NoCheckpointError` when no checkpoint has been committed
        yet. The newest one's files are checked against its manifest where
        loading reads them (:meth:`latest`), not here a second time."""
        if not self.checkpoints():
            raise NoCheckpointError(
                f"no complete checkpoint in {self.root.resolve()} yet: the run was "
                "stopped before its first save ended. Train from scratch (fit), "
                "or use Checkpoint.resume, which does so by itself."
            )

    def _located(self, name):
        """``name`` (a formatted file name) inside the newest checkpoint; a path
        that does not exist when there is none, so that skorch's
        ``LoadInitState`` starts from scratch."""
        latest = self.latest()
        if latest is None:
            return str(self.root / "no-checkpoint-yet" / name)
        return str(latest / name)

    @property
    def f_history_(self):
        if self.f_history is None:
            return None
        return self._located(self.fn_prefix + self.f_history)

    def get_formatted_files(self, net):
        files = super().get_formatted_files(net)
        return {
            key: None if path is None else self._located(Path(path).name)
            for key, path in files.items()
        }

    def resume(self, net, X, y=None, **fit_params):
        """Train ``net`` to ``net.max_epochs`` epochs in all, from the newest
        complete checkpoint when there is one.

        Without a checkpoint this is ``net.fit(X, y)``. With one, ``net`` is
        sized from the data without training (``partial_fit`` of 0 epochs), the
        checkpoint is loaded (module, optimiser, criterion with its memory and
        random state, history) and the remaining epochs are trained. With the
        same arguments (``random_state`` set), the result is the model the
        uninterrupted fit would have made.

        Parameters
        ----------
        net : CRLClassifier or CRLMultiLabelClassifier
            A net whose callbacks include this checkpoint, so that the resumed
            training goes on saving.
        X, y, **fit_params
            As for ``fit``: the same data as the interrupted run.

        Returns
        -------
        net
        """
        if self.latest() is None:
            return net.fit(X, y, **fit_params)
        net.partial_fit(X, y, epochs=0, **fit_params)
        net.load_params(checkpoint=self, use_safetensors=self.use_safetensors)
        remaining = net.max_epochs - len(net.history)
        if remaining > 0:
            net.partial_fit(X, y, epochs=remaining, **fit_params)
        return net

    # -- writing one -------------------------------------------------------------

    def save_model(self, net):
        """Write every file of a checkpoint into a new directory, then commit it."""
        self.root.mkdir(parents=True, exist_ok=True)
        committed = self.checkpoints()
        number = (
            int(_COMMITTED.match(committed[-1].name).group(1)) + 1 if committed else 1
        )
        incoming = self.root / f".incoming-{number:08d}-{uuid.uuid4().hex[:8]}"
        incoming.mkdir()
        written = []
        for key, template in self._f_kwargs().items():
            if template is None:
                continue
            name = Path(self._format_target(net, template, -1)).name
            path = incoming / name
            if key == "f_pickle":
                with open(path, "wb") as f:
                    pickle.dump(net, f)
            elif key == "f_history":
                net.history.to_file(str(path))
            else:
                # skorch's own writer: the directory's commit makes it atomic
                NeuralNet.save_params(
                    net, **{key: str(path), "use_safetensors": self.use_safetensors}
                )
            _fsync(path)
            written.append(path)
        manifest = {
            "format": _FORMAT,
            "epoch": len(net.history),
            "files": {
                p.name: {"size": p.stat().st_size, "sha256": _digest(p)}
                for p in written
            },
        }
        with open(incoming / _MANIFEST, "w") as f:
            json.dump(manifest, f, indent=1)
        _fsync(incoming / _MANIFEST)
        _fsync(incoming)
        # the commit: one rename, then the directory entry made durable
        os.rename(incoming, self.root / f"checkpoint-{number:08d}")
        _fsync(self.root)
        self._tidy()

    def _tidy(self):
        """Remove checkpoints beyond ``keep`` and what interrupted saves left."""
        for old in self.checkpoints()[: -self.keep]:
            _remove(old)
        for leftover in self.root.glob(".incoming-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in self.root.glob(".removing-*"):
            shutil.rmtree(leftover, ignore_errors=True)
