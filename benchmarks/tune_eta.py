"""Cross-validate ``eta`` alone on one data set's training parts.

The estimators' defaults are chosen by ``protocol_defaults.py`` over a whole
suite; this script answers the narrower question for one built-in set.

For each seed of the comparison (each a different split and long-tailed subsample of
the built-in data set), a 3-fold stratified cross-validation *of the training part*
scores every ``eta`` by balanced accuracy, with the comparison's network and
optimiser settings. The test parts are never touched.

    python benchmarks/tune_eta.py                       # digits, ratio 10, seeds 0-2
    python benchmarks/tune_eta.py --imbalance-ratio 20 --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skcrl import CRLClassifier, imbalance_measure
from skcrl.benchmark import DATASETS

ETAS = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    parser.add_argument("--imbalance-ratio", type=float, default=10.0)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--etas", nargs="+", type=float, default=ETAS)
    parser.add_argument("--epochs", type=int, default=CRLClassifier().max_epochs)
    parser.add_argument("--level", default="class")
    parser.add_argument("--comparison", default="relative")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    scores = np.zeros((len(args.seeds), len(args.etas)))
    for row, seed in enumerate(args.seeds):
        dataset = DATASETS[args.dataset]
        data = dataset.load(imbalance_ratio=args.imbalance_ratio, random_state=seed)
        omega = imbalance_measure(data.y_train)
        # the estimator's defaults, as the comparison trains them
        estimator = CRLClassifier(
            level=args.level,
            comparison=args.comparison,
            max_epochs=args.epochs,
            random_state=seed,
            **dataset.network,
        )
        search = GridSearchCV(
            estimator,
            {"eta": args.etas},
            cv=StratifiedKFold(3, shuffle=True, random_state=seed),
            scoring="balanced_accuracy",
            n_jobs=1,
        ).fit(data.X_train, data.y_train)
        scores[row] = search.cv_results_["mean_test_score"]
        print(
            f"seed {seed}: Omega_imb = {omega:.3f}; CV balanced accuracy by eta: "
            + ", ".join(
                f"{e:g}: {s:.3f}" for e, s in zip(args.etas, scores[row], strict=True)
            )
        )
    mean, std = scores.mean(axis=0), scores.std(axis=0)
    setting = f"{args.level}/{args.comparison}"
    ratio = f", ratio {args.imbalance_ratio:g}" if args.dataset == "digits" else ""
    print(f"\n{args.dataset}{ratio}, {setting}")
    print("| eta | alpha = min(1, eta * Omega) | CV balanced accuracy, mean ± std |")
    print("|---:|---:|---:|")
    for eta, m, s in zip(args.etas, mean, std, strict=True):
        print(f"| {eta:g} | {min(1.0, eta * omega):.2f} | {m:.3f} ± {s:.3f} |")
    print(f"\nbest eta: {args.etas[int(np.argmax(mean))]:g}")


if __name__ == "__main__":
    main()
