"""The default modules' shapes and what their layers are."""

import pytest
import torch
from torch import nn

from skcrl import SmallCNN


@pytest.mark.parametrize("side", [8, 28])
@pytest.mark.parametrize("channels", [(16, 32), (16, 32, 64), (8, 16, 32, 64)])
def test_small_cnn_takes_digits_and_fashion_at_any_depth(side, channels):
    net = SmallCNN(
        n_classes=7, channels=channels, hidden_size=20, return_embeddings=True
    )
    logits, embeddings = net(torch.zeros(3, 1, side, side))
    assert logits.shape == (3, 7) and embeddings.shape == (3, 20)
    convolutions = [m for m in net.body if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convolutions] == list(channels)
    # every convolution is normalised; every block but the last is pooled
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.body) == len(channels)
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.body) == len(channels) - 1


def test_small_cnn_head_reads_the_spatial_features():
    net = SmallCNN(n_classes=2, channels=(4, 8), pooled_size=3, hidden_size=16)
    hidden = next(m for m in net.body if isinstance(m, nn.Linear))
    assert hidden.in_features == 8 * 3 * 3
    # the maps the hidden layer reads keep a 3x3 grid, not one mean per channel
    features = net.body[:-3](torch.zeros(2, 1, 28, 28))
    assert features.shape == (2, 8, 3, 3)
