"""Input that is not one array: torch Datasets, dicts of arrays, sparse matrices."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from skorch.dataset import Dataset, ValidSplit
from skorch.helper import predefined_split
from torch.utils.data import Subset, TensorDataset

from skcrl import ClassAwareDataLoader, CRLClassifier, CRLMultiLabelClassifier
from skcrl._inputs import EncodedTargets, dataset_labels

# The MLP's standardisation is fitted from arrays only (a Dataset is read
# lazily, sparse input is scaled but not centred): off, so that every input
# path trains the same network
FAST = dict(max_epochs=3, batch_size=32, random_state=0, module__standardize=False)


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0.8).astype(np.int64)
    return X, y


class CountingDataset(torch.utils.data.Dataset):
    """Samples on demand, counting the reads; labels as ``targets`` when asked."""

    def __init__(self, X, labels, with_targets):
        self.X, self.labels = X, labels
        if with_targets:
            self.targets = labels
        self.reads = 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        self.reads += 1
        return self.X[index], self.labels[index]


# -- datasets ----------------------------------------------------------------


def test_a_tensor_dataset_trains_the_model_its_arrays_train():
    X, y = _data()
    from_arrays = CRLClassifier(**FAST).fit(X, y)
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    from_dataset = CRLClassifier(**FAST).fit(dataset, None)
    assert from_dataset.imbalance_ == from_arrays.imbalance_
    np.testing.assert_allclose(
        from_dataset.predict_proba(X), from_arrays.predict_proba(X), atol=1e-6
    )
    np.testing.assert_allclose(
        from_dataset.predict_proba(dataset), from_arrays.predict_proba(X), atol=1e-6
    )
    np.testing.assert_array_equal(from_dataset.predict(dataset), from_arrays.predict(X))


def test_labels_come_from_targets_without_reading_the_inputs():
    X, y = _data()
    dataset = CountingDataset(X, y, with_targets=True)
    clf = CRLClassifier(max_epochs=0).fit(dataset, None)
    assert dataset.reads == 1  # the first sample, to size the default MLP
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    assert clf.imbalance_ == pytest.approx(0.5 - y.mean())


def test_labels_of_a_dataset_without_attributes_are_read_in_one_pass():
    X, y = _data()
    names = np.array(["common", "rare"])[y]
    dataset = CountingDataset(X, names, with_targets=False)
    clf = CRLClassifier(max_epochs=0).fit(dataset, None)
    assert dataset.reads == len(X) + 1
    np.testing.assert_array_equal(clf.classes_, ["common", "rare"])
    # the labels are kept, not read again per epoch by the class-aware batches
    clf = CRLClassifier(iterator_train=ClassAwareDataLoader, **FAST)
    dataset.reads = 0
    clf.fit(dataset, None)
    assert dataset.reads == (len(X) + 1) + FAST["max_epochs"] * len(X)
    assert set(clf.predict(dataset)) <= {"common", "rare"}


def test_string_labels_in_a_dataset_train_as_their_codes():
    X, y = _data()
    names = np.array(["common", "rare"])[y]
    from_arrays = CRLClassifier(**FAST).fit(X, names)
    from_dataset = CRLClassifier(**FAST).fit(CountingDataset(X, names, True), None)
    np.testing.assert_allclose(
        from_dataset.predict_proba(X), from_arrays.predict_proba(X), atol=1e-6
    )


def test_labels_of_subsets_and_skorch_datasets():
    X, y = _data()
    subset = Subset(CountingDataset(X, y, with_targets=True), [5, 0, 7])
    np.testing.assert_array_equal(dataset_labels(subset, "fit"), y[[5, 0, 7]])
    np.testing.assert_array_equal(dataset_labels(Dataset(X, y), "fit"), y)
    encoded = EncodedTargets(Dataset(X, y), 1 - y)
    np.testing.assert_array_equal(
        dataset_labels(Subset(encoded, [3]), "fit"), 1 - y[[3]]
    )


def test_a_dataset_without_labels_asks_for_y():
    X, _ = _data()
    with pytest.raises(ValueError, match="without y"):
        CRLClassifier().fit(Dataset(X, None), None)


def test_given_y_must_match_the_dataset():
    X, y = _data()
    with pytest.raises(ValueError, match="119 labels but the dataset has 120"):
        CRLClassifier().fit(TensorDataset(torch.from_numpy(X)), y[:-1])


def test_a_predefined_split_with_original_labels_is_scored_on_them():
    X, y = _data()
    names = np.array(["common", "rare"])[y]
    valid = Dataset(X[:40], names[:40])
    clf = CRLClassifier(train_split=predefined_split(valid), **FAST).fit(X, names)
    accuracy = np.mean(clf.predict(X[:40]) == names[:40])
    assert clf.history[-1, "valid_acc"] == pytest.approx(accuracy)
    for key in ("valid_loss", "valid_ce", "valid_crl"):
        assert np.isfinite(clf.history[-1, key])


def test_a_stratified_split_of_a_dataset_needs_y_as_in_skorch():
    X, y = _data()
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    clf = CRLClassifier(train_split=ValidSplit(4, stratified=True), **FAST)
    with pytest.raises(ValueError, match="Stratified CV requires"):
        clf.fit(dataset, None)
    clf.fit(dataset, y)
    assert "valid_acc" in clf.history[-1]


def test_multilabel_from_a_dataset():
    X, _ = _data()
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1.0]).astype(np.int64)
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    from_arrays = CRLMultiLabelClassifier(**FAST).fit(X, Y)
    from_dataset = CRLMultiLabelClassifier(**FAST).fit(dataset, None)
    assert from_dataset.n_outputs_ == 2
    np.testing.assert_allclose(
        from_dataset.predict_proba(X), from_arrays.predict_proba(X), atol=1e-6
    )


# -- dicts of arrays -----------------------------------------------------------


class TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 2)
        self.b = torch.nn.Linear(3, 2)

    def forward(self, first, second):
        return self.a(first) + self.b(second)


def test_a_dict_of_arrays_feeds_a_module_with_several_inputs():
    X, y = _data()
    inputs = {"first": X.astype(np.float64), "second": X[:, :3].copy()}
    kept = {name: values.copy() for name, values in inputs.items()}
    own = {k: v for k, v in FAST.items() if k != "module__standardize"}
    clf = CRLClassifier(TwoInputs, **own).fit(inputs, y)
    proba = clf.predict_proba(inputs)
    assert proba.shape == (len(X), 2)
    assert not hasattr(clf, "n_features_in_")
    for name in inputs:  # converted copies, the caller's arrays untouched
        np.testing.assert_array_equal(inputs[name], kept[name])
    module = clf.module_
    with torch.no_grad():
        logits = module(torch.from_numpy(X), torch.from_numpy(X[:, :3]))
    # the balanced probabilities: the softmax of the module's raw logits
    balanced = clf.set_params(balanced_proba=True).predict_proba(inputs)
    np.testing.assert_allclose(balanced, torch.softmax(logits, 1).numpy(), atol=1e-6)


def test_a_dict_is_checked_before_training():
    X, y = _data()
    second = X[:, :3].copy()
    second[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"X\['second'\].*NaN"):
        CRLClassifier(TwoInputs).fit({"first": X, "second": second}, y)
    with pytest.raises(ValueError, match="lengths differ"):
        CRLClassifier(TwoInputs).fit({"first": X, "second": X[:-1, :3]}, y)
    with pytest.raises(ValueError, match="pass a module whose forward takes"):
        CRLClassifier().fit({"first": X, "second": X[:, :3]}, y)


# -- sparse matrices -------------------------------------------------------------


def _sparse(n=120, seed=0):
    X = sp.random(n, 30, density=0.1, format="csr", random_state=seed)
    X = X.astype(np.float32)
    y = (np.asarray(X[:, :10].sum(axis=1)).ravel() > 0.6).astype(int)
    return X, y


def test_sparse_input_trains_the_model_its_dense_copy_trains():
    X, y = _sparse()
    from_sparse = CRLClassifier(**FAST).fit(X, y)
    from_dense = CRLClassifier(**FAST).fit(X.toarray(), y)
    assert sp.issparse(from_sparse.get_dataset(X).X)  # never made dense whole
    np.testing.assert_allclose(
        from_sparse.predict_proba(X), from_dense.predict_proba(X.toarray()), atol=1e-6
    )
    assert from_sparse.n_features_in_ == 30


def test_sparse_input_with_nan_is_refused():
    X, y = _sparse()
    X = X.copy()
    X.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CRLClassifier().fit(X, y)


def test_sparse_multilabel():
    X, _ = _sparse()
    dense = X.toarray()
    Y = np.column_stack([dense[:, 0] > 0, dense[:, 1] > 0]).astype(int)
    clf = CRLMultiLabelClassifier(**FAST).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
