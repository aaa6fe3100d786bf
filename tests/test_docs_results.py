"""The docs' results tables (docs/_generate.py) on hand-made benchmark files."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))
import _generate  # noqa: E402


def _write(path, rows, metric):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["method", "seed", metric, "seconds"])
        writer.writerows(rows)


def _cell(a, b):
    """A paired-difference cell ``a - b`` as scipy's paired t-test makes it:
    the mean, its 95% interval, better or worse where p < 0.05."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    mean = (a - b).mean()
    if np.ptp(a - b) < 1e-12:  # no spread: the exact sign test, p = 2 / 2^n
        p = 1.0 if abs(mean) < 1e-12 else 2 * 0.5 ** len(a)
        verdict = "cannot tell" if p >= 0.05 else ("worse" if mean < 0 else "better")
        return f"{mean:+.3f} [{mean:+.3f}, {mean:+.3f}] ({verdict})"
    test = stats.ttest_rel(a, b)
    interval = test.confidence_interval(0.95)
    verdict = "cannot tell"
    if test.pvalue < 0.05:
        verdict = "better" if mean > 0 else "worse"
    return f"{mean:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}] ({verdict})"


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "comparison"
    folder.mkdir()
    # yeast6: crl beats ce in both seeds (+0.10, +0.20), is 0.07 below ce+la,
    # the best method without CRL; crl+balanced 0.01 below ce+balanced, with
    # sample weights 0.025 below; crl-tuned 0.85 beats the best baseline ce+la
    scores = {
        "ce": (0.60, 0.60),
        "ce+balanced": (0.80, 0.80),
        "ce+ros": (0.70, 0.70),
        "ce+smote": (0.70, 0.70),
        "ce+rus": (0.65, 0.65),
        "ce+la": (0.82, 0.82),
        "crl": (0.70, 0.80),
        "crl+balanced": (0.79, 0.79),
        "crl+balanced-sw": (0.77, 0.78),
        "crl-tuned": (0.85, 0.85),
    }
    _write(
        folder / "yeast6.csv",
        [(m, seed, v[seed], 1.0) for m, v in scores.items() for seed in (0, 1)],
        "balanced_accuracy",
    )
    # ecoli4: crl 0.05 below ce (the best without CRL) in both seeds, 0.03 above
    # ce+la, far above ce+balanced
    scores.update({"ce": (0.9, 0.9), "crl": (0.85, 0.85), "ce+balanced": (0.5, 0.5)})
    _write(
        folder / "ecoli4.csv",
        [(m, seed, v[seed], 1.0) for m, v in scores.items() for seed in (0, 1)],
        "balanced_accuracy",
    )
    attributes = {
        "bce": (0.8, 0.8),
        "bce+balanced": (0.9, 0.9),
        "bce+la": (0.85, 0.85),
        "crl": (0.82, 0.84),
        "crl+balanced": (0.89, 0.89),
    }
    _write(
        folder / "digits-attributes.csv",
        [(m, seed, v[seed], 1.0) for m, v in attributes.items() for seed in (0, 1)],
        "mean_balanced_accuracy",
    )
    return tmp_path


