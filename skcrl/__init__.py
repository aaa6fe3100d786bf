"""skcrl: the Class Rectification Loss for scikit-learn, skorch and PyTorch.

Dong, Gong and Zhu, *Imbalanced Deep Learning by Minority Class Incremental
Rectification*, IEEE TPAMI 2018. The algorithm, to the number, is in docs/spec.md;
"SPEC §n" in comments and docstrings is its section n.
"""

from . import metrics
from ._base import BalancedDataWarning
from ._callbacks import DivergenceError, DivergenceGuard
from ._checkpoint import Checkpoint, CheckpointError, NoCheckpointError
from ._classifier import CRLClassifier
from ._criterion import ClassRectificationLoss, CRLTerms, imbalance_measure
from ._long_tail import (
    DeferredReweighting,
    FocalLoss,
    LDAMLoss,
    SigmoidFocalLoss,
    effective_number_weight,
)
from ._loss import crl_loss
from ._modules import MLP, SmallCNN, Standardize
from ._multilabel import CRLMultiLabelClassifier
from ._sampler import ClassAwareBatchSampler, ClassAwareDataLoader
from ._stopping import StoppingRule

__version__ = "0.1.0.dev0"

__all__ = [
    "MLP",
    "BalancedDataWarning",
    "CRLClassifier",
    "CRLMultiLabelClassifier",
    "CRLTerms",
    "Checkpoint",
    "CheckpointError",
    "ClassAwareBatchSampler",
    "ClassAwareDataLoader",
    "ClassRectificationLoss",
    "DeferredReweighting",
    "DivergenceError",
    "DivergenceGuard",
    "FocalLoss",
    "LDAMLoss",
    "NoCheckpointError",
    "SigmoidFocalLoss",
    "SmallCNN",
    "Standardize",
    "StoppingRule",
    "__version__",
    "crl_loss",
    "effective_number_weight",
    "imbalance_measure",
    "metrics",
]
