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


def assert_matches(got, want, seed):
    """Value and gradients of the loss against the reference's, at 1e-9."""
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


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize(
    ("multi_label", "embedding"),
    [(False, "shared"), (True, "shared"), (True, "per_attribute")],
)
def test_instance_gradient_gathered_in_blocks_matches_reference(
    monkeypatch, multi_label, embedding, comparison
):
    # Small batches chain the instance-level gradient through one dense matrix
    # of pair weights per task, and mine all their anchors at once; large ones
    # gather it pair by pair and mine in blocks of anchors. Forced here, with
    # blocks of a few anchors, on the reference's batches.
    monkeypatch.setattr("skcrl._gates.DENSE_PAIRS", 0)
    monkeypatch.setattr("skcrl._gates.SIMILARITY_BLOCK", 64)
    test_matches_reference("instance", multi_label, embedding, comparison)


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
        assert_matches(got, want, seed)
        n_nonzero += bool(want[0] != 0)
    # The draw must exercise the loss, not only its empty case.
    assert n_nonzero >= N_BATCHES // 3


def _class_level_batches(multi_label, comparison, weighted):
    """N_BATCHES random batches with the class level's parameters:
    ``(logits, target, embeddings, params)``; with sample weights, a fifth of
    them 0."""
    for seed in range(N_BATCHES):
        logits, target, embeddings, k, margin, rho = random_batch(
            seed, multi_label=multi_label
        )
        params = dict(level="class", comparison=comparison, k=k, margin=margin, rho=rho)
        if weighted:
            generator = torch.Generator().manual_seed(seed)
            weight = torch.rand(len(logits), generator=generator, dtype=logits.dtype)
            params["sample_weight"] = torch.where(weight < 0.2, 0.0, weight)
        yield logits, target, embeddings, params


def _class_level_matches_reference(multi_label, comparison="relative", weighted=False):
    """Values and logit gradients of the class level against the reference on
    N_BATCHES random batches, at 1e-9; enough of them with something to mine."""
    n_nonzero = 0
    batches = _class_level_batches(multi_label, comparison, weighted)
    for logits, target, embeddings, params in batches:
        got = _values_and_gradients(crl_loss, logits, target, embeddings, **params)
        want = _values_and_gradients(
            reference_crl_loss, logits, target, embeddings, **params
        )
        for g, w in zip(got[:2], want[:2], strict=True):
            torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)
        n_nonzero += bool(want[0] != 0)
    assert n_nonzero >= N_BATCHES // 3


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_class_level_value_without_gradient_matches_reference(
    comparison, multi_label, weighted
):
    # Without a gradient to compute (validation, torch.no_grad) the class level
    # skips the gradient's steps: its value alone must be exact too.
    n_nonzero = 0
    batches = _class_level_batches(multi_label, comparison, weighted)
    for logits, target, embeddings, params in batches:
        assert not logits.requires_grad
        got = crl_loss(logits, target, **params)
        want = reference_crl_loss(logits, target, embeddings=embeddings, **params)
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
        n_nonzero += bool(want != 0)
    assert n_nonzero >= N_BATCHES // 3


@pytest.mark.parametrize("many_columns", [False, True])
@pytest.mark.parametrize("class_by_class", [True, False])
@pytest.mark.parametrize("multi_label", [False, True])
def test_both_class_level_relative_paths_match_reference(
    monkeypatch, class_by_class, multi_label, many_columns
):
    # The relative comparison at class level is computed class by class or anchor
    # by anchor, whichever needs fewer searches: each must be exact on its own,
    # also on the layout of many columns (one task's probabilities row by row),
    # there with sample weights, whose class totals it reads off the labels.
    monkeypatch.setattr("skcrl._gates.class_by_class", lambda *_: class_by_class)
    if many_columns:
        monkeypatch.setattr("skcrl._gates.MANY_COLUMNS", 0)
    _class_level_matches_reference(multi_label, weighted=many_columns)


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_many_columns_mining_matches_reference(
    monkeypatch, comparison, multi_label, weighted
):
    # From MANY_COLUMNS (task, class) columns on, the positives come from one
    # sort of the batch and the negatives from chunk maxima: forced here on the
    # small batches of the reference
    monkeypatch.setattr("skcrl._gates.MANY_COLUMNS", 0)
    _class_level_matches_reference(multi_label, comparison, weighted)


