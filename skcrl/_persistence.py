"""Saving that a kill cannot tear: the estimators' ``save_params`` and
``load_params``."""

from __future__ import annotations

import os

from skorch.utils import _check_f_arguments

from ._checkpoint import Checkpoint, CheckpointError, replace_atomically, torn_files


class AtomicSaving:
    """skorch's ``save_params`` and ``load_params``, each file written whole; a
    mixin of :class:`skorch.NeuralNet` subclasses."""

    def save_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        use_safetensors=False,
        **kwargs,
    ):
        """skorch's ``save_params``, each file written whole or not at all.

        A file named by a path is written to a temporary file beside it, flushed
        to the disk, then renamed over the target: a process killed during the
        save leaves the old file or the new one, never a torn one. Files saved by
        separate calls (or by one call naming several) are not one unit: to save
        every part of a training state as one, use :class:`skcrl.Checkpoint`.
        """
        files = dict(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            **kwargs,
        )
        _check_f_arguments("save_params", **files)  # skorch's checks, all at once
        named = {
            key: target
            for key, target in files.items()
            if isinstance(target, (str, os.PathLike))
        }
        others = {key: target for key, target in files.items() if key not in named}
        if not named or any(target is not None for target in others.values()):
            # file-like objects are the caller's to manage (and nothing to save
            # is skorch's to report)
            super().save_params(**others, use_safetensors=use_safetensors)
        for key, target in named.items():

            def write(path, key=key):
                super(AtomicSaving, self).save_params(
                    **{key: path, "use_safetensors": use_safetensors}
                )

            replace_atomically(write, target)

    def load_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        checkpoint=None,
        use_safetensors=False,
        **kwargs,
    ):
        """skorch's ``load_params``; when it fails on a file that is torn (cut
        short by a kill during its save), a :class:`skcrl.CheckpointError` names
        that file. A :class:`skcrl.Checkpoint` with no complete checkpoint yet
        raises :class:`skcrl.NoCheckpointError`, a ``FileNotFoundError`` as
        skorch's ``Checkpoint`` raises."""
        if isinstance(checkpoint, Checkpoint):
            checkpoint._ensure_committed()
        files = dict(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            **kwargs,
        )
        try:
            return super().load_params(
                checkpoint=checkpoint, use_safetensors=use_safetensors, **files
            )
        except Exception as error:
            if checkpoint is not None:
                try:
                    files = {
                        **checkpoint.get_formatted_files(self),
                        "f_history": checkpoint.f_history_,
                        **{k: v for k, v in files.items() if v is not None},
                    }
                except IndexError:
                    # file names formatted by an epoch, of a history still empty:
                    # the error that stopped the load says more
                    raise error from None
            torn = torn_files(files.values(), use_safetensors)
            if not torn:
                raise
            raise CheckpointError(
                f"could not load the saved state: {', '.join(map(str, torn))} "
                f"{'is' if len(torn) == 1 else 'are'} torn, cut short during a save "
                f"({type(error).__name__}: {error}). Load an earlier checkpoint; "
                "skcrl.Checkpoint never leaves a torn one."
            ) from error
