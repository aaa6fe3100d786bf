"""The training, validation, seeding and saving that both CRL estimators share:
:class:`_CRLNet`."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from skorch.callbacks import EpochScoring, EpochTimer, PassthroughScoring
from skorch.dataset import Dataset
from skorch.hf import AccelerateMixin
from skorch.utils import to_numpy, to_tensor
from torch.utils.data import DataLoader, Subset

from ._callbacks import DivergenceGuard, TrainingRandomState, VerbosePrintLog
from ._checks import (
    ALPHA_CONSTRAINT,
    BALANCE_CONSTRAINTS,
    CRL_CONSTRAINTS,
    check_crl_parameters,
    check_device,
    crl_parameters,
)
from ._criterion import balanced_terms, imbalance_measure
from ._cross_entropy import class_prior, logit_shift
from ._data import ArrayDataset, collate_for, indexes_batches
from ._distributed import is_distributed
from ._inputs import (
    WeightedInput,
    dataset_labels,
    root_dataset,
)
from ._memory import CRLMemory
from ._modules import MLP, SmallCNN, Standardize
from ._persistence import AtomicSaving
from ._stopping import StoppingRule
from ._validation import CheckedInputs

__all__ = ["BalancedDataWarning", "split_output"]


class BalancedDataWarning(UserWarning):
    """``fit`` was asked for CRL (``alpha=None``, ``eta > 0``) on training data
    whose classes are balanced, as a sampler in front makes them: CRL's weight
    ``alpha_ = eta * imbalance_`` and the logit shift are zero, and the fit is
    plain cross-entropy."""


def split_output(output):
    """``(logits, embeddings or None)`` of a module's forward output."""
    if isinstance(output, (tuple, list)):
        return output[0], (output[1] if len(output) > 1 else None)
    return output, None


