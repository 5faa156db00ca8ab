"""What every class of the course document shares: its backward, which also takes a plain SGD step.

In the course document a layer's ``backward(grad_output, learning_rate)`` does two things: it returns
the gradient with respect to the layer's input, and it updates the layer's own weights with
``w -= learning_rate * dL/dw``. ``SeedLayer`` splits those two apart:

* ``compute_gradients(grad_output)`` returns dL/dinput and leaves dL/dw in each ``Parameter.grad``,
  changing no weight (a block composes its children's ``compute_gradients``);
* ``backward(grad_output, learning_rate)`` clears the old gradients, calls ``compute_gradients``, then
  takes the SGD step. With ``learning_rate=0`` it changes nothing, which is how the gradients are checked.

Since each weight is used once per forward, updating every weight after the whole backward (as here)
gives the same result as the document's update-as-you-go.
"""

import numpy as np

from .. import nn
from ..functional.args import positive_int
from ..nn.checks import check_array

ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")


def check_activation(owner: str, name: str, allowed=ACTIVATIONS) -> None:
    if name not in allowed:
        raise ValueError(f"{owner}: activation must be one of {', '.join(map(repr, allowed))}, got {name!r}")


def make_activation(name: str):
    """The st.nn module for an activation name ('linear' is no module at all: None)."""
    return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": lambda: None,
            "softmax": lambda: nn.Softmax(dim=1)}[name]()


def sgd_step(parameters, learning_rate) -> None:
    """Plain gradient descent, in place: w -= learning_rate * dL/dw (the dtype of w is kept)."""
    for param in parameters:
        if param.grad is not None:
            param.data -= np.asarray(learning_rate, dtype=param.data.dtype) * param.grad


def check_positive_int(owner: str, name: str, value, minimum: int = 1) -> None:
    """``owner: name must be a positive integer, got 0``: strided.functional.args.positive_int, in the
    document's argument order."""
    positive_int(value, name, owner, minimum)


def check_image_batch(module, x, channels: int | None = None) -> None:
    """A floating NCHW array (with ``channels`` channels when the layer knows how many it takes)."""
    check_array(module, x)
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        expected = f"(N, {'C' if channels is None else channels}, H, W)"
        raise ValueError(f"{module.label()}: expected input of shape {expected}, got {x.shape}")


def register_list(module, layers) -> None:
    """Register each Module of a plain list as child '0', '1', ... (the document keeps ``self.layers``
    as a list; registering the items gives ``parameters()`` and ``state_dict()`` names like Sequential's)."""
    for index, layer in enumerate(layers):
        if isinstance(layer, nn.Module):
            setattr(module, str(index), layer)


class SeedLayer(nn.Module):
    """Base of the document's layers and blocks: ``backward`` = gradients, then a plain SGD step."""

    def compute_gradients(self, grad_output):
        """dL/dinput; adds dL/dw into each parameter's ``.grad``; changes no weight."""
        raise NotImplementedError(f"{type(self).__name__} does not define compute_gradients()")

    def backward(self, grad_output, learning_rate=0.01):
        """Return dL/dinput, then update this layer's weights: w -= learning_rate * dL/dw.

        ``.grad`` of each parameter holds the gradient of this call afterwards; with
        ``learning_rate=0`` (or None) the weights are left as they are.
        """
        params = list(self.parameters())
        for param in params:
            param.grad = None
        grad_input = self.compute_gradients(grad_output)
        if learning_rate:
            sgd_step(params, learning_rate)
        return grad_input


def layer_backward(layer, grad_output, learning_rate):
    """Backward of any layer in a document network, with the same SGD step for all of them.

    The document's layers take the rate themselves; a plain strided layer (st.nn.ReLU(),
    st.nn.Dropout(0.5), st.nn.BatchNorm2d(16) ...) takes only the gradient, so its step is taken here.
    """
    if isinstance(layer, SeedLayer) or not isinstance(layer, nn.Module):
        return layer.backward(grad_output, learning_rate)
    layer.zero_grad()
    grad_input = layer.backward(grad_output)
    if learning_rate:
        sgd_step(layer.parameters(), learning_rate)
    return grad_input
