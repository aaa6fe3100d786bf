"""
Tuning CRL with GridSearchCV
============================

CRL's hyper-parameters are ordinary constructor arguments, so scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` searches them like any other. Here:
``eta`` (the weight of the CRL term, ``alpha = min(1, eta * Omega_imb)``) and the
comparison, on long-tailed digits, scored by balanced accuracy on the training part
only.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skcrl import CRLClassifier
from skcrl.datasets import load_digits_long_tailed

torch.set_num_threads(1)
data = load_digits_long_tailed(imbalance_ratio=10, random_state=0)
print("training samples per digit:", np.bincount(data.y_train))

etas = [0.0, 1.0, 2.0, 4.0]
comparisons = ["relative", "absolute"]
search = GridSearchCV(
    CRLClassifier(random_state=0),
    {"eta": etas, "comparison": comparisons},
    scoring="balanced_accuracy",
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
).fit(data.X_train, data.y_train)

print("best:", search.best_params_, f"CV {search.best_score_:.3f}")
test_score = balanced_accuracy_score(data.y_test, search.predict(data.X_test))
print(f"test balanced accuracy of the refitted best model: {test_score:.3f}")

# %%
# The cross-validated scores, one cell per combination. ``eta = 4`` gives
# ``alpha = 1`` here (CRL without cross-entropy).
results = search.cv_results_
grid = np.array(
    [
        [
            results["mean_test_score"][
                (results["param_eta"] == eta) & (results["param_comparison"] == c)
            ][0]
            for eta in etas
        ]
        for c in comparisons
    ]
)
fig, ax = plt.subplots(figsize=(6, 2.6))
image = ax.imshow(grid, cmap="viridis")
ax.set_xticks(range(len(etas)), [f"eta={e:g}" for e in etas])
ax.set_yticks(range(len(comparisons)), comparisons)
for (row, col), value in np.ndenumerate(grid):
    ax.text(col, row, f"{value:.3f}", ha="center", va="center", color="white")
fig.colorbar(image, ax=ax, label="CV balanced accuracy")
fig.tight_layout()
