"""2-D convolution, the textbook way: im2col by sliding windows, one matrix product; col2im by slice additions.

Forward, for output pixel (n, o, i, j), with G groups of C/G input channels and o in group g::

    y[n, o, i, j] = b[o] + sum_{c, p, q} W[o, c, p, q] * x_pad[n, g*C/G + c, i*s_h + p*d_h, j*s_w + q*d_w]

H_out = floor((H + pad_top + pad_bottom - d_h*(K_h - 1) - 1) / s_h) + 1, W_out alike. Backward, g = dL/dy:

    dL/db = sum of g over (n, i, j)            dL/dW = g @ cols^T            dL/dx = col2im(W^T @ g)

``stride`` and ``dilation`` are (h, w) pairs, ``padding`` is (left, right, top, bottom): the arguments
``strided.functional.conv2d`` parses. strided.functional.fast.conv computes the same numbers faster.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..dispatch import Context


def im2col(x_pad: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple) -> np.ndarray:
    """cols[n, c, p, q, i, j] = x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w]: every window, as a view."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = sliding_window_view(x_pad, span, axis=(2, 3))  # [n, c, a, b, u, v] = x_pad[n, c, a + u, b + v]
    return windows[:, :, ::sh, ::sw, ::dh, ::dw].transpose(0, 1, 4, 5, 2, 3)


def col2im(dcols: np.ndarray, padded_shape: tuple, stride: tuple, dilation: tuple) -> np.ndarray:
    """The adjoint of im2col: dx_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w] += dcols[n, c, p, q, i, j].

    One slice addition per kernel offset (p, q): window entries that read the same pixel add up there.
    """
    _, _, kh, kw, out_h, out_w = dcols.shape
    (sh, sw), (dh, dw) = stride, dilation
    dx_pad = np.zeros(padded_shape, dcols.dtype)
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * dh, p * dh + sh * (out_h - 1) + 1, sh)
            columns = slice(q * dw, q * dw + sw * (out_w - 1) + 1, sw)
            dx_pad[:, :, rows, columns] += dcols[:, :, p, q]
    return dx_pad


def conv2d_forward(x, weight, bias, stride, padding, dilation, groups, need_backward=True):
    """(y, ctx): y = W @ im2col(x_pad) + b per group; ctx for ``ctx.backward(grad_out)``."""
    n, c = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    left, right, top, bottom = padding
    x_pad = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    cols = im2col(x_pad, (kh, kw), stride, dilation)  # (N, C, K_h, K_w, H_out, W_out)
    out_h, out_w = cols.shape[4:]
    # One matrix per group: W (G, C_out/G, C/G*K_h*K_w) times cols (N, G, C/G*K_h*K_w, H_out*W_out).
    cols = cols.reshape(n, groups, c // groups * kh * kw, out_h * out_w)
    w = weight.reshape(groups, c_out // groups, -1)
    y = (w @ cols).reshape(n, c_out, out_h, out_w)  # y = W @ cols
    if bias is not None:
        y += bias.reshape(1, c_out, 1, 1)  # + b[o]
    if not need_backward:
        return y, None
    return y, Context(conv2d_backward, cols=cols, weight=weight, has_bias=bias is not None,
                      padded_shape=x_pad.shape, padding=padding, stride=stride, dilation=dilation)


def conv2d_backward(ctx, grad_out):
    """(dL/dx, dL/dW, dL/db or None) from g = dL/dy."""
    n, c_out, out_h, out_w = grad_out.shape
    groups = ctx.cols.shape[1]
    g = grad_out.reshape(n, groups, c_out // groups, out_h * out_w)
    grad_bias = grad_out.sum(axis=(0, 2, 3)) if ctx.has_bias else None  # dL/db = sum of g over (n, i, j)
    grad_weight = (g @ ctx.cols.swapaxes(2, 3)).sum(axis=0)  # dL/dW = g @ cols^T, summed over the images
    w = ctx.weight.reshape(groups, c_out // groups, -1)
    dcols = w.swapaxes(1, 2) @ g  # dL/dcols = W^T @ g, (N, G, C/G*K_h*K_w, H_out*W_out)
    kh, kw = ctx.weight.shape[2:]
    dcols = dcols.reshape(n, ctx.padded_shape[1], kh, kw, out_h, out_w)
    dx_pad = col2im(dcols, ctx.padded_shape, ctx.stride, ctx.dilation)  # dL/dx = col2im(dL/dcols)
    left, right, top, bottom = ctx.padding
    h, w_ = ctx.padded_shape[2] - top - bottom, ctx.padded_shape[3] - left - right
    grad_x = dx_pad[:, :, top:top + h, left:left + w_]  # the padding's gradient is dropped with it
    return np.ascontiguousarray(grad_x), grad_weight.reshape(ctx.weight.shape), grad_bias
