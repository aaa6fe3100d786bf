"""``python -m skcrl``: the quick mode end to end, and the step budget."""

import csv
import json
import math

import pytest

from skcrl.__main__ import main, parse_args
from skcrl.benchmark import (
    DATASETS,
    METHODS,
    DataSet,
    build,
    run_comparison,
    summarise,
)
from skcrl.datasets import load_digits_long_tailed


def test_quick_mode_end_to_end(tmp_path, capsys):
    assert main(["--quick", "--no-progress", "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| method | balanced_accuracy" in printed
    for name in ("ce", "ce+balanced", "ce+ros", "crl"):
        assert f"| {name} |" in printed
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert {"recall_class_rank_0", "recall_class_rank_9"} <= set(rows[0])
    assert all(0 <= float(r["balanced_accuracy"]) <= 1 for r in rows)
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["quick"] is True and settings["epochs"] == 5


def test_help_and_defaults():
    args = parse_args([])
    assert args.dataset == "digits" and args.seeds == [0, 1, 2]
    assert args.methods == list(METHODS)
    with pytest.raises(SystemExit):
        parse_args(["--methods", "magic"])


def test_every_method_gets_the_same_optimiser_steps():
    steps, batch_size = 60, 32
    for method in METHODS.values():
        for n_train in (100, 250, 1000):
            estimator = build(
                method, n_train=n_train, steps=steps, seed=0, batch_size=batch_size
            )
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
