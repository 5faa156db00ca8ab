"""The base of strided's model classes: a named Graph that states the smallest image it accepts.

Every model ends in adaptive average pooling before its classifier, so it works on any input of
at least its minimum size; below that a convolution or pooling would produce an empty map, and
the error says so at the door instead of deep inside a layer.
"""

from ..functional.shapes import conv_output_size
from ..nn import BatchNorm2d, Conv2d, Linear, init
from ..nn.checks import check_input
from ..nn.graph import Graph

__all__ = ["Network", "init_like_torchvision", "smallest_input_size"]

_LARGEST_SEARCHED = 1 << 16


def smallest_input_size(windows) -> int:
    """The smallest side that stays >= 1 pixel through ``windows``, a chain of (kernel, stride, padding)."""
    for size in range(1, _LARGEST_SEARCHED):
        side = size
        for kernel, stride, padding in windows:
            side = conv_output_size(side, kernel, stride, padding)
            if side < 1:
                break
        else:
            return size
    raise ValueError(f"no input side up to {_LARGEST_SEARCHED} fits the windows {windows}")


class Network(Graph):
    """A model: a Graph of one input image batch (N, in_channels, H, W) -> class scores (N, num_classes).

    ``name`` is used in error messages (e.g. 'resnet18'); H and W must be at least ``min_input_size``.
    """

    def __init__(self, name: str, in_channels: int, min_input_size: int):
        super().__init__(inputs=("x",))
        self.name = str(name)
        self.in_channels = int(in_channels)
        self.min_input_size = int(min_input_size)

    def forward(self, x):
        check_input(self, x, 4, self.in_channels)
        if min(x.shape[2:]) < self.min_input_size:
            raise ValueError(f"{self.label()}: input of {x.shape[2]}x{x.shape[3]} pixels is too small: the "
                             f"smallest is {self.min_input_size}x{self.min_input_size}, got shape {x.shape}")
        return super().forward(x)

    def get_config(self) -> dict:
        return {"name": self.name, "in_channels": self.in_channels, "min_input_size": self.min_input_size,
                **super().get_config()}

    @classmethod
    def from_config(cls, config: dict) -> "Network":
        return cls(config["name"], config["in_channels"], config["min_input_size"])._add_nodes(config)

    def label(self) -> str:
        return self.name

    def extra_repr(self) -> str:
        return f"{self.name!r}, in_channels={self.in_channels}, min_input_size={self.min_input_size}"


def init_like_torchvision(model, conv_mode: str = "fan_out", zero_linear_bias: bool = False):
    """torchvision's initialisation of its ResNets and DenseNets: He-normal convolutions (``conv_mode``
    fan), batch norm weight 1 and bias 0, optionally zero Linear biases (DenseNet). Returns ``model``."""
    for module in model.modules():
        if isinstance(module, Conv2d):
            init.kaiming_normal_(module.weight, mode=conv_mode, nonlinearity="relu")
        elif isinstance(module, BatchNorm2d):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, Linear) and zero_linear_bias:
            init.zeros_(module.bias)
    return model
