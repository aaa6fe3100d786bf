"""crl_loss, ClassRectificationLoss and imbalance_measure: values worked out by hand,
properties, argument errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from batches import random_batch
from reference_crl import reference_crl_loss
from torch.overrides import TorchFunctionMode

from skcrl import ClassRectificationLoss, crl_loss, imbalance_measure

COMPARISONS = ["relative", "absolute", "distribution"]
LEVELS = ["class", "instance"]
SQRT2 = math.sqrt(2)


def _two_class_logits(p0, dtype=torch.float64):
    p0 = torch.tensor(p0, dtype=dtype)
    return torch.stack([p0, 1 - p0], dim=1).log()


def _logit(p1):
    p1 = torch.as_tensor(p1, dtype=torch.float64)
    return (p1 / (1 - p1)).log()


# p_0 = 0.9, 0.6 (class 0, the minority of a 2/2 batch) and 0.3, 0.2 (class 1).
HAND_LOGITS = _two_class_logits([0.9, 0.6, 0.3, 0.2])
HAND_TARGET = torch.tensor([0, 0, 1, 1])


def _histogram_share(v, lo, hi, n_bins=32):
    """(node, weight of the lower node) of one value: SPEC §4 by hand."""
    t = (v - lo) / ((hi - lo) / (n_bins - 1))
    node = min(math.floor(t), n_bins - 2)
    return node, 1 - (t - node)


@pytest.mark.parametrize(
    ("comparison", "k", "expected"),
    [
        # Anchor 0: d+ = 0.3, d- = 0.6, 0.7 -> 0.2, 0.1. Anchor 1: d+ = 0.3,
        # d- = 0.3, 0.4 -> 0.5, 0.4. Mean of 4 triplets: 1.2 / 4.
        ("relative", 25, 0.3),
        # mean d+^2 = 0.09; max(0, 0.5 - d-)^2 = 0, 0, 0.04, 0.01 -> 0.0125.
        ("absolute", 25, 0.5 * (0.09 + 0.0125)),
        # k = 1: P = {1} (lowest p0), N = {2} (highest p0 of class 1). Anchor 1 is
        # its own only positive and loses that pair: one triplet, 0.5 + 0.3 - 0.6.
        ("relative", 1, 0.2),
        # P+ = {(0, 1)}: 0.09; P- = {(0, 2): 0.6 -> 0, (1, 2): 0.3 -> 0.04}.
        ("absolute", 1, 0.5 * (0.09 + 0.02)),
        # Only anchor 0 takes part: H+ from d+ = 0.3, H- from d- = 0.6 > 0.3.
        ("distribution", 1, 0.0),
    ],
)
def test_class_level_by_hand(comparison, k, expected):
    loss = crl_loss(HAND_LOGITS, HAND_TARGET, comparison=comparison, k=k)
    assert loss.item() == pytest.approx(expected, abs=1e-12)


def test_class_level_distribution_by_hand():
    # d+ = 0.3 twice; d- = 0.6, 0.7, 0.3, 0.4 on nodes spaced 2/31 over [-1, 1].
    node_pos, lower_pos = _histogram_share(0.3, -1, 1)  # node 20, 0.85
    h_neg = np.zeros(32)
    for v in (0.6, 0.7, 0.3, 0.4):
        node, lower = _histogram_share(v, -1, 1)
        h_neg[node] += lower / 4
        h_neg[node + 1] += (1 - lower) / 4
    cdf = np.cumsum(h_neg)
    expected = lower_pos * cdf[node_pos] + (1 - lower_pos) * cdf[node_pos + 1]
    assert expected == pytest.approx(0.85 * 0.2125 + 0.15 * 0.325)
    loss = crl_loss(HAND_LOGITS, HAND_TARGET, comparison="distribution")
    assert loss.item() == pytest.approx(expected, abs=1e-12)


# Class 0 = samples 0, 1 at 0 and 90 degrees; class 1 = samples 2 (0 degrees, norm 3:
# normalisation puts it on sample 0), 3 (180 degrees), 4 (270 degrees, norm 2).
INSTANCE_EMBEDDINGS = torch.tensor(
    [[1.0, 0.0], [0.0, 1.0], [3.0, 0.0], [-1.0, 0.0], [0.0, -2.0]], dtype=torch.float64
)
INSTANCE_TARGET = torch.tensor([0, 0, 1, 1, 1])


@pytest.mark.parametrize(
    ("comparison", "k", "expected"),
    [
        # d(0, 1) = sqrt 2. Negatives of 0: d = 0, 2, sqrt 2; of 1: sqrt 2, sqrt 2, 2.
        # k = 1: nearest negative 0 for anchor 0, sqrt 2 for anchor 1.
        ("relative", 1, ((0.5 + SQRT2) + 0.5) / 2),
        # k = 25: anchor 0 gives 0.5 + sqrt 2, 0.5, 0; anchor 1 gives 0.5, 0.5, 0.
        ("relative", 25, (2 + SQRT2) / 6),
        # mean d+^2 = 2; only d- = 0 is inside the margin: 0.25 / 6.
        ("absolute", 25, 0.5 * (2 + 0.25 / 6)),
    ],
)
def test_instance_level_by_hand(comparison, k, expected):
    logits = torch.zeros(5, 2, dtype=torch.float64)
    loss = crl_loss(
        logits,
        INSTANCE_TARGET,
        embeddings=INSTANCE_EMBEDDINGS,
        level="instance",
        comparison=comparison,
        k=k,
    )
    assert loss.item() == pytest.approx(expected, abs=1e-12)


def test_instance_level_distribution_by_hand():
    _, lower = _histogram_share(SQRT2, 0, 2)  # d+ = sqrt 2 for both anchors
    # d- = 0, sqrt 2, 2 and sqrt 2, sqrt 2, 2: node 0 gets 1, 2 lands on node 31.
    cdf_at_node = (1 + 3 * lower) / 6
    cdf_after = (1 + 3) / 6
    expected = lower * cdf_at_node + (1 - lower) * cdf_after
    loss = crl_loss(
        torch.zeros(5, 2, dtype=torch.float64),
        INSTANCE_TARGET,
        embeddings=INSTANCE_EMBEDDINGS,
        level="instance",
        comparison="distribution",
    )
    assert loss.item() == pytest.approx(expected, abs=1e-12)


def test_multi_label_pools_triplets_of_all_attributes():
    # Attribute A: class 0 = samples 0, 1 (p0 = .9, .6) against p0 = .3 .2 .1 .05:
    #   anchor 0: 0.2 0.1 0 0, anchor 1: 0.5 0.4 0.3 0.25 -> 1.75 over 8 triplets.
    # Attribute D: 3/3, class 0 = samples 3, 4, 5 (p0 = .6 .7 .8) against .1 .2 .3:
    #   anchor 3: 0.6 + 0.9, anchor 4: 0.3 + 0.3, anchor 5: 0.3 + 0.1 -> 2.5 over 18.
    # Attribute B: a single class; attribute C: a lone minority sample. Nothing.
    p1 = np.array(
        [
            [0.1, 0.4, 0.7, 0.8, 0.9, 0.95],  # A: 1 - p0
            [0.9, 0.8, 0.7, 0.4, 0.3, 0.2],  # D
            [0.5] * 6,  # B
            [0.3, 0.6, 0.4, 0.2, 0.1, 0.7],  # C
        ]
    ).T
    target = torch.tensor(
        [
            [0, 1, 1, 1],
            [0, 1, 1, 0],
            [1, 1, 1, 0],
            [1, 0, 1, 0],
            [1, 0, 1, 0],
            [1, 0, 1, 0],
        ]
    )
    loss = crl_loss(_logit(p1), target)
    # Pooled into one mean, not the mean of per-attribute means (0.1788...).
    assert loss.item() == pytest.approx(4.25 / 26, abs=1e-12)


def test_balanced_batch_mines_class_zero():
    rng = np.random.default_rng(3)
    logits = torch.as_tensor(rng.normal(size=(64, 2)))
    target = torch.as_tensor(np.repeat([0, 1], 32))
    loss = crl_loss(logits, target)
    assert loss > 0
    torch.testing.assert_close(loss, reference_crl_loss(logits, target))


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize(
    ("target", "rho"),
    [
        (torch.tensor([1, 1, 1, 1, 1, 1]), 0.5),  # a single class
        (torch.tensor([0, 1, 2, 3, 3, 3]), 0.5),  # minority classes of one sample
        (torch.tensor([2]), 0.5),  # one sample: floor(rho * n) = 0
        (torch.tensor([0, 0, 1, 1, 1, 1]), 0.2),  # minorities exceed rho * n
        (torch.tensor([[0, 1], [0, 1], [0, 1], [1, 0]]), 0.5),  # multi-label
    ],
)
def test_nothing_to_mine_gives_a_zero_with_gradient(level, comparison, target, rho):
    n_out = 4 if target.dim() == 1 else target.shape[1]
    logits = torch.randn(target.shape[0], n_out, requires_grad=True)
    embeddings = torch.randn(target.shape[0], 3, requires_grad=True)
    loss = crl_loss(
        logits,
        target,
        embeddings=embeddings,
        level=level,
        comparison=comparison,
        rho=rho,
    )
    assert loss.item() == 0.0
    assert loss.shape == ()
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("multi_label", [False, True])
def test_gradcheck(level, comparison, multi_label):
    seed = 0
    while True:  # the first seeded batch with something to mine
        logits, target, embeddings, *_ = random_batch(seed, multi_label=multi_label)
        if reference_crl_loss(logits, target, embeddings, level, comparison) != 0:
            break
        seed += 1
    logits.requires_grad_()
    embeddings.requires_grad_()

    def loss(logits, embeddings):
        return crl_loss(
            logits, target, embeddings=embeddings, level=level, comparison=comparison
        )

    assert torch.autograd.gradcheck(loss, (logits, embeddings))


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("multi_label", [False, True])
def test_batch_order_does_not_matter(level, comparison, multi_label):
    rng = np.random.default_rng(7)
    n = 48
    if multi_label:
        target = torch.as_tensor((rng.random((n, 3)) < [0.1, 0.3, 0.5]).astype(int))
        logits = torch.as_tensor(rng.normal(size=(n, 3)))
    else:
        target = torch.as_tensor(rng.choice(4, size=n, p=[0.6, 0.25, 0.1, 0.05]))
        logits = torch.as_tensor(rng.normal(size=(n, 4)))
    embeddings = torch.as_tensor(rng.normal(size=(n, 5)))
    params = dict(level=level, comparison=comparison, k=4)
    loss = crl_loss(logits, target, embeddings=embeddings, **params)
    perm = torch.as_tensor(rng.permutation(n))
    shuffled = crl_loss(
        logits[perm], target[perm], embeddings=embeddings[perm], **params
    )
    assert loss > 0
    torch.testing.assert_close(shuffled, loss, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("comparison", COMPARISONS)
def test_float32_and_float64(level, comparison):
    logits, target, embeddings, *_ = random_batch(5)
    params = dict(level=level, comparison=comparison)
    double = crl_loss(logits, target, embeddings=embeddings, **params)
    single = crl_loss(logits.float(), target, embeddings=embeddings.float(), **params)
    assert double.dtype == torch.float64 and single.dtype == torch.float32
    torch.testing.assert_close(single.double(), double, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("multi_label", [False, True])
def test_autocast_leaves_the_loss_in_the_inputs_dtype(level, multi_label):
    # Under CPU autocast the closed-form loss would run its matrix products in
    # bfloat16; it must compute as without autocast, to the last bit.
    rng = np.random.default_rng(3)
    n = 40
    if multi_label:
        target = torch.as_tensor((rng.random((n, 3)) < [0.1, 0.3, 0.5]).astype(int))
    else:
        target = torch.as_tensor(rng.choice(4, size=n, p=[0.6, 0.25, 0.1, 0.05]))
    logits = torch.as_tensor(
        rng.normal(size=(n, target.shape[-1] if multi_label else 4))
    )
    embeddings = torch.as_tensor(rng.normal(size=(n, 5)))
    results = []
    for autocast in (False, True):
        leaves = [t.float().requires_grad_() for t in (logits, embeddings)]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = crl_loss(leaves[0], target, embeddings=leaves[1], level=level, k=6)
        loss.backward()
        gradient = leaves[0 if level == "class" else 1].grad
        assert loss.dtype == gradient.dtype == torch.float32
        results.append((loss.detach(), gradient))
    assert results[0][0] > 0
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


def test_class_level_distribution_in_half_precision_stays_near_float64():
    # In float16 a value's place among the 32 nodes carries some 2^-6 of
    # rounding when it lies in [0, 31]; were the negatives' nodes numbered on
    # from 32 (one binary digit fewer), or the histogram summed from normalised
    # shares, values near a node would fall on the wrong one, some 4% of the
    # gradient here. Against the same computation in float64 on the same
    # (float16) logits, both stay within 1%.
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 10, generator=generator).half()
    target = torch.randint(0, 10, (200,), generator=generator)
    results = []
    for dtype in (torch.float16, torch.float64):
        leaf = logits.to(dtype).detach().requires_grad_()
        loss = crl_loss(leaf, target, comparison="distribution")
        loss.backward()
        assert loss.dtype == leaf.grad.dtype == dtype
        results.append((loss.detach().double(), leaf.grad.double()))
    (loss, gradient), (exact_loss, exact_gradient) = results
    assert exact_loss > 0
    assert abs(loss - exact_loss) < 0.01 * exact_loss
    assert (gradient - exact_gradient).norm() < 0.01 * exact_gradient.norm()


def test_inputs_are_not_modified():
    logits, target, embeddings, *_ = random_batch(2, multi_label=True)
    copies = [t.clone() for t in (logits, target, embeddings)]
    for level in LEVELS:
        for comparison in COMPARISONS:
            crl_loss(
                logits,
                target,
                embeddings=embeddings,
                level=level,
                comparison=comparison,
            ).item()
    for original, copy in zip((logits, target, embeddings), copies, strict=True):
        assert torch.equal(original, copy)


class _HostSyncSpy(TorchFunctionMode):
    """Fails on any call that copies a tensor's values to the host."""

    SYNCING = frozenset(
        {"item", "tolist", "cpu", "numpy", "nonzero", "masked_select"}
        | {"__bool__", "__int__", "__float__", "__index__"}
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self.SYNCING:
            raise AssertionError(f"host synchronisation through {name}")
        if name == "__getitem__" and any(
            isinstance(i, torch.Tensor)
            for i in np.ravel(np.array(args[1:], dtype=object))
        ):
            raise AssertionError("indexing with a tensor")
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("multi_label", [False, True])
def test_no_host_synchronisation(level, comparison, multi_label):
    logits, target, embeddings, *_ = random_batch(11, multi_label=multi_label)
    logits.requires_grad_()
    with _HostSyncSpy():
        loss = crl_loss(
            logits, target, embeddings=embeddings, level=level, comparison=comparison
        )
        loss.backward()
    assert logits.grad is not None


def test_the_spy_catches_a_synchronisation():
    with pytest.raises(AssertionError, match="item"), _HostSyncSpy():
        torch.ones(2).sum().item()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(level="pixel"), ValueError, "'level' parameter of crl_loss"),
        (dict(comparison="cosine"), ValueError, "'comparison' parameter"),
        (dict(k=0), ValueError, r"'k' parameter .* range \[1, inf\)"),
        (dict(k=2.5), TypeError, "'k' parameter .* must be an int"),
        (dict(k=True), TypeError, "k must be an int"),
        (dict(rho=0.0), ValueError, "'rho' parameter"),
        (dict(rho=1.5), ValueError, "'rho' parameter"),
        (dict(rho="half"), TypeError, "'rho' parameter"),
        (dict(margin=-0.1), ValueError, "'margin' parameter"),
        (dict(margin=math.nan), ValueError, "'margin' parameter"),
        (dict(n_bins=1), ValueError, "'n_bins' parameter"),
        (dict(level="instance"), ValueError, "needs embeddings"),
        (
            dict(level="instance", embeddings=torch.zeros(3, 2)),
            ValueError,
            "embeddings",
        ),
        (
            dict(level="instance", embeddings=torch.zeros(4, 2, 3)),
            ValueError,
            "embeddings",
        ),
        (dict(target=torch.tensor([0, 1, 1])), ValueError, "target has 3 entries"),
        (dict(target=torch.tensor([0.0, 1, 1, 0])), TypeError, "integer class"),
        (dict(target=torch.zeros(4, 3)), ValueError, "shape of logits"),
        (dict(target=torch.zeros(4, 1, 1)), ValueError, "target must have shape"),
        (dict(logits=torch.zeros(4, 2, dtype=torch.long)), TypeError, "logits"),
        (dict(logits=torch.zeros(4)), ValueError, "logits must have shape"),
        (dict(logits=torch.zeros(4, 1)), ValueError, "at least 2 columns"),
        (dict(logits=[[0.0, 1.0]] * 4), TypeError, "logits"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    arguments = dict(logits=torch.zeros(4, 2), target=torch.tensor([0, 1, 1, 0]))
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        crl_loss(arguments.pop("logits"), arguments.pop("target"), **arguments)


def test_per_attribute_embeddings_need_a_multi_label_target():
    with pytest.raises(ValueError, match=r"embeddings must have shape \(n, D\)"):
        crl_loss(
            torch.zeros(4, 2),
            torch.tensor([0, 1, 1, 0]),
            embeddings=torch.zeros(4, 2, 3),
            level="instance",
        )


def test_class_rectification_loss_balances_the_two_terms():
    logits = HAND_LOGITS.clone().requires_grad_()
    criterion = ClassRectificationLoss(alpha=0.25)
    terms = criterion.terms(logits, HAND_TARGET)
    assert terms.crl.item() == pytest.approx(0.3)
    ce = -(torch.tensor([0.9, 0.6, 0.7, 0.8], dtype=torch.float64).log().mean())
    assert terms.cross_entropy.item() == pytest.approx(ce.item())
    assert criterion(logits, HAND_TARGET).item() == pytest.approx(
        0.25 * 0.3 + 0.75 * ce
    )
    criterion(logits, HAND_TARGET).backward()
    assert logits.grad.abs().sum() > 0


def test_alpha_extremes():
    only_crl = ClassRectificationLoss(alpha=1.0)(HAND_LOGITS, HAND_TARGET)
    only_ce = ClassRectificationLoss(alpha=0.0)(HAND_LOGITS, HAND_TARGET)
    assert only_crl.item() == pytest.approx(0.3)
    assert only_ce.item() == pytest.approx(
        F.cross_entropy(HAND_LOGITS, HAND_TARGET).item()
    )


def test_class_weighted_cross_entropy():
    weight = torch.tensor([3.0, 1.0])
    criterion = ClassRectificationLoss(alpha=0.0, weight=weight).double()
    assert criterion.weight.dtype == torch.float64
    # sum(w_i * l_i) / sum(w_i) with l_i = -log p_{y_i}
    losses = -torch.tensor([0.9, 0.6, 0.7, 0.8], dtype=torch.float64).log()
    expected = (3 * losses[0] + 3 * losses[1] + losses[2] + losses[3]) / 8
    assert criterion(HAND_LOGITS, HAND_TARGET).item() == pytest.approx(expected.item())


def test_multi_label_cross_entropy_and_weights():
    p1 = torch.tensor([[0.8, 0.3], [0.4, 0.9]], dtype=torch.float64)
    target = torch.tensor([[1, 0], [1, 1]])
    logits = _logit(p1)
    # -log of the probability of the true value: 0.8, 0.7, 0.4, 0.9
    losses = -torch.tensor([0.8, 0.7, 0.4, 0.9], dtype=torch.float64).log()
    plain = ClassRectificationLoss(alpha=0.0)(logits, target)
    assert plain.item() == pytest.approx(losses.mean().item())
    # weight (J, 2) = (negative, positive) per attribute
    weight = torch.tensor([[1.0, 2.0], [5.0, 1.0]], dtype=torch.float64)
    weighted = ClassRectificationLoss(alpha=0.0, weight=weight)(logits, target)
    w = torch.tensor([2.0, 5.0, 2.0, 1.0], dtype=torch.float64)
    assert weighted.item() == pytest.approx(((w * losses).sum() / w.sum()).item())
    with pytest.raises(ValueError, match="weight"):
        ClassRectificationLoss(alpha=0.0, weight=torch.ones(3))(logits, target)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        (dict(alpha=1.5), ValueError),
        (dict(alpha=-0.1), ValueError),
        (dict(alpha="a lot"), TypeError),
        (dict(alpha=0.5, k=0), ValueError),
        (dict(alpha=0.5, comparison="cosine"), ValueError),
    ],
)
def test_class_rectification_loss_checks_its_arguments(kwargs, error):
    with pytest.raises(error):
        ClassRectificationLoss(**kwargs)


