"""Activation layers: elementwise nonlinearities and softmax, thin wrappers over the activation kernels.

The math is in strided/functional/reference/activation.py (fast: functional/fast/activation.py). Each
layer keeps its kernel's context: the one array the derivative needs (the input or the output).
``inplace`` is accepted where PyTorch has it, so that model code carries over, but strided never
modifies a layer's input: the layer before may have kept that array for its own backward. The containers
apply a ReLU in place where they hold the only reference to its input (nn/inplace.py).
"""

import numpy as np

from ..functional.args import one_of
from ..functional.dispatch import kernels
from ..grad_mode import is_grad_enabled
from .checks import check_array, check_grad
from .module import Module

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh"]


class _Activation(Module):
    """Shared plumbing: check the input, run kernel ``<kernel>_forward``, keep its context, check the gradient."""

    kernel = ""

    def _arguments(self, x) -> tuple:
        return ()

    def forward(self, x):
        check_array(self, x)
        y, ctx = getattr(kernels(), self.kernel + "_forward")(x, *self._arguments(x), need_backward=is_grad_enabled())
        self.save_for_backward(ctx, x.shape)
        return y

    def backward(self, grad_out):
        ctx, shape = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        return ctx.backward(grad_out)


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(_Activation):
    """y = max(x, 0). Backward: dx = grad where y > 0, else 0."""

    kernel = "relu"
    # Set by model.fuse() where the input is a fresh array that only this layer reads (a folded
    # convolution's output): then y overwrites x, which saves allocating (and page-faulting) y.
    _in_place = False

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    # Set for one call by a container that holds the only reference to x (nn/inplace.py): y overwrites x
    # and the backward keeps it, as an ordinary call keeps its own y.
    _overwrite_input = False

    def forward(self, x):
        if self._in_place:
            check_array(self, x)
            return kernels().relu_forward(x, False, out=x)[0]
        if self._overwrite_input:
            check_array(self, x)
            y, ctx = kernels().relu_forward(x, is_grad_enabled(), out=x)
            self.save_for_backward(ctx, x.shape)
            return y
        return super().forward(x)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class LeakyReLU(_Activation):
    """y = x if x > 0 else negative_slope * x. Backward: dx = grad, or negative_slope * grad where x <= 0."""

    kernel = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = float(negative_slope)
        self.inplace = inplace

    def _arguments(self, x):
        return (self.negative_slope,)

    def extra_repr(self):
        return ", ".join(filter(None, [f"negative_slope={self.negative_slope}", _inplace_repr(self.inplace)]))


class ELU(_Activation):
    """y = x if x > 0 else alpha * (exp(x) - 1). Backward: dx = grad, or grad * alpha * exp(x) where x <= 0."""

    kernel = "elu"

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = float(alpha)
        self.inplace = inplace

    def _arguments(self, x):
        return (self.alpha,)

    def extra_repr(self):
        return ", ".join(filter(None, [f"alpha={self.alpha}", _inplace_repr(self.inplace)]))


class GELU(_Activation):
    """y = x * Phi(x), Phi the standard normal CDF, exact (via erf) or with approximate='tanh'.

    Backward: dx = grad * (Phi(x) + x * phi(x)), phi the normal density (or the tanh form's derivative).
    """

    kernel = "gelu"

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = one_of(approximate, ("none", "tanh"), "approximate", "GELU")

    def _arguments(self, x):
        return (self.approximate,)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(_Activation):
    """y = 1 / (1 + exp(-x)). Backward: dx = grad * y * (1 - y)."""

    kernel = "sigmoid"


class Tanh(_Activation):
    """y = tanh(x). Backward: dx = grad * (1 - y^2)."""

    kernel = "tanh"


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

    def _arguments(self, x):
        check_array(self, x)
        return (self._axis(x),)

    def label(self):
        return f"{type(self).__name__}(dim={self.dim})"

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``dim`` (the max is subtracted first, so exp cannot overflow).

    Backward: dx = y * (grad - sum(grad * y)) along ``dim``.
    """

    kernel = "softmax"


class LogSoftmax(_SoftmaxBase):
    """y_i = x_i - log(sum_j exp(x_j)) along ``dim``, computed after subtracting the max.

    Backward: dx = grad - softmax(x) * sum(grad) along ``dim``, with softmax(x) = exp(y).
    """

    kernel = "log_softmax"
