"""The comparison's statistics and its answer: paired t-tests over seeds, the
signed-rank test over tasks, Holm's correction, the non-neural references and
the first line of ``python -m skcrl``."""

import csv
import json
import math

import numpy as np
import pandas as pd
import pytest
from imblearn.ensemble import BalancedRandomForestClassifier
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import TunedThresholdClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skcrl.__main__ import main
from skcrl.benchmark import (
    METHODS,
    REFERENCES,
    build,
    holm,
    paired_difference,
    paired_t_test,
    run_comparison,
    seeds_needed,
    signed_rank_test,
    split_ratio,
    verdict_lines,
)
from skcrl.benchmark._verdict import headline, overall

# -- per task: the paired t-test -----------------------------------------------


def test_paired_t_test_is_scipys():
    a = np.array([0.81, 0.84, 0.80, 0.86, 0.83])
    b = np.array([0.79, 0.80, 0.81, 0.82, 0.80])
    result = paired_t_test(a - b)
    expected = stats.ttest_rel(a, b)
    assert result.df == 4
    assert result.t == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    interval = expected.confidence_interval(0.95)
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high))


def test_corrected_resampled_t_widens_the_variance_by_the_split():
    d = np.array([0.03, 0.01, 0.02, 0.04])
    # Nadeau and Bengio: var(mean) = s^2 (1/J + n_test/n_train), by hand
    s2 = np.var(d, ddof=1)
    t = d.mean() / math.sqrt(s2 * (1 / 4 + 30 / 70))
    result = paired_t_test(d, test_train_ratio=30 / 70)
    assert result.test == "corrected resampled t"
    assert result.t == pytest.approx(t)
    assert result.p_value == pytest.approx(2 * stats.t.sf(t, 3))
    assert result.p_value > paired_t_test(d).p_value


def test_two_standard_errors_over_three_seeds_are_not_a_test():
    # mean 0.02, sd 0.01: 3.5 standard errors, "better" by the old 2-SE rule;
    # Student's t with 2 degrees of freedom gives p = 0.074
    a, b = [0.83, 0.81, 0.82], [0.80, 0.80, 0.80]
    d = paired_difference(a, b)
    assert d.mean > 2 * d.sd / math.sqrt(3)  # the old rule's "better"
    assert d.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert d.verdict == "cannot tell"
    # t = 2 sqrt(n) first beats t(0.975, n - 1) at n = 4 (4 > 3.18; 3.46 < 4.30)
    assert d.seeds_needed == 4
    assert "cannot tell with 3 seeds; about 4 would" in str(d)
    assert d.low < 0 < d.high


def test_a_clear_difference_is_better_or_worse():
    better = paired_difference([0.90, 0.91, 0.92, 0.90], [0.80, 0.80, 0.81, 0.79])
    assert better.verdict == "better" and better.low > 0
    worse = paired_difference([0.80, 0.80, 0.81, 0.79], [0.90, 0.91, 0.92, 0.90])
    assert worse.verdict == "worse" and worse.high < 0
    assert paired_difference([0.8], [0.7]).verdict == "one seed"


def test_no_spread_is_the_sign_test_not_certainty():
    # one test row more on each of three seeds: t is undefined (sd 0); three of
    # one sign happen by chance with probability 2 / 8
    three = paired_difference([0.802] * 3, [0.800] * 3)
    assert three.test == "sign test (no spread)"
    assert three.p_value == pytest.approx(0.25)
    assert three.verdict == "cannot tell" and three.seeds_needed == 6
    six = paired_difference([0.802] * 6, [0.800] * 6)
    assert six.p_value == pytest.approx(stats.binomtest(6, 6).pvalue)
    assert six.verdict == "better"
    assert paired_difference([0.8] * 3, [0.8] * 3).p_value == 1.0