def test_class_rectification_loss_instance_level_uses_embeddings():
    criterion = ClassRectificationLoss(alpha=1.0, level="instance", k=1)
    loss = criterion(
        torch.zeros(5, 2, dtype=torch.float64), INSTANCE_TARGET, INSTANCE_EMBEDDINGS
    )
    assert loss.item() == pytest.approx(((0.5 + SQRT2) + 0.5) / 2)
    assert "level='instance'" in repr(criterion)


@pytest.mark.parametrize(
    ("y", "n_classes", "expected"),
    [
        ([0] * 90 + [1] * 10, None, 0.4),
        ([0, 1, 2, 3], None, 0.0),
        (["a", "a", "b"], None, 0.5 * (1 / 6 + 1 / 6)),
        # 3 classes, one absent: |1/2 - 1/3| * 2 + 1/3, halved
        ([5, 7], 3, 0.5 * (1 / 6 + 1 / 6 + 1 / 3)),
        ([1, 1, 1], None, 0.0),
        # indicator: attribute rates 0.25 and 0.5 -> (0.25 + 0) / 2
        ([[1, 1], [0, 0], [0, 1], [0, 0]], None, 0.125),
    ],
)
def test_imbalance_measure(y, n_classes, expected):
    assert imbalance_measure(y, n_classes=n_classes) == pytest.approx(expected)
    assert isinstance(imbalance_measure(y, n_classes=n_classes), float)


