"""CRLClassifier: a skorch classifier trained with the Class Rectification Loss."""

from __future__ import annotations

from contextlib import contextmanager
from numbers import Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import validate_data
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring, EpochTimer, PassthroughScoring, PrintLog
from skorch.utils import is_dataset, to_numpy, to_tensor

from ._checks import (
    ALPHA_CONSTRAINT,
    CRL_CONSTRAINTS,
    check_crl_parameters,
    crl_parameters,
)
from ._loss import crl_loss, imbalance_measure
from ._modules import MLP, n_inputs

__all__ = ["CRLClassifier"]


def _valid_accuracy(net, X, y):
    """Accuracy on the validation split, whose cached targets are encoded."""
    return accuracy_score(net.classes_[to_numpy(y).astype(int)], net.predict(X))


def split_output(output):
    """``(logits, embeddings or None)`` of a module's forward output."""
    if isinstance(output, (tuple, list)):
        return output[0], (output[1] if len(output) > 1 else None)
    return output, None


class CRLClassifier(NeuralNetClassifier):
    """Neural network classifier trained with the Class Rectification Loss.

    A :class:`skorch.NeuralNetClassifier` whose loss is
    ``alpha * L_crl + (1 - alpha) * L_ce`` (Dong, Gong & Zhu, TPAMI 2018): besides
    the cross-entropy, every mini-batch mines the hard samples of its minority
    classes and ranks them apart (:func:`skcrl.crl_loss`). It behaves as a
    scikit-learn classifier: any labels, ``classes_``, ``predict_proba``,
    ``clone``, pipelines, grid search. Every skorch argument is accepted as well.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network. ``None`` uses :class:`skcrl.MLP`, sized from the data at
        ``fit`` (set its other arguments with ``module__hidden_layer_sizes=...``).
        Its ``forward`` returns the logits ``(n, C)``, or ``(logits, embeddings)``;
        ``level="instance"`` needs the embeddings.
    eta : float, default=2.0
        ``alpha = min(1, eta * imbalance_)`` when ``alpha`` is None. The default is
        the value that cross-validation on the training parts of the built-in data
        sets supports (``benchmarks/tune_eta.py``, figures in README).
    alpha : float in [0, 1], default=None
        Fixed weight of the CRL term, overriding ``eta``.
    level : {"class", "instance"}, default="class"
        Compare class probabilities or embeddings (see :func:`skcrl.crl_loss`).
    comparison : {"relative", "absolute", "distribution"}, default="relative"
        Triplet ranking, contrastive, or histogram loss.
    k : int, default=25
        Number of hard positives and hard negatives mined per minority class (class
        level) or per anchor (instance level).
    margin : float, default=0.5
        Margin of the relative and absolute comparisons.
    rho : float in (0, 1], default=0.5
        Share of a batch that its minority classes may hold together.
    n_bins : int, default=32
        Histogram nodes of the distribution comparison.
    class_weight : dict, "balanced" or None, default=None
        Weights of the cross-entropy term per class, as in scikit-learn: a dict
        ``{label: weight}`` (missing labels weigh 1), or ``"balanced"`` for
        ``n_samples / (n_classes * count)``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch shuffling and dropout of each ``fit``
        without touching the global torch random state. None: the global state.
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        The cross-entropy term; keep it a cross-entropy on logits.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=0.001
    max_epochs : int, default=20
    batch_size : int, default=128
    train_split : callable or None, default=None
        No internal validation split, as for scikit-learn estimators (inside
        cross-validation a second split would take minority samples away).
    verbose : int, default=0
        Print skorch's epoch table when 1.
    iterator_train__shuffle : bool, default=True
        Shuffle training batches: resampled data arrive sorted by class.
    **kwargs
        Any other :class:`skorch.NeuralNet` argument (``device``, ``callbacks``,
        ``warm_start``, ``module__*``, ``optimizer__*``, ``iterator_train__*``...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted.
    n_features_in_ : int
        Number of features (second dimension of ``X``).
    imbalance_ : float
        ``Omega_imb`` of the training labels (:func:`skcrl.imbalance_measure`).
    alpha_ : float
        The weight of the CRL term used.
    class_weight_ : ndarray of shape (n_classes,) or None
        The cross-entropy weights used.
    module_, criterion_, optimizer_, history_
        As in skorch. The history records ``train_ce`` and ``train_crl`` (and
        ``valid_*`` with a validation split) per batch and per epoch, beside
        ``train_loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl import CRLClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> y = np.where(X[:, 0] > 1.2, "rare", "common")
    >>> clf = CRLClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.classes_
    array(['common', 'rare'], dtype='<U6')
    >>> bool(np.isclose(clf.imbalance_, 0.5 - np.mean(y == "rare")))  # from 50/50
    True
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.predict_proba(X[:3]).sum(axis=1).round(4)
    array([1., 1., 1.], dtype=float32)
    """

    _parameter_constraints: ClassVar[dict] = {
        "eta": [Interval(Real, 0, None, closed="left")],
        "alpha": [*ALPHA_CONSTRAINT, None],
        **CRL_CONSTRAINTS,
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        module=None,
        *,
        eta=2.0,
        alpha=None,
        level="class",
        comparison="relative",
        k=25,
        margin=0.5,
        rho=0.5,
        n_bins=32,
        class_weight=None,
        random_state=None,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.001,
        max_epochs=20,
        batch_size=128,
        train_split=None,
        verbose=0,
        iterator_train__shuffle=True,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            verbose=verbose,
            iterator_train__shuffle=iterator_train__shuffle,
            **kwargs,
        )
        self.eta = eta
        self.alpha = alpha
        self.level = level
        self.comparison = comparison
        self.k = k
        self.margin = margin
        self.rho = rho
        self.n_bins = n_bins
        self.class_weight = class_weight
        self.random_state = random_state

    # -- parameters -----------------------------------------------------------

    def _get_param_names(self):
        # skorch lists its bookkeeping set `_params_to_validate` as a parameter;
        # clone rebuilds it from the keyword arguments anyway.
        return [n for n in super()._get_param_names() if n != "_params_to_validate"]

    def _validate_params(self):
        # skorch checks the names of its arguments; scikit-learn's machinery
        # checks the values of ours.
        super()._validate_params()
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        # scikit-learn's constraints take a bool for an int; the loss does not.
        check_crl_parameters(type(self).__name__, k=self.k, n_bins=self.n_bins)

    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("train_ce", PassthroughScoring(name="train_ce", on_train=True)),
            ("train_crl", PassthroughScoring(name="train_crl", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("valid_ce", PassthroughScoring(name="valid_ce")),
            ("valid_crl", PassthroughScoring(name="valid_crl")),
            (
                "valid_acc",
                EpochScoring(_valid_accuracy, name="valid_acc", lower_is_better=False),
            ),
            ("print_log", PrintLog()),
        ]

    # -- data -----------------------------------------------------------------

    @property
    def classes_(self):
        try:
            return self.label_encoder_.classes_
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__} is not fitted yet: classes_ is set by fit."
            ) from None

    def _check_training_data(self, X, y, reset, classes=None):
        """Validate and convert ``X`` and ``y``; encode ``y``; fit the label
        encoder when ``reset``. Nothing the caller passed is modified."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None: call fit(X, y) with one label per sample."
            )
        target_type = type_of_target(y, input_name="y")
        if target_type in ("multilabel-indicator", "multiclass-multioutput"):
            raise ValueError(
                f"y has shape {np.shape(y)}: {type(self).__name__} takes one label "
                "per sample, a 1-D y. For several binary attributes per sample use "
                "CRLMultiLabelClassifier."
            )
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=np.float32,
            allow_nd=True,
            ensure_min_samples=2,
        )
        check_classification_targets(y)
        if reset:
            # partial_fit's classes, else skorch's `classes` argument, else y
            known = next(c for c in (classes, self.classes, y) if c is not None)
            self.label_encoder_ = LabelEncoder().fit(known)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"y holds a single class ({self.classes_[0]!r}); a classifier "
                    "needs samples of at least 2 classes."
                )
            self._input_features_ = n_inputs(X.shape)
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y holds labels {unknown.tolist()} unknown to this classifier, whose "
                f"classes are {self.classes_.tolist()}."
            )
        encoded = self.label_encoder_.transform(y).astype(np.int64)
        if reset:
            self._set_loss_weights(encoded)
        return X, encoded

    def _set_loss_weights(self, encoded):
        n_classes = len(self.classes_)
        self.imbalance_ = imbalance_measure(encoded, n_classes=n_classes)
        if self.alpha is None:
            self.alpha_ = float(min(1.0, self.eta * self.imbalance_))
        else:
            self.alpha_ = float(self.alpha)
        weight = self.class_weight
        if weight is None:
            self.class_weight_ = None
        elif isinstance(weight, dict):
            labels = set(self.classes_.tolist())
            extra = [key for key in weight if key not in labels]
            if extra:
                raise ValueError(
                    f"class_weight has keys {extra} that are not classes of y "
                    f"{self.classes_.tolist()}."
                )
            self.class_weight_ = np.array(
                [float(weight.get(c, 1.0)) for c in self.classes_.tolist()]
            )
        else:
            self.class_weight_ = compute_class_weight(
                weight, classes=np.arange(n_classes), y=encoded
            )

    def _check_input(self, X):
        """Validate and convert ``X`` for prediction (a Dataset passes as is)."""
        self.check_is_fitted(["module_", "label_encoder_"])
        if is_dataset(X):
            return X
        return validate_data(self, X, reset=False, dtype=np.float32, allow_nd=True)

    # -- initialisation ---------------------------------------------------------

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        module = self.module
        if module is None:
            if not hasattr(self, "_input_features_"):
                raise ValueError(
                    "module=None sizes the default MLP from the data: call fit "
                    "(or pass a module) before initialize."
                )
            module = MLP
            kwargs = {
                "n_features": self._input_features_,
                "n_classes": len(self.classes_),
                "return_embeddings": self.level == "instance",
                **kwargs,
            }
        self.module_ = self.initialized_instance(module, kwargs)
        return self

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        if getattr(self, "class_weight_", None) is not None and "weight" not in kwargs:
            kwargs["weight"] = torch.as_tensor(self.class_weight_, dtype=torch.float32)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    @contextmanager
    def _seeded(self, continued):
        """Seed torch from ``random_state`` inside, restore its state after.

        A ``continued`` training (warm start, partial_fit) offsets the seed by the
        epochs done, so that successive calls shuffle differently, reproducibly.
        """
        if self.random_state is None:
            yield
            return
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        if continued:
            seed += len(self.history_ or [])
        devices = list(range(torch.cuda.device_count()))
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    # -- training ---------------------------------------------------------------

    def fit(self, X, y, **fit_params):
        """Initialise (unless warm-starting) and train on ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Numeric input (numpy, pandas, lists); image-shaped arrays pass to the
            module as they are. Converted to float32.
        y : array-like of shape (n_samples,)
            Labels of any type scikit-learn accepts.
        **fit_params
            Passed to skorch (``forward`` arguments, ``train_split``).

        Returns
        -------
        self
        """
        warm = self.warm_start and self.initialized_
        X, y = self._check_training_data(X, y, reset=not warm)
        with self._seeded(continued=warm):
            if not warm:
                self.initialize()
            super().partial_fit(X, y, **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising.

        ``classes`` lists every label of the problem on the first call, as in
        scikit-learn, when ``y`` does not hold them all.
        """
        continued = self.initialized_
        X, y = self._check_training_data(X, y, reset=not continued, classes=classes)
        with self._seeded(continued=continued):
            super().partial_fit(X, y, **fit_params)
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``alpha_ * L_crl + (1 - alpha_) * L_ce`` of one batch."""
        logits, embeddings = split_output(y_pred)
        if self.level == "instance" and embeddings is None:
            raise ValueError(
                'level="instance" needs a module whose forward returns '
                f"(logits, embeddings); {type(self.module_).__name__} returned only "
                "logits."
            )
        y_true = to_tensor(y_true, device=logits.device)
        ce = self.criterion_(logits, y_true)
        crl = crl_loss(logits, y_true, embeddings=embeddings, **crl_parameters(self))
        # Read by on_batch_end, so that only batches of fit reach the history.
        self._batch_terms_ = (ce.detach(), crl.detach())
        return self.alpha_ * crl + (1 - self.alpha_) * ce

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        terms = getattr(self, "_batch_terms_", None)
        if terms is not None:
            prefix = "train" if training else "valid"
            self.history.record_batch(f"{prefix}_ce", terms[0].item())
            self.history.record_batch(f"{prefix}_crl", terms[1].item())
            self._batch_terms_ = None
        super().on_batch_end(net, batch=batch, training=training, **kwargs)

    # -- prediction -------------------------------------------------------------

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits), shape (n_samples, n_classes),
        columns in the order of ``classes_``."""
        return super().predict_proba(self._check_input(X))

    def predict(self, X):
        """The most probable label of each sample, from ``classes_``."""
        best = self.predict_proba(X).argmax(axis=1)
        return self.classes_[best]
