"""CRLClassifier: a skorch ``NeuralNetClassifier`` trained with the Class
Rectification Loss."""

from __future__ import annotations

import functools
from typing import ClassVar

import numpy as np
import torch
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import (
    StrOptions,
)
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from skorch import NeuralNetClassifier
from skorch.utils import to_numpy

from ._base import _CRLNet
from ._cross_entropy import weighted_cross_entropy
from ._estimator_docs import with_shared_signature
from ._inputs import (
    dataset_weights,
)

__all__ = ["CRLClassifier"]


def _valid_accuracy(net, X, y):
    """Accuracy on the validation split, whose cached targets are encoded,
    weighted by the split's sample weights when fit had some."""
    return accuracy_score(
        net.classes_[to_numpy(y).astype(int)],
        net.predict(X),
        sample_weight=dataset_weights(X),
    )


def _holds_objects(y):
    """Whether ``y`` is a list or an object array (which may mix label types)."""
    return isinstance(y, (list, tuple)) or str(getattr(y, "dtype", "")) == "object"


def _adopt_saved_weight(module, state_dict, prefix, *args):
    """Give a criterion built without class weights the saved ones, which
    ``load_state_dict`` would otherwise refuse as an unexpected key."""
    saved = state_dict.get(prefix + "weight")
    if saved is not None and module.weight is None:
        module.weight = saved.detach().clone()


