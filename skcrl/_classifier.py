"""CRLClassifier and CRLMultiLabelClassifier: skorch nets trained with the Class
Rectification Loss, sharing one implementation (:class:`_CRLNet`)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from contextlib import contextmanager
from numbers import Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, _num_samples, validate_data
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import EpochScoring, EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import Dataset
from skorch.hf import AccelerateMixin
from skorch.utils import _check_f_arguments, is_dataset, to_numpy, to_tensor
from torch.utils.data import DataLoader

from ._callbacks import DivergenceGuard, TrainingRandomState
from ._checkpoint import CheckpointError, replace_atomically, torn_files
from ._checks import (
    ALPHA_CONSTRAINT,
    BALANCE_CONSTRAINTS,
    BALANCE_PARAMETER_DOCS,
    CRL_CONSTRAINTS,
    CRL_PARAMETER_DOCS,
    check_crl_parameters,
    crl_parameters,
)
from ._data import ArrayDataset, collate_for, indexes_batches
from ._distributed import is_distributed
from ._inputs import (
    EncodedTargets,
    WeightedInput,
    WeightedSamples,
    check_dict_input,
    dataset_labels,
    dataset_weights,
    first_input_shape,
    root_dataset,
    stored_labels,
)
from ._loss import (
    class_prior,
    crl_with_memory,
    imbalance_measure,
    logit_shift,
    weighted_cross_entropy,
    weighted_entry_mean,
)
from ._memory import CRLMemory
from ._modules import MLP, n_inputs
from .metrics import mean_balanced_accuracy_score

__all__ = ["CRLClassifier", "CRLMultiLabelClassifier"]


def _valid_accuracy(net, X, y):
    """Accuracy on the validation split, whose cached targets are encoded,
    weighted by the split's sample weights when fit had some."""
    return accuracy_score(
        net.classes_[to_numpy(y).astype(int)],
        net.predict(X),
        sample_weight=dataset_weights(X),
    )


def _valid_mean_balanced_accuracy(net, X, y):
    return mean_balanced_accuracy_score(
        to_numpy(y), net.predict(X), sample_weight=dataset_weights(X)
    )


def _is_dict_input(X):
    """A dict of arrays for a multi-input module (scipy's dok_matrix is a dict
    too, but a sparse matrix)."""
    return isinstance(X, Mapping) and not sp.issparse(X)


def _holds_objects(y):
    """Whether ``y`` is a list or an object array (which may mix label types)."""
    return isinstance(y, (list, tuple)) or str(getattr(y, "dtype", "")) == "object"


def split_output(output):
    """``(logits, embeddings or None)`` of a module's forward output."""
    if isinstance(output, (tuple, list)):
        return output[0], (output[1] if len(output) > 1 else None)
    return output, None


def _with_shared_signature(cls):
    """Show :class:`_CRLNet`'s keyword arguments in ``cls``'s own signature (for
    ``help``, IDEs, Sphinx and scikit-learn's signature-reading checks) and its
    shared parameters in ``cls``'s docstring."""
    own = inspect.signature(cls.__init__)
    shared = inspect.signature(_CRLNet.__init__).parameters.values()
    head = [p for p in own.parameters.values() if p.kind != p.VAR_KEYWORD]
    names = {p.name for p in head}
    tail = [p for p in shared if p.kind == p.KEYWORD_ONLY and p.name not in names]
    cls.__init__.__signature__ = own.replace(
        parameters=[*head, *tail, own.parameters["kwargs"]]
    )
    crl_parameters_doc = _CRL_PARAMETERS
    for parameter in shared:
        placeholder = "{default_" + parameter.name + "}"
        crl_parameters_doc = crl_parameters_doc.replace(
            placeholder, str(parameter.default)
        )
    for placeholder, text in (
        ("    %(crl_parameters)s\n", crl_parameters_doc),
        ("    %(training_parameters)s\n", _TRAINING_PARAMETERS),
    ):
        cls.__doc__ = cls.__doc__.replace(placeholder, text)
    return cls