def test_targets_by_hand(results):
    rows = {r["task"]: r for r in _generate.targets(results)}
    yeast6 = rows["yeast6"]
    assert list(yeast6["crl_vs_ce"].differences) == pytest.approx([0.10, 0.20])
    # sd of (0.10, 0.20) is 0.0707, its standard error 0.05: t = 3 with 1
    # degree of freedom, p = 0.205 (2 standard errors would have said better)
    assert yeast6["crl_vs_ce"].verdict == "cannot tell"
    assert yeast6["crl_vs_ce"].p_value == pytest.approx(
        stats.ttest_rel([0.70, 0.80], [0.60, 0.60]).pvalue
    )
    assert yeast6["crl_vs_la"].mean == pytest.approx(-0.07)
    assert yeast6["best_without_crl"] == "ce+la"
    assert yeast6["crl_vs_best"].verdict == "cannot tell"  # t = -1.4
    assert yeast6["balanced_vs_balanced"].mean == pytest.approx(-0.01)
    assert yeast6["sw_vs_balanced"].mean == pytest.approx(-0.025)
    assert yeast6["best"] == "ce+la"
    assert yeast6["tuned_vs_best"] == pytest.approx(0.03)
    ecoli4 = rows["ecoli4"]
    assert list(ecoli4["crl_vs_ce"].differences) == pytest.approx([-0.05, -0.05])
    assert ecoli4["best_without_crl"] == "ce"
    # no spread: the sign test, two seeds of one sign p = 0.5
    assert ecoli4["crl_vs_best"].verdict == "cannot tell"
    assert ecoli4["crl_vs_best"].p_value == pytest.approx(0.5)
    attributes = rows["digits-attributes"]
    assert list(attributes["crl_vs_ce"].differences) == pytest.approx([0.02, 0.04])
    assert attributes["best_without_crl"] == "bce+balanced"
    assert "sw_vs_balanced" not in attributes
    table = _generate.target_tables(results)["targets"]
    # >= ce: 2 of 3 (ecoli4 below); within 0.01 of ce+la: ecoli4 only;
    # class weights within 0.015: all 3; sample weights: ecoli4 of the 2 that
    # have them; crl-tuned >= best baseline: 2 of 2, 1 needed
    assert "- 2 of 3\n     - 3\n     - **missed**" in table
    assert "- 1 of 3\n     - 3\n     - **missed**" in table
    assert "- 3 of 3\n     - 3\n     - holds" in table
    assert "- 1 of 2\n     - 2\n     - **missed**" in table
    assert "- 2 of 2\n     - 1\n     - holds" in table
    findings = _generate.findings(results)["findings"]
    # against ce: yeast6 t = 3 and the attributes (0.02, 0.04) t = 3 with one
    # degree of freedom, ecoli4 -0.05 twice (the sign test's p = 0.5): none
    # told apart with two seeds
    assert "better on 0 of 3 tasks, worse on 0, not told apart on 3" in findings