def test_seeds_needed_stops_where_overlap_bounds_the_test():
    # the corrected variance never falls below sd^2 * ratio: with mean/sd = 0.5
    # and ratio 0.43, t stays below 0.5 / sqrt(0.43) = 0.76 for ever
    assert seeds_needed(0.01, 0.02, test_train_ratio=0.43) is None
    assert seeds_needed(0.0, 0.01) is None
    assert seeds_needed(0.05, 0.01) == 3  # 8.66 > 4.30; at 2, 7.07 < 12.7


def test_split_ratio_reads_the_records():
    records = [dict(n_train=700, n_test=300), dict(n_train=700, n_test=300)]
    assert split_ratio(records) == pytest.approx(3 / 7)
    assert split_ratio([{"method": "ce"}]) == 0.0


# -- over tasks: the signed-rank test and Holm ---------------------------------


def test_signed_rank_test_is_scipys():
    d = [0.02, -0.01, 0.03, 0.015, 0.04, 0.025, -0.005, 0.035]
    result = signed_rank_test(d)
    assert result.p_value == pytest.approx(stats.wilcoxon(d).pvalue)
    assert (result.wins, result.losses, result.n_tasks) == (6, 2, 8)


def test_too_few_tasks_are_not_tested():
    # 5 tasks all one way: the exact two-sided p is 2 / 32 = 0.0625 at best
    result = signed_rank_test([0.01, 0.02, 0.03, 0.04, 0.05])
    assert result.p_value is None
    assert "cannot reach 5%" in result.reason and "fewer than 6" in result.reason
    assert stats.wilcoxon([0.01, 0.02, 0.03, 0.04, 0.05]).pvalue > 0.05
    # six are enough
    assert signed_rank_test([0.01, 0.02, 0.03, 0.04, 0.05, 0.06]).p_value == (
        pytest.approx(2 / 64)
    )


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04, 0.30 times 4, 3, 2, 1: 0.04, 0.06, 0.08, 0.30
    assert holm([0.04, 0.01, 0.30, 0.02]) == pytest.approx([0.08, 0.04, 0.30, 0.06])
    # monotone: 0.012 * 3 = 0.036 < 0.02 * 2 = 0.04, then 0.03 * 1 < 0.04 -> 0.04
    assert holm([0.012, 0.02, 0.03]) == pytest.approx([0.036, 0.04, 0.04])
    assert holm([None, 0.02]) == [None, pytest.approx(0.02)]
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 0.8 * 2 capped at 1


# -- the answer ------------------------------------------------------------------


def test_the_first_line_names_the_best_and_the_neural_verdict():
    scores = {
        "hgb": [0.95, 0.96, 0.95],
        "logreg": [0.80, 0.81, 0.80],
        "crl": [0.82, 0.84, 0.83],
        "ce+la": [0.81, 0.82, 0.83],
        "ce": [0.70, 0.71, 0.70],
    }
    best, runner_up, _, network, reference, gap = overall(scores)
    assert (best, runner_up, network, reference) == ("hgb", "crl", "crl", "hgb")
    assert gap.verdict == "worse"
    line = headline(scores)
    assert line.startswith("Best: hgb")
    assert "crl (0.830), is worse than the best non-neural model, hgb" in line
    lines = verdict_lines(scores)
    assert lines[0] == line
    # CRL against the networks without CRL: the references are not among them
    assert "against best network without CRL (ce+la)" in "\n".join(lines)


def test_the_first_line_says_when_it_cannot_tell():
    scores = {"hgb": [0.85, 0.80, 0.83], "crl": [0.82, 0.84, 0.81]}
    line = headline(scores)
    assert "Between the best network, crl" in line
    assert "cannot tell with 3 seeds" in line


