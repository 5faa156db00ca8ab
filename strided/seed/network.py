"""The course document's networks: CNN (a list of layers with a training loop) and AdvancedCNN (its
ResNet and DenseNet), plus the cross-entropy loss that ``CNN.fit`` uses when it is given none.

The document's ``fit`` calls ``self.loss_function``, which it never sets; here ``loss_function=None``
means cross-entropy of integer labels on the network's output: on probabilities when the last layer
is a softmax, on logits otherwise. A loss is anything with ``loss(output, target) -> float`` and
``loss.gradient(output, target) -> dL/doutput`` (the document's protocol), or a strided loss
(``st.nn.CrossEntropyLoss()``, ``st.nn.MSELoss()``) whose ``backward()`` gives dL/doutput.
"""

import numpy as np

from .. import nn
from ..grad_mode import no_grad
from ..nn.checks import check_array
from .base import check_positive_int, layer_backward, register_list
from .blocks import DenseBlock, ResidualBlock
from .layers import ConvolutionalLayer, DenseLayer, GlobalAveragePooling, MaxPoolingLayer, TransitionLayer

__all__ = ["AdvancedCNN", "CNN", "CrossEntropy"]


class CrossEntropy:
    """L = -(1/N) sum_n log p[n, y_n] for integer labels y_n in [0, C).

    ``from_probabilities=True``: the output is p itself (after a softmax), and dL/dp[n, y_n] = -1 / (N p[n, y_n])
    (zero elsewhere); p is floored at the dtype's smallest normal number so log and 1/p stay finite.
    ``from_probabilities=False``: the output is logits z, p = softmax(z), dL/dz = (p - onehot(y)) / N
    (st.nn.CrossEntropyLoss).
    """

    def __init__(self, from_probabilities: bool = False):
        self.from_probabilities = bool(from_probabilities)
        self._criterion = None if from_probabilities else nn.CrossEntropyLoss()

    def _check(self, output, target) -> np.ndarray:
        owner = f"CrossEntropy(from_probabilities={self.from_probabilities})"
        if not isinstance(output, np.ndarray) or output.ndim != 2 or not np.issubdtype(output.dtype, np.floating):
            got = output.shape if isinstance(output, np.ndarray) else type(output).__name__
            raise ValueError(f"{owner}: expected a floating output of shape (N, classes), got {got}")
        target = np.asarray(target)
        if not np.issubdtype(target.dtype, np.integer) or target.shape != (output.shape[0],):
            raise ValueError(f"{owner}: expected {output.shape[0]} integer class labels, shape ({output.shape[0]},), "
                             f"got dtype {target.dtype} and shape {target.shape}")
        if target.size and (target.min() < 0 or target.max() >= output.shape[1]):
            raise ValueError(f"{owner}: labels must lie in [0, {output.shape[1]}), got values from "
                             f"{target.min()} to {target.max()}")
        return target

    def _label_probabilities(self, output, target):
        return np.maximum(output[np.arange(len(target)), target], np.finfo(output.dtype).tiny)

    def __call__(self, output, target) -> float:
        target = self._check(output, target)
        if self._criterion is not None:
            return float(self._criterion(output, target))
        return float(-np.mean(np.log(self._label_probabilities(output, target))))

    def gradient(self, output, target) -> np.ndarray:
        target = self._check(output, target)
        if self._criterion is not None:
            self._criterion(output, target)
            return self._criterion.backward()
        grad = np.zeros_like(output)
        grad[np.arange(len(target)), target] = -1 / (len(target) * self._label_probabilities(output, target))
        return grad

    def __repr__(self) -> str:
        return f"CrossEntropy(from_probabilities={self.from_probabilities})"