def test_headline_and_pages_are_written(results):
    images = {
        "ce": (0.80, 0.80),
        "ce+balanced": (0.80, 0.80),
        "ce+la": (0.85, 0.86),
        "focal": (0.86, 0.88),
        "crl": (0.87, 0.89),
        "crl+balanced": (0.80, 0.80),
        "crl-tuned-small": (0.90, 0.91),
        "crl-inst": (0.86, 0.85),
    }
    _write(
        results / "comparison" / "digits-lt10-cnn.csv",
        [(m, seed, v[seed], 1.0) for m, v in images.items() for seed in (0, 1)],
        "balanced_accuracy",
    )
    headline = _generate.headline_markdown(results)
    assert headline.startswith(
        "| track | tasks | `crl` against `ce+la`: per task | over tasks "
        "| best network against best non-neural model: per task | over tasks |"
    )
    # tabular: yeast6 and ecoli4 against ce+la: -0.12, -0.02 (t = -1.4, cannot
    # tell) and +0.03 twice (no spread: the sign test's p = 0.5); two tasks are
    # too few for a signed-rank test; no reference model ran
    assert (
        "| tabular (MLP) | 2 | 2 cannot tell "
        "| -0.020 mean, ahead on 1 of 2; no test with fewer than 6 tasks "
        "| not run | not run |" in headline
    )
    # images: crl - ce+la = 0.02, 0.03: t = 5 with 1 degree of freedom, p = 0.13
    assert (
        "| images (CNN) | 1 | 1 cannot tell | +0.025 mean, ahead on 1 of 1; no test "
        "with fewer than 6 tasks | not run | not run |" in headline
    )
    assert "| attributes (MLP, CNN) | 1 | 1 cannot tell |" in headline
    tracks = _generate.track_tables(results)["tracks"]
    cell = _cell(images["crl"], images["ce+la"])
    assert f"     - digits-lt10-cnn\n     - {cell}" in tracks
    assert "a column holds by chance about tabular (MLP) 0.10" in tracks
    (results / "bench_fit.json").write_text(
        json.dumps(
            {
                "command": "python benchmarks/bench_fit.py",
                "machine": "x86_64",
                "torch": "2.13.0",
                "results": {
                    "10 classes": {"skorch": {"ratio": 1.0, "median_seconds": 2}}
                },
            }
        )
    )
    row = {"n": 64, "C": 2, "cross_entropy_us": 20.0, "class/relative": 3.0}
    row["instance/relative"] = 6.0
    row["pytorch-metric-learning batch-hard triplet"] = 4.0
    (results / "bench_loss.json").write_text(
        json.dumps(
            {
                "command": "python benchmarks/bench_loss.py",
                "machine": "x86_64",
                "device": "cpu",
                "torch": "2.13.0",
                "timing": [row],
                "peak_memory_bytes": {"class/relative": 3 * 2**20},
            }
        )
    )
    parts = {
        "fit": {"ms_per_fit": 330.0, "ratio": 1.32},
        "initialize": {"ms_per_fit": 0.9},
        "the CRL term (forward)": {"us_per_step": 1297.4},
    }
    (results / "bench_step.json").write_text(
        json.dumps(
            {
                "command": "python benchmarks/bench_step.py",
                "machine": "x86_64",
                "torch": "2.13.0",
                "repeats": 5,
                "results": {
                    "small": {
                        "steps": 300,
                        "parts": {"skorch": parts, "CRLClassifier()": parts},
                        "loss_alone": {
                            "crl_loss_us": 236.4,
                            "first_crl_loss_us": 557.0,
                            "cross_entropy_us": 29.0,
                        },
                    }
                },
            }
        )
    )
    pieces = _generate.generate(results, results / "_generated")
    assert {"comparison_tasks", "targets", "bench_fit", "bench_loss"} <= set(pieces)
    step = pieces["bench_step"]
    assert "**small** (300 steps)" in step and "median of 5 fits" in step
    assert "- 330 ms (1.32x)\n" in step and "- 0.9 ms\n" in step
    assert "- 1,297 µs\n" in step
    assert "236 µs in a loop, 557 µs for its first call" in step
    assert "- 3.0x" in pieces["bench_loss"]
    # ours over the triplet loss: 6 / 4
    assert "**1.50**" in pieces["bench_loss"]
    assert "- 3\n" in pieces["bench_loss_memory"]
    assert (results / "_generated" / "targets.rst.inc").exists()
    assert "1.00x (2.00 s)" in pieces["bench_fit"]
    assert "(``benchmarks/large_data.py`` has not been run.)" in pieces["large_data"]


def test_large_data_table(tmp_path):
    (tmp_path / "large_data.json").write_text(
        json.dumps(
            {
                "command": "python benchmarks/large_data.py",
                "machine": "x86_64, 1 torch thread",
                "torch": "2.13.0",
                "n_images": 1200,
                "class_counts": [1000, 200],
                "images_on_disk_mib": 1.1,
                "array_mib": 3.6,
                "results": {
                    "array": {"seconds": 2.04, "peak_rss_mib": 512.4},
                    "lazy files": {"seconds": 3.0, "peak_rss_mib": 400.0},
                },
            }
        )
    )
    table = _generate.large_data_table(tmp_path)["large_data"]
    assert "1,200 images" in table and "4 MiB as one float32 array" in table
    assert "- 512\n" in table and "- 2.0\n" in table
    assert "- lazy files\n" in table


def test_scaling_table(tmp_path):
    (tmp_path / "scaling.json").write_text(
        json.dumps(
            {
                "command": "python benchmarks/scaling.py",
                "machine": "x86_64, 2 cores, 1 thread per process",
                "torch": "2.13.0",
                "results": {
                    "grid search": {
                        "seconds": {"n_jobs=1": 10.0, "Dask, 2 workers": 6.25},
                        "identical results": True,
                    },
                    "data-parallel fit": {
                        "seconds": {"1 process": 3.0, "2 processes": 4.0}
                    },
                },
            }
        )
    )
    table = _generate.scaling_table(tmp_path)["scaling"]
    assert "- 10.0 (n_jobs=1)\n" in table and "- 1.60x\n" in table
    assert "- 0.75x\n" in table and "- yes\n" in table


