"""Fractional max pooling (Graham, 2014), fast: must equal strided.functional.reference.adaptive_pool's
fractional_max_pool2d_forward and fractional_max_pool2d_backward. K_h x K_w windows at pseudo-random starts.

The output may shrink the input by any ratio, not only by an integer stride. Each (n, c) plane
draws two samples u in [0, 1) (u[..., 0] for the width, u[..., 1] for the height, as PyTorch),
and along an axis of length I pooled to O with kernel K its windows start at

    alpha = (I - K) / (O - 1)
    start_i = floor((i + u) * alpha) - floor(u * alpha)    for i < O - 1,    start_{O-1} = I - K

computed in the input's dtype, exactly as PyTorch's kernel does, so that the same samples give
the same windows. Forward is the row-by-row max of strided.functional.pool, with the windows of
each plane gathered through flat indices; backward sends each gradient to its window's maximum.
"""

import numpy as np

from ..args import pair
from ..dispatch import Context
from ..geometry import fractional_starts
from .pool import first_max, scatter_to_argmax, window_max


def fractional_max_pool2d(x: np.ndarray, kernel_size, out_hw, samples: np.ndarray, with_argmax: bool = True,
                          who: str = "fractional_max_pool2d"):
    """y[n, c, i, j] = max of x[n, c, r_i : r_i + K_h, s_j : s_j + K_w], r and s from ``samples``.

    ``samples`` has shape (N, C, 2) in x's dtype. Returns (y, argmax), argmax the flat index
    h*W + w of each window's row-major first maximum in its plane (None without ``with_argmax``).
    """
    n, c, h, w = x.shape
    kh, kw = pair(kernel_size, "kernel_size", who)
    oh, ow = out_hw
    if samples.shape != (n, c, 2):
        raise ValueError(f"{who}: expected samples of shape {(n, c, 2)}, got {samples.shape}")
    row_start = fractional_starts(samples[..., 1], h, oh, kh)[..., :, None]  # (N, C, O_h, 1)
    col_start = fractional_starts(samples[..., 0], w, ow, kw)[..., None, :]  # (N, C, 1, O_w)
    plane = np.arange(n * c, dtype=np.int64).reshape(n, c, 1, 1)

    # Each plane has its own windows, so values are gathered through flat indices. Column offset
    # b of output column j, for every input row: x[n, c, row, col_start[j] + b].
    index = plane * (h * w) + np.arange(h).reshape(h, 1) * w + col_start  # (N, C, H, O_w)
    columns = []
    for _ in range(kw):
        columns.append(np.take(x, index))
        index += 1
    # Kernel row a of output row i, from an (N, C, H, O_w) array: row row_start[i] + a.
    row_index = plane * (h * ow) + row_start * ow + np.arange(ow)  # (N, C, O_h, O_w)

    def rows_of(values, a):
        return np.take(values, row_index + a * ow)

    if not with_argmax:
        return first_max([rows_of(first_max(columns)[0], a) for a in range(kh)])[0], None
    out, offset = window_max(columns, rows_of, kh)
    # Kernel offset k = a*K_w + b -> the input position (row_start + a)*W + col_start + b.
    step_of_k = (np.arange(kh)[:, None] * w + np.arange(kw)).ravel()
    flat = np.take(step_of_k, offset)
    flat += row_start * w + col_start
    return out, flat


def fractional_max_pool2d_grad(grad_out: np.ndarray, argmax: np.ndarray, input_shape, dtype=None) -> np.ndarray:
    """dL/dx: each output's gradient goes to its window's maximum (overlapping windows add up)."""
    return scatter_to_argmax(grad_out, argmax, input_shape, dtype)


# --------------------------------------------------------------------------- the kernel interface
def fractional_max_pool2d_forward(x, kernel_size, out_hw, samples, need_backward=True, who="fractional_max_pool2d"):
    """(y, ctx): y = the max of each window at the starts ``samples`` give; ctx keeps the argmax."""
    y, argmax = fractional_max_pool2d(x, kernel_size, out_hw, samples, with_argmax=need_backward, who=who)
    if not need_backward:
        return y, None
    return y, Context(fractional_max_pool2d_backward, argmax=argmax, input_shape=x.shape, dtype=x.dtype)


def fractional_max_pool2d_backward(ctx, grad_out):
    return fractional_max_pool2d_grad(grad_out, ctx.argmax, ctx.input_shape, ctx.dtype)
