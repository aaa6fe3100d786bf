"""
Multi-label attributes: the paper's main setting
================================================

:class:`skcrl.CRLMultiLabelClassifier` trains one network for several binary
attributes, each an imbalanced task of its own. The built-in attribute set derives
five attributes from the digit of long-tailed digits, from 56 % down to 2.4 %
positive, and the paper's metric is the mean over attributes of the class-balanced
accuracy (:func:`skcrl.metrics.mean_balanced_accuracy_score`).
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from skcrl import ClassAwareDataLoader, CRLMultiLabelClassifier
from skcrl.datasets import load_digits_attributes
from skcrl.metrics import balanced_accuracy_per_attribute

torch.set_num_threads(1)
data = load_digits_attributes(random_state=0)
for name, rate in zip(data.attribute_names, data.Y_train.mean(axis=0), strict=True):
    print(f"{name:>12}: {rate:.1%} positive, digits {data.attribute_rules[name]}")

# %%
# The same MLP, seed and budget for each loss: plain binary cross-entropy
# (``alpha=0, logit_adjustment=0``), CRL at its defaults, each with and without class
# weighting, and CRL with class-aware batches, which bring each attribute's rare value
# in pairs (and so show the rare images more often).
common = dict(random_state=0)  # the estimator's default budget
bce = dict(alpha=0.0, logit_adjustment=0.0)
models = {
    "BCE": CRLMultiLabelClassifier(**bce, **common),
    "CRL": CRLMultiLabelClassifier(**common),
    "BCE, balanced": CRLMultiLabelClassifier(class_weight="balanced", **bce, **common),
    "CRL, balanced": CRLMultiLabelClassifier(class_weight="balanced", **common),
    "CRL, class-aware batches": CRLMultiLabelClassifier(
        iterator_train=ClassAwareDataLoader, **common
    ),
}
scores = {}
for name, clf in models.items():
    clf.fit(data.X_train, data.Y_train)
    scores[name] = balanced_accuracy_per_attribute(
        data.Y_test, clf.predict(data.X_test)
    )
    print(f"{name:>24}: mA {scores[name].mean():.3f} (alpha {clf.alpha_:.2f})")

# %%
# Class-balanced accuracy of each attribute, common to rare. One seed only: the
# results page (``python benchmarks/run_suite.py``) averages three.
fig, ax = plt.subplots(figsize=(8, 4.6))
width = 0.16
positions = np.arange(len(data.attribute_names))
for offset, (name, per_attribute) in enumerate(scores.items()):
    ax.bar(
        positions + (offset - 1.5) * width,
        per_attribute,
        width,
        label=f"{name} (mA {per_attribute.mean():.3f})",
    )
rates = data.Y_train.mean(axis=0)
ax.set_xticks(
    positions,
    [f"{n}\n{r:.1%}" for n, r in zip(data.attribute_names, rates, strict=True)],
)
ax.set_ylim(0.4, 1.0)
ax.set_ylabel("test class-balanced accuracy")
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
fig.tight_layout()
