"""torch.nn.functional.conv_transpose2d and its backward: arguments parsed here (strided.functional.args), the
math in the kernel (``kernels().conv_transpose2d_forward``: strided.functional.reference.conv_transpose, which
the fast package uses as it is). The backward recomputes the forward's context from its arguments."""

import numpy as np

from .args import pair, positive_int
from .dispatch import kernels
from .reference.conv_transpose import conv_transpose_output_size  # noqa: F401  (ConvTranspose2d's output_size)

__all__ = ["conv_transpose2d", "conv_transpose2d_args", "conv_transpose2d_backward"]


def conv_transpose2d_args(stride, padding, output_padding, groups, dilation, who="conv_transpose2d"):
    """(stride, padding, output_padding, groups, dilation) as the kernel takes them: (h, w) pairs and an int."""
    stride, padding = pair(stride, "stride", who, 1), pair(padding, "padding", who, 0)
    output_padding, dilation = pair(output_padding, "output_padding", who, 0), pair(dilation, "dilation", who, 1)
    if any(output_padding[axis] >= max(stride[axis], dilation[axis]) for axis in range(2)):
        raise ValueError(f"{who}: output_padding {output_padding} must be smaller than either stride {stride} or "
                         f"dilation {dilation}")
    return stride, padding, output_padding, positive_int(groups, "groups", who), dilation


def _checked(x, weight, stride, padding, output_padding, groups, dilation):
    if not (isinstance(x, np.ndarray) and x.ndim == 4 and isinstance(weight, np.ndarray) and weight.ndim == 4):
        raise ValueError(f"conv_transpose2d: expected x (N, C_in, H, W) and weight (C_in, C_out/groups, K_h, K_w) "
                         f"arrays, got shapes {np.shape(x)} and {np.shape(weight)}")
    return conv_transpose2d_args(stride, padding, output_padding, groups, dilation)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose2d: (N, C_in, H, W) with weight (C_in, C_out/groups, K_h, K_w);
    y = crop(col2im(W_g^T @ x_g)) + b, each input pixel stamping its value times the kernel into the output."""
    args = _checked(x, weight, stride, padding, output_padding, groups, dilation)
    return kernels().conv_transpose2d_forward(x, weight, bias, *args, need_backward=False)[0]


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """(dL/dx, dL/dW, dL/db) of conv_transpose2d: dx_g = W_g @ im2col(g) (a plain convolution of g),
    dW_g = x_g @ im2col(g)^T, db = sum of g over (n, i, j)."""
    args = _checked(x, weight, stride, padding, output_padding, groups, dilation)
    bias = np.zeros(weight.shape[1] * args[3], weight.dtype)
    return kernels().conv_transpose2d_forward(x, weight, bias, *args)[1].backward(grad_out)