@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("many_columns", [False, True])
@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_anchor_rows_match_reference(
    monkeypatch, comparison, many_columns, multi_label, weighted
):
    # Large batches narrow the (sample, task) rows that read their column's
    # lists (the distribution comparison, the sample-by-sample path) to those
    # of minority columns, at most rho n per task, in slots of that static
    # size: forced here on the reference's small batches, whose free slots
    # (rows of minority columns are usually fewer) must weigh nothing
    monkeypatch.setattr("skcrl._gates.SELECT_ANCHORS_FROM", 0)
    monkeypatch.setattr("skcrl._gates.ABSOLUTE_ANCHORS_FROM", 0)
    monkeypatch.setattr("skcrl._gates.class_by_class", lambda *_: False)
    if many_columns:
        monkeypatch.setattr("skcrl._gates.MANY_COLUMNS", 0)
    _class_level_matches_reference(multi_label, comparison, weighted)


def _softplus_hinges(d_pos, d_neg, weight, margin, negated=False):
    """relative_hinges with softplus for max(0, .), pair by pair: no prefix sums,
    no homogeneity (an entry of +inf among d_neg gives softplus(-inf) = 0)."""
    z = margin + d_pos.unsqueeze(-1) - d_neg.unsqueeze(-2)
    weight = weight.unsqueeze(-1)
    slope = torch.sigmoid(z) * weight
    grad_neg = slope.sum(-2) if negated else -slope.sum(-2)
    return (weight * torch.nn.functional.softplus(z)).sum(), slope.sum(-1), grad_neg


# every layout of the relative comparison: class by class, sample by sample,
# many columns, anchor rows; and the instance level
RELATIVE_LAYOUTS = {
    "class by class": ("class", {"skcrl._gates.class_by_class": lambda *_: True}),
    "sample by sample": (
        "class",
        {
            "skcrl._gates.class_by_class": lambda *_: False,
            "skcrl._gates.SELECT_ANCHORS_FROM": 0,
        },
    ),
    "many columns": (
        "class",
        {
            "skcrl._gates.MANY_COLUMNS": 0,
            "skcrl._gates.class_by_class": lambda *_: True,
        },
    ),
    "many columns by sample": (
        "class",
        {
            "skcrl._gates.MANY_COLUMNS": 0,
            "skcrl._gates.class_by_class": lambda *_: False,
        },
    ),
    "instance": ("instance", {}),
}


def _relative_matches_reference(level, multi_label, weighted, margin_scale=1.0):
    n_nonzero = 0
    for seed in range(N_BATCHES):
        logits, target, embeddings, k, margin, rho = random_batch(
            seed, multi_label=multi_label
        )
        params = dict(level=level, comparison="relative", k=k, rho=rho)
        if weighted:
            generator = torch.Generator().manual_seed(seed)
            weight = torch.rand(len(logits), generator=generator, dtype=logits.dtype)
            params["sample_weight"] = torch.where(weight < 0.2, 0.0, weight)
        got = _values_and_gradients(
            crl_loss, logits, target, embeddings, margin=margin, **params
        )
        want = _values_and_gradients(
            reference_crl_loss,
            logits,
            target,
            embeddings,
            margin=margin * margin_scale,
            **params,
        )
        assert_matches(got, want, seed)
        n_nonzero += bool(want[0] != 0)
    assert n_nonzero >= N_BATCHES // 3


@pytest.mark.parametrize("layout", list(RELATIVE_LAYOUTS))
@pytest.mark.parametrize("multi_label", [False, True])
def test_a_new_hinge_is_one_function(monkeypatch, layout, multi_label):
    # The relative comparison's hinge and margin live in one function,
    # _comparisons.relative_hinges: replaced by a softplus, which no identity
    # of max(0, .) (homogeneity, prefix sums) holds for, every layout of both
    # levels must compute the reference's softplus loss and its gradients.
    import reference_crl

    level, gates = RELATIVE_LAYOUTS[layout]
    for name, value in gates.items():
        monkeypatch.setattr(name, value)
    monkeypatch.setattr("skcrl._comparisons.relative_hinges", _softplus_hinges)
    monkeypatch.setattr(
        reference_crl, "HINGE", lambda z: torch.nn.functional.softplus(z)
    )
    _relative_matches_reference(level, multi_label, weighted=multi_label)


