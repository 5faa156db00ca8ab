"""Small networks: the course document's CNN (``seed_cnn``) and LeNet-5."""

from ..nn import AdaptiveAvgPool2d, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Tanh
from .network import Network, smallest_input_size
from .registry import register_model

__all__ = ["lenet5", "seed_cnn"]

_SEED_FEATURE_SIDE = 7  # what a 28x28 image becomes after the two 2x2 poolings


@register_model
def seed_cnn(num_classes: int = 10, in_channels: int = 1) -> Network:
    """The course document's network, plus a classifier:

    conv 3x3 (in_channels -> 32, padding 1), ReLU, max pool 2, conv 3x3 (32 -> 64, padding 1), ReLU,
    max pool 2, adaptive average pooling to 7x7, flatten, linear (3136 -> num_classes).
    On a 28x28 image the pooling to 7x7 changes nothing; other sizes (at least 4x4) work too.
    """
    pools = [(3, 1, 1), (2, 2, 0)] * 2
    model = Network("seed_cnn", in_channels, smallest_input_size(pools))
    model.add("conv1", Conv2d(in_channels, 32, 3, padding=1))
    model.add("relu1", ReLU())
    model.add("pool1", MaxPool2d(2))
    model.add("conv2", Conv2d(32, 64, 3, padding=1))
    model.add("relu2", ReLU())
    model.add("pool2", MaxPool2d(2))
    model.add("avgpool", AdaptiveAvgPool2d(_SEED_FEATURE_SIDE))
    model.add("flatten", Flatten())
    model.add("fc", Linear(64 * _SEED_FEATURE_SIDE**2, num_classes))
    return model


@register_model
def lenet5(num_classes: int = 10, in_channels: int = 1) -> Network:
    """LeNet-5 (LeCun et al., 1998), with tanh and average-pooling subsampling as in the paper:

    conv 5x5 (in_channels -> 6, padding 2, so that 28x28 MNIST digits get the paper's 32x32 view),
    tanh, avg pool 2, conv 5x5 (6 -> 16), tanh, avg pool 2, adaptive average pooling to 5x5,
    flatten, linear 400 -> 120, tanh, linear 120 -> 84, tanh, linear 84 -> num_classes.
    Works on inputs of at least 12x12.
    """
    windows = [(5, 1, 2), (2, 2, 0), (5, 1, 0), (2, 2, 0)]
    model = Network("lenet5", in_channels, smallest_input_size(windows))
    model.add("conv1", Conv2d(in_channels, 6, 5, padding=2))
    model.add("tanh1", Tanh())
    model.add("pool1", AvgPool2d(2))
    model.add("conv2", Conv2d(6, 16, 5))
    model.add("tanh2", Tanh())
    model.add("pool2", AvgPool2d(2))
    model.add("avgpool", AdaptiveAvgPool2d(5))
    model.add("flatten", Flatten())
    model.add("fc1", Linear(16 * 5 * 5, 120))
    model.add("tanh3", Tanh())
    model.add("fc2", Linear(120, 84))
    model.add("tanh4", Tanh())
    model.add("fc3", Linear(84, num_classes))
    return model
