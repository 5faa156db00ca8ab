"""Activation layers: elementwise nonlinearities and softmax, thin wrappers over functional.activation.

Each keeps for backward only the one array its derivative needs (its input or its output).
``inplace`` is accepted where PyTorch has it, so that model code carries over, but strided never
modifies a layer's input: the layer before may have kept that array for its own backward.
"""

import numpy as np

from ..functional import activation as F
from .checks import check_array, check_grad
from .module import Module

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh"]


class _Activation(Module):
    """Shared plumbing: check the input, keep x or y for backward, check the gradient's shape."""

    keeps_output = True  # False: backward needs the input instead

    def _apply(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _gradient(self, grad_out: np.ndarray, kept: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x):
        check_array(self, x)
        y = self._apply(x)
        self.save_for_backward(y if self.keeps_output else x)
        return y

    def backward(self, grad_out):
        (kept,) = self.saved_for_backward()
        check_grad(self, grad_out, kept.shape)
        return self._gradient(grad_out, kept)


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(_Activation):
    """y = max(x, 0). Backward: dx = grad where y > 0, else 0."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def _apply(self, x):
        return F.relu(x)

    def _gradient(self, grad_out, y):
        return F.relu_backward(grad_out, y)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class LeakyReLU(_Activation):
    """y = x if x > 0 else negative_slope * x. Backward: dx = grad, or negative_slope * grad where x <= 0."""

    keeps_output = False

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = float(negative_slope)
        self.inplace = inplace

    def _apply(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def _gradient(self, grad_out, x):
        return F.leaky_relu_backward(grad_out, x, self.negative_slope)

    def extra_repr(self):
        return ", ".join(filter(None, [f"negative_slope={self.negative_slope}", _inplace_repr(self.inplace)]))


class ELU(Module):
    """y = x if x > 0 else alpha * (exp(x) - 1). Backward: dx = grad, or grad * alpha * exp(x) where x <= 0."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = float(alpha)
        self.inplace = inplace

    def forward(self, x):
        check_array(self, x)
        y = F.elu(x, self.alpha)
        self.save_for_backward(x, y)  # alpha * exp(x) = y + alpha: backward needs no exp of its own
        return y

    def backward(self, grad_out):
        x, y = self.saved_for_backward()
        check_grad(self, grad_out, x.shape)
        return F.elu_backward(grad_out, x, y, self.alpha)

    def extra_repr(self):
        return ", ".join(filter(None, [f"alpha={self.alpha}", _inplace_repr(self.inplace)]))


class GELU(Module):
    """y = x * Phi(x), Phi the standard normal CDF, exact (via erf) or with approximate='tanh'.

    Backward: dx = grad * (Phi(x) + x * phi(x)), phi the normal density (or the tanh form's derivative).
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        check_array(self, x)
        # The exact form keeps Phi(x) too, so that backward does not evaluate erf a second time.
        cdf = F.normal_cdf(x) if self.approximate == "none" else None
        self.save_for_backward(x, cdf)
        return F.gelu(x, self.approximate, cdf)

    def backward(self, grad_out):
        x, cdf = self.saved_for_backward()
        check_grad(self, grad_out, x.shape)
        return F.gelu_backward(grad_out, x, self.approximate, cdf)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(_Activation):
    """y = 1 / (1 + exp(-x)). Backward: dx = grad * y * (1 - y)."""

    def _apply(self, x):
        return F.sigmoid(x)

    def _gradient(self, grad_out, y):
        return F.sigmoid_backward(grad_out, y)


class Tanh(_Activation):
    """y = tanh(x). Backward: dx = grad * (1 - y^2)."""

    def _apply(self, x):
        return F.tanh(x)

    def _gradient(self, grad_out, y):
        return F.tanh_backward(grad_out, y)


class _SoftmaxBase(_Activation):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def _axis(self, x: np.ndarray) -> int:
        if self.dim is None:
            # PyTorch's legacy choice when no dim is given (it warns): 0 for rank 0, 1 and 3, else 1.
            return 0 if x.ndim in (0, 1, 3) else 1
        if not -max(x.ndim, 1) <= self.dim < max(x.ndim, 1):
            raise ValueError(f"{self.label()}: dim {self.dim} is out of range for an input of shape {x.shape}")
        return self.dim

    def forward(self, x):
        check_array(self, x)
        self._current_axis = self._axis(x)
        return super().forward(x)

    def label(self):
        return f"{type(self).__name__}(dim={self.dim})"

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``dim`` (the max is subtracted first, so exp cannot overflow).

    Backward: dx = y * (grad - sum(grad * y)) along ``dim``.
    """

    def _apply(self, x):
        return F.softmax(x, self._current_axis)

    def _gradient(self, grad_out, y):
        return F.softmax_backward(grad_out, y, self._current_axis)


class LogSoftmax(_SoftmaxBase):
    """y_i = x_i - log(sum_j exp(x_j)) along ``dim``, computed after subtracting the max.

    Backward: dx = grad - softmax(x) * sum(grad) along ``dim``, with softmax(x) = exp(y).
    """

    def _apply(self, x):
        return F.log_softmax(x, self._current_axis)

    def _gradient(self, grad_out, y):
        return F.log_softmax_backward(grad_out, y, self._current_axis)
