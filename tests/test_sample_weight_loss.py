"""Sample weights in the loss (SPEC §10): weights in {0, 1} are the loss of the
kept rows; other weights match the loop-based reference, values and gradients."""

import numpy as np
import pytest
import torch
from batches import random_batch
from reference_crl import reference_crl_loss
from test_loss import _HostSyncSpy
from test_loss_reference import SETTINGS, _values_and_gradients, assert_matches

from skcrl import ClassRectificationLoss, crl_loss

COMPARISONS = ["relative", "absolute", "distribution"]
N_BATCHES = 20


def _weights(seed, n, kind):
    rng = np.random.default_rng(1000 + seed)
    if kind == "binary":
        weight = (rng.random(n) < 0.7).astype(float)
    else:
        weight = rng.choice([0.0, 0.3, 1.0, 2.5], size=n)
    return torch.as_tensor(weight, dtype=torch.float64)


def _weighted(loss_fn, weight):
    def loss(logits, target, embeddings=None, **params):
        return loss_fn(
            logits, target, embeddings=embeddings, sample_weight=weight, **params
        )

    return loss


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize(("level", "multi_label", "embedding"), SETTINGS)
def test_zero_one_weights_are_the_loss_of_the_kept_rows(
    level, multi_label, embedding, comparison
):
    n_nonzero = 0
    for seed in range(N_BATCHES):
        logits, target, embeddings, k, margin, rho = random_batch(
            seed, multi_label=multi_label, embedding=embedding
        )
        weight = _weights(seed, len(target), "binary")
        kept = weight > 0
        if kept.sum() < 2:
            continue
        params = dict(level=level, comparison=comparison, k=k, margin=margin, rho=rho)
        got = _values_and_gradients(
            _weighted(crl_loss, weight), logits, target, embeddings, **params
        )
        want = _values_and_gradients(
            crl_loss, logits[kept], target[kept], embeddings[kept], **params
        )
        torch.testing.assert_close(got[0], want[0], rtol=1e-9, atol=1e-12)
        for g, w in zip(got[1:], want[1:], strict=True):
            torch.testing.assert_close(g[kept], w, rtol=1e-9, atol=1e-12)
            assert not g[~kept].any()  # rows of weight 0 take no part
        n_nonzero += bool(want[0] != 0)
    assert n_nonzero >= N_BATCHES // 4


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize(("level", "multi_label", "embedding"), SETTINGS)
def test_weights_match_the_reference(level, multi_label, embedding, comparison):
    n_nonzero = 0
    for seed in range(N_BATCHES):
        logits, target, embeddings, k, margin, rho = random_batch(
            seed, multi_label=multi_label, embedding=embedding
        )
        weight = _weights(seed, len(target), "graded")
        params = dict(level=level, comparison=comparison, k=k, margin=margin, rho=rho)
        got = _values_and_gradients(
            _weighted(crl_loss, weight), logits, target, embeddings, **params
        )
        want = _values_and_gradients(
            _weighted(reference_crl_loss, weight), logits, target, embeddings, **params
        )
        assert_matches(got, want, seed)
        n_nonzero += bool(want[0] != 0)
    assert n_nonzero >= N_BATCHES // 4


@pytest.mark.parametrize("level", ["class", "instance"])
def test_memory_holds_weights(level):
    logits, target, embeddings, *_ = random_batch(3)
    weight = _weights(3, len(target), "graded")
    half = len(target) // 2
    batch = slice(0, half)
    held = slice(half, None)
    memory = (
        logits[held],
        target[held],
        embeddings[held] if level == "instance" else None,
        weight[held],
    )
    with_memory = crl_loss(
        logits[batch],
        target[batch],
        embeddings=embeddings[batch],
        sample_weight=weight[batch],
        memory=memory,
        level=level,
    )
    concatenated = crl_loss(
        logits, target, embeddings=embeddings, sample_weight=weight, level=level
    )
    torch.testing.assert_close(with_memory, concatenated, rtol=1e-12, atol=1e-12)


def test_the_module_keeps_weights_in_its_memory():
    logits, target, *_ = random_batch(5)
    weight = _weights(5, len(target), "graded")
    module = ClassRectificationLoss(1.0, memory_size=100)
    module.terms(logits, target, sample_weight=weight)
    torch.testing.assert_close(module.memory.weight, weight)
    # an unweighted batch after a weighted one: its rows weigh 1
    module.terms(logits, target)
    torch.testing.assert_close(
        module.memory.weight, torch.cat((torch.ones_like(weight), weight))
    )


def test_weighted_cross_entropy():
    logits, target, *_ = random_batch(7)
    weight = _weights(7, len(target), "graded")
    class_weight = torch.linspace(0.5, 2.0, logits.shape[1], dtype=torch.float64)
    module = ClassRectificationLoss(0.0, weight=class_weight)
    losses = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    c = class_weight[target]
    expected = (weight * c * losses).sum() / (weight * c).sum()
    torch.testing.assert_close(module(logits, target, sample_weight=weight), expected)


def test_weighted_binary_cross_entropy():
    logits, target, *_ = random_batch(7, multi_label=True)
    weight = _weights(7, len(target), "graded")
    module = ClassRectificationLoss(0.0)
    losses = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, target.double(), reduction="none"
    )
    expected = (weight[:, None] * losses).sum() / (weight.sum() * target.shape[1])
    torch.testing.assert_close(module(logits, target, sample_weight=weight), expected)


@pytest.mark.parametrize("level", ["class", "instance"])
@pytest.mark.parametrize("comparison", COMPARISONS)
def test_weighted_loss_does_not_wait_for_the_device(level, comparison):
    logits, target, embeddings, *_ = random_batch(11)
    weight = _weights(11, len(target), "graded")
    logits.requires_grad_()
    with _HostSyncSpy():
        loss = crl_loss(
            logits,
            target,
            embeddings=embeddings,
            sample_weight=weight,
            level=level,
            comparison=comparison,
        )
        loss.backward()
    assert logits.grad is not None


def test_weight_shape_is_checked():
    logits, target, *_ = random_batch(1)
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        crl_loss(logits, target, sample_weight=torch.ones(len(target) + 1))
