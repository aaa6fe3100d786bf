"""Small random batches for the loss tests."""

import numpy as np
import torch


def long_tailed_labels(rng, n, n_classes):
    """Labels with class c drawn with weight 2 ** -c: a few classes dominate."""
    weights = 2.0 ** -np.arange(n_classes)
    return rng.choice(n_classes, size=n, p=weights / weights.sum())


def random_batch(seed, *, multi_label=False, embedding="shared", dtype=torch.float64):
    """A small random batch: (logits, target, embeddings, k, margin, rho)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 36))
    dim = int(rng.integers(2, 6))
    if multi_label:
        n_out = int(rng.integers(1, 5))
        rates = rng.uniform(0.05, 0.6, size=n_out)
        target = torch.as_tensor((rng.random((n, n_out)) < rates).astype(np.int64))
        emb_shape = (n, n_out, dim) if embedding == "per_attribute" else (n, dim)
    else:
        n_out = int(rng.integers(2, 7))
        target = torch.as_tensor(long_tailed_labels(rng, n, n_out))
        emb_shape = (n, dim)
    logits = torch.as_tensor(rng.normal(scale=2.0, size=(n, n_out)), dtype=dtype)
    embeddings = torch.as_tensor(rng.normal(size=emb_shape), dtype=dtype)
    k = int(rng.choice([1, 2, 3, 5, 25]))
    margin = float(rng.choice([0.2, 0.5, 1.0]))
    rho = float(rng.choice([0.3, 0.5, 0.8, 1.0]))
    return logits, target, embeddings, k, margin, rho
