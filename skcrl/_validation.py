"""The estimators' checks and conversions of their input, before training or
prediction: ``X``, ``y`` and ``sample_weight`` validated on the host, labels
encoded, a Dataset given its encoded labels."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import _check_sample_weight, _num_samples, validate_data
from skorch.utils import is_dataset

from ._inputs import (
    EncodedTargets,
    WeightedSamples,
    check_dict_input,
    dataset_labels,
    first_input_shape,
    stored_labels,
)
from ._modules import MLP, n_inputs
from ._stopping import plan_stopping, stratified_holdout


def _is_dict_input(X):
    """A dict of arrays for a multi-input module (scipy's dok_matrix is a dict
    too, but a sparse matrix)."""
    return isinstance(X, Mapping) and not sp.issparse(X)


def _check_numeric_columns(X, caller):
    """A clear error for a table with text or categorical columns, which
    numpy would only report as ``could not convert string to float``."""
    dtypes = getattr(X, "dtypes", None)
    if not hasattr(dtypes, "items") or not hasattr(X, "columns"):
        if isinstance(X, np.ndarray) and X.dtype.kind in "OUS":
            try:
                X.astype(np.float32)
            except ValueError:
                raise ValueError(
                    f"{caller} trains on numbers, but X holds text: encode its "
                    "text columns first, e.g. with a ColumnTransformer and a "
                    "OneHotEncoder (sklearn.compose.make_column_transformer) in "
                    "a Pipeline before the classifier."
                ) from None
        return
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    text = [
        str(column)
        for column, dtype in dtypes.items()
        if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))
    ]
    if text:
        shown = ", ".join(repr(c) for c in text[:5]) + (
            ", ..." if len(text) > 5 else ""
        )
        raise ValueError(
            f"{caller} trains on numbers, but X's column(s) {shown} are not "
            "numeric. Encode them first: put a ColumnTransformer with a "
            "OneHotEncoder for those columns (sklearn.compose."
            "make_column_transformer((OneHotEncoder(), columns), "
            "remainder='passthrough')) in a Pipeline before the classifier."
        )


class CheckedInputs:
    """The input checks of :class:`~skcrl._base._CRLNet`; a mixin of the
    estimators (their ``_encode_target``, ``_check_target_kind`` and
    ``_set_loss_weights`` do what is theirs)."""

    def _check_training_data(
        self, X, y, reset, sample_weight=None, stopping=False, **target_options
    ):
        """Validate and convert ``X``, ``y`` and ``sample_weight``; encode ``y``
        (fitting the encoding and the loss weights when ``reset``). Nothing the
        caller passed is modified. With sample weights, ``X`` comes back as a
        dataset whose samples carry them.

        ``stopping``: plan the stopping rule of a ``fit`` (and hold out its
        validation part); the default MLP's standardisation is fitted on the
        rows it trains on."""
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
                self._input_shape_ = None if shape is None else tuple(shape[1:])
        else:
            _check_numeric_columns(X, caller)
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
                self._input_shape_ = tuple(X.shape[1:])
        encoded = self._encode_target(y, reset, **target_options)
        if reset:
            self._set_loss_weights(encoded, weights)
        self._plan_stopping(encoded, stopping)
        if reset:
            self._fit_standardization(X, weights)
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

    def _plan_stopping(self, encoded, stopping):
        """The stopping rule of this fit (None for ``partial_fit`` and a fixed
        budget) and the rows it holds out (None: no held-out part of ours)."""
        user_split = bool(self.train_split)
        plan = plan_stopping(self, len(encoded), user_split) if stopping else None
        self._stopping_plan_ = plan
        self._holdout_ = None
        if plan is not None and plan.monitor == "valid_loss" and not user_split:
            self._holdout_ = stratified_holdout(
                encoded,
                self.validation_fraction,
                self.random_state,
                type(self).__name__,
            )

    def _fit_standardization(self, X, weights):
        """Mean and scale of each feature on the rows the default MLP trains on
        (the held-out part excluded, weighted by ``sample_weight``), or None
        where the network does not standardise: a module of the user's, the
        switch ``module__standardize=False``, or input that is not one array
        (a Dataset read lazily, a dict). Sparse input is scaled, not centred,
        as StandardScaler(with_mean=False) does, to stay sparse."""
        self._standardization_ = None
        standardizes = self.get_params_for("module").get("standardize", True)
        if self.module not in (None, MLP) or not standardizes:
            return
        if not (isinstance(X, np.ndarray) or sp.issparse(X)):
            return
        rows = slice(None) if self._holdout_ is None else self._holdout_[0]
        sparse = sp.issparse(X)
        train = X[rows]
        if not sparse:  # images for the MLP: one feature per pixel
            train = train.reshape(len(train), -1)
        scaler = StandardScaler(with_mean=not sparse).fit(
            train, sample_weight=None if weights is None else weights[rows]
        )
        mean = np.zeros(train.shape[1]) if sparse else scaler.mean_
        self._standardization_ = (
            np.asarray(mean, dtype=np.float32),
            np.asarray(scaler.scale_, dtype=np.float32),
        )

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

    def _check_input(self, X):
        """Validate and convert ``X`` for prediction (a Dataset passes as is).

        A net that was only initialised (skorch's ``initialize`` then
        ``load_params``) predicts as well as a fitted one."""
        self.check_is_fitted()
        if is_dataset(X):
            return X
        if _is_dict_input(X):
            return check_dict_input(X, type(self).__name__)
        _check_numeric_columns(X, type(self).__name__)
        return validate_data(
            self, X, reset=False, dtype=np.float32, allow_nd=True, accept_sparse="csr"
        )
