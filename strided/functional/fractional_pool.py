"""Fractional max pooling (Graham, 2014): K_h x K_w windows at pseudo-random starts.

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

from .pool import first_max, pair, scatter_to_argmax, window_max


def fractional_output_size(input_hw, kernel_size, output_size=None, output_ratio=None,
                           who: str = "fractional_max_pool2d") -> tuple[int, int]:
    """The output (h, w) from ``output_size`` or ``output_ratio`` (exactly one), checked against the input."""
    kernel = pair(kernel_size, "kernel_size", who)
    if (output_size is None) == (output_ratio is None):
        raise ValueError(f"{who}: give exactly one of output_size and output_ratio, got output_size={output_size!r}, "
                         f"output_ratio={output_ratio!r}")
    if output_size is not None:
        out = pair(output_size, "output_size", who)
    else:
        ratio = (output_ratio, output_ratio) if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
        out = tuple(int(size * r) for size, r in zip(input_hw, ratio, strict=True))
    for axis, size, k, o in zip(("height", "width"), input_hw, kernel, out, strict=True):
        if o < 1:
            raise ValueError(f"{who}: output {axis} must be >= 1, got {o} (input {axis} {size})")
        if o + k - 1 > size:
            raise ValueError(f"{who}: kernel {axis} {k} is too large for output {axis} {o}: needs an input {axis} "
                             f">= output + kernel - 1 = {o + k - 1}, got {size}")
    return out


def fractional_starts(samples: np.ndarray, in_size: int, out_size: int, kernel: int) -> np.ndarray:
    """Window starts along one axis, shape samples.shape + (out_size,), PyTorch's arithmetic.

    Everything is computed in the samples' dtype (float32 stays float32) and truncated toward
    zero as C's static_cast<int> does, so each start equals PyTorch's to the last bit.
    """
    dtype = samples.dtype.type
    starts = np.empty(samples.shape + (out_size,), dtype=np.int64)
    if out_size > 1:
        alpha = dtype(in_size - kernel) / dtype(out_size - 1)
        i = np.arange(out_size - 1, dtype=samples.dtype)
        starts[..., :-1] = ((i + samples[..., None]) * alpha).astype(np.int64)
        starts[..., :-1] -= (samples * alpha).astype(np.int64)[..., None]
    starts[..., -1] = in_size - kernel
    return starts


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


def fractional_max_pool2d_backward(grad_out: np.ndarray, argmax: np.ndarray, input_shape, dtype=None) -> np.ndarray:
    """dL/dx: each output's gradient goes to its window's maximum (overlapping windows add up)."""
    return scatter_to_argmax(grad_out, argmax, input_shape, dtype)
