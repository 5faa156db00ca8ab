"""Conv2d: PyTorch's 2-D convolution layer over the conv2d kernels of strided.functional.

The math is in strided/functional/reference/conv.py (the fast equal: functional/fast/conv.py).
"""

import numpy as np

from ..functional.args import conv_padding, one_of, pair, positive_int
from ..functional.dispatch import kernels
from ..functional.geometry import check_padding
from ..functional.shapes import conv_output_size
from ..grad_mode import is_grad_enabled
from . import init
from .checks import check_dtype_matches, check_grad, check_input
from .module import Module, Parameter

__all__ = ["Conv2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


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
            positive_int(value, name, "Conv2d")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                             f"divisible by groups ({groups})")
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = pair(stride, "stride", "Conv2d", 1)
        self.dilation = pair(dilation, "dilation", "Conv2d", 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding string must be 'same' or 'valid', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1 (as PyTorch), got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = pair(padding, "padding", "Conv2d", 0)
        one_of(padding_mode, PADDING_MODES, "padding_mode", "Conv2d")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.padding_mode = padding_mode
        # (left, right, top, bottom), the form pad2d and the kernels take.
        self._pads = conv_padding(self.padding, self.kernel_size, self.dilation, "Conv2d")

        dtype = np.float32 if dtype is None else dtype
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.zeros(shape, dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None
        init.default_layer_init_(self.weight, self.bias)

    def _check_size(self, x_shape) -> None:
        """The kernel must fit in the padded input (PyTorch's error, with this layer's label)."""
        (kh, kw), (dh, dw), (sh, sw) = self.kernel_size, self.dilation, self.stride
        left, right, top, bottom = self._pads
        height, width = x_shape[2] + top + bottom, x_shape[3] + left + right
        if conv_output_size(height, kh, sh, 0, dh) < 1 or conv_output_size(width, kw, sw, 0, dw) < 1:
            raise ValueError(
                f"{self.label()}: the kernel spans {dh * (kh - 1) + 1}x{dw * (kw - 1) + 1} (kernel {kh}x{kw}, "
                f"dilation {self.dilation}), larger than the padded input {height}x{width}; got input of shape "
                f"{tuple(x_shape)}")

    def forward(self, x):
        check_input(self, x, 4, self.in_channels)
        check_dtype_matches(self, x, self.weight)
        self._check_size(x.shape)
        keep = is_grad_enabled()  # inference keeps nothing
        pad_ctx, pads, kernel = None, self._pads, kernels()
        if self.padding_mode != "zeros":  # pad with that mode first, then a convolution without padding
            check_padding(x.shape, pads, self.padding_mode, self.label())
            x, pad_ctx = kernel.pad2d_forward(x, pads, self.padding_mode, 0.0, keep)
            pads = (0, 0, 0, 0)
        bias = None if self.bias is None else self.bias.data
        y, ctx = kernel.conv2d_forward(x, self.weight.data, bias, self.stride, pads, self.dilation, self.groups, keep)
        self.save_for_backward(ctx, pad_ctx, y.shape)
        return y

    def backward(self, grad_out):
        ctx, pad_ctx, out_shape = self.saved_for_backward()
        check_grad(self, grad_out, out_shape)
        grad_x, grad_w, grad_b = ctx.backward(grad_out.astype(self.weight.dtype, copy=False))
        self.weight.accumulate_grad(grad_w)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_b)
        return grad_x if pad_ctx is None else pad_ctx.backward(grad_x)

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
