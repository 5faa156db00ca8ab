"""ResNets (He et al., 2016): torchvision's ImageNet layout and the paper's CIFAR layout.

Parameter names match torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0``,
``fc``), so state dicts carry over key for key. Weights are initialised as torchvision does
(He-normal convolutions, fan out; batch norm 1 and 0).
"""

from ..nn import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from ..nn.blocks import Bottleneck, ResidualBlock
from .network import Network, init_like_torchvision, smallest_input_size
from .registry import register_model

__all__ = [
    "ResNet", "resnet", "resnet18", "resnet34", "resnet50", "resnet_cifar", "resnet_cifar20", "resnet_cifar32",
    "resnet_cifar44", "resnet_cifar56",
]

# depth -> (block, blocks per stage), torchvision's table
IMAGENET_DEPTHS = {18: (ResidualBlock, (2, 2, 2, 2)), 34: (ResidualBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3))}
IMAGENET_WIDTHS = (64, 128, 256, 512)
CIFAR_WIDTHS = (16, 32, 64)
_STRIDE_2_3X3 = (3, 2, 1)  # (kernel, stride, padding) of each stage's first convolution after the first stage


class ResNet(Network):
    """A ResNet: stem, stages ``layer1`` ... of residual blocks, global average pooling, ``fc``."""


def _add_stages(model: ResNet, block, counts, widths, channels: int) -> int:
    """Stages layer1, layer2, ...: the first block of each stage but the first has stride 2."""
    for stage, (width, count) in enumerate(zip(widths, counts, strict=True)):
        blocks = []
        for i in range(count):
            stride = 2 if stage > 0 and i == 0 else 1
            blocks.append(block(channels, width, stride))
            channels = blocks[-1].out_channels
        model.add(f"layer{stage + 1}", Sequential(*blocks))
    return channels


def _add_head(model: ResNet, channels: int, num_classes: int) -> None:
    model.add("avgpool", AdaptiveAvgPool2d((1, 1)))
    model.add("flatten", Flatten())
    model.add("fc", Linear(channels, num_classes))


@register_model
def resnet(depth: int = 18, num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """torchvision's ImageNet ResNet-18, -34 (basic blocks) or -50 (bottlenecks, stride on the 3x3):

    conv 7x7/2 (64, padding 3), BN, ReLU, max pool 3x3/2 (padding 1), four stages of 64, 128, 256,
    512 channels (x4 with bottlenecks), global average pooling, fc. Any input of at least 1x1.
    """
    if depth not in IMAGENET_DEPTHS:
        raise ValueError(f"resnet: depth must be one of {sorted(IMAGENET_DEPTHS)}, got {depth!r}")
    block, counts = IMAGENET_DEPTHS[depth]
    windows = [(7, 2, 3), (3, 2, 1)] + [_STRIDE_2_3X3] * (len(counts) - 1)
    model = ResNet(f"resnet{depth}", in_channels, smallest_input_size(windows))
    model.add("conv1", Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False))
    model.add("bn1", BatchNorm2d(64))
    model.add("relu", ReLU(inplace=True))
    model.add("maxpool", MaxPool2d(3, stride=2, padding=1))
    channels = _add_stages(model, block, counts, IMAGENET_WIDTHS, 64)
    _add_head(model, channels, num_classes)
    return init_like_torchvision(model)


@register_model
def resnet_cifar(depth: int = 20, num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """The CIFAR ResNet of He et al. (2016), section 4.2: depth = 6n + 2 (20, 32, 44, 56, 110 ...).

    conv 3x3 (16, padding 1), BN, ReLU, three stages of n basic blocks with 16, 32 and 64 channels
    (the 2nd and 3rd start with stride 2), global average pooling, fc. Where the shape changes the
    shortcut is a 1x1 convolution + BN (the paper's option B, our ResidualBlock's shortcut) rather
    than option A's zero-padded identity: 2,752 more parameters, and one kind of block for both
    layouts. Any input of at least 1x1 (32x32 is the paper's).
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"resnet_cifar: depth must be 6n + 2 (20, 32, 44, 56, 110 ...), got {depth!r}")
    counts = ((depth - 2) // 6,) * len(CIFAR_WIDTHS)
    windows = [_STRIDE_2_3X3] * (len(counts) - 1)
    model = ResNet(f"resnet_cifar{depth}", in_channels, smallest_input_size(windows))
    model.add("conv1", Conv2d(in_channels, CIFAR_WIDTHS[0], 3, padding=1, bias=False))
    model.add("bn1", BatchNorm2d(CIFAR_WIDTHS[0]))
    model.add("relu", ReLU(inplace=True))
    channels = _add_stages(model, ResidualBlock, counts, CIFAR_WIDTHS, CIFAR_WIDTHS[0])
    _add_head(model, channels, num_classes)
    return init_like_torchvision(model)


def _register_depth(family, depth: int, num_classes: int):
    """Register ``family`` at one depth under its own name, e.g. ``resnet18``, so the command line can say
    ``--model resnet18`` or ``--model resnet_cifar20``."""

    def build(num_classes: int = num_classes, in_channels: int = 3) -> ResNet:
        return family(depth, num_classes, in_channels)

    build.__name__ = build.__qualname__ = f"{family.__name__}{depth}"
    build.__doc__ = f"``{family.__name__}({depth}, num_classes, in_channels)``."
    return register_model(build)


resnet18, resnet34, resnet50 = (_register_depth(resnet, depth, 1000) for depth in IMAGENET_DEPTHS)
resnet_cifar20, resnet_cifar32, resnet_cifar44, resnet_cifar56 = (
    _register_depth(resnet_cifar, depth, 10) for depth in (20, 32, 44, 56))
