"""
Quickstart: CRL on an imbalanced tabular problem
================================================

:class:`skcrl.CRLClassifier` is a scikit-learn classifier: ``fit``, ``predict``,
``predict_proba``. Here it learns scikit-learn's breast-cancer data made imbalanced
(malignant tumours subsampled to 1 in 21), against the same network trained with
plain cross-entropy (``alpha=0, logit_adjustment=0``).
"""

# %%
# Data: a rare positive class
# ---------------------------
# ``make_imbalance`` of imbalanced-learn keeps 15 malignant samples out of 212 in the
# training part; the test part keeps its natural rate.
import matplotlib.pyplot as plt
import numpy as np
import torch
from imblearn.datasets import make_imbalance
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import ConfusionMatrixDisplay, balanced_accuracy_score
from sklearn.model_selection import train_test_split

from skcrl import CRLClassifier

torch.set_num_threads(1)
data = load_breast_cancer()
labels = data.target_names[data.target]  # "malignant" / "benign"
X_train, X_test, y_train, y_test = train_test_split(
    data.data, labels, test_size=0.4, stratify=labels, random_state=0
)
X_train, y_train = make_imbalance(
    X_train,
    y_train,
    sampling_strategy={"malignant": 10, "benign": (y_train == "benign").sum()},
    random_state=0,
)
print(dict(zip(*np.unique(y_train, return_counts=True), strict=True)))

# %%
# Cross-entropy against CRL
# -------------------------
# The same MLP, seed and epochs; only the loss differs. CRL at its defaults weighs
# its term by ``alpha = min(1, eta * Omega_imb)`` of the training labels and trains
# the cross-entropy part on logit-adjusted logits. The default MLP standardises
# the features itself (fitted on the training rows), so the raw table goes in.
common = dict(random_state=0)
models = {
    "cross-entropy": CRLClassifier(alpha=0.0, logit_adjustment=0.0, **common),
    "CRL": CRLClassifier(**common),
}
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
for ax, (name, clf) in zip(axes, models.items(), strict=True):
    model = clf.fit(X_train, y_train)
    y_pred = model.predict(X_test)
    score = balanced_accuracy_score(y_test, y_pred)
    ConfusionMatrixDisplay.from_predictions(
        y_test, y_pred, ax=ax, colorbar=False, cmap="Blues"
    )
    ax.set_title(f"{name}\nbalanced accuracy {score:.3f}")
    print(f"{name}: alpha = {clf.alpha_:.2f}, balanced accuracy {score:.3f}")
fig.tight_layout()

# %%
# What the estimator learned
# --------------------------
# The fitted attributes say how imbalanced the labels were and how much weight CRL
# got; the history holds the two parts of the loss, per epoch and per batch.
clf = models["CRL"]
print("classes:", clf.classes_, "imbalance:", round(clf.imbalance_, 3))
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(clf.history[:, "train_ce"], label="cross-entropy part")
ax.plot(clf.history[:, "train_crl"], label="CRL part")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.legend()
fig.tight_layout()
