"""The course document's residual and dense blocks, in its form: convolutions with ReLU inside, no
batch norm (strided's batch-normalised blocks, torchvision's layout, are st.nn.ResidualBlock and
st.nn.DenseBlock).

Both backwards are the chain rule over a graph that is not a chain:

* a tensor used twice (the residual block's input feeds the main path and the shortcut) receives the
  SUM of the gradients of its uses;
* a concatenation hands each of its inputs the slice of the gradient at that input's channels.
"""

import numpy as np

from .. import nn
from ..nn.checks import check_grad
from .base import SeedLayer, check_image_batch, check_positive_int, register_list
from .layers import ConvolutionalLayer

__all__ = ["DenseBlock", "ResidualBlock"]


class ResidualBlock(SeedLayer):
    """y = relu(F(x) + S(x)), F(x) = relu(conv3x3(relu(conv3x3_stride(x)))), S the identity or a linear
    1x1 convolution with the stride when the stride or the channel count changes.

    Backward: g = dL/dy * relu'(F(x) + S(x)) (the final ReLU, which the document's backward skips), then
    dL/dx = F's backward of g + S's backward of g (x feeds both paths, so their gradients add).
    """

    def __init__(self, input_channels, output_channels, stride=1):
        super().__init__()
        check_positive_int("ResidualBlock", "input_channels", input_channels)
        check_positive_int("ResidualBlock", "output_channels", output_channels)
        check_positive_int("ResidualBlock", "stride", stride)
        self.input_channels = int(input_channels)
        self.output_channels = int(output_channels)
        self.stride = int(stride)
        self.conv1 = ConvolutionalLayer(output_channels, 3, stride, 1, "relu")
        self.conv2 = ConvolutionalLayer(output_channels, 3, 1, 1, "relu")
        if stride != 1 or input_channels != output_channels:
            self.shortcut = ConvolutionalLayer(output_channels, 1, stride, 0, "linear")
        else:
            self.shortcut = None
        self.relu = nn.ReLU()

    def forward(self, x):
        check_image_batch(self, x, self.input_channels)
        out = self.conv2(self.conv1(x))
        residual = x if self.shortcut is None else self.shortcut(x)
        return self.relu(out + residual)

    def compute_gradients(self, grad_output):
        grad_sum = self.relu.backward(grad_output)
        grad_main = self.conv1.compute_gradients(self.conv2.compute_gradients(grad_sum))
        grad_shortcut = grad_sum if self.shortcut is None else self.shortcut.compute_gradients(grad_sum)
        return grad_main + grad_shortcut

    def label(self) -> str:
        return f"ResidualBlock({self.input_channels} -> {self.output_channels})"

    def extra_repr(self) -> str:
        return f"input_channels={self.input_channels}, output_channels={self.output_channels}, stride={self.stride}"


class DenseBlock(SeedLayer):
    """Each layer sees every feature map before it: F_0 = x, F_i = relu(conv3x3(cat(F_0 ... F_{i-1}))),
    output cat(F_0, F_1, ..., F_L) with input_channels + num_layers * growth_rate channels.

    Backward, from the last layer to the first: g_i, the gradient of F_i, starts as its slice of dL/dy;
    layer i's backward gives the gradient of cat(F_0 ... F_{i-1}), whose slices ADD to g_0 ... g_{i-1}
    (each F_j feeds the output and every later layer). dL/dx = g_0. (The document instead peels slices
    off the end and concatenates the layers' input gradients, which gives the wrong shape and values.)
    """

    def __init__(self, input_channels, growth_rate, num_layers):
        super().__init__()
        check_positive_int("DenseBlock", "input_channels", input_channels)
        check_positive_int("DenseBlock", "growth_rate", growth_rate)
        check_positive_int("DenseBlock", "num_layers", num_layers)
        self.input_channels = int(input_channels)
        self.growth_rate = int(growth_rate)
        self.num_layers = int(num_layers)
        self.layers = [ConvolutionalLayer(growth_rate, 3, 1, 1, "relu") for _ in range(num_layers)]
        register_list(self, self.layers)

    @property
    def output_channels(self) -> int:
        return self.input_channels + self.num_layers * self.growth_rate

    def forward(self, x):
        check_image_batch(self, x, self.input_channels)
        features = x
        for layer in self.layers:
            features = np.concatenate([features, layer(features)], axis=1)
        self.save_for_backward(features.shape)
        return features

    def compute_gradients(self, grad_output):
        # The output is cat(F_0 ... F_L), so its gradient, channel range by channel range, is (g_0 ... g_L);
        # one writable copy holds them all, and layer i adds into the first channels of it.
        (output_shape,) = self.saved_for_backward()
        check_grad(self, grad_output, output_shape)
        grad = np.array(grad_output, copy=True)
        for index in reversed(range(self.num_layers)):
            start = self.input_channels + index * self.growth_rate
            grad[:, :start] += self.layers[index].compute_gradients(grad[:, start:start + self.growth_rate])
        return grad[:, :self.input_channels]

    def label(self) -> str:
        return f"DenseBlock({self.input_channels} -> {self.output_channels})"

    def extra_repr(self) -> str:
        return f"input_channels={self.input_channels}, growth_rate={self.growth_rate}, num_layers={self.num_layers}"