@with_shared_signature
class CRLClassifier(_CRLNet, NeuralNetClassifier):
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
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        The cross-entropy term on the module's logits. ``torch.nn.NLLLoss``, as
        in skorch, is for a module that returns probabilities: their logarithms
        are the logits of both terms, and ``predict_proba`` returns the module's
        output as it is.
    %(crl_parameters)s
    class_weight : dict, "balanced" or None, default=None
        Weights of the cross-entropy term per class, as in scikit-learn: a dict
        ``{label: weight}`` (missing labels weigh 1), or ``"balanced"`` for
        ``n_samples / (n_classes * count)``. The logit adjustment's prior
        counts them (``class_prior_``): ``"balanced"`` makes it uniform and
        the adjustment vanishes, rather than correcting for the prior twice.
    %(training_parameters)s
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
    class_prior_ : ndarray of shape (n_classes,)
        The ``prior`` of ``logit_adjustment``: the class distribution the
        cross-entropy term sees, each training label counted with its sample
        weight times its class weight (SPEC §8; a class of ``classes_`` absent
        from the labels gets ``1 / (n + C)`` before renormalising). Without
        weights, the class frequencies; with weights that balance the classes
        (``class_weight="balanced"``, or balanced ``sample_weight``), uniform,
        and the adjustment vanishes instead of correcting the prior twice.
    %(stopping_attributes)s
    module_, criterion_, optimizer_, history_
        As in skorch. The history records ``train_ce`` and ``train_crl`` (and
        ``valid_*`` with a validation split) per batch and per epoch, beside
        ``train_loss``.

    See Also
    --------
    CRLMultiLabelClassifier : the same for several binary attributes per sample.

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
        **_CRLNet._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }
    _valid_scoring = ("valid_acc", _valid_accuracy)
    _logit_unit = "classes"
    _multi_output = False

    def __init__(self, module=None, *, criterion=torch.nn.CrossEntropyLoss, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)

    @property
    def classes_(self):
        fitted = self.__dict__.get("_fitted_classes_")
        if fitted is not None:
            return fitted
        if self.classes is not None and len(self.classes):
            # skorch's argument names the classes of a net that was initialised
            # and loaded without fit
            return np.asarray(self.classes)
        raise AttributeError(
            f"{type(self).__name__} is not fitted yet: classes_ is set by fit (or "
            "given as the classes argument)."
        )

    def _n_logits(self):
        return len(self.classes_)

    def _check_target_kind(self, y):
        labels = np.asarray(y, dtype=object).ravel() if _holds_objects(y) else None
        if labels is not None:
            kinds = {isinstance(label, str) for label in labels}
            if len(kinds) > 1:
                raise ValueError(
                    "y mixes strings and numbers as labels (such as "
                    f"{next(v for v in labels if isinstance(v, str))!r} and "
                    f"{next(v for v in labels if not isinstance(v, str))!r}): give "
                    "every label the same type, e.g. y.astype(str)."
                )
        target_type = type_of_target(y, input_name="y")
        if target_type in ("multilabel-indicator", "multiclass-multioutput"):
            raise ValueError(
                f"y has shape {np.shape(y)}: {type(self).__name__} takes one label "
                "per sample, a 1-D y. For several binary attributes per sample use "
                "CRLMultiLabelClassifier."
            )

    def _encode_target(self, y, reset, classes=None):
        check_classification_targets(y)
        if reset:
            self._fitted_classes_ = self._known_classes(y, classes)
        known = self.classes_
        order = np.argsort(known, kind="stable")
        try:
            position = np.searchsorted(known[order], y).clip(max=len(known) - 1)
            found = np.asarray(known[order][position] == y, dtype=bool)
        except TypeError:  # labels of another kind (numbers for strings)
            position, found = None, np.zeros(len(y), dtype=bool)
        if not found.any() and self._indexes_classes(y):
            # skorch's convention: y holds indices into the classes argument
            return np.asarray(y).astype(np.int64)
        if not found.all():
            unknown = np.unique(np.asarray(y)[~found])
            raise ValueError(
                f"y holds labels {unknown.tolist()} unknown to this classifier, whose "
                f"classes are {known.tolist()}."
            )
        return order[position].astype(np.int64)

    def _known_classes(self, y, classes):
        """partial_fit's ``classes`` (sorted, as in scikit-learn), else skorch's
        ``classes`` argument (in its order, as in skorch), else those of y."""
        if classes is not None:
            known = np.unique(classes)
        elif self.classes is not None:
            known = np.asarray(self.classes)
            if known.ndim != 1 or len(np.unique(known)) != len(known):
                raise ValueError(
                    "classes must list each label of the problem once, got "
                    f"{self.classes!r}; or pass None to take them from y."
                )
        else:
            known = np.unique(y)
        if len(known) < 2:
            what = (
                "no class"
                if len(known) == 0
                else f"a single class ({known.tolist()[0]!r})"
            )
            source = "y" if classes is None and self.classes is None else "classes"
            raise ValueError(
                f"{source} holds {what}; a classifier needs samples of at least 2 "
                "classes."
            )
        return known

    def _indexes_classes(self, y):
        y = np.asarray(y)
        return (
            self.classes is not None
            and y.dtype.kind in "iu"
            and y.min() >= 0
            and y.max() < len(self.classes_)
        )

    def _target_tensor(self, target, logits):
        # a user's dataset may hold its labels as floats or int32
        return target.long()

    def _class_weights(self, encoded):
        weight = self.class_weight
        if isinstance(weight, dict):
            labels = set(self.classes_.tolist())
            extra = [key for key in weight if key not in labels]
            if extra:
                raise ValueError(
                    f"class_weight has keys {extra} that are not classes of y "
                    f"{self.classes_.tolist()}."
                )
            return np.array([float(weight.get(c, 1.0)) for c in self.classes_.tolist()])
        return compute_class_weight(
            weight, classes=np.arange(self._n_logits()), y=encoded
        )

    def _initialize_cross_entropy(self):
        kwargs = self.get_params_for("criterion")
        if getattr(self, "class_weight_", None) is not None and "weight" not in kwargs:
            kwargs["weight"] = torch.as_tensor(self.class_weight_, dtype=torch.float32)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        if (
            self.class_weight is not None
            and isinstance(self.criterion_, torch.nn.modules.loss._WeightedLoss)
            and self.criterion_.weight is None
        ):
            # initialised before seeing data: a saved criterion brings its weights
            self.criterion_.register_load_state_dict_pre_hook(_adopt_saved_weight)
        return self

    def _cross_entropy_class_weights(self):
        # criterion__weight, when given, weighs the term in class_weight_'s place
        weight = self.get_params_for("criterion").get("weight")
        if weight is None:
            return self.class_weight_
        return to_numpy(torch.as_tensor(weight)).astype(float)

    def _weigh_built_criterion(self):
        weight = self.class_weight_
        if weight is None or "weight" in self.get_params_for("criterion"):
            return
        if not isinstance(self.criterion_, torch.nn.modules.loss._WeightedLoss):
            raise ValueError(
                "class_weight weighs the cross-entropy through its weight "
                f"argument, which {type(self.criterion_).__name__} lacks."
            )
        self.criterion_.weight = torch.as_tensor(
            weight, dtype=torch.float32, device=self.device
        )

    def _get_predict_nonlinearity(self):
        # Every criterion but NLLLoss reads the module's output as logits, as the
        # CRL term does: "auto" takes their softmax, where skorch's takes it for
        # CrossEntropyLoss only (FocalLoss or LDAMLoss would give raw logits).
        # Like skorch's, it keeps the output as it is for several criteria.
        if self.predict_nonlinearity == "auto" and len(self._criteria) == 1:
            criterion = getattr(self, self._criteria[0] + "_", None)
            if criterion is not None and not isinstance(
                criterion,
                (torch.nn.NLLLoss, torch.nn.BCELoss, torch.nn.BCEWithLogitsLoss),
            ):
                return functools.partial(torch.softmax, dim=-1)
        return super()._get_predict_nonlinearity()

    def _as_logits(self, output):
        # As skorch's NeuralNetClassifier: with NLLLoss the module returns
        # probabilities, whose logarithms are logits (softmax(log p) = p).
        if isinstance(self.criterion_, torch.nn.NLLLoss):
            return torch.log(output + torch.finfo(output.dtype).eps)
        return output

    def _as_output(self, logits):
        if isinstance(self.criterion_, torch.nn.NLLLoss):
            return torch.softmax(logits, dim=-1)
        return logits

    def _cross_entropy(self, logits, target, sample_weight=None):
        if isinstance(self.criterion_, torch.nn.NLLLoss):
            # normalised again after a logit adjustment: NLL(log_softmax(z + s))
            # is the cross-entropy of the adjusted logits
            logits = torch.log_softmax(logits, dim=-1)
        if sample_weight is None:
            return self.criterion_(logits, target)
        if not isinstance(
            self.criterion_, (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)
        ):
            raise ValueError(
                "sample_weight weighs the cross-entropy per sample, which needs "
                "criterion=CrossEntropyLoss or NLLLoss, got "
                f"{type(self.criterion_).__name__}."
            )
        # log_softmax of log-probabilities is themselves: one formula for both
        return weighted_cross_entropy(
            logits, target, self.criterion_.weight, sample_weight
        )

    def partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising.

        The stopping rule is ``fit``'s: ``partial_fit`` holds nothing out and
        stops nothing, as scikit-learn's ``partial_fit`` does not.

        ``classes`` lists every label of the problem on the first call, as in
        scikit-learn, when ``y`` does not hold them all; ``sample_weight`` as in
        ``fit``.
        """
        return self._continue_training(X, y, fit_params, sample_weight, classes=classes)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the
        order of ``classes_``.

        By default the probabilities the cross-entropy term was fitted to: the
        softmax of ``logits + logit_adjustment * log(class_prior_)`` (SPEC §8).
        Without weights they are calibrated to the class distribution of the
        training labels, as a plain cross-entropy model's are: a class of 3%
        of the training data comes out near 3% on average. With
        ``class_weight`` or ``sample_weight`` they are those of the distribution
        the weighted loss saw (``class_prior_``), as in scikit-learn.
        ``balanced_proba=True`` returns the class-balanced probabilities
        instead, the softmax of the raw logits.

        Under imbalance, :meth:`predict` need not be the argmax of these: it
        decides on the balanced probabilities, which aim at the class-balanced
        error. For decisions at the training prior, take
        ``classes_[predict_proba(X).argmax(axis=1)]``; for a decision tuned to a
        metric or to costs, scikit-learn's ``TunedThresholdClassifierCV``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or a Dataset

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return super().predict_proba(X)

    def predict(self, X):
        """The class-balanced decision: the label of the largest raw logit,
        from ``classes_``.

        It is the argmax of the balanced probabilities (``balanced_proba=True``)
        and, under a logit adjustment, not always that of the default
        :meth:`predict_proba`, which is calibrated to the training prior: the
        adjustment trains the raw logits to rank rare classes as the
        class-balanced error asks (Menon et al., 2021). Without an adjustment
        (``logit_adjustment=0``, or weights that balance the classes) both
        agree.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or a Dataset

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        best = self._probabilities(X, balanced=True).argmax(axis=1)
        try:
            classes = self.classes_
        except AttributeError:
            # initialised and loaded without fit or classes: indices, as skorch
            return best
        return classes[best]
