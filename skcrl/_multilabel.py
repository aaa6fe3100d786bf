"""CRLMultiLabelClassifier: binary attributes, the paper's main setting, trained
with the Class Rectification Loss."""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
)
from sklearn.utils.class_weight import compute_class_weight
from skorch import NeuralNet
from skorch.utils import to_numpy

from ._base import _CRLNet
from ._cross_entropy import weighted_entry_mean
from ._estimator_docs import with_shared_signature
from ._inputs import (
    dataset_weights,
)
from .metrics import mean_balanced_accuracy_score

__all__ = ["CRLMultiLabelClassifier"]


def _valid_mean_balanced_accuracy(net, X, y):
    return mean_balanced_accuracy_score(
        to_numpy(y), net.predict(X), sample_weight=dataset_weights(X)
    )


@with_shared_signature
class CRLMultiLabelClassifier(_CRLNet, ClassifierMixin, NeuralNet):
    """Multi-label (binary attributes) classifier trained with the Class
    Rectification Loss, the paper's main setting (face and clothing attributes).

    Every attribute ``j`` is an imbalanced binary task on a shared network: the
    module returns ``J`` logits, ``L_ce`` is the mean binary cross-entropy over all
    entries and ``L_crl`` pools the triplets of every attribute's minority class
    (SPEC §6); the loss is ``alpha * L_crl + (1 - alpha) * L_ce`` with ``alpha``
    from the mean imbalance of the attributes. Arguments, defaults, validation and
    scikit-learn behaviour are those of :class:`CRLClassifier`.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network. ``None`` uses :class:`skcrl.MLP` with one output per
        attribute, sized from the data at ``fit``. Its ``forward`` returns the
        logits ``(n, J)``, or ``(logits, embeddings)`` with embeddings shared,
        ``(n, D)``, or per attribute, ``(n, J, D)``; ``level="instance"`` needs
        them.
    threshold : float or array-like of shape (n_attributes,), default=0.5
        ``predict`` says an attribute is present when its balanced probability
        (the sigmoid of the raw logit, ``balanced_proba=True``) is at least this
        (one value for all attributes, or one per attribute): 0.5 is the
        class-balanced decision.
    criterion : torch criterion class, default=torch.nn.BCEWithLogitsLoss
        The binary cross-entropy term on logits. A criterion class is built with
        ``reduction="none"`` (unless ``criterion__reduction`` says otherwise) so
        that ``class_weight`` can weigh each entry.
    %(crl_parameters)s
    class_weight : "balanced", dict, list of dict or None, default=None
        Weights of the cross-entropy term per attribute value: ``"balanced"``
        weighs the positives and negatives of each attribute by
        ``n_samples / (2 * count)``; a dict ``{0: w0, 1: w1}`` applies to every
        attribute, a list of ``n_attributes`` dicts to one each (as scikit-learn's
        multi-output estimators take them). The term is
        ``sum(w * l) / sum(w)`` over the entries of a batch. The logit
        adjustment's prior counts them (``class_prior_``): ``"balanced"``
        makes every attribute's prior 0.5 and the adjustment vanishes.
    %(training_parameters)s
    Attributes
    ----------
    classes_ : list of ndarray
        ``[0, 1]`` for each attribute, as scikit-learn's multi-output classifiers.
    n_outputs_ : int
        Number of attributes ``J``.
    n_features_in_ : int
        Number of features (second dimension of ``X``).
    imbalance_ : float
        Mean ``Omega_imb`` of the attributes (:func:`skcrl.imbalance_measure`).
    alpha_ : float
        The weight of the CRL term used.
    class_weight_ : ndarray of shape (n_attributes, 2) or None
        The cross-entropy weights of negatives and positives used.
    class_prior_ : ndarray of shape (n_attributes,)
        The ``prior`` of ``logit_adjustment``: the positive rate of each
        attribute, each entry counted with its sample weight times the class
        weight of its value (SPEC §8); 0.5 under ``class_weight="balanced"``,
        where the adjustment vanishes.
    %(stopping_attributes)s
    module_, criterion_, optimizer_, history_
        As in skorch; the history records ``train_ce`` and ``train_crl`` as in
        :class:`CRLClassifier`, and ``valid_mean_bacc`` with a validation split.

    See Also
    --------
    skcrl.metrics.mean_balanced_accuracy_score : the paper's metric for attributes.
    skcrl.datasets.load_digits_attributes : a built-in attribute data set.

    Notes
    -----
    ``score`` is scikit-learn's classifier score, the subset accuracy (all
    attributes right), which rare attributes hardly move; search and
    cross-validate with ``scoring=skcrl.metrics.mean_balanced_accuracy_scorer``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrl import CRLMultiLabelClassifier
    >>> from skcrl.metrics import mean_balanced_accuracy_score
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5)).astype("float32")
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1.3])  # common and rare
    >>> clf = CRLMultiLabelClassifier(lr=0.01, random_state=0).fit(X, Y)
    >>> clf.n_outputs_
    2
    >>> bool(np.isclose(clf.imbalance_, np.mean(np.abs(Y.mean(axis=0) - 0.5))))
    True
    >>> clf.predict_proba(X[:2]).shape, clf.predict(X[:2]).dtype
    ((2, 2), dtype('int64'))
    >>> bool(mean_balanced_accuracy_score(Y, clf.predict(X)) > 0.8)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **_CRLNet._parameter_constraints,
        "threshold": [Interval(Real, 0, 1, closed="both"), "array-like"],
        "class_weight": [StrOptions({"balanced"}), dict, list, None],
    }
    _valid_scoring = ("valid_mean_bacc", _valid_mean_balanced_accuracy)
    _logit_unit = "attributes"
    _multi_output = True

    def __init__(
        self,
        module=None,
        *,
        threshold=0.5,
        criterion=torch.nn.BCEWithLogitsLoss,
        **kwargs,
    ):
        super().__init__(module, criterion=criterion, **kwargs)
        self.threshold = threshold

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def _validate_own_params(self):
        super()._validate_own_params()
        self._thresholds()

    def _thresholds(self, n_outputs=None):
        threshold = np.asarray(self.threshold, dtype=float)
        if threshold.ndim > 1 or not np.all((threshold >= 0) & (threshold <= 1)):
            raise ValueError(
                "threshold must be a probability in [0, 1] or a 1-D array of them "
                f"(one per attribute), got {self.threshold!r}."
            )
        if threshold.ndim == 1 and n_outputs is not None:
            if threshold.shape[0] != n_outputs:
                raise ValueError(
                    f"threshold has {threshold.shape[0]} values but the classifier "
                    f"predicts {n_outputs} attributes."
                )
        return threshold

    def _n_logits(self):
        return self.n_outputs_

    def _check_target_kind(self, y):
        if sp.issparse(y):
            return
        try:
            shape = np.asarray(y).shape
        except ValueError:  # ragged: lists of labels of different lengths
            shape = "ragged"
        if isinstance(shape, tuple) and len(shape) == 2:
            return
        raise ValueError(
            f"y has shape {shape}: {type(self).__name__} takes a 2-D 0/1 "
            "indicator matrix of shape (n_samples, n_attributes) (MultiLabelBinarizer "
            "makes one from lists of labels). For one label per sample use "
            "CRLClassifier; for a single binary attribute pass y.reshape(-1, 1)."
        )

    def _encode_target(self, y, reset):
        if sp.issparse(y):
            y = y.toarray()
        if not np.isin(y, (0, 1)).all():
            values = np.unique(y[~np.isin(y, (0, 1))])[:5]
            raise ValueError(
                f"y must hold 0 (absent) and 1 (present) only, got values such as "
                f"{values.tolist()}; MultiLabelBinarizer turns label lists into "
                "such a matrix."
            )
        y = y.astype(np.float32)
        if reset:
            positives = y.sum(axis=0)
            constant = np.flatnonzero((positives == 0) | (positives == len(y)))
            if constant.size:
                kind = [
                    "no positive" if positives[j] == 0 else "no negative"
                    for j in constant
                ]
                described = ", ".join(
                    f"column {j} ({what})"
                    for j, what in zip(constant, kind, strict=True)
                )
                raise ValueError(
                    f"y has attributes with a single value: {described}. Each "
                    "attribute is a binary task and needs samples of both values "
                    "to train and to be scored; drop those columns or add samples."
                )
            self.n_outputs_ = y.shape[1]
            self.classes_ = [np.array([0, 1]) for _ in range(self.n_outputs_)]
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} attributes but the classifier was fitted with "
                f"{self.n_outputs_}."
            )
        return y

    def _class_weights(self, encoded):
        weight = self.class_weight
        n_outputs = encoded.shape[1]
        if isinstance(weight, str):
            return np.stack(
                [
                    compute_class_weight(weight, classes=np.array([0, 1]), y=column)
                    for column in encoded.T.astype(int)
                ]
            )
        if isinstance(weight, dict):
            weight = [weight] * n_outputs
        if len(weight) != n_outputs:
            raise ValueError(
                f"class_weight is a list of {len(weight)} dicts but y has "
                f"{n_outputs} attributes; give one dict per attribute."
            )
        rows = []
        for j, per_value in enumerate(weight):
            if not isinstance(per_value, dict) or not set(per_value) <= {0, 1}:
                raise ValueError(
                    f"class_weight[{j}] must be a dict with keys 0 and/or 1, "
                    f"got {per_value!r}."
                )
            rows.append([float(per_value.get(0, 1.0)), float(per_value.get(1, 1.0))])
        return np.array(rows)

    def _initialize_cross_entropy(self):
        kwargs = self.get_params_for("criterion")
        if isinstance(self.criterion, type):
            kwargs.setdefault("reduction", "none")
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        weight = getattr(self, "class_weight_", None)
        if weight is None:
            self._entry_weight_ = None
            return self
        # a probe on the host, so that the mismatch fails before training
        probe = torch.zeros(1, 1)
        if self.criterion_.to("cpu")(probe, probe).dim() == 0:
            raise ValueError(
                "class_weight needs per-entry losses, but the criterion reduces them "
                "to one number: pass a criterion class, or "
                "criterion__reduction='none'."
            )
        self.criterion_.to(self.device)
        # on the training device once, not copied there at every batch
        self._entry_weight_ = torch.as_tensor(
            weight, dtype=torch.float32, device=self.device
        )
        return self

    def _cross_entropy(self, logits, target, sample_weight=None):
        losses = self.criterion_(logits, target)
        if losses.dim() == 0:  # a criterion that reduces (checked in initialize)
            if sample_weight is not None:
                raise ValueError(
                    "sample_weight needs per-entry losses, but the criterion "
                    "reduces them to one number: pass a criterion class, or "
                    "criterion__reduction='none'."
                )
            return losses
        if self._entry_weight_ is None and sample_weight is None:
            return losses.mean()
        return weighted_entry_mean(losses, target, self._entry_weight_, sample_weight)

    def _weigh_built_criterion(self):
        if self.class_weight_ is not None:
            self._entry_weight_ = torch.as_tensor(
                self.class_weight_, dtype=torch.float32, device=self.device
            )

    def _target_tensor(self, target, logits):
        # a user's dataset may hold its 0/1 attributes as integers
        return target if target.is_floating_point() else target.float()

    def _get_predict_nonlinearity(self):
        # skorch's "auto" turns BCE logits into (n, 2) binary probabilities.
        if self.predict_nonlinearity == "auto":
            return torch.sigmoid
        return super()._get_predict_nonlinearity()

    def partial_fit(self, X, y, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising
        (``sample_weight`` as in ``fit``); no held-out part, no stopping rule."""
        return self._continue_training(X, y, fit_params, sample_weight)

    def predict_proba(self, X):
        """Probability of each attribute, shape (n_samples, n_attributes).

        By default the probabilities the binary cross-entropy was fitted to:
        the sigmoid of ``logit_j + logit_adjustment * log(pi_j / (1 - pi_j))``,
        ``pi = class_prior_`` (SPEC §8). Without weights they are calibrated to
        each attribute's rate in the training labels, as a plain binary
        cross-entropy model's are: an attribute present in 2% of the training
        samples comes out near 2% on average. ``balanced_proba=True`` returns
        the balanced probabilities instead, the sigmoid of the raw logits.

        :meth:`predict` thresholds the balanced probabilities, so under
        imbalance it need not agree with ``predict_proba(X) >= threshold``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or a Dataset

        Returns
        -------
        ndarray of shape (n_samples, n_attributes)
        """
        return super().predict_proba(X)

    def predict(self, X):
        """0/1 attributes, shape (n_samples, n_attributes): 1 where the
        balanced probability (the sigmoid of the raw logit, as
        ``balanced_proba=True`` returns it) reaches ``threshold``.

        The default ``threshold=0.5`` is then the class-balanced decision of
        each attribute (Menon et al., 2021); thresholds chosen on the default
        :meth:`predict_proba`, calibrated to the training rates, apply to it
        as ``predict_proba(X) >= t``, not through ``threshold``.
        """
        proba = self._probabilities(X, balanced=True)
        return (proba >= self._thresholds(self.n_outputs_)).astype(np.int64)