@pytest.mark.parametrize("layout", list(RELATIVE_LAYOUTS))
def test_a_new_margin_is_one_function(monkeypatch, layout):
    # Twice the margin, changed in relative_hinges alone, is the reference's
    # loss at twice the margin in every layout.
    from skcrl import _comparisons

    level, gates = RELATIVE_LAYOUTS[layout]
    for name, value in gates.items():
        monkeypatch.setattr(name, value)
    original = _comparisons.relative_hinges

    def doubled(d_pos, d_neg, weight, margin, negated=False):
        return original(d_pos, d_neg, weight, 2 * margin, negated)

    monkeypatch.setattr("skcrl._comparisons.relative_hinges", doubled)
    _relative_matches_reference(level, False, weighted=False, margin_scale=2.0)


@pytest.mark.parametrize("n", [400, 401, 403, 1000, 1599])
def test_top_k_by_chunks_matches_topk(n):
    # Rows of 16 k to 64 k values take the chunked route on the CPU; -inf marks
    # struck-out entries, as for the members of a class.
    from skcrl._mining import top_k

    generator = torch.Generator().manual_seed(n)
    values = torch.rand(3, 7, n, generator=generator, dtype=torch.float64)
    values[values < 0.3] = -torch.inf
    top, index = top_k(values, 25, force_chunks=True)
    want = torch.topk(values, 25, dim=-1)
    torch.testing.assert_close(top, want.values, rtol=0, atol=0)
    torch.testing.assert_close(values.gather(-1, index), top, rtol=0, atol=0)
    # no sample twice in a row
    assert bool((index.sort(dim=-1).values.diff(dim=-1) > 0).all())


@pytest.mark.parametrize("n", [401, 403])
def test_top_k_by_chunks_stays_in_range_with_few_candidates(n):
    # fewer finite values than k, n not a multiple of the chunk: the padding is
    # as good a pick as a struck-out value (both -inf), but out of range
    from skcrl._mining import top_k

    values = torch.full((1, n), -torch.inf, dtype=torch.float64)
    values[0, :21] = torch.linspace(0.1, 0.9, 21, dtype=torch.float64)
    _, index = top_k(values, 25, force_chunks=True)
    assert bool((index < n).all())
    assert index[0, :21].tolist() == list(range(20, -1, -1))


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("k", [1, 25])
def test_class_level_distribution_at_both_ends_of_its_range(multi_label, k):
    # Saturated rows have probabilities of exactly 0 and 1, so some values lie
    # on both ends of the nodes' range [-1, 1], where a value's share falls
    # wholly on the first or the last node; the other rows are moderate, so
    # that the gradient is not 0 everywhere.
    generator = torch.Generator().manual_seed(k + multi_label)
    n, n_outputs = 24, 3
    logits = torch.randn(n, n_outputs, generator=generator, dtype=torch.float64)
    if multi_label:
        target = (torch.rand(n, n_outputs, generator=generator) < 0.3).long()
        saturated = 800.0 * (2.0 * target[: n // 2] - 1.0)
    else:
        target = torch.randint(0, n_outputs, (n,), generator=generator)
        saturated = 800.0 * torch.nn.functional.one_hot(target[: n // 2], n_outputs)
    # the first half saturated: right in every even row, wrong in every odd one
    saturated[1::2] = -saturated[1::2]
    logits[: n // 2] = saturated
    params = dict(level="class", comparison="distribution", k=k, rho=1.0)
    probabilities = (
        torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=1)
    )
    assert {0.0, 1.0} <= set(probabilities.unique().tolist())
    empty = torch.zeros(n, 2, dtype=torch.float64)
    got = _values_and_gradients(crl_loss, logits, target, empty, **params)
    want = _values_and_gradients(reference_crl_loss, logits, target, empty, **params)
    assert want[0] > 0
    assert want[1].abs().sum() > 0
    for g, w in zip(got[:2], want[:2], strict=True):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)
