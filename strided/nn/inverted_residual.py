"""MobileNetV2's inverted residual block (Sandler et al., 2018), with torchvision's layout and names.

A ResNet bottleneck squeezes the channels, convolves, and widens them again; the inverted residual
does the opposite: it widens the thin input (a 1x1 "expansion" by ``expand_ratio``), filters each
channel on its own (a 3x3 depthwise convolution, ``groups`` = channels), and projects back to a thin
output with a 1x1 convolution and no activation (the "linear bottleneck": a ReLU on few channels
would destroy information). The depthwise + pointwise pair is a depthwise separable convolution:
k*k*C + C*C' weights instead of k*k*C*C'. The shortcut joins the thin ends when shape allows.
"""

from .container import Sequential
from .conv import Conv2d
from .hardtanh import ReLU6
from .module import Module
from .norm import BatchNorm2d

__all__ = ["InvertedResidual", "conv_bn_relu6"]


def conv_bn_relu6(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                  groups: int = 1) -> Sequential:
    """torchvision's Conv2dNormActivation with BN and ReLU6: conv (no bias, 'same'-style padding
    (k - 1) // 2), BatchNorm2d, ReLU6, as a Sequential (parameter names ``0.weight``, ``1.weight``)."""
    return Sequential(Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
                             groups=groups, bias=False),
                      BatchNorm2d(out_channels), ReLU6(inplace=True))


class InvertedResidual(Module):
    """y = conv(x) + x when stride is 1 and the channels stay the same, else y = conv(x), where ``conv`` is

        [1x1 conv C -> hC, BN, ReLU6]        (only when expand_ratio h != 1; hC = round(C * h))
        3x3 depthwise conv hC -> hC (stride), BN, ReLU6
        1x1 conv hC -> out_channels, BN      (no activation: the linear bottleneck)

    Backward: the chain rule through ``conv`` in reverse, plus the gradient itself along the
    shortcut (x feeds both): dx = conv.backward(g) + g.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride should be 1 or 2, got {stride!r}")
        self.in_channels, self.out_channels, self.stride = int(in_channels), int(out_channels), int(stride)
        self.expand_ratio = expand_ratio
        hidden = int(round(in_channels * expand_ratio))
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers = [conv_bn_relu6(in_channels, hidden, kernel_size=1)] if expand_ratio != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
                   Conv2d(hidden, out_channels, 1, bias=False), BatchNorm2d(out_channels)]
        self.conv = Sequential(*layers)

    def forward(self, x):
        y = self.conv(x)
        return y + x if self.use_res_connect else y

    def backward(self, grad_out):
        grad_in = self.pass_gradient(self.conv.backward(grad_out))
        return grad_in + grad_out if self.use_res_connect else grad_in

    def label(self):
        return f"InvertedResidual({self.in_channels} -> {self.out_channels}, stride={self.stride})"

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}, expand_ratio={self.expand_ratio}"
