"""The deep long-tail baselines against worked examples and literal slow
implementations of their papers' formulas."""

import math

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight
from skorch.callbacks import Callback

from skcrl import (
    CRLClassifier,
    CRLMultiLabelClassifier,
    DeferredReweighting,
    FocalLoss,
    LDAMLoss,
    SigmoidFocalLoss,
    effective_number_weight,
)


def _softmax_focal_by_hand(logits, target, gamma, weight=None):
    """Lin et al. (2017), eq. 5 with the softmax, one sample at a time."""
    total, weights = 0.0, 0.0
    for row, y in zip(logits.tolist(), target.tolist(), strict=True):
        p = math.exp(row[y]) / sum(math.exp(v) for v in row)
        w = 1.0 if weight is None else float(weight[y])
        total += -w * (1 - p) ** gamma * math.log(p)
        weights += w
    return total / weights


def _sigmoid_focal_by_hand(logits, target, gamma, alpha):
    """torchvision.ops.sigmoid_focal_loss, one entry at a time."""
    out = []
    for z, t in zip(logits.flatten().tolist(), target.flatten().tolist(), strict=True):
        p = 1 / (1 + math.exp(-z))
        p_t = p if t == 1 else 1 - p
        loss = -((1 - p_t) ** gamma) * math.log(p_t)
        if alpha is not None:
            loss *= alpha if t == 1 else 1 - alpha
        out.append(loss)
    return torch.tensor(out, dtype=logits.dtype).reshape(logits.shape)


# -- focal loss -----------------------------------------------------------------


def test_focal_loss_worked_example():
    # p = 3/4 for the true class: (1/4)^2 * -log(3/4)
    logits = torch.tensor([[math.log(3.0), 0.0]])
    loss = FocalLoss(gamma=2)(logits, torch.tensor([0]))
    assert loss.item() == pytest.approx(0.0625 * math.log(4 / 3), rel=1e-6)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_focal_loss_matches_the_formula(gamma, weighted):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 4, generator=generator, dtype=torch.float64) * 3
    target = torch.randint(0, 4, (12,), generator=generator)
    weight = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    loss = FocalLoss(gamma, weight=weight if weighted else None)(logits, target)
    expected = _softmax_focal_by_hand(
        logits, target, gamma, weight if weighted else None
    )
    assert loss.item() == pytest.approx(expected, rel=1e-10)


def test_focal_loss_at_gamma_0_is_the_cross_entropy():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(9, 3, generator=generator)
    target = torch.randint(0, 3, (9,), generator=generator)
    weight = torch.tensor([1.0, 3.0, 0.5])
    for reduction in ("mean", "sum", "none"):
        focal = FocalLoss(0.0, weight=weight, reduction=reduction)(logits, target)
        ce = torch.nn.CrossEntropyLoss(weight=weight, reduction=reduction)(
            logits, target
        )
        torch.testing.assert_close(focal, ce)


def test_focal_loss_gradient():
    logits = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 1, 2, 1, 0])
    assert torch.autograd.gradcheck(lambda z: FocalLoss()(z, target), (logits,))


def test_focal_loss_checks_its_arguments():
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="reduction"):
        FocalLoss(reduction="max")(torch.zeros(2, 2), torch.tensor([0, 1]))


@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_sigmoid_focal_loss_matches_torchvision_formula(alpha, gamma):
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(6, 3, generator=generator, dtype=torch.float64) * 2
    target = (torch.rand(6, 3, generator=generator) < 0.3).double()
    loss = SigmoidFocalLoss(gamma, alpha)(logits, target)
    torch.testing.assert_close(
        loss, _sigmoid_focal_by_hand(logits, target, gamma, alpha)
    )
    total = SigmoidFocalLoss(gamma, alpha, reduction="sum")(logits, target)
    assert total.item() == pytest.approx(loss.sum().item())


def test_sigmoid_focal_loss_worked_example():
    # logit log 3: p = 3/4. Positive: (1/4)^2 log(4/3); negative: (3/4)^2 log 4
    logits = torch.full((1, 2), math.log(3.0))
    loss = SigmoidFocalLoss()(logits, torch.tensor([[1.0, 0.0]]))
    expected = [0.0625 * math.log(4 / 3), 0.5625 * math.log(4.0)]
    assert loss[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_sigmoid_focal_loss_against_torchvision_when_installed():
    ops = pytest.importorskip("torchvision.ops")
    logits = torch.randn(8, 4)
    target = (torch.rand(8, 4) < 0.4).float()
    torch.testing.assert_close(
        SigmoidFocalLoss(2.0, 0.25)(logits, target),
        ops.sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0),
    )


def test_sigmoid_focal_loss_checks_its_arguments():
    with pytest.raises(ValueError, match="alpha"):
        SigmoidFocalLoss(alpha=1.5)
    with pytest.raises(ValueError, match="gamma"):
        SigmoidFocalLoss(gamma=-0.1)


# -- LDAM -------------------------------------------------------------------------


def test_ldam_margins_follow_the_quarter_power():
    # n^(-1/4) of 1, 16 and 81 is 1, 1/2 and 1/3; the rarest class gets 0.5
    ldam = LDAMLoss([1, 16, 81], max_margin=0.5)
    assert ldam.margins.tolist() == pytest.approx([0.5, 0.25, 0.5 / 3])


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_ldam_is_the_cross_entropy_of_shifted_scaled_logits(scale):
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(7, 3, generator=generator, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 2, 1, 0, 2])
    counts = [100, 20, 5]
    margins = [0.4 * (n**-0.25) / (5**-0.25) for n in counts]
    expected = 0.0
    for row, y in zip(logits.tolist(), target.tolist(), strict=True):
        z = [scale * (v - (margins[c] if c == y else 0.0)) for c, v in enumerate(row)]
        expected += -(z[y] - math.log(sum(math.exp(v) for v in z)))
    loss = LDAMLoss(counts, max_margin=0.4, scale=scale)(logits, target)
    assert loss.item() == pytest.approx(expected / len(target), rel=1e-6)


