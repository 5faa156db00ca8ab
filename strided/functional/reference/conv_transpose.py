"""Transposed 2-D convolution (torch.nn.functional.conv_transpose2d), the reference kernel: the convolution's
input gradient as a layer. There is no faster path: strided.functional.fast uses this kernel as it is.

A convolution maps x to y = W * x; its transpose maps y back to x's shape with the same weights.
Written as matrices, per group g of channels (weight (C_in, C_out/G, K_h, K_w)):

    forward    cols = W_g^T @ x_g               (C_out/G * K_h * K_w, N*H*W): each input pixel's stamp
               y    = col2im(cols) + b          every stamp added into the output at stride s, dilation d,
                                                then `padding` rows/columns cropped from each side
    backward   cols_g = im2col(g)               the output-gradient window each input pixel stamped into
               dx_g = W_g @ cols_g              (a plain convolution of g with the same weights)
               dW_g = x_g @ cols_g^T            db = sum of g over (n, i, j)

Output size per axis: (H - 1)*stride - 2*padding + dilation*(K - 1) + output_padding + 1.
The loops are over the K_h * K_w kernel taps only: each adds a whole strided slice at once.
"""

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..dispatch import Context

__all__ = ["ConvTransposeGeometry", "conv_transpose2d_backward", "conv_transpose2d_forward", "conv_transpose_geometry",
           "conv_transpose_output_size"]


class ConvTransposeGeometry(NamedTuple):
    """The sizes of one call: batch, groups, channels per group, kernel, stride, dilation, padding, sizes."""

    n: int
    groups: int
    in_per_group: int
    out_per_group: int
    kernel: tuple
    stride: tuple
    dilation: tuple
    padding: tuple
    in_size: tuple    # (H, W)
    out_size: tuple   # (H_out, W_out)
    full_size: tuple  # (H_out + 2*padding_h, W_out + 2*padding_w): before the crop


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0,
                               dilation: int = 1) -> int:
    """(I - 1)*S - 2P + D(K - 1) + output_padding + 1: PyTorch's ConvTranspose2d shape formula."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def conv_transpose_geometry(x_shape, weight_shape, stride, padding, output_padding, groups: int,
                            dilation) -> ConvTransposeGeometry:
    """Check the shapes against the arguments (parsed and checked by strided.functional.conv_transpose2d_args)
    and work out the sizes (ValueError names what is wrong)."""
    if len(x_shape) != 4 or len(weight_shape) != 4:
        raise ValueError(f"conv_transpose2d: expected input (N, C, H, W) and weight (C_in, C_out/groups, K_h, K_w), "
                         f"got {tuple(x_shape)} and {tuple(weight_shape)}")
    n, c_in, h, w = x_shape
    if c_in != weight_shape[0] or c_in % groups:
        raise ValueError(f"conv_transpose2d: input has {c_in} channels, the weight {weight_shape[0]} "
                         f"(and groups={groups} must divide it)")
    kernel = tuple(weight_shape[2:])
    out_size = tuple(conv_transpose_output_size(size, k, s, p, op, d) for size, k, s, p, op, d in
                     zip((h, w), kernel, stride, padding, output_padding, dilation, strict=True))
    if min(out_size) < 1:
        raise ValueError(f"conv_transpose2d: the output would be {out_size[0]}x{out_size[1]} for input "
                         f"{tuple(x_shape)} (padding {padding} too large)")
    full_size = (out_size[0] + 2 * padding[0], out_size[1] + 2 * padding[1])
    return ConvTransposeGeometry(n, groups, c_in // groups, weight_shape[1], kernel, stride, dilation, padding,
                                 (h, w), out_size, full_size)


def _group_rows(x: np.ndarray, geo: ConvTransposeGeometry) -> np.ndarray:
    """(N, C, H, W) -> (G, C/G, N*H*W): each group's channels as rows, every pixel of the batch a column."""
    h, w = geo.in_size
    x = x.reshape(geo.n, geo.groups, -1, h * w).transpose(1, 2, 0, 3)
    return x.reshape(geo.groups, -1, geo.n * h * w)


