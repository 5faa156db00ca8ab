"""ConvTranspose2d: PyTorch's transposed convolution layer (the decoder of a U-Net, learned upsampling)."""

import numpy as np

from ..functional.args import pair, positive_int
from ..functional.conv_transpose import conv_transpose2d_args, conv_transpose_output_size
from ..functional.dispatch import kernels
from . import init
from .checks import check_dtype_matches, check_grad, check_input
from .module import Module, Parameter

__all__ = ["ConvTranspose2d"]


class ConvTranspose2d(Module):
    """y = crop_padding(col2im(W_g^T @ x_g)) + b per group g: each input pixel adds its value times the kernel
    into the output at stride ``stride`` (the gradient of Conv2d with respect to its input, as a layer).

    Input (N, C_in, H, W), output (N, C_out, H_out, W_out) with
    H_out = (H - 1)*stride_h - 2*padding_h + dilation_h*(K_h - 1) + output_padding_h + 1 (the same for W);
    ``forward(x, output_size=(H_out, W_out))`` picks output_padding to reach that size, as PyTorch.
    ``weight`` (C_in, C_out/groups, K_h, K_w) and ``bias`` (C_out,), PyTorch's default initialisation.

    Backward, with g = dL/dy: dL/dx = conv2d(g, W) (stride, dilation, padding as given; a plain convolution),
    dL/dW = x_g @ im2col(g)^T, dL/db = sum of g over (n, i, j).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", dtype=None):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            positive_int(value, name, "ConvTranspose2d")
        self.stride, self.padding, self.output_padding, self.groups, self.dilation = conv_transpose2d_args(
            stride, padding, output_padding, groups, dilation, "ConvTranspose2d")
        self.kernel_size = pair(kernel_size, "kernel_size", "ConvTranspose2d", 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                             f"both be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported (as in PyTorch), "
                             f"got {padding_mode!r}")
        self.padding_mode = padding_mode
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        dtype = np.float32 if dtype is None else dtype
        shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.zeros(shape, dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None
        # PyTorch computes the fan from the weight's shape as it is: fan_in = C_out/groups * K_h * K_w.
        init.default_layer_init_(self.weight, self.bias)

    def _output_padding(self, x_shape, output_size) -> tuple:
        """The output_padding that gives ``output_size`` (PyTorch's _output_padding), or the layer's own."""
        if output_size is None:
            return self.output_padding
        output_size = tuple(int(s) for s in output_size)[-2:]
        if len(output_size) != 2:
            raise ValueError(f"{self.label()}: output_size must have 2 (or 4) entries, got {output_size}")
        smallest = tuple(conv_transpose_output_size(x_shape[2 + a], self.kernel_size[a], self.stride[a],
                                                    self.padding[a], 0, self.dilation[a]) for a in range(2))
        largest = tuple(s + self.stride[a] - 1 for a, s in enumerate(smallest))
        if not all(lo <= size <= hi for lo, size, hi in zip(smallest, output_size, largest, strict=True)):
            raise ValueError(f"{self.label()}: requested an output size of {output_size}, but valid sizes range "
                             f"from {smallest} to {largest} (for an input of {tuple(x_shape[2:])})")
        return tuple(size - lo for size, lo in zip(output_size, smallest, strict=True))

    def forward(self, x, output_size=None):
        check_input(self, x, 4, self.in_channels)
        check_dtype_matches(self, x, self.weight)
        output_padding = self._output_padding(x.shape, output_size)
        bias = None if self.bias is None else self.bias.data
        try:
            y, ctx = kernels().conv_transpose2d_forward(x, self.weight.data, bias, self.stride, self.padding,
                                                        output_padding, self.groups, self.dilation)
        except ValueError as error:
            raise ValueError(f"{self.label()}: {str(error).removeprefix('conv_transpose2d: ')}") from None
        self.save_for_backward(ctx, y.shape)
        return y

    def backward(self, grad_out):
        ctx, y_shape = self.saved_for_backward()
        check_grad(self, grad_out, y_shape)
        grad_x, grad_w, grad_b = ctx.backward(grad_out.astype(self.weight.dtype, copy=False))
        self.weight.accumulate_grad(grad_w)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_b)
        return grad_x

    def label(self) -> str:
        return f"ConvTranspose2d({self.in_channels} -> {self.out_channels})"

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        for name, default in (("padding", (0, 0)), ("output_padding", (0, 0)), ("dilation", (1, 1))):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