def test_imbalance_measure_accepts_tensors_and_stays_below_its_bound():
    y = torch.tensor([0] * 999 + [1, 2, 3])
    assert 0 < imbalance_measure(y) < 1 - 1 / 4


@pytest.mark.parametrize(
    ("y", "n_classes", "match"),
    [
        ([], None, "empty"),
        ([0, 1, 2], 2, "more than n_classes"),
        ([[0, 2], [1, 1]], None, "indicator"),
        ([[0, 1], [1, 1]], 3, "2 classes per attribute"),
        (np.zeros((2, 2, 2)), None, "1-D labels or a 2-D indicator"),
    ],
)
def test_imbalance_measure_errors(y, n_classes, match):
    with pytest.raises(ValueError, match=match):
        imbalance_measure(y, n_classes=n_classes)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("comparison", COMPARISONS)
@pytest.mark.parametrize("multi_label", [False, True])
def test_cuda_matches_cpu_without_synchronising(level, comparison, multi_label):
    logits, target, embeddings, *_ = random_batch(4, multi_label=multi_label)
    params = dict(level=level, comparison=comparison)
    expected = crl_loss(logits, target, embeddings=embeddings, **params)
    logits = logits.cuda().requires_grad_()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss = crl_loss(logits, target.cuda(), embeddings=embeddings.cuda(), **params)
        loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert loss.device.type == "cuda"
    torch.testing.assert_close(loss.cpu(), expected)
