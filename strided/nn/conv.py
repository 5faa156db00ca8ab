"""Conv2d: PyTorch's 2-D convolution layer over the im2col kernels of strided.functional.conv."""

import numpy as np

from ..functional.conv import conv2d_backward, conv2d_forward, conv_geometry, conv_padding, pair, release_grid
from ..functional.pad import check_padding, pad2d, pad2d_backward
from ..grad_mode import is_grad_enabled
from . import init
from .checks import check_dtype_matches, check_grad, check_input
from .module import Module, Parameter

__all__ = ["Conv2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_pair(value, name: str, minimum: int) -> tuple[int, int]:
    try:
        result = pair(value, name)
    except ValueError:
        result = None
    if result is None or min(result) < minimum:
        raise ValueError(f"Conv2d: {name} must be an int or a pair of ints >= {minimum}, got {value!r}")
    return result


class Conv2d(Module):
    """y[n, o] = b[o] + sum_c w[o, c] (*) x_pad[n, g*C/G + c], a cross-correlation per group g of channels.

    Input (N, C_in, H, W), output (N, C_out, H_out, W_out) with
    H_out = floor((H + 2*padding_h - dilation_h*(K_h - 1) - 1) / stride_h) + 1 (the same for W).
    ``weight`` (C_out, C_in/groups, K_h, K_w) and ``bias`` (C_out,), PyTorch's default initialisation.
    ``padding``: int, (h, w), 'valid' (none) or 'same' (output size = input size; stride 1; the odd
    pixel goes right/bottom). ``padding_mode`` other than 'zeros' pads x with that mode first, as PyTorch.

    Backward, with g = dL/dy: dL/db = sum of g over (n, i, j); dL/dW = g @ cols^T; dL/dx = col2im(W^T @ g),
    the transposed convolution (then folded through the padding for the non-zero modes).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", dtype=None):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Conv2d: {name} must be a positive integer, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                             f"divisible by groups ({groups})")
        self.kernel_size = _positive_pair(kernel_size, "kernel_size", 1)
        self.stride = _positive_pair(stride, "stride", 1)
        self.dilation = _positive_pair(dilation, "dilation", 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding string must be 'same' or 'valid', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1 (as PyTorch), got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = _positive_pair(padding, "padding", 0)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.padding_mode = padding_mode
        # (left, right, top, bottom), the form pad2d and the kernels take.
        self._pads = conv_padding(self.padding, self.kernel_size, self.dilation)

        dtype = np.float32 if dtype is None else dtype
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.zeros(shape, dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None
        init.default_layer_init_(self.weight, self.bias)

    def _geometry(self, x_shape):
        """Sizes of this call (kept for the next call of the same shape, which is the usual case)."""
        cached = getattr(self, "_last_geometry", None)
        if cached is not None and cached[0] == (x_shape, self.weight.shape):
            return cached[1]
        geometry = self._new_geometry(x_shape)
        self._last_geometry = ((x_shape, self.weight.shape), geometry)
        return geometry

    def _new_geometry(self, x_shape):
        """Sizes of a call; the padding goes to pad2d first for the non-zero padding modes."""
        pads = self._pads
        if self.padding_mode != "zeros":
            check_padding(x_shape, pads, self.padding_mode, self.label())
            left, right, top, bottom = pads
            x_shape = x_shape[:2] + (x_shape[2] + top + bottom, x_shape[3] + left + right)
            pads = (0, 0, 0, 0)
        geometry = conv_geometry(x_shape, self.weight.shape, self.stride, pads, self.dilation, self.groups)
        if geometry.out_h < 1 or geometry.out_w < 1:
            (kh, kw), (dh, dw) = self.kernel_size, self.dilation
            left, right, top, bottom = self._pads
            raise ValueError(
                f"{self.label()}: the kernel spans {dh * (kh - 1) + 1}x{dw * (kw - 1) + 1} (kernel {kh}x{kw}, "
                f"dilation {self.dilation}), larger than the padded input {x_shape[2] + top + bottom}x"
                f"{x_shape[3] + left + right}; got input of shape {tuple(x_shape)}")
        return geometry

    def forward(self, x):
        check_input(self, x, 4, self.in_channels)
        check_dtype_matches(self, x, self.weight)
        geometry = self._geometry(x.shape)
        if self.padding_mode != "zeros":
            x = pad2d(x, self._pads, self.padding_mode)
        bias = None if self.bias is None else self.bias.data
        keep = is_grad_enabled()  # inference keeps nothing: the padded input goes back to the pool
        y, grid = conv2d_forward(x, self.weight.data, bias, geometry, keep_input=keep)
        if keep:
            self.save_for_backward(grid, geometry)
        return y

    def backward(self, grad_out):
        grid, geometry = self.saved_for_backward()
        check_grad(self, grad_out, (geometry.n, self.out_channels, geometry.out_h, geometry.out_w))
        grad_out = grad_out.astype(self.weight.dtype, copy=False)
        grad_x, grad_w, grad_b = conv2d_backward(grad_out, grid, self.weight.data, geometry,
                                                 need_bias=self.bias is not None)
        release_grid(grid, geometry)
        self.weight.accumulate_grad(grad_w)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_b)
        if self.padding_mode != "zeros":
            grad_x = pad2d_backward(grad_x, self._pads, self.padding_mode)
        return grad_x

    def label(self) -> str:
        return f"Conv2d({self.in_channels} -> {self.out_channels})"

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
