"""VGG (Simonyan and Zisserman, 2015): torchvision's layout, parameter names and initialisation.

Stacks of 3x3 convolutions (padding 1) separated by 2x2 max pooling, then adaptive average pooling to
7x7 and three fully connected layers. Two 3x3 convolutions see a 5x5 window with fewer weights and
one more nonlinearity than one 5x5: the paper's argument for small kernels. Parameter names match
torchvision's (``features.0.weight``, ``classifier.6.bias``); VGG-11 has 132,863,336 parameters at 1000
classes, 120 million of them in the classifier.
"""

from ..nn import (
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    init,
)
from .network import Network, smallest_input_size
from .registry import register_model

__all__ = ["VGG", "vgg", "vgg11", "vgg11_bn", "vgg13", "vgg16", "vgg19"]

POOL = "M"
# depth -> channels of each 3x3 convolution, POOL for a 2x2 max pooling: torchvision's cfgs A, B, D, E
CONFIGS = {
    11: (64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    13: (64, 64, POOL, 128, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    16: (64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL, 512, 512, 512, POOL, 512, 512, 512, POOL),
    19: (64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL, 512, 512, 512, 512, POOL, 512, 512, 512, 512,
         POOL),
}
POOLED_SIDE, HIDDEN = 7, 4096


class VGG(Network):
    """A VGG: ``features`` (convolutions and poolings), ``avgpool`` (adaptive, to 7x7), ``classifier``."""


@register_model
def vgg(depth: int = 11, batch_norm: bool = False, num_classes: int = 1000, in_channels: int = 3,
        dropout: float = 0.5) -> VGG:
    """torchvision's VGG-11, -13, -16 or -19, with batch norm after each convolution if ``batch_norm``:
    ``features``, adaptive average pooling to 7x7, then linear 25088 -> 4096, ReLU, dropout, linear
    4096 -> 4096, ReLU, dropout, linear 4096 -> num_classes. Any input of at least 32x32.
    """
    if depth not in CONFIGS:
        raise ValueError(f"vgg: depth must be one of {sorted(CONFIGS)}, got {depth!r}")
    layers, channels, windows = [], in_channels, []
    for width in CONFIGS[depth]:
        if width == POOL:
            layers.append(MaxPool2d(2, stride=2))
            windows.append((2, 2, 0))
            continue
        layers.append(Conv2d(channels, width, 3, padding=1))
        layers += [BatchNorm2d(width), ReLU(inplace=True)] if batch_norm else [ReLU(inplace=True)]
        channels = width
    name = f"vgg{depth}" + ("_bn" if batch_norm else "")
    model = VGG(name, in_channels, smallest_input_size(windows))
    model.add("features", Sequential(*layers))
    model.add("avgpool", AdaptiveAvgPool2d((POOLED_SIDE, POOLED_SIDE)))
    model.add("flatten", Flatten())
    model.add("classifier", Sequential(
        Linear(channels * POOLED_SIDE**2, HIDDEN), ReLU(inplace=True), Dropout(dropout),
        Linear(HIDDEN, HIDDEN), ReLU(inplace=True), Dropout(dropout), Linear(HIDDEN, num_classes)))
    for module in model.modules():  # torchvision's initialisation
        if isinstance(module, Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            init.zeros_(module.bias)
        elif isinstance(module, BatchNorm2d):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, Linear):
            init.normal_(module.weight, 0.0, 0.01)
            init.zeros_(module.bias)
    return model


def _register(depth: int, batch_norm: bool):
    """``vgg11``, ``vgg11_bn``, ...: one registered name per variant, for ``--model vgg11_bn``."""

    def build(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
        return vgg(depth, batch_norm, num_classes, in_channels, dropout)

    build.__name__ = build.__qualname__ = f"vgg{depth}" + ("_bn" if batch_norm else "")
    build.__doc__ = f"``vgg({depth}, batch_norm={batch_norm}, num_classes, in_channels, dropout)``."
    return register_model(build)


vgg11, vgg11_bn, vgg13, vgg16, vgg19 = (_register(d, bn) for d, bn in ((11, False), (11, True), (13, False),
                                                                        (16, False), (19, False)))
