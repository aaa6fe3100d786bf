"""Paired differences between two methods over seeds, and what they establish."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PairedDifference", "paired_difference"]

#: A difference is beyond the noise when its mean is more than this many standard
#: errors from 0 (about a 95 % interval under a normal approximation).
NOISE_STANDARD_ERRORS = 2.0


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` per seed (the same split, subsample and initialisation), with
    its mean, standard deviation and standard error over seeds.

    Attributes
    ----------
    differences : ndarray
        One per seed.
    mean, sd, se : float
        Mean, standard deviation (``ddof=1``) and standard error
        (``sd / sqrt(n)``) over seeds; ``sd`` and ``se`` are NaN for one seed.
    verdict : {"better", "worse", "within noise", "one seed"}
        ``"better"`` when the mean exceeds ``NOISE_STANDARD_ERRORS`` (2)
        standard errors, ``"worse"`` when it is below minus that, ``"one
        seed"`` when there is no noise to compare with.

    Examples
    --------
    >>> from skcrl.benchmark import paired_difference
    >>> d = paired_difference([0.80, 0.84, 0.82], [0.78, 0.81, 0.80])
    >>> round(d.mean, 4), round(d.sd, 4), d.verdict
    (0.0233, 0.0058, 'better')
    >>> print(d)
    +0.023 ± 0.006 (better)
    >>> paired_difference([0.80, 0.70], [0.75, 0.74]).verdict
    'within noise'
    """

    differences: np.ndarray
    mean: float
    sd: float
    se: float
    verdict: str

    def __str__(self):
        if np.isnan(self.sd):
            return f"{self.mean:+.3f} (one seed)"
        return f"{self.mean:+.3f} ± {self.sd:.3f} ({self.verdict})"


def paired_difference(a, b) -> PairedDifference:
    """The paired difference ``a - b`` of two methods' scores, seed by seed.

    Parameters
    ----------
    a, b : array-like of shape (n_seeds,)
        Scores of two methods on the same seeds, in the same order.

    Returns
    -------
    PairedDifference
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(
            f"a and b must hold one score per seed each, got shapes {a.shape} and "
            f"{b.shape}."
        )
    differences = a - b
    mean = float(differences.mean())
    if differences.size == 1:
        return PairedDifference(differences, mean, np.nan, np.nan, "one seed")
    sd = float(differences.std(ddof=1))
    se = sd / np.sqrt(differences.size)
    bound = NOISE_STANDARD_ERRORS * se
    verdict = "better" if mean > bound else "worse" if mean < -bound else "within noise"
    return PairedDifference(differences, mean, sd, se, verdict)
