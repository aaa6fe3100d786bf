"""Default PyTorch modules of the estimators."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["MLP", "SmallCNN"]


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
    hidden_layer_sizes : sequence of int, default=(64,)
        Width of each hidden layer; empty for a linear model.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    return_embeddings : bool, default=False
        Return ``(logits, embeddings)``, the embeddings being the last hidden layer
        (the input for a linear model), as instance-level CRL needs.

    Examples
    --------
    >>> import torch
    >>> from skcrl import MLP
    >>> net = MLP(n_features=4, n_classes=3, hidden_layer_sizes=(8, 8))
    >>> net(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    >>> logits, embeddings = MLP(4, 3, return_embeddings=True)(torch.zeros(5, 2, 2))
    >>> embeddings.shape
    torch.Size([5, 64])
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden_layer_sizes: Sequence[int] = (64,),
        dropout: float = 0.0,
        return_embeddings: bool = False,
    ) -> None:
        super().__init__()
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


class SmallCNN(_BodyAndHead):
    """Convolution blocks with batch normalisation and a hidden layer over the
    pooled spatial features, for small grey images (8x8 digits, 28x28 Fashion-MNIST).

    Each block is a 3x3 convolution, batch normalisation and ReLU; every block but
    the last halves the image by 2x2 max pooling. The last block's maps are
    average-pooled to ``pooled_size x pooled_size`` (so the head still sees where
    a feature is), flattened, and pass a hidden layer of ``hidden_size`` units
    with ReLU, then the linear head.

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
