"""Paired differences between two methods over seeds, and what they establish."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._methods import METHODS
from ._statistics import LEVEL, paired_t_test, seeds_needed

__all__ = [
    "PairedDifference",
    "against_baselines",
    "paired_difference",
    "scores_by_method",
    "split_ratio",
    "verdict_lines",
]


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` per seed (the same split, subsample and initialisation), and
    what a paired t-test over the seeds makes of it.

    Attributes
    ----------
    differences : ndarray
        One per seed.
    mean, sd : float
        Mean and standard deviation (``ddof=1``) over seeds; ``sd`` is NaN for
        one seed.
    se : float
        The mean's standard error as the test computes it (Nadeau and Bengio's
        correction included, see :func:`paired_difference`).
    verdict : {"better", "worse", "cannot tell", "one seed"}
        ``"better"`` or ``"worse"`` when the two-sided test rejects "no
        difference" at ``level``; ``"cannot tell"`` when it does not (not
        "equal": the seeds are too few or the difference too small);
        ``"one seed"`` when there is no test.
    low, high : float
        The ``1 - level`` confidence interval of the mean.
    p_value : float
    test : str
        ``"paired t"``, ``"corrected resampled t"`` or ``"sign test (no
        spread)"``.
    seeds_needed : int or None
        For ``"cannot tell"``: the seeds at which the difference would reach
        ``level`` if its mean and spread held; None if no number up to 100.
    level : float

    Examples
    --------
    >>> from skcrl.benchmark import paired_difference
    >>> d = paired_difference([0.80, 0.84, 0.82], [0.78, 0.81, 0.80])
    >>> round(d.mean, 4), round(d.sd, 4), round(d.p_value, 3), d.verdict
    (0.0233, 0.0058, 0.02, 'better')
    >>> print(d)
    +0.023, 95% CI [+0.009, +0.038] (better)

    Two standard errors over three seeds are not a 5 % test: this difference
    is 3.5 standard errors from 0, but Student's t with 2 degrees of freedom
    puts 7 % of its mass beyond that: the test cannot tell it from noise.

    >>> d = paired_difference([0.83, 0.81, 0.82], [0.80, 0.80, 0.80])
    >>> round(d.mean / d.se, 2), round(d.p_value, 3), d.verdict, d.seeds_needed
    (3.46, 0.074, 'cannot tell', 4)
    """

    differences: np.ndarray
    mean: float
    sd: float
    se: float
    verdict: str
    low: float = float("nan")
    high: float = float("nan")
    p_value: float = float("nan")
    test: str = ""
    seeds_needed: int | None = None
    level: float = LEVEL

    def __str__(self):
        if self.verdict == "one seed":
            return f"{self.mean:+.3f} (one seed, no test)"
        interval = f"{1 - self.level:.0%} CI [{self.low:+.3f}, {self.high:+.3f}]"
        return f"{self.mean:+.3f}, {interval} ({self.verdict_text()})"

    def verdict_text(self):
        """The verdict in words, with the seeds a "cannot tell" would need."""
        if self.verdict != "cannot tell":
            return self.verdict
        n = len(self.differences)
        text = f"cannot tell with {n} seeds"
        if self.seeds_needed is not None:
            return text + f"; about {self.seeds_needed} would"
        if self.mean != 0 and np.isfinite(self.sd):
            return text + "; more seeds would not"
        return text


