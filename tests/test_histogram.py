"""The one histogram loss of both levels (SPEC §4), worked out by hand."""

import pytest
import torch

from skcrl._comparisons import histogram_loss


def _loss(values, weight=None, n_bins=3, level="class"):
    values = torch.tensor(values, dtype=torch.float64)
    weight = (
        torch.ones_like(values) if weight is None else torch.tensor(weight).double()
    )
    return histogram_loss(values.clone(), weight.clone(), n_bins, level, False)


def test_three_nodes_by_hand():
    # class level: nodes at -1, 0, 1 (step 1). A positive at 0.25 puts 0.75 on
    # node 1 and 0.25 on node 2; a negative at 0.5, 0.5 on each. The chance that
    # a negative is no farther: 0.75 * (H-[0] + H-[1]) + 0.25 * 1 = 0.625.
    loss, grad = _loss([[[0.25], [0.5]]])
    assert loss.item() == pytest.approx(0.625)
    # moving the positive up moves 1/step of its share from node 1 to 2, which
    # gains cum H-[2] - cum H-[1] = 0.5; the negative's move loses H+ above
    # node 1 less H+ above node 2: 1 - 0.25
    torch.testing.assert_close(grad, torch.tensor([[[0.5], [-0.75]]]).double())


def test_each_half_is_divided_by_its_own_weight():
    # two positives of weights 1 and 3 at one node, one negative: only the
    # shares count, so the loss is that of the weighted mean
    values = [[[0.0, 0.0], [-1.0, 1.0]]]
    loss, _ = _loss(values, weight=[[[1.0, 3.0], [1.0, 0.0]]])
    # positives all on node 1, the negative on node 0: every negative is closer
    assert loss.item() == pytest.approx(1.0)


def test_instance_values_outside_the_range_are_clamped_without_gradient():
    # instance level: nodes at 0, 1, 2. A positive at 2.5 counts at 2, with no
    # gradient; a negative at 1.5 splits between nodes 1 and 2.
    loss, grad = _loss([[[2.5], [1.5]]], level="instance")
    assert loss.item() == pytest.approx(1.0)
    assert grad[0, 0, 0].item() == 0.0
    # the negative's move up loses H+ above node 1 less H+ above node 2: 0
    assert grad[0, 1, 0].item() == pytest.approx(0.0)
    loss, grad = _loss([[[1.25], [0.5]]], level="instance")
    # H+ = (0, .75, .25), H- = (.5, .5, 0): .75 * 1 + .25 * 1
    assert loss.item() == pytest.approx(1.0)
    # cum H- is flat from node 1: the positive has no gradient; the negative's
    # move from node 0 to 1 loses H+ above node 0 less above node 1: 1 - 1
    torch.testing.assert_close(grad, torch.zeros(1, 2, 1).double())
