"""Argument checks shared by the loss and the estimators."""

from __future__ import annotations

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = [
    "ALPHA_CONSTRAINT",
    "BALANCE_CONSTRAINTS",
    "BALANCE_PARAMETER_DOCS",
    "COMPARISONS",
    "CRL_CONSTRAINTS",
    "CRL_PARAMETER_DOCS",
    "LEVELS",
    "MININGS",
    "check_crl_parameters",
    "check_device",
    "crl_parameters",
]

LEVELS = ("class", "instance")
COMPARISONS = ("relative", "absolute", "distribution")
MININGS = ("local", "global")

#: The hyper-parameters of the CRL term, declared once for crl_loss,
#: ClassRectificationLoss and the estimators.
CRL_CONSTRAINTS = {
    "level": [StrOptions(set(LEVELS))],
    "comparison": [StrOptions(set(COMPARISONS))],
    "k": [Interval(Integral, 1, None, closed="left")],
    "margin": [Interval(Real, 0, None, closed="left")],
    "rho": [Interval(Real, 0, 1, closed="right")],
    "n_bins": [Interval(Integral, 2, None, closed="left")],
    "mining": [StrOptions(set(MININGS))],
}


#: The numpydoc entries of :data:`CRL_CONSTRAINTS`' parameters, written once for
#: every docstring that lists them; ``{default_*}`` come from each owner's
#: signature (:func:`skcrl._docstrings.with_docs`).
CRL_PARAMETER_DOCS = """\
    level : {"class", "instance"}, default={default_level}
        Compare predicted probabilities of the minority class (``"class"``) or
        L2-normalised embeddings (``"instance"``).
    comparison : {"relative", "absolute", "distribution"}, default={default_comparison}
        Triplet ranking, contrastive, or histogram loss.
    k : int, default={default_k}
        Number of hard positives and hard negatives mined per minority class (class
        level) or per anchor (instance level).
    margin : float, default={default_margin}
        Margin of the relative and absolute comparisons.
    rho : float in (0, 1], default={default_rho}
        Share of a batch that its minority classes may hold together.
    n_bins : int, default={default_n_bins}
        Histogram nodes of the distribution comparison.
    mining : {"local", "global"}, default={default_mining}
        Under data-parallel training (several processes of torch.distributed),
        mine each process's rows (``"local"``) or the global batch gathered from
        all processes (``"global"``), whose loss every process computes, with the
        gradient of its own rows scaled so that DDP's averaging reproduces
        single-process training on the global batch (SPEC §9). Without a process
        group of several processes both are the same.
"""


def crl_parameters(owner) -> dict:
    """The CRL hyper-parameters held as attributes by ``owner``, by name."""
    return {name: getattr(owner, name) for name in CRL_CONSTRAINTS}


#: The weight of the CRL term in the balanced loss, when fixed.
ALPHA_CONSTRAINT = [Interval(Real, 0, 1, closed="both")]

#: What the balanced loss adds around crl_loss: the logit-adjusted cross-entropy
#: (SPEC §8) and the memory across batches (SPEC §11), for ClassRectificationLoss
#: and the estimators.
BALANCE_CONSTRAINTS = {
    "logit_adjustment": [Interval(Real, 0, None, closed="left")],
    "memory_size": [Interval(Integral, 0, None, closed="left")],
}

#: The numpydoc entries of :data:`BALANCE_CONSTRAINTS`' parameters; ``{default_*}``
#: come from each owner's signature, whose defaults differ.
BALANCE_PARAMETER_DOCS = """\
    logit_adjustment : float >= 0, default={default_logit_adjustment}
        ``tau`` of the logit-adjusted cross-entropy (Menon et al., ICLR 2021):
        the cross-entropy term sees ``logits + tau * log(prior)``, so that the
        network aims at the class-balanced error. ``prior`` is the class
        distribution that term sees, class weights (and sample weights)
        counted: weights that balance the classes leave nothing to adjust, so
        the prior is never corrected twice (SPEC §8). 0 is plain cross-entropy.
        The CRL term and ``predict`` read the raw logits (the class-balanced
        decision); the estimators' ``predict_proba`` the adjusted ones, the
        probabilities the cross-entropy was fitted to (``balanced_proba``).
    memory_size : int >= 0, default={default_memory_size}
        Rows of recent training batches (detached logits and targets, embeddings
        at instance level) that CRL mines together with each batch, so that a
        rare class coming once per batch is mined at all. 0: no memory. Not used
        in validation or prediction.
"""


def check_crl_parameters(caller: str, **values) -> None:
    """Raise ``InvalidParameterError`` (a ValueError and a TypeError) naming the
    argument that breaks :data:`CRL_CONSTRAINTS` (or, if given, alpha's).

    Settings that passed once are remembered: scikit-learn's validation costs
    more than a small batch's loss, and ``crl_loss`` checks its arguments at
    every call."""
    try:
        key = (caller, *((name, type(v), v) for name, v in sorted(values.items())))
        hash(key)
    except TypeError:  # an unhashable value: check it every time
        _check(caller, values)
        return
    if key not in _PASSED:
        _check(caller, values)
        if len(_PASSED) < 1024:
            _PASSED.add(key)


#: The settings :func:`check_crl_parameters` has accepted (type and value).
_PASSED: set = set()


def _check(caller: str, values: dict) -> None:
    for name in ("k", "n_bins", "memory_size"):
        # bool is an Integral to Python, not a count to anyone.
        if isinstance(values.get(name), bool):
            raise TypeError(f"{name} must be an int, got {values[name]!r}.")
    constraints = {**CRL_CONSTRAINTS, **BALANCE_CONSTRAINTS, "alpha": ALPHA_CONSTRAINT}
    validate_parameter_constraints(
        {name: constraints[name] for name in values}, values, caller_name=caller
    )


def _available_devices() -> list[str]:
    devices = ["cpu"]
    devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def check_device(device, caller: str) -> None:
    """Raise a ``ValueError`` before any training when ``device`` names a torch
    device this machine lacks (torch itself fails later, deep inside skorch,
    with ``AssertionError: Torch not compiled with CUDA enabled``). ``None``
    (skorch: leave the module where it is), ``"cpu"`` and ``"meta"`` always
    pass, and so does a value torch does not read as a device: skorch hands
    ``device`` to the modules' ``.to``, which a module of the user's may
    define for its own values."""
    if device is None:
        return
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        return
    if parsed.type in ("cpu", "meta"):
        return
    backend = getattr(torch, parsed.type, None)
    if parsed.type == "mps":
        backend = getattr(torch.backends, "mps", None)
    available = backend is not None and backend.is_available()
    count = getattr(backend, "device_count", lambda: 1)() if available else 0
    if not available or (parsed.index is not None and parsed.index >= count):
        what = (
            f"{parsed.type} is not available on this machine"
            if not available
            else f"this machine has {count} {parsed.type} device(s)"
        )
        raise ValueError(
            f"{caller}: device={device!r}, but {what}. Devices available here: "
            f"{_available_devices()}; pass one of them (device='cpu' trains on the "
            "CPU)."
        )
