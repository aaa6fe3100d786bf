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
    """Two convolution blocks and a linear head, for small grey images.

    Parameters
    ----------
    n_classes : int
        Number of outputs.
    in_channels : int, default=1
    channels : tuple of int, default=(16, 32)
        Output channels of the two 3x3 convolutions, each followed by ReLU and 2x2
        max pooling.
    return_embeddings : bool, default=False
        Return ``(logits, embeddings)``, the pooled features of the last block, as
        instance-level CRL needs.

    Examples
    --------
    >>> import torch
    >>> from skcrl import SmallCNN
    >>> SmallCNN(n_classes=10)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32),
        return_embeddings: bool = False,
    ) -> None:
        super().__init__()
        first, second = channels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, first, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(first, second, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(second, n_classes)
        self.return_embeddings = return_embeddings


def n_inputs(shape: Sequence[int]) -> int:
    """Features per sample of an input of shape ``(n, ...)``."""
    return math.prod(shape[1:])
