"""The building blocks of ResNet and DenseNet, with torchvision's layouts and parameter names.

ResNet (He et al., 2016): ``ResidualBlock`` (torchvision's BasicBlock) and ``Bottleneck``.
DenseNet-BC (Huang et al., 2017): ``DenseLayer``, ``DenseBlock`` and ``Transition``.

Their forward and backward are written out here rather than assembled with ``Graph``: each block
is a handful of layers with one fan-out (a residual block's input feeds two branches, a dense
block's features feed every later layer), and seeing the gradients added by hand is as short as
the graph would be, and does without its bookkeeping. Convolutions have no bias: batch norm's shift
follows each one. The constructor arguments define a block completely (model files rebuild it).
"""

import numpy as np

from ..functional.args import positive_int
from ..functional.dispatch import kernels
from ..functional.storage import compute_gradient
from ..grad_mode import is_grad_enabled
from .activation import ReLU
from .checks import check_grad, check_input
from .container import Sequential
from .conv import Conv2d
from .inplace import add_over, chain_forward, is_private_output, relu_over
from .module import Module
from .norm import BatchNorm2d
from .pool import AvgPool2d

__all__ = ["Bottleneck", "DenseBlock", "DenseLayer", "ResidualBlock", "Transition"]


def _check_sizes(block: str, **sizes) -> None:
    for name, value in sizes.items():
        positive_int(value, name, block)


def _shortcut(in_channels: int, out_channels: int, stride: int):
    """torchvision's ``downsample``: conv1x1(stride) + BN where the shape changes, else None (identity)."""
    if stride == 1 and in_channels == out_channels:
        return None
    return Sequential(Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), BatchNorm2d(out_channels))