def paired_difference(a, b, *, test_train_ratio=0.0, level=LEVEL) -> PairedDifference:
    """The paired difference ``a - b`` of two methods' scores, seed by seed,
    tested by Student's t with ``n - 1`` degrees of freedom.

    Parameters
    ----------
    a, b : array-like of shape (n_seeds,)
        Scores of two methods on the same seeds, in the same order.
    test_train_ratio : float, default=0.0
        ``n_test / n_train`` when each seed draws a new split of the same data
        (the test parts overlap): the test is then Nadeau and Bengio's corrected
        resampled t (:func:`~skcrl.benchmark.paired_t_test`). 0: the
        plain paired t-test.
    level : float, default=0.05
        Two-sided.

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
    result = paired_t_test(differences, test_train_ratio=test_train_ratio, level=level)
    if result.p_value < level:
        verdict, needed = ("better" if mean > 0 else "worse"), None
    else:
        verdict = "cannot tell"
        needed = seeds_needed(mean, sd, test_train_ratio=test_train_ratio, level=level)
    return PairedDifference(
        differences,
        mean,
        sd,
        result.se,
        verdict,
        result.low,
        result.high,
        result.p_value,
        result.test,
        needed,
        level,
    )


def split_ratio(records) -> float:
    """``n_test / n_train`` of the records' splits (mean over seeds), for the
    corrected resampled t-test; 0.0 (the plain test) when records do not carry
    the sizes.

    Examples
    --------
    >>> from skcrl.benchmark import split_ratio
    >>> split_ratio([dict(n_train=70, n_test=30), dict(n_train=70, n_test=30)])
    0.42857142857142855
    >>> split_ratio([dict(method="ce")])
    0.0
    """
    ratios = [
        r["n_test"] / r["n_train"]
        for r in records
        if r.get("n_train") and "n_test" in r
    ]
    return float(np.mean(ratios)) if ratios else 0.0


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


def is_network(name):
    """Whether the method ``name`` trains a network; names outside
    :data:`METHODS` (the attribute track's) are networks."""
    return name not in METHODS or METHODS[name].neural


def _best(scores, names):
    return max(names, key=lambda m: np.mean(scores[m])) if names else None


def against_baselines(scores, method="crl", reference="ce", *, test_train_ratio=0.0):
    """``method``'s paired differences to ``reference``, to ``reference + "+la"``
    and to the best network trained without CRL (highest mean score among the
    neural methods whose name does not start with ``"crl"``), each as
    ``(label, baseline, PairedDifference)``; baselines that were not run are
    left out.

    Parameters
    ----------
    scores : dict
        ``{method: per-seed scores}`` (:func:`scores_by_method`).
    method : str, default="crl"
    reference : str, default="ce"
        Plain cross-entropy (``"bce"`` on attribute tasks).
    test_train_ratio : float, default=0.0
        See :func:`paired_difference`.

    Examples
    --------
    >>> from skcrl.benchmark import against_baselines
    >>> scores = {"ce": [0.70, 0.72, 0.71], "ce+la": [0.80, 0.79, 0.81],
    ...           "ce+smote": [0.78, 0.77, 0.80], "crl": [0.81, 0.80, 0.81]}
    >>> for label, name, d in against_baselines(scores):
    ...     print(f"{label}: {name}, {d.verdict}")
    plain cross-entropy: ce, better
    logit-adjusted cross-entropy: ce+la, cannot tell
    best network without CRL: ce+la, cannot tell
    """
    if method not in scores:
        return []

    def versus(name):
        return paired_difference(
            scores[method], scores[name], test_train_ratio=test_train_ratio
        )

    rows = []
    labels = {
        reference: "plain cross-entropy",
        reference + "+la": "logit-adjusted cross-entropy",
    }
    for name, label in labels.items():
        if name in scores:
            rows.append((label, name, versus(name)))
    best = _best(
        scores, [m for m in scores if not m.startswith("crl") and is_network(m)]
    )
    if best is not None:
        rows.append(("best network without CRL", best, versus(best)))
    return rows


def overall(scores, *, test_train_ratio=0.0):
    """The best method by mean score and its lead over the runner-up; the best
    network against the best non-neural reference model. Either difference is
    None where it does not apply (a single method; no reference run).

    Returns
    -------
    best, runner_up : str or None
    lead : PairedDifference or None
        ``best - runner_up``.
    network, non_neural : str or None
    neural_gap : PairedDifference or None
        ``network - non_neural``.

    Examples
    --------
    >>> from skcrl.benchmark._verdict import overall
    >>> scores = {"hgb": [0.90, 0.92, 0.91], "crl": [0.84, 0.85, 0.85],
    ...           "ce": [0.80, 0.81, 0.80]}
    >>> best, runner_up, lead, network, non_neural, gap = overall(scores)
    >>> best, runner_up, lead.verdict, network, non_neural, gap.verdict
    ('hgb', 'crl', 'better', 'crl', 'hgb', 'worse')
    """
    ranked = sorted(scores, key=lambda m: -np.mean(scores[m]))
    best = ranked[0] if ranked else None
    runner_up = ranked[1] if len(ranked) > 1 else None

    def difference(a, b):
        if a is None or b is None:
            return None
        return paired_difference(
            scores[a], scores[b], test_train_ratio=test_train_ratio
        )

    network = _best(scores, [m for m in scores if is_network(m)])
    non_neural = _best(scores, [m for m in scores if not is_network(m)])
    return (
        best,
        runner_up,
        difference(best, runner_up),
        network,
        non_neural,
        difference(network, non_neural),
    )


def headline(scores, metric="balanced accuracy", *, test_train_ratio=0.0):
    """The comparison's first line: the best method overall and whether the
    best network is better than, worse than, or not told apart from the best
    non-neural model.

    Examples
    --------
    >>> from skcrl.benchmark._verdict import headline
    >>> scores = {"hgb": [0.90, 0.92, 0.91], "crl": [0.84, 0.85, 0.85]}
    >>> print(headline(scores))  # doctest: +NORMALIZE_WHITESPACE
    Best: hgb (balanced accuracy 0.910). The best network, crl (0.847), is worse
        than the best non-neural model, hgb (0.910).
    """
    return _headline(scores, metric, overall(scores, test_train_ratio=test_train_ratio))


def _headline(scores, metric, found):
    """:func:`headline` from what :func:`overall` found."""
    best, _, _, network, non_neural, gap = found
    if best is None:
        return ""
    line = f"Best: {best} ({metric} {np.mean(scores[best]):.3f})."
    if gap is None:
        return line
    pair = (
        f"the best network, {network} ({np.mean(scores[network]):.3f}), ",
        f"the best non-neural model, {non_neural} ({np.mean(scores[non_neural]):.3f})",
    )
    if gap.verdict in ("better", "worse"):
        return line + f" {pair[0].capitalize()}is {gap.verdict} than {pair[1]}."
    return line + f" Between {pair[0]}and {pair[1]}: {gap.verdict_text()}."


def verdict_lines(
    scores,
    method="crl",
    reference="ce",
    metric="balanced accuracy",
    *,
    test_train_ratio=0.0,
):
    """The comparison's verdict as lines of text: first the best method overall
    and the best network against the best non-neural model
    (:func:`headline`), with the tests behind it; then ``method`` against each
    of :func:`against_baselines`, its verdict against the best network without
    CRL, and what the intervals and verdicts mean.

    Examples
    --------
    >>> from skcrl.benchmark import verdict_lines
    >>> scores = {"ce": [0.70, 0.72, 0.71], "ce+balanced": [0.82, 0.83, 0.81],
    ...           "crl": [0.81, 0.80, 0.81]}
    >>> print("\\n".join(verdict_lines(scores)))  # doctest: +NORMALIZE_WHITESPACE
    Best: ce+balanced (balanced accuracy 0.820).
      lead over the runner-up, crl: +0.013, 95% CI [-0.025, +0.051] (cannot tell
          with 3 seeds; about 8 would)
    crl (CRLClassifier at its defaults), paired over 3 seeds, balanced accuracy:
      against plain cross-entropy (ce): +0.097, 95% CI [+0.059, +0.135] (better)
      against best network without CRL (ce+balanced): -0.013, 95% CI [-0.051,
          +0.025] (cannot tell with 3 seeds; about 8 would)
    Verdict: not told apart from ce+balanced, the best network without CRL.
    Each difference: mean over 3 paired seeds (same split and initialisation) and
        its 95% confidence interval, paired t-test with 2 degrees of freedom; better or
        worse: p < 0.05, two-sided.
    """
    found = overall(scores, test_train_ratio=test_train_ratio)
    best, runner_up, lead, network, non_neural, gap = found
    if best is None:
        return []
    lines = [_headline(scores, metric, found)]
    if lead is not None:
        lines.append(f"  lead over the runner-up, {runner_up}: {lead}")
    if gap is not None and {network, non_neural} != {best, runner_up}:
        # the lead above is this pair's test already when they rank first
        lines.append(f"  best network against best non-neural model: {gap}")
    rows = against_baselines(
        scores, method, reference, test_train_ratio=test_train_ratio
    )
    n_seeds = len(np.atleast_1d(scores[best]))
    if rows:
        lines.append(
            f"{method} (CRLClassifier at its defaults), paired over {n_seeds} "
            f"seed{'s' * (n_seeds > 1)}, {metric}:"
        )
        lines += [f"  against {label} ({name}): {d}" for label, name, d in rows]
        lines.append("Verdict: " + one_line_verdict(rows[-1][1], rows[-1][2]) + ".")
    lines.append(statistics_note(n_seeds, test_train_ratio))
    return lines


def statistics_note(n_seeds, test_train_ratio=0.0, level=LEVEL):
    """What the intervals and verdicts of :func:`verdict_lines` are."""
    if n_seeds < 2:
        return "One seed: no test; run --seeds 0 1 2 or more to tell differences."
    test = (
        "Nadeau and Bengio's corrected resampled t-test (the seeds' test parts "
        f"overlap: n_test / n_train = {test_train_ratio:.2f})"
        if test_train_ratio > 0
        else "paired t-test"
    )
    return (
        f"Each difference: mean over {n_seeds} paired seeds (same split and "
        f"initialisation) and its {1 - level:.0%} confidence interval, {test} with "
        f"{n_seeds - 1} degree{'s' * (n_seeds > 2)} of freedom; better or worse: "
        f"p < {level:g}, two-sided."
    )


def one_line_verdict(best, difference):
    """``better than`` / ``worse than`` / ``not told apart from`` the best
    network without CRL."""
    if difference.verdict == "one seed":
        return f"one seed: {difference.mean:+.3f} against {best}, no test"
    if difference.verdict == "cannot tell":
        return f"not told apart from {best}, the best network without CRL"
    return f"{difference.verdict} than {best}, the best network without CRL"
