"""Default PyTorch modules of the estimators."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["MLP", "SmallCNN", "Standardize"]


class Standardize(nn.Module):
    """``(x - mean) / scale`` of flattened input, with ``mean`` and ``scale``
    buffers: the feature scaling travels with the module's ``state_dict``, its
    pickle and any export of it.

    It starts as the identity (mean 0, scale 1); the estimators fill it at
    ``fit`` with :class:`~sklearn.preprocessing.StandardScaler`'s statistics of
    the training rows (:meth:`set_statistics`).

    Parameters
    ----------
    n_features : int

    Examples
    --------
    >>> import torch
    >>> from skcrl import Standardize
    >>> scale = Standardize(2)
    >>> scale.set_statistics(mean=[1.0, 10.0], scale=[2.0, 5.0])
    >>> scale(torch.tensor([[3.0, 0.0]])).tolist()
    [[1.0, -2.0]]
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    def set_statistics(self, mean, scale) -> None:
        """Copy ``mean`` and ``scale`` (one value per feature) into the buffers."""
        with torch.no_grad():
            self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
            self.scale.copy_(torch.as_tensor(scale, dtype=self.scale.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return (x.flatten(1) - self.mean) / self.scale

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if prefix + "mean" not in state_dict and prefix + "scale" not in state_dict:
            # parameters saved by a version without standardisation: it trained
            # on the raw features, which the identity keeps
            self.mean.zero_()
            self.scale.fill_(1.0)
            return
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class _BodyAndHead(nn.Module):
    """A feature extractor ``body`` and a linear ``head``; the body's output doubles
    as the embeddings of instance-level CRL."""

    body: nn.Module
    head: nn.Module
    return_embeddings: bool

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        embeddings = self.body(x)
        logits = self.head(embeddings)
        return (logits, embeddings) if self.return_embeddings else logits


class MLP(_BodyAndHead):
    """Multi-layer perceptron, the default module of :class:`CRLClassifier`.

    Input of any shape ``(n, ...)`` is flattened to ``(n, n_features)``. The
    estimators fill in ``n_features`` and ``n_classes`` from the data at ``fit``; set
    the rest with ``module__hidden_layer_sizes=...`` and so on.

    Parameters
    ----------
    n_features : int
        Number of input features (the product of the non-batch input dimensions).
    n_classes : int
        Number of outputs: classes (multi-class) or attributes (multi-label).
    hidden_layer_sizes : sequence of int, default=(128,)
        Width of each hidden layer; empty for a linear model.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    return_embeddings : bool, default=False
        Return ``(logits, embeddings)``, the embeddings being the last hidden layer
        (the input for a linear model), as instance-level CRL needs.
    standardize : bool, default=True
        Standardise the flattened input first (:class:`Standardize`, the
        ``standardize`` submodule). The estimators fit its mean and scale on
        the training rows; a module built by hand starts from the identity.
        False: the features enter as they are.

    Examples
    --------
    >>> import torch
    >>> from skcrl import MLP
    >>> net = MLP(n_features=4, n_classes=3, hidden_layer_sizes=(8, 8))
    >>> net(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    >>> logits, embeddings = MLP(4, 3, return_embeddings=True)(torch.zeros(5, 2, 2))
    >>> embeddings.shape
    torch.Size([5, 128])
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden_layer_sizes: Sequence[int] = (128,),
        dropout: float = 0.0,
        return_embeddings: bool = False,
        standardize: bool = True,
    ) -> None:
        super().__init__()
        # outside `body`, so that the body's parameter names are unchanged
        self.standardize = Standardize(n_features) if standardize else None
        layers: list[nn.Module] = [nn.Flatten()]
        width = n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)
        self.return_embeddings = return_embeddings

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        if self.standardize is not None:
            x = self.standardize(x)
        return super().forward(x)

    def __setstate__(self, state):
        super().__setstate__(state)
        # pickled by a version without standardisation: it keeps the raw features
        if "standardize" not in self._modules and "standardize" not in self.__dict__:
            self.standardize = None


class SmallCNN(_BodyAndHead):
    """Convolution blocks with batch normalisation and a hidden layer over the
    pooled spatial features, for small grey images (8x8 digits, 28x28 Fashion-MNIST).

    Each block is a 3x3 convolution, batch normalisation and ReLU; every block but
    the last halves the image by 2x2 max pooling. The last block's maps are
    average-pooled to ``pooled_size x pooled_size`` (so the head still sees where
    a feature is), flattened, and pass a hidden layer of ``hidden_size`` units
    with ReLU, then the linear head.

    The estimators fill in ``n_classes`` (and ``in_channels``, and
    ``return_embeddings`` for ``level="instance"``) from the data at ``fit``
    when ``module=SmallCNN`` and they are not given, and check that the input
    is shaped ``(n_samples, channels, height, width)``.

    Parameters
    ----------
    n_classes : int
        Number of outputs.
    in_channels : int, default=1
    channels : sequence of int, default=(16, 32, 64)
        Output channels of each block; more entries make a deeper network.
    pooled_size : int, default=3
        Side of the pooled maps the hidden layer reads.
    hidden_size : int, default=128
        Width of the hidden layer, whose output is the embedding.
    return_embeddings : bool, default=False
        Return ``(logits, embeddings)``, the embeddings being the hidden layer's
        output, as instance-level CRL needs.

    Examples
    --------
    >>> import torch
    >>> from skcrl import SmallCNN
    >>> SmallCNN(n_classes=10)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> net = SmallCNN(n_classes=10, return_embeddings=True)
    >>> logits, embeddings = net(torch.zeros(2, 1, 8, 8))
    >>> embeddings.shape
    torch.Size([2, 128])
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64),
        pooled_size: int = 3,
        hidden_size: int = 128,
        return_embeddings: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_channels
        for block, out in enumerate(channels):
            # no bias: batch normalisation's shift replaces it
            layers += [
                nn.Conv2d(width, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(),
            ]
            if block < len(channels) - 1:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            width = out
        layers += [
            nn.AdaptiveAvgPool2d(pooled_size),
            nn.Flatten(),
            nn.Linear(width * pooled_size**2, hidden_size),
            nn.ReLU(),
        ]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden_size, n_classes)
        self.return_embeddings = return_embeddings


def n_inputs(shape: Sequence[int]) -> int:
    """Features per sample of an input of shape ``(n, ...)``."""
    return math.prod(shape[1:])
