"""MobileNetV2 (Sandler et al., 2018): torchvision's layout, parameter names and initialisation.

A stem convolution, seventeen inverted residual blocks (expand, filter depthwise, project: see
strided/nn/inverted_residual.py), a 1x1 convolution to 1280 channels, global average pooling and a
classifier. Parameter names match torchvision's (``features.0.0.weight``, ``features.1.conv.0.0.weight``,
``features.18.1.running_mean``, ``classifier.1.weight``): 3,504,872 parameters at 1000 classes.
"""

from ..nn import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, Sequential, init
from ..nn.inverted_residual import InvertedResidual, conv_bn_relu6
from .network import Network, smallest_input_size
from .registry import register_model

__all__ = ["MobileNetV2", "make_divisible", "mobilenet_v2"]

# (expansion t, output channels c, blocks n, first stride s), the paper's Table 2
INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                             (6, 160, 3, 2), (6, 320, 1, 1))
STEM_CHANNELS, LAST_CHANNELS = 32, 1280


class MobileNetV2(Network):
    """A MobileNetV2: ``features`` (stem, inverted residuals, 1x1 conv), global average pooling,
    ``classifier`` (dropout, linear)."""


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: the nearest multiple of ``divisor`` (at least ``divisor``), but
    never more than 10% below ``value``. Width multipliers keep channel counts hardware-friendly."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@register_model
def mobilenet_v2(num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0, dropout: float = 0.2,
                 round_nearest: int = 8) -> MobileNetV2:
    """torchvision's MobileNetV2: conv 3x3/2 (32) + BN + ReLU6, the inverted residual stages of
    ``INVERTED_RESIDUAL_SETTING`` (channels scaled by ``width_mult``), conv 1x1 to 1280 + BN + ReLU6,
    adaptive average pooling to 1x1, dropout, linear. Any input of at least 1x1 (224x224 is the paper's).
    """
    channels = make_divisible(STEM_CHANNELS * width_mult, round_nearest)
    last_channels = make_divisible(LAST_CHANNELS * max(1.0, width_mult), round_nearest)
    layers = [conv_bn_relu6(in_channels, channels, stride=2)]
    windows = [(3, 2, 1)]
    for expansion, width, count, stride in INVERTED_RESIDUAL_SETTING:
        out_channels = make_divisible(width * width_mult, round_nearest)
        for i in range(count):
            layers.append(InvertedResidual(channels, out_channels, stride if i == 0 else 1, expansion))
            channels = out_channels
        if stride > 1:
            windows.append((3, stride, 1))
    layers.append(conv_bn_relu6(channels, last_channels, kernel_size=1))

    model = MobileNetV2("mobilenet_v2", in_channels, smallest_input_size(windows))
    model.add("features", Sequential(*layers))
    model.add("avgpool", AdaptiveAvgPool2d((1, 1)))
    model.add("flatten", Flatten())
    model.add("classifier", Sequential(Dropout(dropout), Linear(last_channels, num_classes)))
    for module in model.modules():  # torchvision's initialisation
        if isinstance(module, Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out")
        elif isinstance(module, BatchNorm2d):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, Linear):
            init.normal_(module.weight, 0.0, 0.01)
            init.zeros_(module.bias)
    return model
