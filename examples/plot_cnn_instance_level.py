"""
A CNN with embeddings: CRL at instance level on long-tailed images
==================================================================

At ``level="instance"`` CRL compares the samples' embeddings instead of their class
probabilities: the module returns ``(logits, embeddings)``. :class:`skcrl.SmallCNN`
does so with ``return_embeddings=True``, which the estimator sets for
``level="instance"``; image-shaped input ``(n, 1, 8, 8)`` passes to it as it is.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, recall_score

from skcrl import CRLClassifier, SmallCNN
from skcrl.datasets import load_digits_long_tailed

torch.set_num_threads(1)
data = load_digits_long_tailed(imbalance_ratio=20, as_images=True, random_state=0)
print("images:", data.X_train.shape, "per digit:", np.bincount(data.y_train))

# SmallCNN is sized from the data: 10 classes, 1 channel, and the embeddings
# for level="instance"; the budget is the estimator's default
common = dict(module=SmallCNN, random_state=0)
models = {
    "cross-entropy": CRLClassifier(alpha=0.0, logit_adjustment=0.0, **common),
    "CRL, class level": CRLClassifier(level="class", **common),
    "CRL, instance level": CRLClassifier(level="instance", **common),
}
recalls = {}
for name, clf in models.items():
    y_pred = clf.fit(data.X_train, data.y_train).predict(data.X_test)
    recalls[name] = recall_score(data.y_test, y_pred, average=None)
    score = balanced_accuracy_score(data.y_test, y_pred)
    print(f"{name:>20}: alpha {clf.alpha_:.2f}, balanced accuracy {score:.3f}")

# %%
# Recall per digit, from the head (digit 0, most training images) to the tail. One
# seed: differences of a few points between the three are within what another seed
# would move.
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, recall in recalls.items():
    ax.plot(np.arange(10), recall, marker="o", label=name)
ax.set_xlabel("digit (training images: many → few)")
ax.set_ylabel("test recall")
ax.legend()
fig.tight_layout()

# %%
# The embeddings the instance-level model learned, projected on their first two
# principal directions (of the L2-normalised vectors CRL compares).
clf = models["CRL, instance level"]
with torch.no_grad():
    _, embeddings = clf.module_(torch.as_tensor(data.X_test))
unit = torch.nn.functional.normalize(embeddings, dim=1)
centred = unit - unit.mean(dim=0)
_, _, directions = torch.linalg.svd(centred, full_matrices=False)
projected = (centred @ directions[:2].T).numpy()
fig, ax = plt.subplots(figsize=(5, 4))
points = ax.scatter(*projected.T, c=data.y_test, cmap="tab10", s=8)
fig.colorbar(points, ax=ax, label="digit")
ax.set_title("test embeddings, instance-level CRL")
fig.tight_layout()
