"""The vectorised loss against the loop-based reference on many random batches."""

import pytest
import torch
from batches import random_batch
from reference_crl import reference_crl_loss

from skcrl import crl_loss

COMPARISONS = ["relative", "absolute", "distribution"]
SETTINGS = [
    ("class", False, "shared"),
    ("class", True, "shared"),
    ("instance", False, "shared"),
    ("instance", True, "shared"),
    ("instance", True, "per_attribute"),
]
N_BATCHES = 25


def _values_and_gradients(loss_fn, logits, target, embeddings, **params):
    logits = logits.clone().requires_grad_()
    embeddings = embeddings.clone().requires_grad_()
    loss = loss_fn(logits, target, embeddings=embeddings, **params)
    inputs = (logits, embeddings)
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    # Class level does not use the embeddings, the reference's instance level
    # not the logits: no gradient means a zero gradient.
    grads = [
        torch.zeros_like(x) if g is None else g
        for x, g in zip(inputs, grads, strict=True)
    ]
    return (loss.detach(), *grads)


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize(("level", "multi_label", "embedding"), SETTINGS)
def test_matches_reference(level, multi_label, embedding, comparison):
    n_nonzero = 0
    for seed in range(N_BATCHES):
        logits, target, embeddings, k, margin, rho = random_batch(
            seed, multi_label=multi_label, embedding=embedding
        )
        params = dict(level=level, comparison=comparison, k=k, margin=margin, rho=rho)
        got = _values_and_gradients(crl_loss, logits, target, embeddings, **params)
        want = _values_and_gradients(
            reference_crl_loss, logits, target, embeddings, **params
        )
        for name, g, w in zip(
            ("value", "d/dlogits", "d/dembeddings"), got, want, strict=True
        ):
            torch.testing.assert_close(
                g,
                w,
                rtol=1e-9,
                atol=1e-12,
                msg=lambda m, s=seed, n=name: f"{n}, {s=}: {m}",
            )
        n_nonzero += bool(want[0] != 0)
    # The draw must exercise the loss, not only its empty case.
    assert n_nonzero >= N_BATCHES // 3
