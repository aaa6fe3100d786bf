"""skcrl.metrics: the mean class-balanced accuracy, checked by hand."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.metrics import balanced_accuracy_score

from skcrl.metrics import (
    balanced_accuracy_per_attribute,
    mean_balanced_accuracy_score,
    mean_balanced_accuracy_scorer,
)

Y_TRUE = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 0], [0, 1, 1], [1, 0, 0]])
Y_PRED = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 1], [0, 0, 0]])
# attribute 0: positives {0, 4} found 1 of 2; negatives {1, 2, 3} right 2 of 3
# attribute 1: positives {2, 3} found 1 of 2; negatives {0, 1, 4} right 2 of 3
# attribute 2: positives {0, 1, 3} found 2 of 3; negatives {2, 4} right 2 of 2
BY_HAND = [(1 / 2 + 2 / 3) / 2, (1 / 2 + 2 / 3) / 2, (2 / 3 + 1) / 2]


def test_values_worked_out_by_hand():
    np.testing.assert_allclose(balanced_accuracy_per_attribute(Y_TRUE, Y_PRED), BY_HAND)
    assert mean_balanced_accuracy_score(Y_TRUE, Y_PRED) == pytest.approx(
        np.mean(BY_HAND)
    )


def test_all_absent_scores_one_half_however_rare_the_attribute():
    y_true = np.zeros((100, 2), dtype=int)
    y_true[:3, 0] = 1
    y_true[:50, 1] = 1
    assert mean_balanced_accuracy_score(y_true, np.zeros_like(y_true)) == 0.5


def test_sparse_lists_and_one_dimensional_targets():
    assert mean_balanced_accuracy_score(
        sp.csr_matrix(Y_TRUE), Y_PRED.tolist()
    ) == pytest.approx(np.mean(BY_HAND))
    y, p = [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0]
    assert mean_balanced_accuracy_score(y, p) == pytest.approx(
        balanced_accuracy_score(y, p)
    )


def test_sample_weight_reaches_each_attribute():
    weight = np.array([1, 1, 1, 1, 3])
    # attribute 0's positives: sample 0 found (weight 1), sample 4 missed (3)
    assert balanced_accuracy_per_attribute(Y_TRUE, Y_PRED, sample_weight=weight)[
        0
    ] == pytest.approx((1 / 4 + 2 / 3) / 2)


def test_mismatched_shapes():
    with pytest.raises(ValueError, match="3 attributes but y_pred has 2"):
        mean_balanced_accuracy_score(Y_TRUE, Y_PRED[:, :2])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        mean_balanced_accuracy_score(Y_TRUE, Y_PRED[:4])
    with pytest.raises(ValueError, match="1-D labels or a 2-D indicator"):
        mean_balanced_accuracy_score(Y_TRUE[None], Y_PRED[None])


def test_scorer_scores_predictions():
    class Fixed(BaseEstimator):
        def predict(self, X):
            return Y_PRED

    assert mean_balanced_accuracy_scorer(Fixed(), None, Y_TRUE) == pytest.approx(
        np.mean(BY_HAND)
    )
