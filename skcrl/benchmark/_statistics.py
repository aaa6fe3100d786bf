"""The tests behind the comparison's verdicts: a paired t-test over seeds (with
Nadeau and Bengio's correction where the seeds' test parts overlap), the
Wilcoxon signed-rank test over tasks, and Holm's correction for several
verdicts read together."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "LEVEL",
    "PairedTest",
    "SignedRankTest",
    "holm",
    "paired_t_test",
    "seeds_needed",
    "signed_rank_test",
]

#: The two-sided level of every verdict: a difference is called better or worse
#: when its test rejects "no difference" at 5 %.
LEVEL = 0.05

#: The most seeds :func:`seeds_needed` looks at.
MAX_SEEDS = 100

#: Paired differences whose standard deviation is below this are all the same
#: (rounding aside): the t-test is undefined there, and the sign test decides.
NO_SPREAD = 1e-12


@dataclass(frozen=True)
class PairedTest:
    """A paired t-test of differences, one per seed.

    Attributes
    ----------
    mean : float
        Mean difference.
    se : float
        Its standard error: ``sd * sqrt(1 / n + test_train_ratio)``, the plain
        ``sd / sqrt(n)`` when the ratio is 0.
    t, p_value : float
        The statistic and its two-sided p-value, Student's t with ``df``
        degrees of freedom.
    df : int
        ``n - 1``.
    low, high : float
        The ``1 - level`` confidence interval of the mean difference.
    test : str
        ``"paired t"``, ``"corrected resampled t"`` or ``"sign test (no
        spread)"``.
    """

    mean: float
    se: float
    t: float
    p_value: float
    df: int
    low: float
    high: float
    test: str


def paired_t_test(differences, *, test_train_ratio=0.0, level=LEVEL) -> PairedTest:
    """Student's t-test of paired differences against 0, with ``n - 1`` degrees
    of freedom.

    When each seed draws a new train/test split of the same data, the test parts
    overlap and the seeds' differences are correlated: the plain test is then
    too eager. Nadeau and Bengio's corrected resampled t (Machine Learning 52,
    2003) widens the variance of the mean from ``s^2 / n`` to
    ``s^2 (1 / n + n_test / n_train)``; pass that ratio as
    ``test_train_ratio`` (0: the plain paired t-test, for seeds whose test
    parts are disjoint or fixed).

    Where every seed gives the same difference, the t statistic is undefined;
    the exact two-sided sign test decides instead (``p = 2 / 2^n``: three
    seeds of one sign are 0.25, six are 0.03), and the interval is the point.

    Parameters
    ----------
    differences : array-like of shape (n_seeds,)
        At least two.
    test_train_ratio : float, default=0.0
        ``n_test / n_train`` of each seed's split.
    level : float, default=0.05
        Of the two-sided test and the ``1 - level`` interval.

    Returns
    -------
    PairedTest

    Examples
    --------
    >>> from skcrl.benchmark import paired_t_test
    >>> result = paired_t_test([0.02, 0.03, 0.01])
    >>> round(result.t, 3), result.df, round(result.p_value, 4)
    (3.464, 2, 0.0742)
    >>> corrected = paired_t_test([0.02, 0.03, 0.01], test_train_ratio=0.5)
    >>> corrected.test, round(corrected.p_value, 3)
    ('corrected resampled t', 0.16)
    >>> same = paired_t_test([0.002, 0.002, 0.002])  # one test row, three times
    >>> same.test, same.p_value
    ('sign test (no spread)', 0.25)
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or d.size < 2:
        raise ValueError(
            f"a paired t-test needs two or more differences, got shape {d.shape}."
        )
    if test_train_ratio < 0:
        raise ValueError(f"test_train_ratio must be >= 0, got {test_train_ratio}.")
    n, mean = d.size, float(d.mean())
    sd = float(d.std(ddof=1))
    df = n - 1
    if sd <= NO_SPREAD:
        # every seed the same difference (often one test row, the same row):
        # the t statistic is undefined, and infinite confidence from three
        # seeds would be wrong. The exact sign test says what the seeds can:
        # all n of one sign has two-sided probability 2 / 2^n by chance.
        p = 1.0 if abs(mean) <= NO_SPREAD else min(1.0, 2.0 * 0.5**n)
        t = 0.0 if p == 1.0 else math.copysign(math.inf, mean)
        return PairedTest(mean, 0.0, t, p, df, mean, mean, "sign test (no spread)")
    se = sd * math.sqrt(1.0 / n + test_train_ratio)
    t = mean / se
    p = float(2 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(1 - level / 2, df)) * se
    test = "corrected resampled t" if test_train_ratio > 0 else "paired t"
    return PairedTest(mean, se, t, p, df, mean - half, mean + half, test)


