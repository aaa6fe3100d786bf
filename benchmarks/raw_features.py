"""The defaults on a real table whose features are on very different scales.

scikit-learn's breast cancer table (30 features, from about 0.001 to about
4,000), its malignant class cut to 1 in 20 of a stratified training half, ten
seeds (each its own split and cut). Balanced accuracy on the test half, which
keeps the natural rate, for:

- ``CRLClassifier(random_state=s)`` on the raw features (its MLP standardises
  them itself);
- the same behind a ``StandardScaler``;
- the same with ``module__standardize=False`` (the raw features reach the
  network: what the estimator did before it standardised);
- the former defaults (lr 0.001, batches of 128, a hidden layer of 64, 20
  epochs) on the raw features.

    python benchmarks/raw_features.py     # ~1 minute

Writes ``docs/results/raw_features.json``.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from imblearn.datasets import make_imbalance
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcrl import CRLClassifier

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "raw_features.json"
SEEDS = range(10)
RATE = 1 / 20
SETTINGS = {
    "defaults, raw features": lambda s: CRLClassifier(random_state=s),
    "defaults behind StandardScaler": lambda s: make_pipeline(
        StandardScaler(), CRLClassifier(random_state=s)
    ),
    "defaults, module__standardize=False": lambda s: CRLClassifier(
        module__standardize=False, random_state=s
    ),
    "former defaults, raw features": lambda s: CRLClassifier(
        lr=0.001,
        batch_size=128,
        max_epochs=20,
        module__hidden_layer_sizes=(64,),
        module__standardize=False,
        random_state=s,
    ),
}


def split(seed):
    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.5, stratify=data.target, random_state=seed
    )
    # malignant is label 0; keep 1 of its rows for every 19 benign ones
    n_rare = max(2, round((y_train == 1).sum() * RATE / (1 - RATE)))
    X_train, y_train = make_imbalance(
        X_train,
        y_train,
        sampling_strategy={0: n_rare, 1: int((y_train == 1).sum())},
        random_state=seed,
    )
    return X_train, X_test, y_train, y_test


def main():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    scores = {name: [] for name in SETTINGS}
    for seed in SEEDS:
        X_train, X_test, y_train, y_test = split(seed)
        for name, make in SETTINGS.items():
            model = make(seed).fit(X_train, y_train)
            scores[name].append(
                float(balanced_accuracy_score(y_test, model.predict(X_test)))
            )
    reference = np.array(scores["defaults behind StandardScaler"])
    report = {
        "command": "python benchmarks/raw_features.py",
        "data": "breast cancer, malignant cut to 1 in 20 of the training half",
        "seeds": list(SEEDS),
        "scores": {
            name: {
                "mean": float(np.mean(v)),
                "sd": float(np.std(v, ddof=1)),
                "min": float(np.min(v)),
                "minus_scaled": float(np.mean(np.array(v) - reference)),
                "per_seed": v,
            }
            for name, v in scores.items()
        },
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
    }
    OUTPUT.write_text(json.dumps(report, indent=1) + "\n")
    for name, entry in report["scores"].items():
        print(
            f"{name:40s} {entry['mean']:.3f} ± {entry['sd']:.3f} "
            f"(min {entry['min']:.3f}, {entry['minus_scaled']:+.3f} vs scaled)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