def test_ldam_takes_class_weights():
    logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    target = torch.tensor([0, 1])
    weight = torch.tensor([1.0, 3.0])
    # margins 0.25 and 0.5 (counts 16 and 1): per sample log(1 + e^m)
    per_sample = [math.log(1 + math.exp(0.25)), math.log(1 + math.exp(0.5))]
    loss = LDAMLoss([16, 1], weight=weight)(logits, target)
    assert loss.item() == pytest.approx((per_sample[0] + 3 * per_sample[1]) / 4)


def test_ldam_checks_its_arguments():
    with pytest.raises(ValueError, match="class_counts"):
        LDAMLoss([5, 0])
    with pytest.raises(ValueError, match="class_counts"):
        LDAMLoss([5])
    with pytest.raises(ValueError, match="positive"):
        LDAMLoss([5, 3], scale=0)
    with pytest.raises(ValueError, match="3 columns"):
        LDAMLoss([5, 3])(torch.zeros(2, 3), torch.tensor([0, 1]))


# -- effective number -------------------------------------------------------------


def test_effective_number_weight_worked_example():
    # beta 0.9: E(1) = 1, E(2) = 1.9; weights 1 and 1/1.9, scaled to sum to 2
    weight = effective_number_weight(["a", "b", "b"], beta=0.9)
    inverse = [1.0, 1 / 1.9]
    expected = [2 * w / sum(inverse) for w in inverse]
    assert list(weight) == ["a", "b"]
    assert list(weight.values()) == pytest.approx(expected)


def test_effective_number_weight_between_uniform_and_balanced():
    y = np.repeat([0, 1, 2], [500, 50, 5])
    assert list(effective_number_weight(y, beta=0.0).values()) == [1.0, 1.0, 1.0]
    balanced = compute_class_weight("balanced", classes=np.arange(3), y=y)
    balanced = balanced * 3 / balanced.sum()
    near_one = list(effective_number_weight(y, beta=1 - 1e-9).values())
    assert near_one == pytest.approx(balanced, rel=1e-5)
    middle = list(effective_number_weight(y, beta=0.99).values())
    # the rarest class is weighed up, less than by "balanced"
    assert 1.0 < middle[2] < balanced[2]


def test_effective_number_weight_checks_beta():
    with pytest.raises(ValueError, match="beta"):
        effective_number_weight([0, 1], beta=1.0)


# -- deferred re-weighting --------------------------------------------------------


class _WeightsSeen(Callback):
    def initialize(self):
        self.seen = []
        return self

    def on_epoch_end(self, net, **kwargs):
        weight = net.criterion_.weight
        self.seen.append(None if weight is None else weight.tolist())


@pytest.mark.parametrize("start", [0.8, 4])
def test_deferred_reweighting_switches_at_its_epoch(start):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = np.array(["rare"] * 6 + ["common"] * 54)
    seen = _WeightsSeen()
    CRLClassifier(
        criterion=LDAMLoss,
        criterion__class_counts=[54, 6],  # classes_ sorted: common, rare
        callbacks=[DeferredReweighting(start=start, beta=0.99), seen],
        alpha=0,
        logit_adjustment=0,
        max_epochs=5,
        random_state=0,
    ).fit(X, y)
    expected = list(effective_number_weight(y, beta=0.99).values())
    # 0.8 of 5 epochs is epoch 4: unweighted epochs 1-3, weighted 4 and 5
    assert seen.seen[:3] == [None, None, None]
    for weight in seen.seen[3:]:
        assert weight == pytest.approx(expected, rel=1e-6)


def test_deferred_reweighting_checks_start():
    X = np.zeros((10, 2), dtype=np.float32)
    y = np.array([0, 1] * 5)
    for start, error in [(0, ValueError), (1.5, ValueError), ("late", TypeError)]:
        clf = CRLClassifier(
            callbacks=[DeferredReweighting(start=start)], alpha=0, max_epochs=1
        )
        with pytest.raises(error, match="start"):
            clf.fit(X, y)


# -- in the estimators ------------------------------------------------------------


def test_focal_loss_in_the_classifier_gives_probabilities():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4)).astype(np.float32)
    y = (X[:, 0] > 0.8).astype(int)
    clf = CRLClassifier(
        criterion=FocalLoss,
        class_weight="balanced",
        alpha=0,
        logit_adjustment=0,
        max_epochs=3,
        random_state=0,
    ).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.min() >= 0
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    # class_weight reaches the focal loss's own weights
    np.testing.assert_allclose(
        clf.criterion_.weight.numpy(),
        compute_class_weight("balanced", classes=np.array([0, 1]), y=y),
        rtol=1e-6,
    )


def test_sigmoid_focal_loss_in_the_multilabel_classifier():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1]).astype(int)
    clf = CRLMultiLabelClassifier(
        criterion=SigmoidFocalLoss,
        alpha=0,
        logit_adjustment=0,
        max_epochs=3,
        random_state=0,
    ).fit(X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 2) and 0 <= proba.min() and proba.max() <= 1
