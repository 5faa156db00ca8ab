"""Merge modules: several arrays in, one out. Their backward returns one gradient per input (a tuple).

Used as Graph nodes: ``Add`` for skip connections (ResNet), ``Concat`` for dense connections
(DenseNet). Neither broadcasts: the inputs must agree in shape (except, for Concat, along ``dim``)
and in dtype.
"""

import numpy as np

from .checks import check_array, check_grad
from .module import Module

__all__ = ["Add", "Concat"]


def _check_inputs(module, xs) -> None:
    if not xs:
        raise ValueError(f"{module.label()}: expected at least one input array, got none")
    for x in xs:
        check_array(module, x)
    dtypes = {x.dtype for x in xs}
    if len(dtypes) > 1:
        raise ValueError(f"{module.label()}: inputs must share a dtype, got {', '.join(map(str, dtypes))}")


class Add(Module):
    """y = x_1 + x_2 + ... + x_n, inputs of one shape (no broadcasting).

    Backward: dy/dx_i = 1, so each input's gradient is ``grad_out`` itself; the tuple holds the same
    array n times (a reader never modifies a gradient it is handed, so no copies are needed).
    """

    def forward(self, *xs):
        _check_inputs(self, xs)
        shapes = {x.shape for x in xs}
        if len(shapes) > 1:
            raise ValueError(f"{self.label()}: inputs must have the same shape (no broadcasting), "
                             f"got {', '.join(str(x.shape) for x in xs)}")
        y = xs[0].copy() if len(xs) == 1 else xs[0] + xs[1]
        for x in xs[2:]:
            y += x
        self.save_for_backward(len(xs), y.shape)
        return y

    def backward(self, grad_out):
        count, shape = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        return (grad_out,) * count


class Concat(Module):
    """y = concatenation of the inputs along ``dim`` (torch.cat); other dimensions must agree.

    Output size along dim = sum of the inputs' sizes. Backward: the gradient is split back into
    the inputs' slices along ``dim`` (views, no copy), one per input.
    """

    def __init__(self, dim: int = 1):
        super().__init__()
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
            raise ValueError(f"Concat: dim must be an integer, got {dim!r}")
        self.dim = int(dim)

    def forward(self, *xs):
        _check_inputs(self, xs)
        ndim = xs[0].ndim
        if not -ndim <= self.dim < ndim or any(x.ndim != ndim for x in xs):
            raise ValueError(f"{self.label()}: expected inputs of one rank with a dimension {self.dim}, "
                             f"got shapes {', '.join(str(x.shape) for x in xs)}")
        axis = self.dim % ndim
        rest = {x.shape[:axis] + x.shape[axis + 1:] for x in xs}
        if len(rest) > 1:
            raise ValueError(f"{self.label()}: inputs must agree in every dimension but {self.dim}, "
                             f"got shapes {', '.join(str(x.shape) for x in xs)}")
        y = np.concatenate(xs, axis=axis)
        self.save_for_backward(axis, [x.shape[axis] for x in xs], y.shape)
        return y

    def backward(self, grad_out):
        axis, sizes, shape = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        return tuple(np.split(grad_out, np.cumsum(sizes)[:-1], axis=axis))

    def label(self):
        return f"Concat(dim={self.dim})"

    def extra_repr(self):
        return f"dim={self.dim}"
