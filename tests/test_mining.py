"""Minority rule (SPEC §1) and hard mining (SPEC §2), worked out by hand."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skcrl._class_lists import mine_class_lists
from skcrl._mining import (
    class_counts,
    group_by_class,
    mine_instance_level,
    mined_classes,
    minority_classes,
    n_anchor_slots,
    select_anchors,
)


def _minority(counts, rho=0.5):
    counts = torch.tensor([counts])
    n = int(counts.sum())
    return minority_classes(counts, rho, n)[0].nonzero().flatten().tolist()


@pytest.mark.parametrize(
    ("counts", "rho", "expected"),
    [
        # sorted (1,c1) (1,c2) (3,c0) (5,c3): cumulative 1, 2, 5 <= 5, then 10
        ([3, 1, 1, 5], 0.5, [0, 1, 2]),
        # the prefix stops at c2 (3 + 3 > 5); c1 would not fit either
        ([3, 4, 3], 0.5, [0]),
        # count ties go by class id: c0 (2) fits in 3, c1 would make 4
        ([2, 2, 6], 0.3, [0]),
        ([6, 2, 2], 0.3, [1]),
        # a balanced 32/32 batch: class 0 is its minority
        ([32, 32], 0.5, [0]),
        # a single class: 10 > 5, no minority
        ([10], 0.5, []),
        # ... unless rho = 1 lets the whole batch be minority
        ([10], 1.0, [0]),
        # absent classes take no part
        ([0, 4, 0, 1, 5], 0.5, [1, 3]),
        # rho * n is not an integer: bound floor(3.5) = 3
        ([3, 4], 0.5, [0]),
        ([4, 3], 0.5, [1]),
    ],
)
def test_minority_rule(counts, rho, expected):
    assert _minority(counts, rho) == expected


def test_minority_rule_is_per_task():
    counts = torch.tensor([[1, 9], [9, 1], [5, 5]])
    got = minority_classes(counts, 0.5, 10)
    assert got.tolist() == [[True, False], [False, True], [True, False]]


def _literal_minority(counts, rho, n):
    """SPEC §1 read literally: walk the present classes by (count, id) and stop
    at the first that would exceed rho * n; the classes walked."""
    chosen, total = [], 0
    for c in sorted(
        (c for c in range(len(counts)) if counts[c]), key=lambda c: (counts[c], c)
    ):
        if total + counts[c] > rho * n:
            break
        total += counts[c]
        chosen.append(c)
    return chosen


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    counts=st.lists(
        st.lists(st.integers(0, 6), min_size=1, max_size=9), min_size=1, max_size=3
    ).filter(lambda rows: len({len(row) for row in rows}) == 1),
    rho=st.sampled_from([0.2, 0.5, 0.7, 1.0]),
    weighted=st.booleans(),
    dtype=st.sampled_from([torch.int64, torch.float32, torch.float64]),
)
def test_one_minority_rule_by_either_route(counts, rho, weighted, dtype):
    # within_minority, the one rule of both levels, by comparing every pair of
    # (count, class) keys and by a sort, on counts of the dtypes the levels
    # give it (int64 at instance level, the logits' own at class level), with
    # n an int or, with sample weights, a tensor; against SPEC §1 read
    # literally, task by task, with step 4 (two members or more) for mined.
    n = max(sum(row) for row in counts) + 1
    want_minority, want_mined = [], []
    for row in counts:
        chosen = set(_literal_minority(row, rho, n))
        want_minority.append([c in chosen for c in range(len(row))])
        want_mined.append([c in chosen and row[c] >= 2 for c in range(len(row))])
    tensor = torch.tensor(counts, dtype=dtype)
    taking = torch.tensor(n, dtype=dtype) if weighted else n
    for up_to in (64, 0):  # pairwise, then by a sort
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("skcrl._gates.PAIRWISE_MINORITY_UP_TO", up_to)
            assert minority_classes(tensor, rho, taking).tolist() == want_minority
            assert mined_classes(tensor, rho, taking).tolist() == want_mined


def test_class_counts():
    labels = torch.tensor([[2, 0, 2, 2], [1, 1, 0, 1]])
    assert class_counts(labels, 3).tolist() == [[1, 0, 3], [1, 3, 0]]


def test_anchor_slots_bound():
    assert n_anchor_slots(10, 0.5) == 5
    assert n_anchor_slots(7, 0.5) == 3
    assert n_anchor_slots(1, 0.5) == 0
    assert n_anchor_slots(3, 1.0) == 3


def _mined(mined_classes, n_classes):
    mined = torch.zeros(1, n_classes, dtype=torch.bool)
    mined[0, mined_classes] = True
    return mined


def test_group_by_class_puts_mined_classes_first():
    labels = torch.tensor([[2, 0, 1, 2, 0, 1, 2]])
    mined = _mined([0, 2], 3)
    # classes 0 then 2 (mined, by id), in batch order; then class 1
    assert group_by_class(labels, mined)[0].tolist() == [1, 4, 0, 3, 6, 2, 5]
    scores = torch.tensor([[0.5, 0.9, 0.1, 0.2, 0.3, 0.0, 0.5]])
    # by ascending score within a class; the tie of samples 0 and 6 by index
    assert group_by_class(labels, mined, scores)[0].tolist() == [4, 1, 3, 0, 6, 5, 2]


def test_select_anchors_in_batch_order_then_empty_slots():
    labels = torch.tensor([[1, 0, 1, 2, 0]])
    mined = _mined([0], 3)
    index, cls, valid = select_anchors(labels, mined, group_by_class(labels, mined), 3)
    assert index[0, :2].tolist() == [1, 4]
    assert cls[0, :2].tolist() == [0, 0]
    assert valid[0].tolist() == [True, True, False]


def _class_lists(labels, p, k):
    """The lists of one task with classes (1 - p, p) for labels 0/1: columns
    (class 0, class 1), as index and score pairs."""
    probabilities = torch.stack([1 - p, p])  # (K, n)
    member = torch.stack([labels == 0, labels == 1])
    return mine_class_lists(probabilities, member, ~member, min(k, len(labels)))


def test_class_level_mining_by_hand():
    # Counts (5, 3) with n = 8, rho = 0.5: class 1 (samples 1, 3, 4) is the minority.
    labels = torch.tensor([0, 1, 0, 1, 1, 0, 0, 0])
    p1 = torch.tensor([0.1, 0.7, 0.5, 0.2, 0.9, 0.3, 0.05, 0.6], dtype=torch.float64)
    counts = class_counts(labels.view(1, -1), 2)
    mined = minority_classes(counts, 0.5, 8) & (counts >= 2)
    assert mined.tolist() == [[False, True]]
    pos_index, pos_score, neg_index, neg_lowered = _class_lists(labels, p1, k=2)
    # Hard positives of class 1: the 2 members with the lowest p1 (3: 0.2, then
    # 1: 0.7); hard negatives: the 2 others with highest p1 (7: 0.6, then 2: 0.5),
    # kept as -p1, ascending.
    assert pos_index[1].tolist() == [3, 1]
    assert pos_score[1].tolist() == [0.2, 0.7]
    assert neg_index[1].tolist() == [7, 2]
    assert neg_lowered[1].tolist() == [-0.6, -0.5]
    # Class 0 gets lists too (masks then ignore them): its members of lowest
    # p0 = 1 - p1 are 7 (0.4) and 2 (0.5)
    assert pos_index[0].tolist() == [7, 2]


def test_class_level_k_larger_than_candidates():
    labels = torch.tensor([0, 0, 1, 1, 1])
    p1 = 1 - torch.tensor([0.8, 0.4, 0.3, 0.6, 0.1], dtype=torch.float64)
    pos_index, pos_score, neg_index, neg_lowered = _class_lists(labels, p1, k=25)
    # width min(k, n) = 5: class 0's 2 members of lowest p0 (1: 0.4, 0: 0.8), then
    # empty slots (2, above every probability); its 3 negatives of highest p0
    # (3: 0.6, 2: 0.3, 4: 0.1), then empty slots (inf)
    assert pos_index.shape[-1] == 5
    assert pos_index[0, :2].tolist() == [1, 0]
    assert pos_score[0, 2:].tolist() == [2.0, 2.0, 2.0]
    assert neg_index[0, :3].tolist() == [3, 2, 4]
    assert neg_lowered[0, 3:].isinf().all()


def test_instance_level_mining_by_hand():
    # Anchors of class 0: samples 0 and 1. On the unit circle: 0 at 0 deg, 1 at
    # 90 deg, 5 at 10 deg (class 0 too); class 1 at 180, 45, 300 deg.
    degrees = torch.tensor([0.0, 90.0, 180.0, 45.0, 300.0, 10.0], dtype=torch.float64)
    radians = torch.deg2rad(degrees)
    units = torch.stack([radians.cos(), radians.sin()], dim=1).unsqueeze(0)
    labels = torch.tensor([[0, 0, 1, 1, 1, 0]])
    counts = class_counts(labels, 2)
    mined = _mined([0], 2)
    anchors = select_anchors(labels, mined, group_by_class(labels, mined), 3)
    pairs = mine_instance_level(units, labels, counts, anchors, k=1)
    assert pairs.anchor_index[0].tolist() == [0, 1, 5]
    # Farthest other member: of 0 -> 1 (90 deg); of 1 -> 0 (90 vs 80 deg to 5);
    # of 5 -> 1. Nearest non-member: of 0 -> 3 (45); of 1 -> 3 (45); of 5 -> 3.
    assert pairs.pos_index[0, :, 0].tolist() == [1, 0, 1]
    assert pairs.neg_index[0, :, 0].tolist() == [3, 3, 3]
    assert pairs.pos_valid.all() and pairs.neg_valid.all()


def test_instance_level_never_mines_the_anchor_itself():
    labels = torch.tensor([[0, 0, 1, 1, 1, 1]])
    units = torch.nn.functional.normalize(
        torch.randn(1, 6, 3, dtype=torch.float64), dim=-1
    )
    counts = class_counts(labels, 2)
    mined = _mined([0], 2)
    anchors = select_anchors(labels, mined, group_by_class(labels, mined), 3)
    pairs = mine_instance_level(units, labels, counts, anchors, k=25)
    # h_c - 1 = 1 positive each: the other member.
    assert pairs.pos_valid[0].sum(dim=1).tolist() == [1, 1, 0]
    assert pairs.pos_index[0, 0, 0] == 1 and pairs.pos_index[0, 1, 0] == 0
    assert pairs.neg_valid[0].sum(dim=1).tolist() == [4, 4, 0]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    counts=st.lists(st.integers(0, 12), min_size=1, max_size=8),
    rho=st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.7, 1.0]),
)
def test_minority_rule_matches_its_definition(counts, rho):
    n = sum(counts)
    expected = _literal_minority(counts, rho, n)
    got = minority_classes(torch.tensor([counts]), rho, n)[0]
    assert got.nonzero().flatten().tolist() == sorted(expected)
