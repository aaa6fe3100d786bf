"""``python -m skcrl``: the quick mode end to end, and the step budget."""

import csv
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    TunedThresholdClassifierCV,
)

from skcrl.__main__ import DEMO_METHODS, main, parse_args
from skcrl.benchmark import (
    DATASETS,
    METHODS,
    SUITE,
    TUNING_GRID,
    DataSet,
    build,
    csv_dataset,
    run_comparison,
    summarise,
)
from skcrl.datasets import load_digits_long_tailed

# the benchmark scripts, importable as modules
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fresh_defaults
import image_curves
import run_suite


def test_quick_mode_end_to_end(tmp_path, capsys):
    assert main(["--quick", "--no-progress", "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| method | balanced_accuracy" in printed
    for name in ("ce", "ce+balanced", "ce+ros", "crl"):
        assert f"| {name} |" in printed
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    # the classes by name, with their test rows (50 of each digit)
    assert {f"recall_{digit}" for digit in range(10)} <= set(rows[0])
    assert {rows[0][f"test_rows_{digit}"] for digit in range(10)} == {"50"}
    assert all(0 <= float(r["balanced_accuracy"]) <= 1 for r in rows)
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["quick"] is True and settings["epochs"] == 5


def test_quick_mode_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("skcrl.__main__.plotting_available", lambda: False)
    assert main(["--quick", "--no-progress", "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert 'pip install "skcrl[plot]"' in printed
    assert "wrote" in printed and "comparison.png" not in printed.split("wrote")[-1]
    assert not (tmp_path / "comparison.png").exists()
    assert (tmp_path / "results.csv").exists()


def test_plot_says_which_extra_it_needs(monkeypatch):
    from skcrl.benchmark import _report

    monkeypatch.setattr(_report, "plotting_available", lambda: False)
    with pytest.raises(ImportError, match=r"skcrl\[plot\]"):
        _report.plot([], "unused.png", title="none")


def test_help_and_defaults():
    args = parse_args([])
    assert args.dataset == "digits" and args.seeds == [0, 1, 2]
    assert args.methods == list(DEMO_METHODS)
    assert parse_args(["--methods", "all"]).methods == list(METHODS)
    with pytest.raises(SystemExit):
        parse_args(["--methods", "magic"])


def test_every_method_gets_the_same_optimiser_steps():
    steps, batch_size = 60, 32
    for method in METHODS.values():
        if not method.neural:  # a reference model has no optimiser steps
            continue
        for n_train in (100, 250, 1000):
            labels = np.arange(n_train) % 3  # for the methods that read them
            estimator = build(
                method,
                n_train=n_train,
                steps=steps,
                seed=0,
                batch_size=batch_size,
                labels=labels,
            )
            if isinstance(estimator, (GridSearchCV, TunedThresholdClassifierCV)):
                estimator = estimator.estimator
            classifier = estimator[-1] if hasattr(estimator, "steps") else estimator
            per_epoch = math.ceil(n_train / batch_size)
            # rounded to whole epochs: within half an epoch of the budget
            assert abs(classifier.max_epochs * per_epoch - steps) <= per_epoch / 2 + 1


def test_seeds_pair_the_methods_and_scores_are_sane():
    records = run_comparison(methods=["ce", "crl"], seeds=[0], epochs=2, progress=False)
    assert [r["method"] for r in records] == ["ce", "crl"]
    for r in records:
        assert len(r["recall_per_class"]) == 10
        assert 0 <= r["tail_recall"] <= 1
    summary = summarise(records)
    assert summary[0]["balanced_accuracy"] >= summary[1]["balanced_accuracy"]


def test_unknown_method_or_dataset():
    with pytest.raises(ValueError, match="unknown methods"):
        run_comparison(methods=["magic"], progress=False)
    with pytest.raises(ValueError, match="unknown dataset"):
        run_comparison("cifar", progress=False)


def test_a_natural_binary_set():
    records = run_comparison(
        "ecoli4", methods=["ce", "crl"], seeds=[0], epochs=2, progress=False
    )
    assert all(len(r["recall_per_class"]) == 2 for r in records)


def test_fashion_trains_the_small_cnn(monkeypatch, tmp_path):
    from test_datasets import fake_fashion_files

    from skcrl import SmallCNN, datasets

    monkeypatch.setattr(datasets, "FASHION_MNIST_HOME", fake_fashion_files(tmp_path))
    assert DATASETS["fashion"].network["module"] is SmallCNN
    records = run_comparison(
        "fashion",
        methods=["ce", "crl-inst"],
        seeds=[0],
        epochs=1,
        imbalance_ratio=4,
        progress=False,
    )
    assert [len(r["recall_per_class"]) for r in records] == [10, 10]


def test_run_comparison_on_your_own_data_set():
    calls = []

    def load(*, imbalance_ratio, random_state):
        calls.append((imbalance_ratio, random_state))
        return load_digits_long_tailed(
            imbalance_ratio=imbalance_ratio, random_state=random_state
        )

    own = DataSet(load, {"module__hidden_layer_sizes": (16,)})
    records = run_comparison(
        own, methods=["ce"], seeds=[3, 4], epochs=1, imbalance_ratio=5, progress=False
    )
    assert calls == [(5, 3), (5, 4)]
    assert [r["seed"] for r in records] == [3, 4]
    with pytest.raises(ValueError, match=r"skcrl\.benchmark\.DataSet"):
        run_comparison("mnist", methods=["ce"], progress=False)


def _payments(tmp_path, n=240):
    rng = np.random.default_rng(0)
    fraud = rng.random(n) < 0.1
    table = pd.DataFrame(
        {
            "amount": rng.normal(size=n) + 2.0 * fraud,
            "hour": rng.integers(0, 24, size=n).astype(float),
            "shop": rng.choice(["grocer", "online", "fuel"], size=n),
            "fraud": np.where(fraud, "yes", "no"),
        }
    )
    table.loc[::17, "amount"] = np.nan  # missing values are imputed
    table.loc[::23, "shop"] = np.nan
    path = tmp_path / "payments.csv"
    table.to_csv(path, index=False)
    return path, table


def test_your_own_table_end_to_end(tmp_path, capsys):
    path, table = _payments(tmp_path)
    out = tmp_path / "out"
    argv = ["--csv", str(path), "--target", "fraud", "--methods", "ce", "crl"]
    argv += ["--seeds", "0", "--epochs", "2", "--no-progress", "--output", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "payments.csv, seeds [0]" in printed and "| crl |" in printed
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == ["ce", "crl"]
    # the test part keeps the table's imbalance: 30 % of each class
    data = csv_dataset(path, "fraud").load(random_state=0)
    for label in ("yes", "no"):
        n = int((table["fraud"] == label).sum())
        assert abs(int((data.y_test == label).sum()) - 0.3 * n) <= 1
    # 2 numeric columns, 3 shops one-hot; no NaN left
    assert data.X_train.shape[1] == 5 and np.isfinite(data.X_train).all()


def test_table_errors(tmp_path):
    path, table = _payments(tmp_path)
    with pytest.raises(SystemExit):
        parse_args(["--csv", str(path)])
    with pytest.raises(ValueError, match="no column 'label'"):
        csv_dataset(path, "label")
    table.loc[0, "fraud"] = "maybe"
    table.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"\['maybe'\] .* single row"):
        csv_dataset(path, "fraud")


def test_tuned_method_searches_the_training_part_only(monkeypatch):
    estimator = build(METHODS["crl-tuned"], n_train=300, steps=30, seed=4)
    assert isinstance(estimator, GridSearchCV)
    assert estimator.param_grid == TUNING_GRID
    assert estimator.scoring == "balanced_accuracy"
    assert isinstance(estimator.cv, StratifiedKFold)
    assert (estimator.cv.n_splits, estimator.cv.random_state) == (3, 4)
    # end to end, on a grid of two settings to stay fast
    small = dataclasses.replace(METHODS["crl-tuned"], search={"eta": [0.5, 2.0]})
    monkeypatch.setitem(METHODS, "crl-tuned", small)
    records = run_comparison(methods=["crl-tuned"], seeds=[0], epochs=1, progress=False)
    assert 0 <= records[0]["balanced_accuracy"] <= 1


def test_variants_add_one_thing_to_the_plain_loss():
    from torch.utils.data import DataLoader

    from skcrl import ClassAwareDataLoader

    assert METHODS["ce+la"].classifier == {"alpha": 0.0, "logit_adjustment": 1.0}
    plain = METHODS["crl-plain"].classifier
    assert plain["logit_adjustment"] == 0 and plain["memory_size"] == 0
    assert plain["iterator_train"] is DataLoader
    changes = {
        "crl+la": {"logit_adjustment": 1.0},
        "crl+memory": {"memory_size": 1024},
        "crl+sampler": {"iterator_train": ClassAwareDataLoader},
    }
    for name, change in changes.items():
        assert METHODS[name].classifier == {**plain, **change}
    # "crl" is the estimator at its defaults: it sets nothing else
    assert METHODS["crl"].classifier == {"level": "class", "comparison": "relative"}


def test_suite_tasks_have_their_kind():
    assert len(SUITE) >= 8
    kinds = [task.kind for task in SUITE.values()]
    assert kinds.count("multi-class") >= 4 and kinds.count("binary") >= 3
    assert "attributes" in kinds
    for task in SUITE.values():
        if task.dataset.startswith("fashion"):
            continue  # needs the Debian package
        data = task.load(seed=0)
        n_labels = len(np.unique(data.y_train))
        if task.kind == "attributes":
            assert data.y_train.ndim == 2
        elif task.kind == "binary":
            assert n_labels == 2
        else:
            assert n_labels >= 5


def test_smote_fits_a_tail_of_three():
    # digits at ratio 40 keeps 3 training images of its rarest digit: SMOTE's
    # default 5 neighbours would need 6
    records = run_comparison(
        methods=["ce+smote"], seeds=[0], epochs=1, imbalance_ratio=40, progress=False
    )
    assert 0 <= records[0]["balanced_accuracy"] <= 1


def test_cross_entropy_methods_are_plain():
    # the estimator's default adjusts the logits: every "ce" method but ce+la must
    # turn that off, or the baselines would not be plain cross-entropy
    for name, method in METHODS.items():
        if name.startswith("ce"):
            assert method.classifier["alpha"] == 0.0
            expected = 1.0 if name == "ce+la" else 0.0
            assert method.classifier["logit_adjustment"] == expected, name


def test_threshold_methods_tune_on_the_training_part_of_binary_tasks():
    for name, classifier in (("ce+threshold", METHODS["ce"]), ("crl+threshold", None)):
        estimator = build(METHODS[name], n_train=300, steps=30, seed=4)
        assert isinstance(estimator, TunedThresholdClassifierCV)
        assert estimator.scoring == "balanced_accuracy"
        assert isinstance(estimator.cv, StratifiedKFold)
        assert (estimator.cv.n_splits, estimator.cv.random_state) == (3, 4)
        if classifier is not None:  # the same network and loss as the plain method
            assert estimator.estimator.get_params()["alpha"] == 0.0
    records = run_comparison(
        "ecoli4",
        methods=["ce", "ce+threshold"],
        seeds=[0],
        epochs=2,
        progress=False,
    )
    assert [r["method"] for r in records] == ["ce", "ce+threshold"]
    assert 0 <= records[1]["balanced_accuracy"] <= 1


def test_threshold_methods_are_skipped_on_multi_class_tasks():
    with pytest.warns(UserWarning, match="binary tasks only"):
        records = run_comparison(
            methods=["ce", "crl+threshold"], seeds=[0], epochs=1, progress=False
        )
    assert [r["method"] for r in records] == ["ce"]


def test_the_command_notes_skipped_threshold_methods(tmp_path, capsys):
    argv = ["--methods", "ce", "ce+threshold", "--seeds", "0", "--epochs", "1"]
    assert main([*argv, "--no-progress", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "note: ce+threshold: a decision threshold is tuned on binary" in out
    assert "| ce |" in out and "| ce+threshold |" not in out


# -- the image track and the deep long-tail baselines ------------------------------


def test_baselines_get_their_arguments_from_the_training_labels():
    from skcrl import DeferredReweighting, FocalLoss, LDAMLoss, effective_number_weight

    y = np.repeat([0, 1, 2], [40, 10, 2])
    for name, beta in (("ce+cb", 0.9999), ("ce+cb-0.999", 0.999)):
        estimator = build(METHODS[name], n_train=52, steps=4, seed=0, labels=y)
        assert estimator.class_weight == effective_number_weight(y, beta=beta)
    first, second = (
        build(METHODS["ldam-drw"], n_train=52, steps=4, seed=0, labels=y)
        for _ in range(2)
    )
    assert first.criterion is LDAMLoss
    assert first.criterion__class_counts.tolist() == [40, 10, 2]
    (drw,) = first.callbacks
    assert isinstance(drw, DeferredReweighting) and drw.start == 0.8
    assert drw is not second.callbacks[0]  # a fresh callback per estimator
    assert build(METHODS["focal"], n_train=52, steps=4, seed=0).criterion is FocalLoss
    with pytest.raises(ValueError, match="labels=y_train"):
        build(METHODS["ce+cb"], n_train=52, steps=4, seed=0)


def test_baselines_run_in_the_comparison():
    records = run_comparison(
        methods=["focal", "ce+cb", "ldam-drw"], seeds=[0], epochs=2, progress=False
    )
    for record in records:
        assert 0 <= record["balanced_accuracy"] <= 1
        assert np.isfinite(record["log_loss"])  # probabilities, not raw logits


def test_image_tasks_train_the_small_cnn_on_images():
    from skcrl import SmallCNN
    from skcrl.benchmark import IMAGE_ATTRIBUTE_METHODS, IMAGE_METHODS, TRACKS

    images = {name: task for name, task in SUITE.items() if task.track == "images"}
    assert set(TRACKS) == {task.track for task in SUITE.values()}
    assert {task.kind for task in images.values()} == {
        "multi-class",
        "binary",
        "attributes",
    }
    for task in images.values():
        assert task.network["module"] is SmallCNN
        expected = (
            IMAGE_ATTRIBUTE_METHODS if task.kind == "attributes" else IMAGE_METHODS
        )
        assert task.methods == expected
    for task in SUITE.values():
        if task.track == "tabular":
            assert task.methods is None and "module" not in task.network
    data = SUITE["digits-lt40-cnn"].load(seed=0)
    assert data.X_train.shape[1:] == (1, 8, 8)
    assert np.bincount(data.y_train).tolist()[-1] == 3
    records = run_comparison(
        DataSet(
            lambda imbalance_ratio, random_state: SUITE["digits-lt10-cnn"].load(
                random_state
            ),
            SUITE["digits-lt10-cnn"].network,
        ),
        methods=["ce+la", "crl-inst"],
        seeds=[0],
        epochs=1,
        progress=False,
    )
    assert [len(r["recall_per_class"]) for r in records] == [10, 10]


def test_the_rare_fashion_task_is_its_tail_class(monkeypatch, tmp_path):
    from test_datasets import fake_fashion_files

    from skcrl import datasets

    monkeypatch.setattr(datasets, "FASHION_MNIST_HOME", fake_fashion_files(tmp_path))
    task = SUITE["fashion-rare-cnn"]
    data = task.load(seed=0)
    # the fake images are filled with their class id: the positives are class 9
    positives = data.X_train[data.y_train == 1]
    assert len(positives) and np.allclose(positives * 255, 9)
    assert data.y_test.sum() == 12 and list(data.target_names) == [
        "not Ankle boot",
        "Ankle boot",
    ]
    attributes = SUITE["fashion-attributes-cnn"].load(seed=0)
    assert attributes.X_train.shape[1:] == (1, 28, 28)
    assert attributes.y_train.ndim == 2


def test_run_suite_picks_a_track_and_keeps_earlier_runs(monkeypatch, tmp_path):
    ran = []

    def fake_task(name, methods, seeds, output, device, channels, epochs):
        assert device == "cpu"  # no CUDA here: the default falls back
        assert channels is None and epochs == 30
        ran.append((name, methods))
        return name, 60.0, ["verdict"]

    monkeypatch.setattr(run_suite, "run_task", fake_task)
    run_suite.main(["--track", "images", "--n-jobs", "1", "--output", str(tmp_path)])
    images = {name for name, task in SUITE.items() if task.track == "images"}
    assert {name for name, _ in ran} == images
    first = json.loads((tmp_path / "digits-lt10-cnn.json").read_text())
    assert first["minutes"] == 1.0 and "earlier" not in first
    ran.clear()
    run_suite.main(
        [
            "--tasks",
            "digits-lt10-cnn",
            "--methods",
            "focal",
            "--n-jobs",
            "1",
            "--output",
            str(tmp_path),
        ]
    )
    assert ran == [("digits-lt10-cnn", ["focal"])]
    second = json.loads((tmp_path / "digits-lt10-cnn.json").read_text())
    assert second["methods"] == ["focal"] and second["earlier"] == first
    ran.clear()
    run_suite.main(["--n-jobs", "1", "--output", str(tmp_path / "tabular")])
    assert {name for name, _ in ran} == set(SUITE) - images


def test_run_suite_deeper_variant_reaches_the_network(monkeypatch, tmp_path):
    import skcrl.benchmark

    networks = []

    def fake_comparison(dataset, **kwargs):
        networks.append(dataset.network)
        return [dict(method="ce", seed=0, balanced_accuracy=0.5, seconds=1.0)]

    monkeypatch.setattr(skcrl.benchmark, "run_comparison", fake_comparison)
    monkeypatch.setattr(skcrl.benchmark, "write_csv", lambda records, path: None)
    for task in ("digits-lt10-cnn", "digits-lt10"):
        run_suite.run_task(task, ["ce"], [0], tmp_path, channels=[4, 8])
    cnn, mlp = networks
    assert cnn["module__channels"] == (4, 8)
    assert "module__channels" not in mlp  # the MLP of a tabular task has none


def test_image_curves_leave_the_training_run_as_it_was(monkeypatch):
    # scoring the test part after each epoch must not move the random stream:
    # epoch 2 of a 4-epoch curve is the comparison's 2-epoch run
    monkeypatch.setattr(image_curves, "EPOCHS", 4)
    curve = image_curves.curve("digits-lt40-cnn", "ce")
    assert len(curve["train_loss"]) == 4
    task = SUITE["digits-lt40-cnn"]
    (record,) = run_comparison(
        DataSet(
            lambda imbalance_ratio, random_state: task.load(random_state), task.network
        ),
        methods=["ce"],
        seeds=[0],
        epochs=2,
        progress=False,
    )
    assert curve["test_balanced_accuracy"][1] == record["balanced_accuracy"]


def test_comparison_methods_are_the_estimators_defaults():
    """The comparison's CE and CRL methods are CRLClassifier() but for each
    method's own switches and the step-matched max_epochs."""
    from skcrl import CRLClassifier as Estimator
    from skcrl.benchmark import METHODS, build, default_budget

    defaults = Estimator().get_params()
    budget = default_budget()
    n_train = 300
    steps = budget["epochs"] * -(-n_train // budget["batch_size"])
    for name in ("ce", "ce+la", "ce+balanced", "crl", "crl+balanced"):
        method = METHODS[name]
        built = build(method, n_train=n_train, steps=steps, seed=0)
        params = built.get_params()
        own = {**method.classifier, "random_state": 0}
        assert params["max_epochs"] == defaults["max_epochs"]  # no sampler: same
        for key, value in defaults.items():
            if key in own or key.startswith("callbacks"):
                continue  # callback instances are fresh per estimator
            assert params[key] == value, (name, key)


def test_fresh_defaults_replace_the_default_only_on_a_significant_gain():
    """A neighbour 0.02 ahead on every task and seed (spread 0.001) replaces the
    default; one level with it, or ahead on one task only, does not."""
    rng = np.random.default_rng(0)
    tasks = fresh_defaults.tabular_tasks()
    gains = {"eta=1 la=1 shuffled memory=0": 0.02}
    rows = []
    for name in fresh_defaults.settings():
        for t, task in enumerate(tasks):
            for seed in fresh_defaults.SEEDS:
                score = 0.8 + gains.get(name, 0.0) + rng.normal(0, 0.001)
                if name == "eta=2 la=1 shuffled memory=0" and t == 0:
                    score += 0.05  # one task only: 3 of 45 pairs
                rows.append(dict(task=task, seed=str(seed), setting=name, score=score))
    result = fresh_defaults.analyse(rows)
    assert result["against"]["eta 1"]["verdict"] == "better"
    assert result["against"]["eta 2"]["verdict"] == "cannot tell"
    assert result["against"]["eta 2"]["best_task"] == tasks[0]
    assert result["better_neighbours"] == ["eta 1"]
    assert result["defaults_hold"] is False