def test_costs_table(results):
    # no threshold methods yet: a note instead of a table
    assert "have not been run" in _generate.costs_table(results)["costs"]
    _write(
        results / "comparison" / "yeast6.csv",
        [
            (method, seed, value, 1.0)
            for method, values in {
                "ce": (0.6, 0.7),
                "ce+threshold": (0.9, 0.8),
                "crl": (0.7, 0.7),
                "crl+threshold": (0.8, 0.8),
            }.items()
            for seed, value in enumerate(values)
        ],
        "balanced_accuracy",
    )
    table = _generate.costs_table(results)["costs"]
    assert "   * - method\n     - ecoli4\n     - yeast6\n" in table
    # ce+threshold has the best mean on yeast6 (0.85), ce on ecoli4 (0.9)
    assert "**0.850 ± 0.050**" in table
    assert "**0.900 ± 0.000**" in table
    # methods a task has not run
    assert "``ce+balanced`` (class_weight='balanced')\n     - 0.500 ± 0.000\n" in table
    assert "     - not run\n" in table


def test_fault_injection_table(tmp_path):
    exact = dict(
        trials=10, killed=10, exact=10, different=0, unresumable=0, largest_gap=0.0
    )
    (tmp_path / "fault_injection.json").write_text(
        json.dumps(
            {
                "command": "python benchmarks/fault_injection.py",
                "machine": "x86_64, 2 cores",
                "torch": "2.13.0",
                "epochs": 4,
                "summary": {
                    "skcrl, kill": exact,
                    "skcrl-recipe, kill": exact,
                    "skorch, kill": dict(
                        trials=10,
                        killed=9,
                        exact=5,
                        different=3,
                        unresumable=1,
                        largest_gap=0.0412,
                    ),
                },
            }
        )
    )
    table = _generate.fault_injection_table(tmp_path)["fault_injection"]
    for way in ("``Checkpoint.resume``", "skorch's recipe"):
        row = (
            f"- ``skcrl.Checkpoint``, {way}\n     - at each step of a save\n     - 10\n"
        )
        assert row in table
    assert "- 3 (up to 0.041)\n     - 1\n" in table


def test_image_curve_tables(tmp_path):
    pieces = _generate.image_curve_tables(tmp_path)
    assert "has not been run" in pieces["cnn_vs_mlp"]
    run = dict(
        command="python benchmarks/image_curves.py",
        minutes=5.0,
        machine="x86_64, 2 cores",
        torch="2.13.0",
    )
    pairs = [
        dict(data="lt20", n_train=1187, seed=s, cnn=c, mlp=m)
        for s, c, m in ((0, 0.80, 0.75), (1, 0.82, 0.76))
    ]
    curve = dict(
        task="digits-lt10-cnn",
        method="ce",
        train_loss=[1.0 / (e + 1) for e in range(60)],
        test_balanced_accuracy=[0.5] * 29 + [0.9] * 31,
    )
    (tmp_path / "image_curves.json").write_text(
        json.dumps(dict(run=run, curves=[curve], cnn_against_mlp=pairs))
    )
    pieces = _generate.image_curve_tables(tmp_path)
    # CNN - MLP: +0.05, +0.06: mean 0.055, sd 0.0071, t = 11 < 12.7 with 1 df
    assert "- 1187\n     - 0.810 ± 0.010\n     - 0.755 ± 0.005" in pieces["cnn_vs_mlp"]
    assert _cell([0.80, 0.82], [0.75, 0.76]) in pieces["cnn_vs_mlp"]
    assert "(cannot tell)" in pieces["cnn_vs_mlp"]
    # epoch 30 is index 29: loss 1/30
    assert "- 0.900\n     - 0.900\n     - 0.033\n     - 0.017" in pieces["image_curves"]


def test_a_partial_rerun_names_both_runs():
    base = dict(machine="x86_64", torch="2.13.0", torch_threads=1)
    earlier = dict(
        base, command="python benchmarks/run_suite.py", commit="a1", minutes=9
    )
    run = dict(
        base,
        command="python benchmarks/run_suite.py --methods focal",
        commit="b2",
        minutes=2,
        earlier=earlier,
    )
    line = _generate._run_line(run)
    assert line.startswith("``python benchmarks/run_suite.py --methods focal`` at")
    assert (
        "; the other methods' rows from ``python benchmarks/run_suite.py`` at " in line
    )
    assert "``a1``, 9 minutes" in line and line.endswith("per process).\n")