def seeds_needed(mean, sd, *, test_train_ratio=0.0, level=LEVEL):
    """The fewest seeds at which a mean difference ``mean`` with spread ``sd``
    (between seeds) would reach ``level``, if both held as measured; None when
    no number up to 100 would (the corrected test's variance never falls below
    ``sd^2 * test_train_ratio``, however many seeds).

    Examples
    --------
    >>> from skcrl.benchmark import seeds_needed
    >>> seeds_needed(0.01, 0.01)  # t = sqrt(n) against t(0.975, n - 1)
    7
    >>> seeds_needed(0.01, 0.1, test_train_ratio=0.5) is None
    True
    >>> seeds_needed(0.002, 0.0)  # no spread: the sign test needs 2 / 2^n < 0.05
    6
    """
    if abs(mean) <= NO_SPREAD or not np.isfinite(sd):
        return None
    for n in range(2, MAX_SEEDS + 1):
        if sd <= NO_SPREAD:  # the sign test of paired_t_test
            if 2.0 * 0.5**n < level:
                return n
            continue
        se = sd * math.sqrt(1.0 / n + test_train_ratio)
        if abs(mean) / se >= stats.t.ppf(1 - level / 2, n - 1):
            return n
    return None


@dataclass(frozen=True)
class SignedRankTest:
    """The Wilcoxon signed-rank test of per-task mean differences.

    Attributes
    ----------
    n_tasks : int
    mean : float
        Mean of the per-task differences.
    wins, losses : int
        Tasks with a positive and a negative difference.
    p_value : float or None
        Two-sided; None when the tasks are too few for any outcome to reach
        ``level`` (see ``reason``).
    reason : str or None
        Why there is no p-value.
    """

    n_tasks: int
    mean: float
    wins: int
    losses: int
    p_value: float | None
    reason: str | None = None


def signed_rank_test(differences, *, level=LEVEL) -> SignedRankTest:
    """Whether one method beats another over tasks: the Wilcoxon signed-rank
    test on the per-task mean differences, as Demšar (JMLR 7, 2006) recommends
    for comparing two classifiers over several data sets.

    Its exact two-sided p-value is at least ``2 / 2^n`` for ``n`` tasks with a
    non-zero difference: 0.0625 for five. With so few tasks no outcome can reach
    the 5 % level, and the test is not run (``p_value`` None, ``reason`` says
    so).

    Parameters
    ----------
    differences : array-like of shape (n_tasks,)
        One mean difference per task.
    level : float, default=0.05

    Returns
    -------
    SignedRankTest

    Examples
    --------
    >>> from skcrl.benchmark import signed_rank_test
    >>> result = signed_rank_test([0.02, 0.01, 0.03, -0.005, 0.04, 0.025])
    >>> result.wins, result.losses, round(result.p_value, 4)
    (5, 1, 0.0625)
    >>> print(signed_rank_test([0.02, 0.01, 0.03]).reason)
    3 tasks: a signed-rank test cannot reach 5% with fewer than 6
    """
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    nonzero = d[d != 0]
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    mean = float(d.mean()) if d.size else float("nan")
    smallest_p = 2.0 / 2.0**nonzero.size if nonzero.size else 1.0
    if smallest_p > level:
        fewest = math.ceil(math.log2(2 / level) + 1e-12)
        reason = (
            f"{nonzero.size} task{'s' * (nonzero.size != 1)}: a signed-rank test "
            f"cannot reach {level:.0%} with fewer than {fewest}"
        )
        return SignedRankTest(d.size, mean, wins, losses, None, reason)
    p = float(stats.wilcoxon(nonzero, alternative="two-sided").pvalue)
    return SignedRankTest(d.size, mean, wins, losses, p)


def holm(p_values):
    """Holm's step-down adjustment of p-values read together: the ``i``-th
    smallest of ``m`` is multiplied by ``m - i`` (``i`` from 0), made
    non-decreasing, and capped at 1. A verdict holds across the family when its
    adjusted p-value is below the level. None stays None (no test).

    Examples
    --------
    >>> from skcrl.benchmark import holm
    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    values = [p for p in p_values if p is not None]
    order = np.argsort(values, kind="stable")
    m = len(values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[index]))
        adjusted[index] = running
    result, it = [], iter(adjusted.tolist())
    for p in p_values:
        result.append(None if p is None else next(it))
    return result
