"""Padding layers (PyTorch's ZeroPad2d, ConstantPad2d, ReflectionPad2d, ReplicationPad2d, CircularPad2d).

Forward: ``y = st.functional.pad(x, (left, right, top, bottom), mode)``,
shape (N, C, H + top + bottom, W + left + right).
Backward: the gradient of each border pixel is added onto the input pixel it copied (nothing for the
constant modes, whose border does not depend on x). The index maps are in
strided/functional/reference/pad.py (fast: functional/fast/pad.py).
"""

from ..functional.args import padding4
from ..functional.dispatch import kernels
from ..functional.geometry import check_padding
from ..grad_mode import is_grad_enabled
from .checks import check_grad, check_input
from .module import Module

__all__ = ["CircularPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d", "ZeroPad2d"]


class _Pad2d(Module):
    """Shared forward/backward; subclasses set ``mode``. ``padding``: int or (left, right, top, bottom)."""

    mode = "zeros"

    def __init__(self, padding):
        super().__init__()
        self.padding = padding4(padding, type(self).__name__)
        self.value = 0.0

    def forward(self, x):
        check_input(self, x, 4)
        check_padding(x.shape, self.padding, self.mode, self.label())
        y, ctx = kernels().pad2d_forward(x, self.padding, self.mode, self.value, is_grad_enabled())
        self.save_for_backward(ctx, y.shape)
        return y

    def backward(self, grad_out):
        ctx, out_shape = self.saved_for_backward()
        check_grad(self, grad_out, out_shape)
        return ctx.backward(grad_out)

    def label(self) -> str:
        return f"{type(self).__name__}{self.padding}"

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(_Pad2d):
    """Pad with zeros: y = x surrounded by zeros; dL/dx = the interior of dL/dy."""

    mode = "zeros"


class ConstantPad2d(_Pad2d):
    """Pad with ``value``: y = x surrounded by value; dL/dx = the interior of dL/dy."""

    mode = "constant"

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ReflectionPad2d(_Pad2d):
    """Mirror the input about its edges, the edge pixel not repeated (padding < input size).

    Backward: each border gradient is added to the pixel it mirrors.
    """

    mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """Repeat the edge pixels. Backward: each edge pixel receives the sum of its copies' gradients."""

    mode = "replicate"


class CircularPad2d(_Pad2d):
    """Wrap around (periodic), padding <= input size. Backward: border gradients go to the opposite side."""

    mode = "circular"