def test_image_confirmation_pairs_fresh_seeds_and_all(tmp_path):
    assert (
        "not been run"
        in _generate.image_confirmation_table(tmp_path)["image_confirmation"]
    )
    suite = {"ce+la": (0.80, 0.80), "crl": (0.81, 0.83), "crl-inst": (0.82, 0.85)}
    fresh = {"ce+la": (0.70, 0.72), "crl": (0.70, 0.72), "crl-inst": (0.75, 0.76)}
    for folder, scores, seeds in (
        ("comparison", suite, (0, 1)),
        ("image_confirmation", fresh, (3, 4)),
    ):
        (tmp_path / folder).mkdir()
        _write(
            tmp_path / folder / "digits-lt10-cnn.csv",
            [
                (m, seed, v[i], 1.0)
                for m, v in scores.items()
                for i, seed in enumerate(seeds)
            ],
            "balanced_accuracy",
        )
    (tmp_path / "image_confirmation" / "digits-lt10-cnn.json").write_text(
        json.dumps(
            dict(command="python benchmarks/run_suite.py --seeds 3 4 5", commit="c3")
        )
    )
    table = _generate.image_confirmation_table(tmp_path)["image_confirmation"]

    # crl - ce+la: 0, 0 on seeds 3-4; 0.01, 0.03, 0, 0 on all four
    # crl-inst - ce+la: 0.05, 0.04; with 0.02, 0.05: mean 0.04, sd 0.0141
    # crl-inst - crl: 0.05, 0.04; with 0.01, 0.02: mean 0.03, sd 0.0183 (2 se)
    def both(method, baseline):
        fresh_only = _cell(fresh[method], fresh[baseline])
        every = _cell(suite[method] + fresh[method], suite[baseline] + fresh[baseline])
        return [fresh_only, every]

    expected = [
        *both("crl", "ce+la"),
        *both("crl-inst", "ce+la"),
        *both("crl-inst", "crl"),
    ]
    assert expected[0] == "+0.000 [+0.000, +0.000] (cannot tell)"
    assert (
        "   * - digits-lt10-cnn\n" + "".join(f"     - {e}\n" for e in expected) in table
    )
    assert table.startswith(
        "``python benchmarks/run_suite.py --seeds 3 4 5`` at commit"
    )


def test_image_variant_tables(tmp_path):
    pieces = _generate.image_variant_tables(tmp_path)
    assert "not been run" in pieces["image_deeper"]
    assert "not been run" in pieces["image_60_epochs"]
    shipped = {"ce+la": (0.80, 0.82)}
    deeper = {"ce+la": (0.84, 0.84), "crl": (0.84, 0.86), "crl-inst": (0.83, 0.83)}
    for folder, scores in (("comparison", shipped), ("image_deeper", deeper)):
        (tmp_path / folder).mkdir()
        _write(
            tmp_path / folder / "fashion-lt100-cnn.csv",
            [(m, seed, v[seed], 1.0) for m, v in scores.items() for seed in (0, 1)],
            "balanced_accuracy",
        )
    (tmp_path / "image_deeper" / "fashion-lt100-cnn.json").write_text(
        json.dumps(
            dict(command="python benchmarks/run_suite.py --channels 32", commit="d4")
        )
    )
    table = _generate.image_variant_tables(tmp_path)["image_deeper"]
    assert "     - deeper: crl-inst − ce+la\n" in table
    # deeper ce+la - shipped: 0.04, 0.02; crl - ce+la: 0, 0.02; crl-inst: -0.01 twice
    expected = [
        "0.840 ± 0.000",
        _cell(deeper["ce+la"], shipped["ce+la"]),
        _cell(deeper["crl"], deeper["ce+la"]),
        _cell(deeper["crl-inst"], deeper["ce+la"]),
    ]
    # no spread: two seeds of one sign are p = 0.5 by the sign test
    assert expected[-1] == "-0.010 [-0.010, -0.010] (cannot tell)"
    assert (
        "   * - fashion-lt100-cnn\n" + "".join(f"     - {e}\n" for e in expected)
        in table
    )
