"""What the strided.seed tests need around the shared helpers (tests/helpers.py):

* ``Frozen(layer)``: the layer with ``backward(g)`` = ``layer.backward(g, learning_rate=0)``, so that
  ``check_numerical_gradients`` and ``check_torch_parity`` see gradients without an SGD step;
* ``torch_twin(layer)``: a PyTorch module of the same structure and parameter names as a strided.seed
  layer, block or network (the document's form: activation inside each convolution, no batch norm),
  for ``check_torch_parity``.
"""

import torch
from torch import nn as tnn

import strided as st
from strided import seed


class Frozen(st.nn.Module):
    """A strided.seed layer or network whose backward only computes gradients (learning rate 0)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer.forward(x)

    def backward(self, grad_out):
        if isinstance(self.layer, seed.CNN):
            rate, self.layer.learning_rate = self.layer.learning_rate, 0
            try:
                return self.layer.backward(grad_out)
            finally:
                self.layer.learning_rate = rate
        return self.layer.backward(grad_out, learning_rate=0)


TORCH_ACTIVATIONS = {"relu": tnn.ReLU, "sigmoid": tnn.Sigmoid, "tanh": tnn.Tanh, "linear": tnn.Identity,
                     "softmax": lambda: tnn.Softmax(dim=1)}


class ConvTwin(tnn.Module):
    def __init__(self, layer: seed.ConvolutionalLayer):
        super().__init__()
        self.conv = tnn.Conv2d(layer.conv.in_channels, layer.num_filters, layer.filter_size, layer.stride,
                               layer.padding)
        self.act = TORCH_ACTIVATIONS[layer.activation]()

    def forward(self, x):
        return self.act(self.conv(x))


class DenseTwin(tnn.Module):
    def __init__(self, layer: seed.DenseLayer):
        super().__init__()
        self.linear = tnn.Linear(layer.input_size, layer.output_size)
        self.act = TORCH_ACTIVATIONS[layer.activation]()

    def forward(self, x):
        return self.act(self.linear(x.flatten(1)))


class TransitionTwin(tnn.Module):
    def __init__(self, layer: seed.TransitionLayer):
        super().__init__()
        self.conv = ConvTwin(layer.conv)

    def forward(self, x):
        return tnn.functional.avg_pool2d(self.conv(x), 2, 2)


class ResidualTwin(tnn.Module):
    def __init__(self, block: seed.ResidualBlock):
        super().__init__()
        self.conv1, self.conv2 = ConvTwin(block.conv1), ConvTwin(block.conv2)
        self.shortcut = None if block.shortcut is None else ConvTwin(block.shortcut)

    def forward(self, x):
        residual = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(self.conv2(self.conv1(x)) + residual)


class DenseBlockTwin(tnn.Module):
    def __init__(self, block: seed.DenseBlock):
        super().__init__()
        for index, layer in enumerate(block.layers):
            self.add_module(str(index), ConvTwin(layer))

    def forward(self, x):
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)
        return x


def torch_twin(layer) -> tnn.Module:
    """The PyTorch module of the same structure as a (built: forward run once) strided.seed object."""
    if isinstance(layer, seed.CNN):
        return tnn.Sequential(*[torch_twin(child) for child in layer.layers])
    if isinstance(layer, seed.ConvolutionalLayer):
        return ConvTwin(layer)
    if isinstance(layer, seed.MaxPoolingLayer):
        return tnn.MaxPool2d(layer.pool_size, layer.stride)
    if isinstance(layer, seed.GlobalAveragePooling):
        return tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten())
    if isinstance(layer, seed.DenseLayer):
        return DenseTwin(layer)
    if isinstance(layer, seed.TransitionLayer):
        return TransitionTwin(layer)
    if isinstance(layer, seed.ResidualBlock):
        return ResidualTwin(layer)
    if isinstance(layer, seed.DenseBlock):
        return DenseBlockTwin(layer)
    raise TypeError(f"no PyTorch twin for {type(layer).__name__}")
