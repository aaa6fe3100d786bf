"""Learning curves of the image track, and the shipped CNN against the default MLP
on the same pixels.

    python benchmarks/image_curves.py --output docs/results/image_curves.json \
        --plot docs/results/image_curves.png          # ~6 min on 2 cores

Curves: ``ce``, ``ce+la``, ``focal``, ``ldam-drw`` and ``crl`` on each multi-class
and binary task of the image track (seed 0), trained as ``run_suite.py --track
images`` trains them but for twice its 30 epochs, with the training loss and the
test-part balanced accuracy after every epoch. The test part is scored only to
draw the curves (is 30 epochs enough for the baselines to converge?); nothing is
chosen by it.

CNN against MLP: the logit-adjusted cross-entropy
(``CRLClassifier(alpha=0, logit_adjustment=1, memory_size=0)``, every other
setting the estimator's default, 30 epochs) with ``SmallCNN`` on the images and
with the default MLP on the same pixels flattened, seeds 0-2, paired. On
long-tailed Fashion-MNIST at ratio 20 with a head of 350 (1,187 training images)
and at the suite's ratio 100 (2,478).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from run_suite import BUDGET

CURVE_METHODS = ("ce", "ce+la", "focal", "ldam-drw", "crl")
CURVE_TASKS = (
    "fashion-lt100-cnn",
    "fashion-rare-cnn",
    "digits-lt10-cnn",
    "digits-lt40-cnn",
)
EPOCHS = 2 * BUDGET["epochs"]  # twice the suite's budget
#: the suite's batches and learning rate (its epochs are EPOCHS here)
SUITE_BUDGET = {k: v for k, v in BUDGET.items() if k != "epochs"}
#: (label, imbalance ratio, head class size) of the CNN-against-MLP data
PIXEL_SETS = (("fashion-lt20-350", 20.0, 350), ("fashion-lt100", 100.0, 1000))


def _test_scorer(X, y):
    import torch
    from sklearn.metrics import balanced_accuracy_score
    from skorch.callbacks import Callback

    class TestScore(Callback):
        # the curve only: the fit reads nothing of it, nor of the random state
        # that predict's DataLoader draws from, so the first 30 epochs are the
        # suite's seed-0 run
        def on_epoch_end(self, net, **kwargs):
            state = torch.get_rng_state()
            score = balanced_accuracy_score(y, net.predict(X))
            torch.set_rng_state(state)
            net.history.record("test_balanced_accuracy", float(score))

    return TestScore()


def curve(task_name, method_name, seed=0):
    import torch

    from skcrl.benchmark import METHODS, SUITE, build

    torch.set_num_threads(1)
    task = SUITE[task_name]
    data = task.load(seed)
    n_batches = -(-len(data.y_train) // SUITE_BUDGET["batch_size"])
    estimator = build(
        METHODS[method_name],
        n_train=len(data.y_train),
        steps=EPOCHS * n_batches,
        seed=seed,
        labels=data.y_train,
        **SUITE_BUDGET,
        **task.network,
    )
    estimator.set_params(
        callbacks=[*(estimator.callbacks or []), _test_scorer(data.X_test, data.y_test)]
    )
    estimator.fit(data.X_train, data.y_train)
    history = estimator.history
    return dict(
        task=task_name,
        method=method_name,
        train_loss=[float(v) for v in history[:, "train_loss"]],
        test_balanced_accuracy=history[:, "test_balanced_accuracy"],
    )


def cnn_against_mlp(label, ratio, head, seed):
    import torch
    from sklearn.metrics import balanced_accuracy_score

    from skcrl import CRLClassifier, SmallCNN
    from skcrl.datasets import load_fashion_mnist_long_tailed

    torch.set_num_threads(1)
    data = load_fashion_mnist_long_tailed(
        imbalance_ratio=ratio, n_max=head, random_state=seed
    )
    logit_adjusted = dict(
        alpha=0, logit_adjustment=1, memory_size=0, max_epochs=30, random_state=seed
    )
    scores = {}
    for name, module, flat in (
        ("cnn", dict(module=SmallCNN, module__n_classes=10), False),
        ("mlp", {}, True),
    ):
        X_train, X_test = data.X_train, data.X_test
        if flat:
            X_train = X_train.reshape(len(X_train), -1)
            X_test = X_test.reshape(len(X_test), -1)
        start = time.perf_counter()
        clf = CRLClassifier(**logit_adjusted, **module).fit(X_train, data.y_train)
        scores[name] = float(balanced_accuracy_score(data.y_test, clf.predict(X_test)))
        scores[f"{name}_seconds"] = time.perf_counter() - start
    return dict(data=label, n_train=len(data.y_train), seed=seed, **scores)


def plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(c["task"] for c in curves))
    figure, axes = plt.subplots(
        2, len(tasks), figsize=(3.6 * len(tasks), 6), squeeze=False
    )
    for column, task in enumerate(tasks):
        for c in (c for c in curves if c["task"] == task):
            epochs = np.arange(1, len(c["train_loss"]) + 1)
            axes[0, column].plot(epochs, c["train_loss"], label=c["method"])
            axes[1, column].plot(epochs, c["test_balanced_accuracy"], label=c["method"])
        axes[0, column].set_title(task)
        axes[0, column].set_yscale("log")
        for row in range(2):
            axes[row, column].axvline(30, color="grey", lw=0.8, ls="--")
        axes[1, column].set_xlabel("epoch")
    axes[0, 0].set_ylabel("training loss")
    axes[1, 0].set_ylabel("test balanced accuracy")
    axes[1, 0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main(argv=None):
    from joblib import Parallel, delayed

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(CURVE_TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    jobs = [delayed(curve)(t, m) for t in args.tasks for m in CURVE_METHODS]
    jobs += [
        delayed(cnn_against_mlp)(label, ratio, head, seed)
        for label, ratio, head in PIXEL_SETS
        for seed in args.seeds
    ]
    done = Parallel(n_jobs=args.n_jobs)(jobs)
    curves = [d for d in done if "train_loss" in d]
    pixels = [d for d in done if "cnn" in d]

    from skcrl.benchmark import paired_difference

    print("CNN against the default MLP, logit-adjusted cross-entropy, 30 epochs:")
    for label, _, _ in PIXEL_SETS:
        mine = [p for p in pixels if p["data"] == label]
        d = paired_difference([p["cnn"] for p in mine], [p["mlp"] for p in mine])
        print(
            f"  {label} ({mine[0]['n_train']} images): CNN "
            f"{np.mean([p['cnn'] for p in mine]):.3f}, MLP "
            f"{np.mean([p['mlp'] for p in mine]):.3f}, CNN - MLP {d}"
        )
    print("Test balanced accuracy at epochs 30 and 60:")
    for c in curves:
        score = c["test_balanced_accuracy"]
        print(f"  {c['task']:>18} {c['method']:>9}: {score[29]:.3f} {score[-1]:.3f}")
    if args.output:
        import torch

        from skcrl import __version__

        run = dict(
            command="python benchmarks/image_curves.py " + " ".join(sys.argv[1:]),
            epochs=EPOCHS,
            **SUITE_BUDGET,
            skcrl=__version__,
            torch=torch.__version__,
            machine=f"{platform.machine()}, {os.cpu_count()} cores",
            minutes=round((time.perf_counter() - start) / 60, 1),
        )
        args.output.write_text(
            json.dumps(dict(run=run, curves=curves, cnn_against_mlp=pixels), indent=1)
        )
    if args.plot:
        plot(curves, args.plot)


if __name__ == "__main__":
    main()