class CNN(nn.Module):
    """A chain of layers trained with plain SGD: ``forward`` runs them in order; ``backward`` runs their
    backwards in reverse, each layer updating its own weights with ``learning_rate`` on the way.

    Layers are the document's (ConvolutionalLayer, MaxPoolingLayer, DenseLayer ...) or any strided layer
    (st.nn.BatchNorm2d(16), st.nn.Dropout(0.5) ...), which gets the same SGD step.
    """

    def __init__(self, layers, learning_rate=0.01, loss_function=None):
        super().__init__()
        layers = list(layers)
        if not layers:
            raise ValueError("CNN: expected a non-empty list of layers, got none")
        for index, layer in enumerate(layers):
            if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
                raise ValueError(f"CNN: layer {index} ({type(layer).__name__}) needs forward() and backward() methods")
        if not isinstance(learning_rate, (int, float, np.floating)) or learning_rate < 0:
            raise ValueError(f"CNN: learning_rate must be a number >= 0, got {learning_rate!r}")
        self.layers = layers
        register_list(self, layers)
        self.learning_rate = learning_rate
        self.loss_function = loss_function
        self.training_history = []

    def forward(self, input_data):
        for layer in self.layers:
            input_data = layer.forward(input_data)
        return input_data

    def backward(self, grad_output):
        """Gradient of the loss with respect to the network's input; every layer's weights take an SGD step."""
        for layer in reversed(self.layers):
            grad_output = layer_backward(layer, grad_output, self.learning_rate)
        return grad_output

    def default_loss(self) -> CrossEntropy:
        """Cross-entropy on probabilities if the last layer is a softmax, on logits otherwise."""
        last = self.layers[-1]
        softmax_last = isinstance(last, nn.Softmax) or (isinstance(last, DenseLayer) and last.activation == "softmax")
        return CrossEntropy(from_probabilities=softmax_last)

    def train_step(self, input_data, target_data, loss_function=None):
        """One forward, loss, backward and SGD step on one batch; returns the batch's loss."""
        if loss_function is None:
            loss_function = self.loss_function if self.loss_function is not None else self.default_loss()
        output = self.forward(input_data)
        loss = loss_function(output, target_data)
        if hasattr(loss_function, "gradient"):
            grad_output = loss_function.gradient(output, target_data)
        elif callable(getattr(loss_function, "backward", None)):
            grad_output = loss_function.backward()
        else:
            raise ValueError(f"CNN: the loss {type(loss_function).__name__} needs a gradient(output, target) "
                             "or a backward() method")
        self.backward(grad_output)
        return float(loss)

    def fit(self, X, y, epochs=100, batch_size=32, verbose=True):
        """Mini-batch SGD over (X, y) in order, ``epochs`` times; appends each epoch's mean batch loss to
        ``training_history`` and prints it every 10 epochs. Returns ``training_history``."""
        check_array(self, X)
        y = np.asarray(y)
        if X.ndim < 2 or len(X) == 0 or len(y) != len(X):
            raise ValueError(f"CNN.fit: expected X of shape (N, ...) with N >= 1 and N labels, got X {X.shape} "
                             f"and y {y.shape}")
        check_positive_int("CNN.fit", "epochs", epochs)
        check_positive_int("CNN.fit", "batch_size", batch_size)
        for epoch in range(epochs):
            losses = [self.train_step(X[i:i + batch_size], y[i:i + batch_size], self.loss_function)
                      for i in range(0, len(X), batch_size)]
            avg_loss = float(np.mean(losses))
            self.training_history.append(avg_loss)
            if verbose and epoch % 10 == 0:
                print(f"Epoch {epoch}, Loss: {avg_loss:.4f}")
        return self.training_history

    def predict(self, X):
        """The network's output for X, keeping nothing for a backward (inference)."""
        with no_grad():
            return self.forward(X)

    def extra_repr(self) -> str:
        return f"learning_rate={self.learning_rate}"


class AdvancedCNN(CNN):
    """The document's ResNet and DenseNet on 3-channel images, ending in a softmax over ``num_classes``.

    Both start with a 7x7 stride-2 convolution to 64 channels and a 3x3 stride-2 max pooling.
    'resnet': residual blocks 64-64, 64-128 (stride 2), 128-128, 128-256 (stride 2), 256-256.
    'densenet': dense blocks of 6, 12 and 24 layers with growth rate 32, transitions back to 64 channels.
    Then global average pooling and DenseLayer(channels, num_classes, 'softmax').
    """

    def __init__(self, architecture="resnet", num_classes=10, learning_rate=0.01):
        builders = {"resnet": self._build_resnet, "densenet": self._build_densenet}
        if architecture not in builders:
            raise ValueError(f"AdvancedCNN: unknown architecture {architecture!r}; expected 'resnet' or 'densenet'")
        check_positive_int("AdvancedCNN", "num_classes", num_classes)
        self.architecture = architecture
        self.num_classes = int(num_classes)
        super().__init__(builders[architecture](), learning_rate)

    def _stem(self) -> list:
        return [ConvolutionalLayer(64, 7, 2, 3, "relu"), MaxPoolingLayer(3, 2)]

    def _build_resnet(self) -> list:
        stages = [(64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1)]
        return (self._stem() + [ResidualBlock(*stage) for stage in stages]
                + [GlobalAveragePooling(), DenseLayer(256, self.num_classes, "softmax")])

    def _build_densenet(self) -> list:
        growth, channels = 32, 64
        return self._stem() + [
            DenseBlock(channels, growth, 6), TransitionLayer(channels + 6 * growth, channels),
            DenseBlock(channels, growth, 12), TransitionLayer(channels + 12 * growth, channels),
            DenseBlock(channels, growth, 24),
            GlobalAveragePooling(), DenseLayer(channels + 24 * growth, self.num_classes, "softmax"),
        ]

    def extra_repr(self) -> str:
        return f"architecture={self.architecture!r}, num_classes={self.num_classes}, learning_rate={self.learning_rate}"
