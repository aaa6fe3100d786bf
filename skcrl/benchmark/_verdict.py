"""Paired differences between two methods over seeds, and what they establish."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PairedDifference",
    "against_baselines",
    "paired_difference",
    "scores_by_method",
    "verdict_lines",
]

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


def scores_by_method(records, metric="balanced_accuracy"):
    """``{method: per-seed scores}`` of comparison records, seeds in order, so
    that two methods' arrays pair seed by seed.

    Examples
    --------
    >>> from skcrl.benchmark import scores_by_method
    >>> records = [dict(method="ce", seed=1, balanced_accuracy=0.7),
    ...            dict(method="ce", seed=0, balanced_accuracy=0.6)]
    >>> scores_by_method(records)["ce"].tolist()
    [0.6, 0.7]
    """
    by_method = {}
    for record in sorted(records, key=lambda r: r["seed"]):
        by_method.setdefault(record["method"], []).append(record[metric])
    return {method: np.asarray(values) for method, values in by_method.items()}


def against_baselines(scores, method="crl", reference="ce"):
    """``method``'s paired differences to ``reference``, to ``reference + "+la"``
    and to the best method without CRL (highest mean score among the methods
    whose name does not start with ``"crl"``), each as ``(label, baseline,
    PairedDifference)``; baselines that were not run are left out.

    Parameters
    ----------
    scores : dict
        ``{method: per-seed scores}`` (:func:`scores_by_method`).
    method : str, default="crl"
    reference : str, default="ce"
        Plain cross-entropy (``"bce"`` on attribute tasks).

    Examples
    --------
    >>> from skcrl.benchmark import against_baselines
    >>> scores = {"ce": [0.70, 0.72, 0.71], "ce+la": [0.80, 0.79, 0.81],
    ...           "ce+smote": [0.78, 0.77, 0.80], "crl": [0.81, 0.80, 0.81]}
    >>> for label, name, d in against_baselines(scores):
    ...     print(f"{label}: {name}, {d.verdict}")
    plain cross-entropy: ce, better
    logit-adjusted cross-entropy: ce+la, within noise
    best method without CRL: ce+la, within noise
    """
    if method not in scores:
        return []
    rows = []
    labels = {
        reference: "plain cross-entropy",
        reference + "+la": "logit-adjusted cross-entropy",
    }
    for name, label in labels.items():
        if name in scores:
            rows.append((label, name, paired_difference(scores[method], scores[name])))
    others = [m for m in scores if not m.startswith("crl")]
    if others:
        best = max(others, key=lambda m: np.mean(scores[m]))
        d = paired_difference(scores[method], scores[best])
        rows.append(("best method without CRL", best, d))
    return rows


def verdict_lines(scores, method="crl", reference="ce", metric="balanced accuracy"):
    """What :func:`against_baselines` finds, as lines of text: one per
    baseline, then the verdict against the best method without CRL.

    Examples
    --------
    >>> from skcrl.benchmark import verdict_lines
    >>> scores = {"ce": [0.70, 0.72, 0.71], "ce+balanced": [0.82, 0.83, 0.81],
    ...           "crl": [0.81, 0.80, 0.81]}
    >>> print("\\n".join(verdict_lines(scores)))
    crl (CRLClassifier at its defaults), paired over 3 seeds, balanced accuracy:
      against plain cross-entropy (ce): +0.097 ± 0.015 (better)
      against best method without CRL (ce+balanced): -0.013 ± 0.015 (within noise)
    Verdict: within the noise of ce+balanced, the best method without CRL.
    """
    rows = against_baselines(scores, method, reference)
    if not rows:
        return []
    n_seeds = len(np.atleast_1d(scores[method]))
    lines = [
        f"{method} (CRLClassifier at its defaults), paired over {n_seeds} "
        f"seed{'s' * (n_seeds > 1)}, {metric}:"
    ]
    lines += [f"  against {label} ({name}): {d}" for label, name, d in rows]
    lines.append("Verdict: " + one_line_verdict(rows[-1][1], rows[-1][2]) + ".")
    return lines


def one_line_verdict(best, difference):
    """``better than`` / ``worse than`` / ``within the noise of`` the best
    method without CRL."""
    if difference.verdict == "one seed":
        return f"one seed: {difference.mean:+.3f} against {best}, no noise estimate"
    if difference.verdict == "within noise":
        return f"within the noise of {best}, the best method without CRL"
    return f"{difference.verdict} than {best}, the best method without CRL"
