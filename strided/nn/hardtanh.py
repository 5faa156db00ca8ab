"""Hardtanh and ReLU6: clip to an interval. ReLU6 is MobileNet's activation (Sandler et al., 2018).

Capping the activation at 6 keeps it in a range that low-precision arithmetic represents well;
MobileNetV2 applies it after every expansion and depthwise convolution, never after the projection.
"""

import numpy as np

from .checks import check_array, check_grad
from .module import Module

__all__ = ["Hardtanh", "ReLU6"]


class Hardtanh(Module):
    """y = min(max(x, min_val), max_val), PyTorch's Hardtanh (defaults -1 and 1).

    Backward: dx = grad where min_val < x < max_val, else 0 (PyTorch's choice at the two corners).
    The output tells the same as the input (y lies strictly inside exactly where x does), so the
    layer keeps y. ``inplace`` is accepted for PyTorch's signature; the input is never modified.
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if not min_val < max_val:
            raise ValueError(f"{type(self).__name__}: min_val must be below max_val, got {min_val} and {max_val}")
        self.min_val, self.max_val, self.inplace = float(min_val), float(max_val), inplace

    def forward(self, x):
        check_array(self, x)
        y = np.clip(x, self.min_val, self.max_val)
        self.save_for_backward(y)
        return y

    def backward(self, grad_out):
        (y,) = self.saved_for_backward()
        check_grad(self, grad_out, y.shape)
        inside = (y > self.min_val) & (y < self.max_val)
        return np.where(inside, grad_out, np.zeros((), grad_out.dtype))

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """y = min(max(x, 0), 6). Backward: dx = grad where 0 < x < 6, else 0."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""