class ResidualBlock(Module):
    """ResNet's basic block (torchvision's BasicBlock):

        y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))

    conv1 is 3x3 with ``stride``, conv2 3x3, both padding 1. The shortcut is the identity, or
    ``downsample`` = conv1x1(stride) + BN when the stride or the channel count changes (option B
    of He et al.). Output: (N, out_channels, floor((H - 1) / stride) + 1, floor((W - 1) / stride) + 1).

    Backward: g = grad * (y > 0) through the final ReLU; x feeds both branches, so
    dx = (conv1 <- bn1 <- relu <- conv2 <- bn2).backward(g) + shortcut.backward(g).
    ``relu`` is the first activation; the block applies the final one itself (a module keeps
    the state of one call only, and torchvision reuses its one ``relu`` for both).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        _check_sizes("ResidualBlock", in_channels=in_channels, out_channels=out_channels, stride=stride)
        self.in_channels, self.out_channels, self.stride = int(in_channels), int(out_channels), int(stride)
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(out_channels)
        self.relu = ReLU(inplace=True)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = BatchNorm2d(out_channels)
        self.downsample = _shortcut(in_channels, out_channels, stride)

    def forward(self, x):
        check_input(self, x, 4, self.in_channels)
        # the first ReLU and the residual sum overwrite batch norm's fresh outputs where only this block has them
        main = self.bn2(self.conv2(relu_over(self.relu, self.bn1, self.bn1(self.conv1(x)))))
        y = add_over(self.bn2, main, x if self.downsample is None else self.downsample(x))
        # the final ReLU, in place on an array only this block holds
        y, relu_ctx = kernels().relu_forward(y, is_grad_enabled(), out=y)
        self.save_for_backward(relu_ctx, y.shape)
        return y

    def backward(self, grad_out):
        relu_ctx, shape = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        g = grad_main = self.pass_gradient(relu_ctx.backward(grad_out))
        for layer in (self.bn2, self.conv2, self.relu, self.bn1, self.conv1):
            grad_main = self.pass_gradient(layer.backward(grad_main))
        # x fed both branches: their gradients add, into conv1's fresh one where only this block has it
        return add_over(self.conv1, grad_main,
                        g if self.downsample is None else self.pass_gradient(self.downsample.backward(g)))

    def label(self):
        return f"ResidualBlock({self.in_channels} -> {self.out_channels}, stride={self.stride})"


class Bottleneck(Module):
    """ResNet's bottleneck block (torchvision's Bottleneck, stride on the 3x3 convolution: "v1.5"):

        h = relu(bn1(conv1(x)))          conv1: 1x1, in_channels -> mid_channels
        h = relu(bn2(conv2(h)))          conv2: 3x3, stride, padding 1
        y = relu(bn3(conv3(h)) + shortcut(x))   conv3: 1x1, mid -> mid * expansion

    The shortcut is the identity, or ``downsample`` = conv1x1(stride) + BN when the stride or the
    channel count changes. Output channels: mid_channels * expansion.
    Backward: through the final ReLU, then the main branch in reverse and the shortcut, added
    (x feeds both). ``relu`` is the first activation; the block applies the other two itself.
    """

    def __init__(self, in_channels: int, mid_channels: int, stride: int = 1, expansion: int = 4):
        super().__init__()
        _check_sizes("Bottleneck", in_channels=in_channels, mid_channels=mid_channels, stride=stride,
                     expansion=expansion)
        self.in_channels, self.mid_channels = int(in_channels), int(mid_channels)
        self.stride, self.expansion = int(stride), int(expansion)
        self.out_channels = self.mid_channels * self.expansion
        self.conv1 = Conv2d(in_channels, mid_channels, 1, bias=False)
        self.bn1 = BatchNorm2d(mid_channels)
        self.conv2 = Conv2d(mid_channels, mid_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = BatchNorm2d(mid_channels)
        self.conv3 = Conv2d(mid_channels, self.out_channels, 1, bias=False)
        self.bn3 = BatchNorm2d(self.out_channels)
        self.relu = ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, self.out_channels, stride)

    def forward(self, x):
        check_input(self, x, 4, self.in_channels)
        keep = is_grad_enabled()
        h = self.bn2(self.conv2(relu_over(self.relu, self.bn1, self.bn1(self.conv1(x)))))
        h, h_ctx = kernels().relu_forward(h, keep, out=h if is_private_output(self.bn2, h) else None)
        y = add_over(self.bn3, self.bn3(self.conv3(h)), x if self.downsample is None else self.downsample(x))
        y, y_ctx = kernels().relu_forward(y, keep, out=y)
        self.save_for_backward(h_ctx, y_ctx, y.shape)
        return y

    def backward(self, grad_out):
        h_ctx, y_ctx, shape = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        g = grad_main = self.pass_gradient(y_ctx.backward(grad_out))
        # h_ctx: the middle ReLU, which the block applies itself
        for layer in (self.bn3, self.conv3, h_ctx, self.bn2, self.conv2, self.relu, self.bn1, self.conv1):
            grad_main = self.pass_gradient(layer.backward(grad_main))
        # x fed both branches: their gradients add, into conv1's fresh one where only this block has it
        return add_over(self.conv1, grad_main,
                        g if self.downsample is None else self.pass_gradient(self.downsample.backward(g)))

    def label(self):
        return f"Bottleneck({self.in_channels} -> {self.out_channels}, stride={self.stride})"


class _Chain(Module):
    """Named layers applied in registration order (a Sequential whose children have names)."""

    in_channels: int

    def forward(self, x):
        check_input(self, x, 4, self.in_channels)
        x = chain_forward(self._modules.values(), x)
        self.save_for_backward(x.shape)
        return x

    def backward(self, grad_out):
        (shape,) = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        for module in reversed(self._modules.values()):
            grad_out = self.pass_gradient(module.backward(grad_out))
        return grad_out


class DenseLayer(_Chain):
    """One layer of a DenseNet-BC dense block (torchvision's _DenseLayer):

        y = conv2(relu2(norm2(conv1(relu1(norm1(x))))))

    conv1: 1x1, in_channels -> bn_size * growth_rate (the "bottleneck"); conv2: 3x3, padding 1,
    -> growth_rate. The output is the growth_rate NEW feature maps (DenseBlock concatenates them).
    Backward: the chain rule through the six layers in reverse.
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4):
        super().__init__()
        _check_sizes("DenseLayer", in_channels=in_channels, growth_rate=growth_rate, bn_size=bn_size)
        self.in_channels, self.growth_rate, self.bn_size = int(in_channels), int(growth_rate), int(bn_size)
        self.norm1 = BatchNorm2d(in_channels)
        self.relu1 = ReLU(inplace=True)
        self.conv1 = Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = BatchNorm2d(bn_size * growth_rate)
        self.relu2 = ReLU(inplace=True)
        self.conv2 = Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

    def label(self):
        return f"DenseLayer({self.in_channels} -> +{self.growth_rate})"