def _col2im(cols: np.ndarray, geo: ConvTransposeGeometry) -> np.ndarray:
    """Add each input pixel's K_h x K_w stamp into the (uncropped) output: (G, C_out/G*K_h*K_w, N*H*W) ->
    (N, G, C_out/G, H_full, W_full). Tap (i, j) of pixel (h, w) lands on (h*s_h + i*d_h, w*s_w + j*d_w)."""
    (kh, kw), (sh, sw), (dh, dw), (h, w) = geo.kernel, geo.stride, geo.dilation, geo.in_size
    stamps = cols.reshape(geo.groups, geo.out_per_group, kh, kw, geo.n, h, w).transpose(2, 3, 4, 0, 1, 5, 6)
    full = np.zeros((geo.n, geo.groups, geo.out_per_group) + geo.full_size, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            full[..., i * dh:i * dh + (h - 1) * sh + 1:sh, j * dw:j * dw + (w - 1) * sw + 1:sw] += stamps[i, j]
    return full


def _im2col(grad_full: np.ndarray, geo: ConvTransposeGeometry) -> np.ndarray:
    """The transpose of _col2im: (N, C_out, H_full, W_full) -> (G, C_out/G*K_h*K_w, N*H*W), the window of the
    gradient each input pixel stamped into (a strided view, copied once into rows for the product)."""
    (kh, kw), (sh, sw), (dh, dw), (h, w) = geo.kernel, geo.stride, geo.dilation, geo.in_size
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = sliding_window_view(grad_full, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :h, :w]
    windows = windows.reshape(geo.n, geo.groups, geo.out_per_group, h, w, kh, kw).transpose(1, 2, 5, 6, 0, 3, 4)
    return windows.reshape(geo.groups, geo.out_per_group * kh * kw, geo.n * h * w)


def conv_transpose2d_forward(x, weight, bias, stride, padding, output_padding, groups: int, dilation,
                             need_backward: bool = True):
    """``(y, ctx)``: y = crop(col2im(W^T @ x)) + b (stride, padding, output_padding and dilation as (h, w) pairs)."""
    geo = conv_transpose_geometry(x.shape, weight.shape, stride, padding, output_padding, groups, dilation)
    x_rows = _group_rows(x, geo)                                                     # (G, C_in/G, N*H*W)
    w_rows = weight.reshape(geo.groups, geo.in_per_group, -1)                       # (G, C_in/G, C_out/G*K*K)
    full = _col2im(np.matmul(w_rows.transpose(0, 2, 1), x_rows), geo)             # col2im(W^T @ x)
    (ph, pw), (out_h, out_w) = geo.padding, geo.out_size
    y = full[..., ph:ph + out_h, pw:pw + out_w].reshape(geo.n, -1, out_h, out_w)   # crop the padding
    if ph or pw:
        y = np.ascontiguousarray(y)
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)                                              # + b
    if not need_backward:
        return y, None
    return y, Context(conv_transpose2d_backward, x_rows=x_rows, weight=weight, geo=geo, has_bias=bias is not None)


def conv_transpose2d_backward(ctx, grad_out):
    """``(dx, dW, db)``: dx_g = W_g @ im2col(g), dW_g = x_g @ im2col(g)^T, db = sum of g (None without a bias)."""
    geo, weight = ctx.geo, ctx.weight
    (ph, pw), (out_h, out_w) = geo.padding, geo.out_size
    expected = (geo.n, geo.groups * geo.out_per_group, out_h, out_w)
    if grad_out.shape != expected:
        raise ValueError(f"conv_transpose2d: backward expected a gradient of shape {expected}, got {grad_out.shape}")
    grad_full = np.zeros(grad_out.shape[:2] + geo.full_size, dtype=grad_out.dtype)
    grad_full[..., ph:ph + out_h, pw:pw + out_w] = grad_out  # the cropped border got no gradient
    cols = _im2col(grad_full, geo)                                                  # (G, C_out/G*K*K, N*H*W)
    w_rows = weight.reshape(geo.groups, geo.in_per_group, -1)
    h, w = geo.in_size
    grad_x = np.matmul(w_rows, cols).reshape(geo.groups, geo.in_per_group, geo.n, h, w)  # dx_g = W_g @ cols_g
    grad_x = np.ascontiguousarray(grad_x.transpose(2, 0, 1, 3, 4)).reshape(geo.n, -1, h, w)
    # dW_g^T = cols_g @ x_g^T, transposed after: the same product, but OpenBLAS runs (C_out/G*K*K, NHW) @ (NHW, C_in/G)
    # several times faster than (C_in/G, NHW) @ (NHW, C_out/G*K*K) (64x25088 by 25088x128, float32, 2 threads on a
    # loaded machine: median 47 vs 400 ms).
    grad_w = np.matmul(cols, ctx.x_rows.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(weight.shape)
    grad_b = grad_out.sum(axis=(0, 2, 3)) if ctx.has_bias else None                # db = sum of g over (n, i, j)
    return grad_x, grad_w, grad_b
