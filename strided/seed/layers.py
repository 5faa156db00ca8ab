"""The course document's layers: convolution, max pooling, global average pooling, dense, transition.

Each is a thin wrapper over strided's layers (st.nn.Conv2d, MaxPool2d, Linear ...) with the document's
constructor and methods. Parameters are created at the first forward, in the input's dtype (the
document works in float64, np.random.randn's dtype), with the document's Xavier-uniform initialisation
drawn from strided's generator (``st.manual_seed`` makes it repeatable), and zero biases.
"""

import math

from .. import nn
from ..nn import init
from ..nn.checks import check_array
from .base import (
    ACTIVATIONS,
    SeedLayer,
    check_activation,
    check_image_batch,
    check_positive_int,
    make_activation,
)

__all__ = ["ConvolutionalLayer", "DenseLayer", "GlobalAveragePooling", "MaxPoolingLayer", "TransitionLayer"]


def _backward_before_forward(layer):
    return RuntimeError(f"{layer.label()}: backward() needs a forward() first")


class ConvolutionalLayer(SeedLayer):
    """y = act(conv2d(x, filters) + biases), act one of relu, sigmoid, tanh, linear (none).

    ``filters`` has shape (num_filters, C_in, k, k) and ``biases`` (num_filters,); both are created at
    the first forward, with C_in read from the input. Output size: (H + 2*padding - k) // stride + 1.
    Backward: dL/dz = dL/dy * act'(z) first (the document forgets this factor), then the convolution's
    gradients: dL/dfilters, dL/dbiases, and dL/dx as the transposed convolution of dL/dz.
    """

    def __init__(self, num_filters, filter_size, stride=1, padding=0, activation="relu"):
        super().__init__()
        owner = "ConvolutionalLayer"
        check_positive_int(owner, "num_filters", num_filters)
        check_positive_int(owner, "filter_size", filter_size)
        check_positive_int(owner, "stride", stride)
        check_positive_int(owner, "padding", padding, minimum=0)
        self.num_filters = int(num_filters)
        self.filter_size = int(filter_size)
        self.stride = int(stride)
        self.padding = int(padding)
        check_activation(owner, activation, ACTIVATIONS)
        self.activation = activation
        # Both modules are created once the input's channel count is known, convolution first, so
        # that they are listed (summary, state_dict) in the order they run.
        self.conv = None
        self.act = None

    def _build(self, in_channels: int, dtype) -> None:
        self.conv = nn.Conv2d(in_channels, self.num_filters, self.filter_size, self.stride, self.padding).to(dtype)
        # The document's Xavier bound sqrt(6 / (fan_in + fan_out)), fan = k*k*channels: init's formula exactly.
        init.xavier_uniform_(self.conv.weight)
        init.zeros_(self.conv.bias)
        self.act = make_activation(self.activation)

    @property
    def filters(self):
        return None if self.conv is None else self.conv.weight.data

    @filters.setter
    def filters(self, value):
        check_array(self, value)
        k = self.filter_size
        fits = value.ndim == 4 and value.shape[0] == self.num_filters and value.shape[2:] == (k, k)
        if not fits or (self.conv is not None and value.shape != self.conv.weight.shape):
            want = f"({self.num_filters}, C_in, {k}, {k})" if self.conv is None else self.conv.weight.shape
            raise ValueError(f"{self.label()}: filters must have shape {want}, got {value.shape}")
        if self.conv is None:
            self._build(value.shape[1], value.dtype)
        self.conv.weight.data = value

    @property
    def biases(self):
        return None if self.conv is None else self.conv.bias.data

    @biases.setter
    def biases(self, value):
        if self.conv is None:
            raise ValueError(f"{self.label()}: set filters (or run a forward) before biases")
        check_array(self, value)
        if value.shape != self.conv.bias.shape:
            raise ValueError(f"{self.label()}: biases must have shape {self.conv.bias.shape}, got {value.shape}")
        self.conv.bias.data = value

    def forward(self, input_data):
        check_image_batch(self, input_data, None if self.conv is None else self.conv.in_channels)
        if self.conv is None:
            self._build(input_data.shape[1], input_data.dtype)
        out = self.conv(input_data)
        return out if self.act is None else self.act(out)

    def compute_gradients(self, grad_output):
        if self.conv is None:
            raise _backward_before_forward(self)
        if self.act is not None:
            grad_output = self.act.backward(grad_output)
        return self.conv.backward(grad_output)

    def label(self) -> str:
        k = self.filter_size
        return f"ConvolutionalLayer({self.num_filters} filters {k}x{k})"

    def extra_repr(self) -> str:
        return (f"num_filters={self.num_filters}, filter_size={self.filter_size}, stride={self.stride}, "
                f"padding={self.padding}, activation={self.activation!r}")