class DenseBlock(Module):
    """A dense block: each layer reads the concatenation of the block input and all earlier layers' outputs.

        x_0 = x,  x_l = DenseLayer_l(cat(x_0, ..., x_(l-1))),  y = cat(x_0, x_1, ..., x_L)

    Output channels: in_channels + num_layers * growth_rate (layers ``denselayer1`` ...). The
    features are written once into one output array; each layer reads a view of its first channels
    (torchvision concatenates anew for every layer: quadratic copying).
    Backward: in reverse, layer l takes the gradient of its own channels (complete by then: only
    later layers read them) and adds its input gradient into the channels before them.
    """

    def __init__(self, in_channels: int, growth_rate: int, num_layers: int, bn_size: int = 4):
        super().__init__()
        _check_sizes("DenseBlock", in_channels=in_channels, growth_rate=growth_rate, num_layers=num_layers,
                     bn_size=bn_size)
        self.in_channels, self.growth_rate = int(in_channels), int(growth_rate)
        self.num_layers, self.bn_size = int(num_layers), int(bn_size)
        self.out_channels = self.in_channels + self.num_layers * self.growth_rate
        for i in range(self.num_layers):
            setattr(self, f"denselayer{i + 1}", DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size))

    def forward(self, x):
        check_input(self, x, 4, self.in_channels)
        n, c, h, w = x.shape
        out = np.empty((n, self.out_channels, h, w), dtype=x.dtype)
        out[:, :c] = x
        for layer in self._modules.values():
            out[:, c:c + self.growth_rate] = layer(out[:, :c])
            c += self.growth_rate
        self.save_for_backward(out.shape)
        return out

    def backward(self, grad_out):
        (shape,) = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        # The layers' input gradients are added into it: a sum, so float32 under mixed precision too
        # (16-bit partial sums would round once per later layer); what each layer gets and returns is stored.
        grad = compute_gradient(grad_out)
        grad = grad.copy() if grad is grad_out else grad
        c = self.out_channels
        for layer in reversed(self._modules.values()):
            c -= self.growth_rate
            grad[:, :c] += self.pass_gradient(layer.backward(self.pass_gradient(grad[:, c:c + self.growth_rate])))
        return np.ascontiguousarray(grad[:, :self.in_channels])

    def label(self):
        return f"DenseBlock({self.in_channels} -> {self.out_channels})"


class Transition(_Chain):
    """DenseNet's transition between dense blocks (torchvision's _Transition):

        y = pool(conv(relu(norm(x))))    conv: 1x1, in -> out_channels; pool: 2x2 average, stride 2

    Output: (N, out_channels, floor(H / 2), floor(W / 2)). Backward: the chain rule in reverse.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        _check_sizes("Transition", in_channels=in_channels, out_channels=out_channels)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.norm = BatchNorm2d(in_channels)
        self.relu = ReLU(inplace=True)
        self.conv = Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = AvgPool2d(2, stride=2)

    def label(self):
        return f"Transition({self.in_channels} -> {self.out_channels})"
