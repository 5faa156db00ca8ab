"""Adaptive and fractional pooling, the textbook way: windows given by a table of start and end positions.

Adaptive (output size O given): along an axis of length I, output i pools [start_i, end_i) with
start_i = floor(i*I/O), end_i = ceil((i+1)*I/O) (``geometry.adaptive_windows``). Windows may differ in
length and overlap:

    average:  y = P_h x P_w^T, P[i, start_i:end_i] = 1 / (end_i - start_i)     dL/dx = P_h^T (dL/dy) P_w
    max:      y[n, c, i, j] = max over the window;  dL/dx at its first maximum += dL/dy[n, c, i, j]

Fractional (Graham, 2014): K_h x K_w windows whose starts each (n, c) plane draws from its samples u
(``geometry.fractional_starts``); max and backward as adaptive max. Global pooling is adaptive to 1 x 1.
"""

import math

import numpy as np

from ..args import pair
from ..dispatch import Context
from ..geometry import adaptive_output_size, adaptive_windows, fractional_starts


def averaging_matrix(in_size: int, out_size: int, dtype) -> np.ndarray:
    """P (O, I): P[i, a] = 1 / (end_i - start_i) for a in the window of output i, else 0."""
    start, end = adaptive_windows(in_size, out_size)
    a = np.arange(in_size)
    inside = (a >= start[:, None]) & (a < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d_forward(x, output_size, need_backward=True, who="adaptive_avg_pool2d"):
    """(y, ctx): y[n, c] = P_h x[n, c] P_w^T, the mean of each window."""
    out_h, out_w = adaptive_output_size(x.shape[2:], output_size, who)
    p_h, p_w = averaging_matrix(x.shape[2], out_h, x.dtype), averaging_matrix(x.shape[3], out_w, x.dtype)
    y = np.einsum("ia,ncab,jb->ncij", p_h, x, p_w)
    return y, (Context(adaptive_avg_pool2d_backward, p_h=p_h, p_w=p_w) if need_backward else None)


def adaptive_avg_pool2d_backward(ctx, grad_out):
    """dL/dx[n, c] = P_h^T dL/dy[n, c] P_w."""
    return np.einsum("ia,ncij,jb->ncab", ctx.p_h, grad_out, ctx.p_w)


def _window_table(in_size: int, out_size: int) -> np.ndarray:
    """(O, longest window) positions of each window; a shorter window repeats its last position."""
    start, end = adaptive_windows(in_size, out_size)
    return np.minimum(start[:, None] + np.arange((end - start).max()), end[:, None] - 1)


def _max_over(x: np.ndarray, position: np.ndarray, backward, need_backward: bool):
    """(y, ctx): the max of x[n, c] over the flat plane positions position[n, c, i, j, :] of each window."""
    n, c, h, w = x.shape
    index = np.broadcast_to(position, (n, c) + position.shape[2:])
    per_plane = math.prod(index.shape[2:])
    values = np.take_along_axis(x.reshape(n, c, h * w), index.reshape(n, c, per_plane), axis=2).reshape(index.shape)
    first = np.argmax(values, axis=-1)[..., None]  # the window's first maximum (row-major), PyTorch's ties
    y = np.take_along_axis(values, first, axis=-1)[..., 0]
    if not need_backward:
        return y, None
    return y, Context(backward, argmax=np.take_along_axis(index, first, axis=-1)[..., 0], input_shape=x.shape)


def _to_argmax(ctx, grad_out):
    """dL/dx: each dL/dy added at its window's maximum (overlapping windows add up)."""
    n, c, h, w = ctx.input_shape
    grad = np.zeros((n, c, h * w), grad_out.dtype)
    planes = np.arange(n * c).reshape(n, c, 1, 1) * (h * w)
    np.add.at(grad.reshape(-1), (ctx.argmax + planes).ravel(), grad_out.ravel())
    return grad.reshape(ctx.input_shape)


def adaptive_max_pool2d_forward(x, output_size, need_backward=True, who="adaptive_max_pool2d"):
    """(y, ctx): y = the max of each adaptive window; position = row * W + column in the plane."""
    out_h, out_w = adaptive_output_size(x.shape[2:], output_size, who)
    rows, cols = _window_table(x.shape[2], out_h), _window_table(x.shape[3], out_w)
    position = rows[:, None, :, None] * x.shape[3] + cols[None, :, None, :]  # (O_h, O_w, L_h, L_w)
    return _max_over(x, position.reshape(1, 1, out_h, out_w, -1), adaptive_max_pool2d_backward, need_backward)


def adaptive_max_pool2d_backward(ctx, grad_out):
    return _to_argmax(ctx, grad_out)


def fractional_max_pool2d_forward(x, kernel_size, out_hw, samples, need_backward=True, who="fractional_max_pool2d"):
    """(y, ctx): y = the max of the K_h x K_w window at (row_start, col_start) drawn from ``samples``."""
    (kh, kw), (h, w), (out_h, out_w) = pair(kernel_size, "kernel_size", who), x.shape[2:], out_hw
    if samples.shape != x.shape[:2] + (2,):
        raise ValueError(f"{who}: expected samples of shape {x.shape[:2] + (2,)}, got {samples.shape}")
    row_start = fractional_starts(samples[..., 1], h, out_h, kh)  # (N, C, O_h)
    col_start = fractional_starts(samples[..., 0], w, out_w, kw)  # (N, C, O_w)
    rows = row_start[..., :, None, None, None] + np.arange(kh)[:, None]  # (N, C, O_h, 1, K_h, 1)
    cols = col_start[..., None, :, None, None] + np.arange(kw)  # (N, C, 1, O_w, 1, K_w)
    position = (rows * w + cols).reshape(x.shape[:2] + (out_h, out_w, kh * kw))
    return _max_over(x, position, fractional_max_pool2d_backward, need_backward)


def fractional_max_pool2d_backward(ctx, grad_out):
    return _to_argmax(ctx, grad_out)
