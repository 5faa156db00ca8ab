"""DenseNet-BC (Huang et al., 2017): torchvision's ImageNet layout, and a small one for 32x32 images.

Parameter names match torchvision's (``features.conv0``, ``features.denseblock1.denselayer1.norm1``,
``features.transition1.conv``, ``features.norm5``, ``classifier``). Each transition halves the
channels (compression 0.5) and the map size. Weights are initialised as torchvision does.
"""

from ..nn import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU
from ..nn.blocks import DenseBlock, Transition
from ..nn.graph import Graph
from .network import Network, init_like_torchvision, smallest_input_size
from .registry import register_model

__all__ = ["DenseNet", "densenet", "densenet121", "densenet_cifar"]

_TRANSITION_POOL = (2, 2, 0)  # (kernel, stride, padding)


class DenseNet(Network):
    """A DenseNet: ``features`` (stem, dense blocks and transitions, final BN), ReLU, global average
    pooling, ``classifier``."""


def _densenet(name, block_config, growth_rate, num_init_features, num_classes, in_channels, bn_size,
              small_inputs: bool) -> DenseNet:
    if not (isinstance(block_config, (list, tuple)) and block_config
            and all(isinstance(n, int) and n >= 1 for n in block_config)):
        raise ValueError(f"{name}: block_config must be a non-empty list of positive layer counts, "
                         f"got {block_config!r}")
    features = Graph()
    if small_inputs:  # the paper's CIFAR stem: one 3x3 convolution, no pooling
        windows = []
        features.add("conv0", Conv2d(in_channels, num_init_features, 3, padding=1, bias=False))
    else:
        windows = [(7, 2, 3), (3, 2, 1)]
        features.add("conv0", Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=False))
        features.add("norm0", BatchNorm2d(num_init_features))
        features.add("relu0", ReLU(inplace=True))
        features.add("pool0", MaxPool2d(3, stride=2, padding=1))
    channels = num_init_features
    for i, num_layers in enumerate(block_config):
        block = DenseBlock(channels, growth_rate, num_layers, bn_size)
        features.add(f"denseblock{i + 1}", block)
        channels = block.out_channels
        if i < len(block_config) - 1:
            features.add(f"transition{i + 1}", Transition(channels, channels // 2))
            channels //= 2
            windows.append(_TRANSITION_POOL)
    features.add("norm5", BatchNorm2d(channels))  # torchvision's name, whatever the number of blocks

    model = DenseNet(name, in_channels, smallest_input_size(windows))
    model.add("features", features)
    model.add("relu", ReLU(inplace=True))
    model.add("avgpool", AdaptiveAvgPool2d((1, 1)))
    model.add("flatten", Flatten())
    model.add("classifier", Linear(channels, num_classes))
    return init_like_torchvision(model, conv_mode="fan_in", zero_linear_bias=True)


@register_model
def densenet(block_config=(6, 12, 24, 16), growth_rate: int = 32, num_init_features: int = 64,
             num_classes: int = 1000, in_channels: int = 3, bn_size: int = 4) -> DenseNet:
    """torchvision's ImageNet DenseNet-BC: conv 7x7/2, BN, ReLU, max pool 3x3/2, then for each count in
    ``block_config`` a DenseBlock (``growth_rate`` new maps per layer, 1x1 bottleneck of
    ``bn_size * growth_rate``) followed, except after the last, by a Transition halving the channels;
    final BN, ReLU, global average pooling, classifier. The defaults are DenseNet-121.
    """
    return _densenet("densenet", block_config, growth_rate, num_init_features, num_classes, in_channels,
                     bn_size, small_inputs=False)


@register_model
def densenet121(num_classes: int = 1000, in_channels: int = 3) -> DenseNet:
    """DenseNet-121: ``densenet((6, 12, 24, 16), growth_rate=32, num_init_features=64)``; at least 29x29."""
    return _densenet("densenet121", (6, 12, 24, 16), 32, 64, num_classes, in_channels, 4, small_inputs=False)


@register_model
def densenet_cifar(num_classes: int = 10, in_channels: int = 3, growth_rate: int = 12,
                   block_config=(6, 6, 6)) -> DenseNet:
    """A small DenseNet-BC for 32x32 images (the paper's CIFAR layout; the defaults are DenseNet-BC
    with depth 40 and k = 12): conv 3x3 to 2k maps, three dense blocks with two transitions between,
    final BN, ReLU, global average pooling, classifier. At least 4x4.
    """
    return _densenet("densenet_cifar", block_config, growth_rate, 2 * growth_rate, num_classes, in_channels,
                     4, small_inputs=True)