class MaxPoolingLayer(SeedLayer):
    """y[n, c, i, j] = max of x over the pool_size x pool_size window at (i*stride, j*stride).

    Output size: (H - pool_size) // stride + 1. Backward routes each gradient to its window's maximum.
    ``learning_rate`` is accepted (a network passes it to every layer) and ignored: nothing to learn.
    """

    def __init__(self, pool_size=2, stride=2):
        super().__init__()
        check_positive_int("MaxPoolingLayer", "pool_size", pool_size)
        check_positive_int("MaxPoolingLayer", "stride", stride)
        self.pool_size = int(pool_size)
        self.stride = int(stride)
        self.pool = nn.MaxPool2d(self.pool_size, self.stride)

    def forward(self, input_data):
        check_image_batch(self, input_data)
        return self.pool(input_data)

    def compute_gradients(self, grad_output):
        return self.pool.backward(grad_output)

    def backward(self, grad_output, learning_rate=None):
        return super().backward(grad_output, learning_rate)

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, stride={self.stride}"


class GlobalAveragePooling(SeedLayer):
    """y[n, c] = mean of x[n, c] over H and W: output (N, C), ready for a DenseLayer.

    Backward spreads each gradient evenly: dL/dx[n, c, h, w] = dL/dy[n, c] / (H * W).
    """

    def __init__(self):
        super().__init__()
        self.pool = nn.GlobalAvgPool2d()
        self.flatten = nn.Flatten()

    def forward(self, input_data):
        check_image_batch(self, input_data)
        return self.flatten(self.pool(input_data))

    def compute_gradients(self, grad_output):
        return self.pool.backward(self.flatten.backward(grad_output))

    def backward(self, grad_output, learning_rate=None):
        return super().backward(grad_output, learning_rate)


class DenseLayer(SeedLayer):
    """y = act(flatten(x) @ W^T + b), act one of relu, sigmoid, tanh, linear, softmax (over classes).

    ``weights`` (output_size, input_size) is created at the first forward in the input's dtype with the
    same Xavier-uniform rule as the convolution, ``biases`` zero. Backward: the activation's derivative
    (softmax's full Jacobian-vector product), then dL/dW = g^T x, dL/db = sum of g, dL/dx = g W, reshaped
    to the input's shape.
    """

    def __init__(self, input_size, output_size, activation="relu"):
        super().__init__()
        check_positive_int("DenseLayer", "input_size", input_size)
        check_positive_int("DenseLayer", "output_size", output_size)
        self.input_size = int(input_size)
        self.output_size = int(output_size)
        check_activation("DenseLayer", activation, ACTIVATIONS + ("softmax",))
        self.activation = activation
        self.flatten = nn.Flatten()
        self.linear = None  # an st.nn.Linear and the activation, once the input's dtype is known
        self.act = None

    @property
    def weights(self):
        return None if self.linear is None else self.linear.weight.data

    @property
    def biases(self):
        return None if self.linear is None else self.linear.bias.data

    def forward(self, input_data):
        check_array(self, input_data)
        if input_data.ndim < 2 or math.prod(input_data.shape[1:]) != self.input_size:
            raise ValueError(f"{self.label()}: expected input of shape (N, {self.input_size}) or (N, ...) with "
                             f"{self.input_size} values per sample, got {input_data.shape}")
        if self.linear is None:
            self.linear = nn.Linear(self.input_size, self.output_size).to(input_data.dtype)
            init.xavier_uniform_(self.linear.weight)
            init.zeros_(self.linear.bias)
            self.act = make_activation(self.activation)
        out = self.linear(self.flatten(input_data))
        return out if self.act is None else self.act(out)

    def compute_gradients(self, grad_output):
        if self.linear is None:
            raise _backward_before_forward(self)
        if self.act is not None:
            grad_output = self.act.backward(grad_output)
        return self.flatten.backward(self.linear.backward(grad_output))

    def label(self) -> str:
        return f"DenseLayer({self.input_size} -> {self.output_size})"

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, output_size={self.output_size}, activation={self.activation!r}"


class TransitionLayer(SeedLayer):
    """DenseNet's transition between dense blocks: y = avgpool2x2(relu(conv1x1(x))).

    The document uses this class without defining it; here it is DenseNet's transition (Huang et al.,
    2017): a 1x1 convolution that sets the channel count, then 2x2 average pooling with stride 2 that
    halves H and W, in the document's style (activation inside the convolution, no batch norm).
    Backward: the pooling's gradient (each value / 4 to its window), then the convolution's.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        check_positive_int("TransitionLayer", "in_channels", in_channels)
        check_positive_int("TransitionLayer", "out_channels", out_channels)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.conv = ConvolutionalLayer(self.out_channels, 1, 1, 0, "relu")
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, input_data):
        check_image_batch(self, input_data, self.in_channels)
        return self.pool(self.conv(input_data))

    def compute_gradients(self, grad_output):
        return self.conv.compute_gradients(self.pool.backward(grad_output))

    def label(self) -> str:
        return f"TransitionLayer({self.in_channels} -> {self.out_channels})"

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}"