_CRL_PARAMETERS = (
    """\
    eta : float, default=0.5
        ``alpha = min(1, eta * imbalance_)`` when ``alpha`` is None. This default,
        ``logit_adjustment``'s and ``memory_size``'s were chosen together by a
        written protocol on the training parts of fifteen offline tasks, with
        class weights and sample weights on top of them checked too (user
        guide, "How the defaults were chosen"; ``benchmarks/protocol_defaults.py``).
    alpha : float in [0, 1], default=None
        Fixed weight of the CRL term, overriding ``eta``.
"""
    + CRL_PARAMETER_DOCS
    + BALANCE_PARAMETER_DOCS.format(
        default_logit_adjustment="{default_logit_adjustment}",
        default_memory_size="{default_memory_size}",
    ).replace(
        "in validation or prediction.",
        "in validation or prediction. It lives in ``criterion_`` (as\n"
        "        ``criterion_.crl_memory``), so that skorch's ``Checkpoint``\n"
        "        saves it; ``fit`` empties it, ``partial_fit`` and a warm start\n"
        "        keep it.",
    )
)

_TRAINING_PARAMETERS = """\
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch shuffling and dropout of each ``fit``
        without touching the global torch random state. None: the global state.
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
"""


class _CRLNet:
    """The training, validation and seeding that both CRL estimators share.

    A subclass says how its targets are checked and encoded
    (``_encode_target``), weighted (``_class_weights``) and scored in
    cross-entropy (``_cross_entropy``), and how many logits its module returns
    (``_n_logits``).
    """

    _parameter_constraints: ClassVar[dict] = {
        "eta": [Interval(Real, 0, None, closed="left")],
        "alpha": [*ALPHA_CONSTRAINT, None],
        **CRL_CONSTRAINTS,
        **BALANCE_CONSTRAINTS,
        "random_state": ["random_state"],
    }
    #: name and function of the validation score in the history
    _valid_scoring: ClassVar[tuple]

    def __init__(
        self,
        module=None,
        *,
        eta=0.5,
        alpha=None,
        level="class",
        comparison="relative",
        k=25,
        margin=0.5,
        rho=0.5,
        n_bins=32,
        mining="local",
        logit_adjustment=1.0,
        memory_size=1024,
        class_weight=None,
        random_state=None,
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
        self.mining = mining
        self.logit_adjustment = logit_adjustment
        self.memory_size = memory_size
        self.class_weight = class_weight
        self.random_state = random_state

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # class Net(AccelerateMixin, CRLClassifier): the mixin comes first in the
        # MRO, so its preparation is replaced here rather than overridden
        if issubclass(cls, AccelerateMixin) and (
            "_initialize_accelerator" not in cls.__dict__
        ):
            cls._initialize_accelerator = _initialize_accelerator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy sparse X, densified per batch
        return tags

    # -- parameters -----------------------------------------------------------

    def _get_param_names(self):
        # skorch lists its bookkeeping set `_params_to_validate` as a parameter;
        # clone rebuilds it from the keyword arguments anyway.
        return [n for n in super()._get_param_names() if n != "_params_to_validate"]

    def _validate_params(self):
        # skorch checks the names of its arguments; scikit-learn's machinery
        # checks the values of ours.
        super()._validate_params()
        self._validate_own_params()

    def _validate_own_params(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        # scikit-learn's constraints take a bool for an int; the loss does not.
        check_crl_parameters(
            type(self).__name__,
            k=self.k,
            n_bins=self.n_bins,
            memory_size=self.memory_size,
        )

    @property
    def _default_callbacks(self):
        # skorch's own names and order; the epoch means of the CE and CRL terms
        # are recorded by the net itself (on_epoch_end), before any callback
        name, score = self._valid_scoring
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            (name, EpochScoring(score, name=name, lower_is_better=False)),
            ("divergence_guard", DivergenceGuard()),
            ("print_log", PrintLog()),
        ]

    def initialize_callbacks(self):
        super().initialize_callbacks()
        self._term_scorings_ = [
            PassthroughScoring(name=f"{part}_{term}", on_train=part == "train")
            for part in ("train", "valid")
            for term in ("ce", "crl")
        ]
        for scoring in self._term_scorings_:
            scoring.initialize()
        return self

    def _kept_random_state(self):
        return getattr(getattr(self, "criterion_", None), "crl_random_state", None)

    def on_epoch_begin(self, net, **kwargs):
        # a random state that LoadInitState / load_params has just loaded
        kept = self._kept_random_state()
        if kept is not None:
            kept.restore_if_loaded()
        super().on_epoch_begin(net, **kwargs)

    def on_epoch_end(self, net, **kwargs):
        for scoring in getattr(self, "_term_scorings_", ()):
            scoring.on_epoch_end(self)
        kept = self._kept_random_state()
        if kept is not None:
            # before the callbacks, so that a Checkpoint of this epoch saves it
            kept.record()
        super().on_epoch_end(net, **kwargs)

    # -- data -----------------------------------------------------------------

    def _check_training_data(self, X, y, reset, sample_weight=None, **target_options):
        """Validate and convert ``X``, ``y`` and ``sample_weight``; encode ``y``
        (fitting the encoding and the loss weights when ``reset``). Nothing the
        caller passed is modified. With sample weights, ``X`` comes back as a
        dataset whose samples carry them."""
        # Bad values fail here, before skorch builds the module.
        self._validate_own_params()
        caller = type(self).__name__
        labels_given = y is not None
        if is_dataset(X):
            if y is None:
                y = dataset_labels(X, caller)
            elif len(y) != len(X):
                raise ValueError(
                    f"y has {len(y)} labels but the dataset has {len(X)} samples."
                )
        elif y is None:
            raise ValueError(
                f"{caller} requires y to be passed, but the target y is None: call "
                "fit(X, y) with the targets of the samples, or pass a torch Dataset "
                "that returns (X, y) per sample."
            )
        self._check_target_kind(y)
        weights = None
        if sample_weight is not None:  # before anything of the estimator changes
            weights = self._check_sample_weight(sample_weight, _num_samples(y))
        if is_dataset(X) or _is_dict_input(X):
            y = self._check_target_array(y)
            if _is_dict_input(X):
                X = check_dict_input(X, caller, n_samples=len(y))
            shape = first_input_shape(X) if is_dataset(X) else None
            if reset:
                # no single feature array: no n_features_in_ (nor a stale one)
                for name in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(name, None)
                self._input_features_ = None if shape is None else n_inputs(shape)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                reset=reset,
                dtype=np.float32,
                allow_nd=True,
                accept_sparse="csr",
                ensure_min_samples=2,
                multi_output=self._multi_output,
            )
            if reset:
                self._input_features_ = n_inputs(X.shape)
        encoded = self._encode_target(y, reset, **target_options)
        if reset:
            self._set_loss_weights(encoded, weights)
        split_y = encoded
        if is_dataset(X):
            X = self._with_encoded_targets(X, encoded)
            if not labels_given:
                # as in skorch, the split sees no y (a stratified one asks for it)
                split_y = None
        if weights is not None:
            if not is_dataset(X):
                X = self.get_dataset(X, encoded)
            X = WeightedSamples(X, weights)
        return X, split_y

    def _check_sample_weight(self, sample_weight, n_samples):
        """SPEC §10's weights: one finite, non-negative number per sample, not
        all zero (a copy, as float32)."""
        weights = _check_sample_weight(
            sample_weight,
            np.empty((n_samples, 0)),
            dtype=np.float32,
            ensure_non_negative=True,
            copy=True,
        )
        if not weights.any():
            raise ValueError(
                "sample_weight is 0 for every sample: no sample would take part "
                "in training. Give the samples to train on a positive weight."
            )
        return weights

    def _check_target_array(self, y):
        """``y`` checked alone (the input is a Dataset or a dict)."""
        y = validate_data(self, y=y, reset=False, multi_output=self._multi_output)
        if len(y) < 2:
            raise ValueError(
                f"Found {len(y)} sample(s) while a minimum of 2 is required to fit "
                f"{type(self).__name__}."
            )
        return y

    @staticmethod
    def _is_encoding(labels, encoded):
        return labels.shape == encoded.shape and np.array_equal(labels, encoded)

    def _with_encoded_targets(self, dataset, encoded):
        """``dataset`` as the training loop sees it: the user's own dataset when
        its stored labels are already the encoded ones, else one that returns
        the encoded labels (which also keeps labels read in a pass at hand for
        the class-aware batches)."""
        stored = stored_labels(dataset)
        if stored is not None and self._is_encoding(stored, encoded):
            return dataset
        return EncodedTargets(dataset, encoded)

    def _set_loss_weights(self, encoded, sample_weight=None):
        n_classes = None if encoded.ndim == 2 else self._n_logits()
        self.imbalance_ = imbalance_measure(encoded, n_classes=n_classes)
        if self.alpha is None:
            self.alpha_ = float(min(1.0, self.eta * self.imbalance_))
        else:
            self.alpha_ = float(self.alpha)
        if self.class_weight is None:
            self.class_weight_ = None
        else:
            self.class_weight_ = self._class_weights(encoded)
        # SPEC §8: the distribution the weighted cross-entropy sees, so that
        # weights that balance the classes leave nothing to adjust
        self.class_prior_ = class_prior(
            encoded,
            n_classes,
            sample_weight=sample_weight,
            class_weight=self._cross_entropy_class_weights(),
        )

    def _cross_entropy_class_weights(self):
        """The class weights of the cross-entropy term: ``class_weight_``."""
        return self.class_weight_

    def _check_input(self, X):
        """Validate and convert ``X`` for prediction (a Dataset passes as is).

        A net that was only initialised (skorch's ``initialize`` then
        ``load_params``) predicts as well as a fitted one."""
        self.check_is_fitted()
        if is_dataset(X):
            return X
        if _is_dict_input(X):
            return check_dict_input(X, type(self).__name__)
        return validate_data(
            self, X, reset=False, dtype=np.float32, allow_nd=True, accept_sparse="csr"
        )

    # -- saving and loading -----------------------------------------------------

    def save_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        use_safetensors=False,
        **kwargs,
    ):
        """skorch's ``save_params``, each file written whole or not at all.

        A file named by a path is written to a temporary file beside it, flushed
        to the disk, then renamed over the target: a process killed during the
        save leaves the old file or the new one, never a torn one. Files saved by
        separate calls (or by one call naming several) are not one unit: to save
        every part of a training state as one, use :class:`skcrl.Checkpoint`.
        """
        files = dict(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            **kwargs,
        )
        _check_f_arguments("save_params", **files)  # skorch's checks, all at once
        named = {
            key: target
            for key, target in files.items()
            if isinstance(target, (str, os.PathLike))
        }
        others = {key: target for key, target in files.items() if key not in named}
        if not named or any(target is not None for target in others.values()):
            # file-like objects are the caller's to manage (and nothing to save
            # is skorch's to report)
            super().save_params(**others, use_safetensors=use_safetensors)
        for key, target in named.items():

            def write(path, key=key):
                super(_CRLNet, self).save_params(
                    **{key: path, "use_safetensors": use_safetensors}
                )

            replace_atomically(write, target)

    def load_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        checkpoint=None,
        use_safetensors=False,
        **kwargs,
    ):
        """skorch's ``load_params``; when it fails on a file that is torn (cut
        short by a kill during its save), a :class:`skcrl.CheckpointError` names
        that file."""
        files = dict(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            **kwargs,
        )
        try:
            return super().load_params(
                checkpoint=checkpoint, use_safetensors=use_safetensors, **files
            )
        except Exception as error:
            if checkpoint is not None:
                files = {
                    **checkpoint.get_formatted_files(self),
                    "f_history": checkpoint.f_history_,
                    **{k: v for k, v in files.items() if v is not None},
                }
            torn = torn_files(files.values(), use_safetensors)
            if not torn:
                raise
            raise CheckpointError(
                f"could not load the saved state: {', '.join(map(str, torn))} "
                f"{'is' if len(torn) == 1 else 'are'} torn, cut short during a save "
                f"({type(error).__name__}: {error}). Load an earlier checkpoint; "
                "skcrl.Checkpoint never leaves a torn one."
            ) from error

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        if dataset_valid is not None and root_dataset(
            dataset_valid
        ) is not root_dataset(dataset_train):
            # a predefined split of the user's: its labels are the original ones
            labels = self._check_target_array(
                dataset_labels(dataset_valid, type(self).__name__)
            )
            dataset_valid = self._with_encoded_targets(
                dataset_valid, self._encode_target(labels, reset=False)
            )
        return dataset_train, dataset_valid

    def infer(self, x, **fit_params):
        if isinstance(x, WeightedInput):  # the weights are for get_loss only
            x = x.X
        # sparse batches arrive as sparse tensors and are densified on the device
        if torch.is_tensor(x) and x.layout != torch.strided:
            x = x.to(self.device).to_dense()
        return super().infer(x, **fit_params)

    def get_dataset(self, X, y=None):
        # The validated arrays of fit and predict: one fancy index per batch
        # (ArrayDataset.__getitems__) instead of a __getitem__ per sample. Any
        # other input, or a dataset of the user's, goes to skorch as it is.
        if (
            self.dataset is Dataset
            and not self.get_params_for("dataset")
            and (isinstance(X, np.ndarray) or sp.issparse(X))
            and (y is None or isinstance(y, np.ndarray))
        ):
            return ArrayDataset(X, y)
        return super().get_dataset(X, y)

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        if isinstance(iterator, DataLoader) and indexes_batches(dataset):
            iterator.collate_fn = collate_for(iterator)
        return iterator

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
            if self._input_features_ is None:
                raise ValueError(
                    "module=None builds an MLP for one input array, but X is a dict "
                    "of inputs: pass a module whose forward takes X's keys as "
                    "arguments."
                )
            module = MLP
            kwargs = {
                "n_features": self._input_features_,
                "n_classes": self._n_logits(),
                "return_embeddings": self.level == "instance",
                **kwargs,
            }
        self.module_ = self.initialized_instance(module, kwargs)
        return self

    def initialize_criterion(self):
        self._initialize_cross_entropy()
        self._set_logit_shift()
        if self.memory_size:
            # A submodule of the criterion, so that Checkpoint (criterion.pt) and
            # save_params(f_criterion=...) keep it. A criterion instance of the
            # user's gets it too: skorch trains the instances it is given, and
            # clone copies them.
            self.criterion_.crl_memory = CRLMemory(self.memory_size)
        if self.random_state is not None:
            # saved with the criterion, so that a resumed fit continues this one
            self.criterion_.crl_random_state = TrainingRandomState()
        return self

    def _set_logit_shift(self):
        prior = getattr(self, "class_prior_", None)
        self._logit_shift_ = None
        if self.logit_adjustment and prior is not None:
            shift = logit_shift(
                torch.as_tensor(prior, dtype=torch.float64),
                self.logit_adjustment,
                self._multi_output,
            )
            if shift.any():  # a balanced prior shifts nothing: no work per batch
                # on the training device once, not copied there at every batch
                self._logit_shift_ = shift.to(torch.float32).to(self.device)

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

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Initialise (unless warm-starting) and train on ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Numeric input (numpy, pandas, lists); image-shaped arrays pass to the
            module as they are. Converted to float32.
        y : array-like of shape (n_samples,) or (n_samples, n_attributes)
            Labels (:class:`CRLClassifier`) or a 0/1 indicator matrix
            (:class:`CRLMultiLabelClassifier`).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample (SPEC §10), as scikit-learn takes
            it (also through metadata routing: ``set_fit_request``). A sample of
            weight 0 takes no part in training; the others weigh the
            cross-entropy and the CRL term's means, and the validation score.
            They count in the logit adjustment's prior (``class_prior_``, SPEC
            §8) as ``class_weight`` does; ``imbalance_`` stays that of the
            labels.
        **fit_params
            Passed to skorch (``forward`` arguments, ``train_split``).

        Returns
        -------
        self
        """
        warm = self.warm_start and self.initialized_
        X, y = self._check_training_data(
            X, y, reset=not warm, sample_weight=sample_weight
        )
        with self._seeded(continued=warm):
            if not warm:
                self.initialize()
            super().partial_fit(X, y, **fit_params)
        return self

    def _continue_training(self, X, y, fit_params, sample_weight, **target_options):
        continued = self.initialized_
        # a net initialised (and maybe loaded with load_params) but never trained
        # learns its classes and loss weights from this first data
        first_data = not hasattr(self, "imbalance_")
        X, y = self._check_training_data(
            X, y, reset=first_data, sample_weight=sample_weight, **target_options
        )
        if continued and first_data:
            # the criterion (and what load_params put in it) stays; its
            # data-dependent parts are set
            self._set_logit_shift()
            self._weigh_built_criterion()
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
        y_true = self._target_tensor(to_tensor(y_true, device=logits.device), logits)
        weight = None
        if isinstance(X, WeightedInput):  # SPEC §10
            weight = to_tensor(X.weight, device=logits.device).to(logits.dtype)
        logits = self._as_logits(logits)
        shift = self._logit_shift_
        # SPEC §8: the adjustment exists only inside the cross-entropy term
        adjusted = logits if shift is None else logits + shift.to(logits)
        ce = self._cross_entropy(adjusted, y_true, weight)
        if self.alpha_ == 0:
            # nothing of the CRL term reaches the loss: none of it is computed
            self._batch_terms_ = (ce.detach(), torch.zeros_like(ce).detach())
            return ce
        # SPEC §11: the memory serves training batches only
        memory = self.criterion_.crl_memory if training and self.memory_size else None
        # The batch's rows (the global batch's, under mining="global") are staged
        # and go into the memory once, when the step ends (on_batch_end).
        crl = crl_with_memory(
            memory,
            logits,
            y_true,
            embeddings,
            sample_weight=weight,
            checked=True,
            push=False,
            **crl_parameters(self),
        )
        # Read by on_batch_end, so that only batches of fit reach the history.
        self._batch_terms_ = (ce.detach(), crl.detach())
        return self.alpha_ * crl + (1 - self.alpha_) * ce

    def _as_logits(self, output):
        """The logits in ``output`` (a module's first output)."""
        return output

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        memory = getattr(getattr(self, "criterion_", None), "crl_memory", None)
        if training and memory is not None:
            memory.commit()
        terms = getattr(self, "_batch_terms_", None)
        if terms is not None:
            prefix = "train" if training else "valid"
            if is_distributed():
                terms = self._averaged_over_processes(prefix, terms, kwargs.get("loss"))
            # one read of the device for both terms (of one dtype, as under
            # autocast they may not be)
            ce, crl = torch.stack((terms[0], terms[1].to(terms[0].dtype))).tolist()
            self.history.record_batch(f"{prefix}_ce", ce)
            self.history.record_batch(f"{prefix}_crl", crl)
            self._batch_terms_ = None
        super().on_batch_end(net, batch=batch, training=training, **kwargs)

    def _averaged_over_processes(self, prefix, terms, loss):
        """The batch's terms (and loss, rewritten in the history) as means over
        the processes of data-parallel training, each of which saw its share."""
        values = [term.float().reshape(()) for term in terms]
        if loss is not None:
            values.append(loss.detach().float().reshape(()))
        values = torch.stack(values)
        dist.all_reduce(values)
        values = values / dist.get_world_size()
        if loss is not None:
            self.history.record_batch(f"{prefix}_loss", values[2].item())
        return values[0], values[1]

    def predict_proba(self, X):
        return super().predict_proba(self._check_input(X))


def _adopt_saved_weight(module, state_dict, prefix, *args):
    """Give a criterion built without class weights the saved ones, which
    ``load_state_dict`` would otherwise refuse as an unexpected key."""
    saved = state_dict.get(prefix + "weight")
    if saved is not None and module.weight is None:
        module.weight = saved.detach().clone()


def _initialize_accelerator(self):
    """skorch's ``AccelerateMixin._initialize_accelerator``, except that a criterion
    without trainable parameters is not prepared but only moved to the
    accelerator's device: DDP refuses a module with nothing to train (Accelerate
    issue 760), and such a criterion has nothing to synchronise."""
    criteria = self._criteria
    fixed = [
        name
        for name in criteria
        if isinstance(getattr(self, name + "_", None), torch.nn.Module)
        and not any(p.requires_grad for p in getattr(self, name + "_").parameters())
    ]
    self._criteria = [name for name in criteria if name not in fixed]
    try:
        AccelerateMixin._initialize_accelerator(self)
    finally:
        self._criteria = criteria
    for name in fixed:
        getattr(self, name + "_").to(self.accelerator.device)
    return self


@_with_shared_signature
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

    def _as_logits(self, output):
        # As skorch's NeuralNetClassifier: with NLLLoss the module returns
        # probabilities, whose logarithms are logits (softmax(log p) = p).
        if isinstance(self.criterion_, torch.nn.NLLLoss):
            return torch.log(output + torch.finfo(output.dtype).eps)
        return output

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

        ``classes`` lists every label of the problem on the first call, as in
        scikit-learn, when ``y`` does not hold them all; ``sample_weight`` as in
        ``fit``.
        """
        return self._continue_training(X, y, fit_params, sample_weight, classes=classes)

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits), shape (n_samples, n_classes),
        columns in the order of ``classes_``."""
        return super().predict_proba(X)

    def predict(self, X):
        """The most probable label of each sample, from ``classes_``."""
        best = self.predict_proba(X).argmax(axis=1)
        try:
            classes = self.classes_
        except AttributeError:
            # initialised and loaded without fit or classes: indices, as skorch
            return best
        return classes[best]


@_with_shared_signature
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
        ``predict`` says an attribute is present when its probability is at least
        this (one value for all attributes, or one per attribute).
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
        (``sample_weight`` as in ``fit``)."""
        return self._continue_training(X, y, fit_params, sample_weight)

    def predict_proba(self, X):
        """Probability of each attribute (sigmoid of its logit), shape
        (n_samples, n_attributes)."""
        return super().predict_proba(X)

    def predict(self, X):
        """0/1 attributes, shape (n_samples, n_attributes): 1 where the probability
        reaches ``threshold``."""
        proba = self.predict_proba(X)
        return (proba >= self._thresholds(self.n_outputs_)).astype(np.int64)
