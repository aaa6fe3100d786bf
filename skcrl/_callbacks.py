"""Training-time safety: a guard that stops a diverging fit, and the random state
that a checkpoint keeps so that a resumed fit is the same fit."""

from __future__ import annotations

import math

import torch
from skorch.callbacks import Callback, PrintLog
from torch import nn

__all__ = [
    "DivergenceError",
    "DivergenceGuard",
    "TrainingRandomState",
    "VerbosePrintLog",
]


class DivergenceError(FloatingPointError):
    """A training step's loss or gradient was not finite (NaN or infinite)."""


class DivergenceGuard(Callback):
    """Stop ``fit`` at the first training step whose loss or gradients are not
    finite, before the optimiser takes that step.

    One of the default callbacks of :class:`~skcrl.CRLClassifier` and
    :class:`~skcrl.CRLMultiLabelClassifier` (name ``"divergence_guard"``; pass
    ``callbacks__divergence_guard=None`` to train on regardless). The error names
    the epoch, the batch and the term that went non-finite (cross-entropy or CRL),
    or says that the loss was finite but a gradient was not. The module keeps the
    parameters of the last finite step, and the optimiser its state, so nothing
    trained so far is lost.

    It checks at skorch's ``on_grad_computed``, after the backward pass and before
    the optimiser step, with one synchronisation with the device per step.

    Parameters
    ----------
    check_gradients : bool, default=True
        Also stop when the loss is finite but a gradient is not (a finite loss whose
        gradient overflows). Turn off under a gradient scaler (fp16 mixed
        precision), which skips such steps by design.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl import CRLClassifier, DivergenceError
    >>> X = np.random.default_rng(0).normal(size=(60, 3))
    >>> y = (X[:, 0] > 0.8).astype(int)
    >>> clf = CRLClassifier(  # raw features: the MLP's scaling would tame them
    ...     lr=1e30, max_epochs=3, module__standardize=False, random_state=0
    ... )
    >>> try:
    ...     clf.fit(X * 1e30, y)
    ... except DivergenceError as error:
    ...     print(str(error).split(":")[0])
    Training diverged at epoch 1, batch 1
    """

    def __init__(self, check_gradients=True):
        self.check_gradients = check_gradients

    def on_grad_computed(self, net, named_parameters, batch=None, training=False, **_):
        if not training:
            return
        terms = getattr(net, "_batch_terms_", None)
        gradients = _optimised_gradients(net) if self.check_gradients else []
        parts = [] if terms is None else list(terms)
        if gradients:
            parts += torch._foreach_norm(gradients)
        if not parts:
            return
        # A sum of finite numbers is finite unless it overflows, which the slow
        # path below tells apart. One sum and one read of the device cost less
        # than an isfinite and an all per step; stack promotes mixed dtypes (a
        # bfloat16 term, float32 norms) itself.
        if math.isfinite(torch.stack(parts).sum().item()):  # the one synchronisation
            return
        finite = [bool(torch.isfinite(part)) for part in parts[:2]]
        finite.append(all(bool(torch.isfinite(part)) for part in parts[2:]))
        if all(finite):  # finite parts whose sum overflowed
            return
        epoch = len(net.history)
        batch_index = len(net.history[-1, "batches"])
        raise DivergenceError(
            f"Training diverged at epoch {epoch}, batch {batch_index}: "
            + _what_went_wrong(terms, finite)
            + ". The module keeps the parameters of the last finite step (and the "
            "optimiser its state). Lower lr, look for extreme values in the input, "
            "or pass callbacks__divergence_guard=None to train on regardless."
        )


def _optimised_gradients(net):
    """The gradients the optimisers are about to apply (read off their parameter
    groups: skorch's generator of learnable parameters costs more than the rest
    of the check)."""
    gradients = []
    for name in getattr(net, "_optimizers", ()):
        for group in getattr(getattr(net, name + "_", None), "param_groups", ()):
            gradients += [p.grad for p in group["params"] if p.grad is not None]
    return gradients


def _what_went_wrong(terms, finite):
    if terms is None:
        return "a gradient is not finite"
    ce, crl = (float(term) for term in terms)
    parts = []
    if not finite[0]:
        parts.append(f"the cross-entropy term is {ce}")
    if not finite[1]:
        parts.append(f"the CRL term is {crl}")
    if parts:
        return " and ".join(parts)
    return (
        f"the loss is finite (cross-entropy {ce:.4g}, CRL {crl:.4g}) but a gradient "
        "is not"
    )


class VerbosePrintLog(PrintLog):
    """skorch's ``PrintLog``, which builds its table only to print it.

    skorch's tabulates every epoch's history row and then, at ``verbose=0``
    with the default sink (``print``), prints nothing: a fifth of a millisecond
    per epoch, which a small fit of a grid search pays at every epoch of every
    fit. This one skips that; with any other sink, or ``verbose=1``, it is
    skorch's. The header comes with the first row it prints.
    """

    def on_epoch_end(self, net, **kwargs):
        if self.sink is print and not net.verbose:
            return
        super().on_epoch_end(net, **kwargs)


class TrainingRandomState(nn.Module):
    """The torch random state (CPU and CUDA) at the end of the last training epoch.

    It lives in the estimator's criterion, so that skorch's ``Checkpoint``
    (``criterion.pt``) and ``save_params(f_criterion=...)`` save it. Once
    ``LoadInitState`` or ``load_params`` has loaded one, the next epoch starts from
    it: the shuffling, class-aware batches and dropout of a resumed fit continue
    those of the fit that was interrupted.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("cpu_state", torch.empty(0, dtype=torch.uint8))
        self.register_buffer("cuda_states", torch.empty(0, dtype=torch.uint8))
        self.loaded = False

    def record(self):
        self.cpu_state = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            self.cuda_states = torch.stack(torch.cuda.get_rng_state_all())

    def restore_if_loaded(self):
        """Set torch's random state to a loaded one (once)."""
        if not self.loaded:
            return
        self.loaded = False
        if self.cpu_state.numel():
            torch.set_rng_state(self.cpu_state.cpu())
        if self.cuda_states.numel() and torch.cuda.is_available():
            states = list(self.cuda_states.cpu())
            if len(states) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(states)

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors
    ):
        # states of any length, and checkpoints saved before this buffer existed
        for name in ("cpu_state", "cuda_states"):
            if prefix + name in state_dict:
                setattr(self, name, state_dict[prefix + name].detach().clone())
        self.loaded = self.cpu_state.numel() > 0
