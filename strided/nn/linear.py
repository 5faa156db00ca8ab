"""Fully connected layer, and the two shape-only layers that usually surround it: Flatten and Identity."""

import math

import numpy as np

from ..functional.args import positive_int
from ..functional.dispatch import kernels
from ..grad_mode import is_grad_enabled
from . import init
from .checks import check_array, check_dtype_matches, check_grad
from .module import Module, Parameter

__all__ = ["Flatten", "Identity", "Linear"]


class Linear(Module):
    """y = x W^T + b, for input (*, in_features) and output (*, out_features).

    ``weight`` has shape (out_features, in_features), ``bias`` (out_features,); both start from
    PyTorch's default U(-1/sqrt(in_features), 1/sqrt(in_features)).
    Backward (with x and g flattened to rows): dx = g W, dW = g^T x, db = sum of g over the rows.
    The math is in strided/functional/reference/linear.py.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            positive_int(value, name, "Linear", minimum=0)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.float32 if dtype is None else dtype
        self.weight = Parameter(np.zeros((self.out_features, self.in_features), dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None
        if self.in_features > 0:  # PyTorch skips initialising an empty weight too
            init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        check_array(self, x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self.label()}: expected input of shape (*, {self.in_features}), got {x.shape}")
        check_dtype_matches(self, x, self.weight)
        bias = None if self.bias is None else self.bias.data
        y, ctx = kernels().linear_forward(x, self.weight.data, bias, is_grad_enabled())
        self.save_for_backward(ctx, y.shape)
        return y

    def backward(self, grad_out):
        ctx, shape = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        grad_x, grad_weight, grad_bias = ctx.backward(grad_out)
        self.weight.accumulate_grad(grad_weight)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_bias)
        return grad_x

    def label(self):
        return f"Linear({self.in_features} -> {self.out_features})"

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default.

    Backward reshapes the gradient back to the input's shape.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def _output_shape(self, shape: tuple) -> tuple:
        ndim = max(len(shape), 1)  # PyTorch treats a 0-d input as having one dimension
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not (0 <= start < ndim and 0 <= end < ndim):
            raise ValueError(f"{self.label()}: dimensions out of range for an input of shape {shape}")
        if start > end:
            raise ValueError(f"{self.label()}: start_dim comes after end_dim for an input of shape {shape}")
        shape = tuple(shape) if shape else (1,)
        return shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]

    def forward(self, x):
        check_array(self, x)
        self.save_for_backward(x.shape)
        return x.reshape(self._output_shape(x.shape))

    def backward(self, grad_out):
        (shape,) = self.saved_for_backward()
        check_grad(self, grad_out, self._output_shape(shape))
        return grad_out.reshape(shape)

    def label(self):
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """y = x; backward: dx = grad. Any constructor arguments are ignored, as in PyTorch."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        self.save_for_backward(np.shape(x))
        return x

    def backward(self, grad_out):
        (shape,) = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        return grad_out
