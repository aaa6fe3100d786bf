"""Argument checks shared by the loss and the estimators."""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = [
    "ALPHA_CONSTRAINT",
    "COMPARISONS",
    "CRL_CONSTRAINTS",
    "LEVELS",
    "check_crl_parameters",
    "crl_parameters",
]

LEVELS = ("class", "instance")
COMPARISONS = ("relative", "absolute", "distribution")

#: The hyper-parameters of the CRL term, declared once for crl_loss,
#: ClassRectificationLoss and the estimators.
CRL_CONSTRAINTS = {
    "level": [StrOptions(set(LEVELS))],
    "comparison": [StrOptions(set(COMPARISONS))],
    "k": [Interval(Integral, 1, None, closed="left")],
    "margin": [Interval(Real, 0, None, closed="left")],
    "rho": [Interval(Real, 0, 1, closed="right")],
    "n_bins": [Interval(Integral, 2, None, closed="left")],
}


def crl_parameters(owner) -> dict:
    """The CRL hyper-parameters held as attributes by ``owner``, by name."""
    return {name: getattr(owner, name) for name in CRL_CONSTRAINTS}


#: The weight of the CRL term in the balanced loss, when fixed.
ALPHA_CONSTRAINT = [Interval(Real, 0, 1, closed="both")]


def check_crl_parameters(caller: str, **values) -> None:
    """Raise ``InvalidParameterError`` (a ValueError and a TypeError) naming the
    argument that breaks :data:`CRL_CONSTRAINTS` (or, if given, alpha's)."""
    for name in ("k", "n_bins"):
        # bool is an Integral to Python, not a count to anyone.
        if isinstance(values.get(name), bool):
            raise TypeError(f"{name} must be an int, got {values[name]!r}.")
    constraints = {**CRL_CONSTRAINTS, "alpha": ALPHA_CONSTRAINT}
    validate_parameter_constraints(
        {name: constraints[name] for name in values}, values, caller_name=caller
    )
