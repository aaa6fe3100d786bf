"""What a user passes first: features on any scale, a sampler in front, images,
text columns, a network of the wrong width."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from skorch.dataset import Dataset

from skcrl import (
    MLP,
    BalancedDataWarning,
    CRLClassifier,
    CRLMultiLabelClassifier,
    SmallCNN,
    Standardize,
)

FAST = dict(max_epochs=2, random_state=0)


def scaled_blobs(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, 3)) * [1.0, 100.0, 0.01] + [0.0, 5000.0, -3.0]
    y = np.array([0] * 70 + [1] * 20)
    return X.astype(np.float32), y


def test_default_mlp_standardises_with_the_training_rows_statistics():
    X, y = scaled_blobs()
    clf = CRLClassifier(**FAST).fit(X, y)
    scale = clf.module_.standardize
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(scale.mean.numpy(), X64.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(scale.scale.numpy(), X64.std(axis=0), rtol=1e-5)
    # what the first layer reads: mean 0, standard deviation 1 per feature
    seen = scale(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(seen.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(seen.std(axis=0), 1, atol=1e-4)


def test_standardisation_excludes_the_held_out_rows():
    X, y = scaled_blobs()
    clf = CRLClassifier(early_stopping=True, **FAST).fit(X, y)
    train, valid = clf._holdout_
    assert len(valid) == 9  # round(0.1 * 70) + round(0.1 * 20)
    np.testing.assert_allclose(
        clf.module_.standardize.mean.numpy(), X[train].mean(axis=0), rtol=1e-5
    )


def test_weighted_standardisation_and_sparse_input_scaled_not_centred():
    X, y = scaled_blobs()
    weight = np.where(y == 1, 3.0, 1.0)
    clf = CRLClassifier(**FAST).fit(X, y, sample_weight=weight)
    mean = np.average(X.astype(np.float64), axis=0, weights=weight)
    np.testing.assert_allclose(clf.module_.standardize.mean.numpy(), mean, rtol=1e-5)
    sparse = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0))
    clf = CRLClassifier(**FAST).fit(sparse, y)
    dense = sparse.toarray().astype(np.float64)
    assert not clf.module_.standardize.mean.any()
    np.testing.assert_allclose(
        clf.module_.standardize.scale.numpy(), dense.std(axis=0), rtol=1e-5
    )


def test_dataset_input_and_the_switch_leave_features_as_they_are():
    X, y = scaled_blobs()
    clf = CRLClassifier(**FAST).fit(Dataset(X, y), y)
    assert not clf.module_.standardize.mean.any()
    assert (clf.module_.standardize.scale == 1).all()
    off = CRLClassifier(module__standardize=False, **FAST).fit(X, y)
    assert off.module_.standardize is None
    assert "standardize.mean" not in off.module_.state_dict()


def test_standardisation_travels_with_the_module():
    X, y = scaled_blobs()
    clf = CRLClassifier(**FAST).fit(X, y)
    module = pickle.loads(pickle.dumps(clf.module_))
    torch.testing.assert_close(module.standardize.mean, clf.module_.standardize.mean)
    expected = clf.predict_proba(X[:5])
    state = clf.module_.state_dict()
    fresh = MLP(3, 2)
    fresh.load_state_dict(state)
    with torch.no_grad():
        logits = fresh(torch.from_numpy(X[:5]))
    torch.testing.assert_close(
        logits, clf.module_(torch.from_numpy(X[:5])).detach(), rtol=0, atol=0
    )
    assert expected.shape == (5, 2)


def test_parameters_saved_before_standardisation_load_as_the_identity():
    old = MLP(3, 2, standardize=False)
    state = old.state_dict()  # no standardize.* keys, as before
    new = MLP(3, 2)
    new.standardize.set_statistics([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    new.load_state_dict(state)
    x = torch.randn(4, 3)
    torch.testing.assert_close(new(x), old(x))
    # and a pickle of an MLP without the attribute
    del old.__dict__["standardize"]
    restored = pickle.loads(pickle.dumps(old))
    assert restored.standardize is None and restored(x).shape == (4, 2)


def test_raw_scales_train_as_well_as_scaled_ones():
    X, y = scaled_blobs()
    raw = CRLClassifier(max_epochs=5, random_state=0).fit(X, y)
    scaled_X = (X - X.mean(axis=0)) / X.std(axis=0)
    scaled = CRLClassifier(max_epochs=5, random_state=0).fit(scaled_X, y)
    # the network reads the same standardised features either way
    np.testing.assert_allclose(
        raw.predict_proba(X), scaled.predict_proba(scaled_X), atol=1e-4
    )


def test_balanced_training_data_warns_that_crl_weighs_nothing():
    X, y = scaled_blobs()
    pipeline = make_pipeline(RandomOverSampler(random_state=0), CRLClassifier(**FAST))
    with pytest.warns(BalancedDataWarning, match="plain cross-entropy"):
        pipeline.fit(X, y)
    assert pipeline[-1].alpha_ == 0 and pipeline[-1]._logit_shift_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", BalancedDataWarning)
        # the comparison's resampling methods ask for no CRL: no warning
        make_pipeline(
            RandomOverSampler(random_state=0), CRLClassifier(alpha=0.0, **FAST)
        ).fit(X, y)
        CRLClassifier(**FAST).fit(X, y)  # imbalanced: CRL weighs
        CRLClassifier(eta=0.0, **FAST).fit(X[:40], y[:40] * 0 + np.arange(40) % 2)


def test_small_cnn_is_sized_from_the_data():
    rng = np.random.default_rng(0)
    X = rng.random((24, 3, 8, 8)).astype(np.float32)
    y = np.arange(24) % 4
    clf = CRLClassifier(module=SmallCNN, **FAST).fit(X, y)
    assert clf.module_.head.out_features == 4
    assert clf.module_.body[0].in_channels == 3
    assert clf.module_.return_embeddings is False
    inst = CRLClassifier(module=SmallCNN, level="instance", **FAST).fit(X, y)
    assert inst.module_.return_embeddings is True
    Y = np.column_stack([y == 0, y == 1]).astype(int)
    multi = CRLMultiLabelClassifier(module=SmallCNN, **FAST).fit(X, Y)
    assert multi.module_.head.out_features == 2


def test_flattened_images_for_a_cnn_are_a_clear_error():
    X = np.zeros((20, 64), dtype=np.float32)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match=r"\(n_samples, channels, height, width\)"):
        CRLClassifier(module=SmallCNN, **FAST).fit(X, y)


def test_a_module_of_the_wrong_width_is_a_clear_error():
    X, y = scaled_blobs()
    with pytest.raises(ValueError, match=r"returns 3 logits .* 2 classes"):
        CRLClassifier(module=MLP, module__n_classes=3, **FAST).fit(X, y)


def test_text_columns_name_the_column_and_the_fix():
    X = pd.DataFrame(
        {"age": [30.0, 40, 50, 60], "city": ["a", "b", "a", "b"], "ok": [1, 0, 1, 0]}
    )
    with pytest.raises(ValueError, match=r"'city'.*ColumnTransformer.*OneHotEncoder"):
        CRLClassifier(**FAST).fit(X, [0, 1, 0, 1])
    text = np.array([["1.0", "x"], ["2.0", "y"]], dtype=object)
    with pytest.raises(ValueError, match=r"holds text.*OneHotEncoder"):
        CRLClassifier(**FAST).fit(text, [0, 1])
    # numbers stored as objects stay numbers
    numbers = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=object)
    CRLClassifier(**FAST).fit(numbers, [0, 1])


def test_standardize_module_alone():
    scale = Standardize(2)
    x = torch.tensor([[1.0, 2.0]])
    torch.testing.assert_close(scale(x), x)  # the identity until it is set
    scale.set_statistics([1.0, 0.0], [1.0, 2.0])
    torch.testing.assert_close(scale(x), torch.tensor([[0.0, 1.0]]))