def test_references_are_the_models_a_user_would_fit():
    assert set(REFERENCES) <= set(METHODS)
    logreg = build(METHODS["logreg"], n_train=100, steps=10, seed=3)
    assert isinstance(logreg, Pipeline)
    assert isinstance(logreg[0], StandardScaler)
    assert isinstance(logreg[-1], LogisticRegression)
    assert logreg[-1].class_weight == "balanced"
    hgb = build(METHODS["hgb"], n_train=100, steps=10, seed=3)
    assert isinstance(hgb, HistGradientBoostingClassifier)
    assert (hgb.class_weight, hgb.random_state) == ("balanced", 3)
    brf = build(METHODS["brf"], n_train=100, steps=10, seed=3)
    assert isinstance(brf, BalancedRandomForestClassifier)
    for name in ("logreg+threshold", "hgb+threshold"):
        tuned = build(METHODS[name], n_train=100, steps=10, seed=3)
        assert isinstance(tuned, TunedThresholdClassifierCV)
        assert tuned.scoring == "balanced_accuracy"
    # images reach them flattened
    flat = build(METHODS["hgb"], n_train=100, steps=10, seed=3, sample_shape=(1, 8, 8))
    assert flat[0].func.__name__ == "flatten_samples"


def test_references_run_in_the_comparison_with_calibration_and_time():
    records = run_comparison(
        "ecoli4", methods=list(REFERENCES), seeds=[0], epochs=1, progress=False
    )
    assert [r["method"] for r in records] == list(REFERENCES)
    for r in records:
        assert 0.5 <= r["balanced_accuracy"] <= 1
        assert np.isfinite(r["log_loss"]) and np.isfinite(r["brier"])
        assert r["seconds"] > 0


def _defects(path, n=900, seed=0):
    """A table whose rare class is a set of codes, not a range: a tree's split,
    hard for a network on the standardised code."""
    rng = np.random.default_rng(seed)
    code = rng.integers(0, 20, n)
    x0 = rng.uniform(size=n)
    rare = np.isin(code, [3, 11, 17]) & (x0 > 0.5)
    table = pd.DataFrame(
        {"code": code, "x0": x0, "noise": rng.normal(size=n), "part": "ok"}
    )
    table.loc[rare, "part"] = "defect"
    table.loc[[0, 1], "part"] = None  # rows without a target
    table.to_csv(path, index=False)
    return table


def test_a_table_where_gradient_boosting_wins_says_so_first(tmp_path, capsys):
    path = tmp_path / "parts.csv"
    _defects(path)
    out = tmp_path / "out"
    argv = ["--csv", str(path), "--target", "part", "--methods", "ce", "crl", "hgb"]
    argv += ["--epochs", "10", "--no-progress", "--output", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    # the notes on the input come before training; the results' first line is
    # the answer
    lines = [line for line in printed.splitlines() if line.strip()]
    first = next(line for line in lines if not line.startswith("note:"))
    assert first.startswith("Best: hgb")
    assert "is worse than the best non-neural model, hgb" in first
    assert "note: 2 of the 900 rows of parts.csv have no 'part'" in printed
    assert "corrected resampled t-test" in printed
    assert "Test rows per class (head to tail, mean over seeds): ok:" in printed
    assert "mean ± standard deviation over the seeds" in printed
    with open(out / "results.csv") as f:
        header = next(csv.reader(f))
    assert {"recall_ok", "recall_defect", "test_rows_defect", "n_test"} <= set(header)
    settings = json.loads((out / "settings.json").read_text())
    assert "dataset" not in settings and "imbalance_ratio" not in settings
    assert settings["csv"] == str(path) and "quick" not in settings


def test_few_test_rows_of_the_rare_class_are_flagged(tmp_path, capsys):
    path = tmp_path / "small.csv"
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"x": rng.normal(size=120), "y": ["a"] * 105 + ["b"] * 15})
    table.to_csv(path, index=False)
    argv = ["--csv", str(path), "--target", "y", "--methods", "logreg"]
    argv += ["--seeds", "0", "--no-progress", "--output", str(tmp_path / "o")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    # 30 % of 15 rows: 4 or 5 in the test part
    assert "note: the rarest class, b, has" in printed
    assert "differences below that mean little" in printed


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        ("", "is empty"),
        ("x,y\n1,a\n2,b\n", "has no column 'part'"),
    ],
)
def test_user_mistakes_are_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "table.csv"
    if content is not None:
        path.write_text(content)
    assert main(["--csv", str(path), "--target", "part", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