class _CRLNet(CheckedInputs, AtomicSaving):
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
        "balanced_proba": ["boolean"],
        "random_state": ["random_state"],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
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
        memory_size=0,
        class_weight=None,
        balanced_proba=False,
        random_state=None,
        optimizer=torch.optim.Adam,
        lr=0.003,
        max_epochs=30,
        batch_size=64,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
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
        self.balanced_proba = balanced_proba
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

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
        check_device(self.device, type(self).__name__)

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
            ("stopping", StoppingRule()),
            ("print_log", VerbosePrintLog()),
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

    def _stopping_rule(self):
        rule = dict(getattr(self, "callbacks_", ())).get("stopping")
        return rule if isinstance(rule, StoppingRule) else None

    def on_epoch_begin(self, net, **kwargs):
        rule = self._stopping_rule()
        if rule is not None and rule.stop_:
            # skorch's way out of its loop (its EarlyStopping's): partial_fit
            # catches it and ends training; no epoch has begun in the history
            raise KeyboardInterrupt
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

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        rule = self._stopping_rule()
        self.n_iter_ = len(self.history)
        self.best_epoch_ = rule.best_epoch_ if rule is not None else None
        self.best_loss_ = rule.best_loss_ if rule is not None else None

    # -- data -----------------------------------------------------------------

    def _set_loss_weights(self, encoded, sample_weight=None):
        n_classes = None if encoded.ndim == 2 else self._n_logits()
        self.imbalance_ = imbalance_measure(encoded, n_classes=n_classes)
        if self.alpha is None:
            self.alpha_ = float(min(1.0, self.eta * self.imbalance_))
            if self.eta > 0 and self.imbalance_ < 1e-12:
                warnings.warn(
                    f"{type(self).__name__} was fitted on data whose classes are "
                    "balanced (imbalance_ = 0), as a sampler in front of it makes "
                    "them: CRL's weight alpha_ = eta * imbalance_ is 0 and "
                    "logit_adjustment shifts nothing, so this fit is plain "
                    "cross-entropy and eta or logit_adjustment change nothing. "
                    "Drop the sampler to train with CRL, or set alpha to weigh "
                    "the CRL term on balanced data.",
                    BalancedDataWarning,
                    stacklevel=4,
                )
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

    def get_split_datasets(self, X, y=None, **fit_params):
        holdout = getattr(self, "_holdout_", None)
        if holdout is not None:  # the stopping rule's stratified validation part
            dataset = self.get_dataset(X, y)
            return Subset(dataset, holdout[0]), Subset(dataset, holdout[1])
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

    def initialize(self):
        # skorch validates its parameters after it has built the module on its
        # device, where an unavailable one fails with torch's bare error
        check_device(self.device, type(self).__name__)
        return super().initialize()

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
        if module is MLP and getattr(self, "_input_features_", None) is not None:
            kwargs = {
                "n_features": self._input_features_,
                "n_classes": self._n_logits(),
                "return_embeddings": self.level == "instance",
                **kwargs,
            }
        elif module is SmallCNN and hasattr(self, "_input_shape_"):
            kwargs = {**self._image_network_sizes(), **kwargs}
        self.module_ = self.initialized_instance(module, kwargs)
        scaling = getattr(self, "_standardization_", None)
        standardize = getattr(self.module_, "standardize", None)
        if isinstance(standardize, Standardize):
            if scaling is not None and standardize.mean.numel() == scaling[0].size:
                standardize.set_statistics(*scaling)
        return self

    def _image_network_sizes(self):
        """SmallCNN's arguments that the data fix: the class count, the input
        channels, and the embeddings that instance-level CRL reads."""
        shape = self._input_shape_
        if shape is not None and len(shape) != 3:
            raise ValueError(
                f"SmallCNN reads images shaped (n_samples, channels, height, "
                f"width), but X's samples are shaped {tuple(shape)}: reshape X, "
                "e.g. X.reshape(-1, 1, 28, 28) for flattened 28x28 grey images, "
                "or use the default MLP (module=None)."
            )
        sizes = {
            "n_classes": self._n_logits(),
            "return_embeddings": self.level == "instance",
        }
        if shape is not None:
            sizes["in_channels"] = int(shape[0])
        return sizes

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
            X, y, reset=not warm, sample_weight=sample_weight, stopping=True
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

    def _set_training(self, training=True):
        # skorch sets the mode of every module and criterion at every step with
        # Module.train, which walks the submodules and sets each one's flag
        # through nn.Module's slow __setattr__. From the second step on every
        # flag is set already; a module whose train() leaves one otherwise (a
        # frozen batch norm) is still called at every step.
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and any(
                submodule.training != training for submodule in module.modules()
            ):
                module.train(training)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``alpha_ * L_crl + (1 - alpha_) * L_ce`` of one batch."""
        logits, embeddings = split_output(y_pred)
        if self.level == "instance" and embeddings is None:
            raise ValueError(
                'level="instance" needs a module whose forward returns '
                f"(logits, embeddings); {type(self.module_).__name__} returned only "
                "logits."
            )
        if logits.shape[-1] != self._n_logits():
            raise ValueError(
                f"{type(self.module_).__name__} returns {logits.shape[-1]} logits "
                f"per sample, but the targets have {self._n_logits()} "
                f"{self._logit_unit}: build the module with that many outputs "
                "(e.g. module__n_classes), or leave module=MLP / SmallCNN to size "
                "it from the data."
            )
        y_true = self._target_tensor(to_tensor(y_true, device=logits.device), logits)
        weight = None
        if isinstance(X, WeightedInput):  # SPEC §10
            weight = to_tensor(X.weight, device=logits.device).to(logits.dtype)
        # SPEC §11: the memory serves training batches only
        memory = self.criterion_.crl_memory if training and self.memory_size else None
        # The batch's rows (the global batch's, under mining="global") are staged
        # and go into the memory once, when the step ends (on_batch_end).
        terms = balanced_terms(
            self._as_logits(logits),
            y_true,
            embeddings,
            cross_entropy=self._adjusted_cross_entropy,
            alpha=self.alpha_,
            crl_parameters=crl_parameters(self),
            memory=memory,
            sample_weight=weight,
            checked=True,
            push=False,
        )
        # Read by on_batch_end, so that only batches of fit reach the history.
        self._batch_terms_ = (terms.cross_entropy.detach(), terms.crl.detach())
        return terms.total

    def _adjusted_cross_entropy(self, logits, target, sample_weight):
        """``L_ce`` of the logits the cross-entropy term sees."""
        return self._cross_entropy(self._adjusted_logits(logits), target, sample_weight)

    def _adjusted_logits(self, logits):
        """The logits the cross-entropy term sees: shifted by the logit
        adjustment (SPEC §8), the raw ones without it. The CRL term and
        ``predict`` read the raw logits."""
        shift = getattr(self, "_logit_shift_", None)
        return logits if shift is None else logits + shift.to(logits)

    def _as_logits(self, output):
        """The logits in ``output`` (a module's first output)."""
        return output

    def _as_output(self, logits):
        """What the module would have returned for ``logits``: the inverse of
        :meth:`_as_logits`."""
        return logits

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        # (a missing attribute of an nn.Module costs a raised AttributeError:
        # the criterion is asked for its memory only when there is one)
        if training and self.memory_size:
            memory = getattr(self.criterion_, "crl_memory", None)
            if memory is not None:
                memory.commit()
        terms = getattr(self, "_batch_terms_", None)
        if terms is not None:
            prefix = "train" if training else "valid"
            if is_distributed():
                terms = self._averaged_over_processes(prefix, terms, kwargs.get("loss"))
            # skorch has read the loss already, so the device is done with the
            # terms: two reads cost less than stacking them into one
            self.history.record_batch(f"{prefix}_ce", terms[0].item())
            self.history.record_batch(f"{prefix}_crl", terms[1].item())
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
        return self._probabilities(X, balanced=self.balanced_proba)

    def _probabilities(self, X, *, balanced):
        """skorch's ``predict_proba`` of the logits the cross-entropy term was
        fitted to (SPEC §8), or of the raw logits when ``balanced``: the
        class-balanced probabilities that ``predict`` decides on."""
        X = self._check_input(X)
        if balanced or getattr(self, "_logit_shift_", None) is None:
            return super().predict_proba(X)
        nonlinearity = self._get_predict_nonlinearity()
        return np.concatenate(
            [
                to_numpy(nonlinearity(self._fitted_output(output)))
                for output in self.forward_iter(X, training=False)
            ]
        )

    def _fitted_output(self, output):
        """The module's ``output`` as the cross-entropy term saw it."""
        logits, _ = split_output(output)
        return self._as_output(self._adjusted_logits(self._as_logits(logits)))


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
