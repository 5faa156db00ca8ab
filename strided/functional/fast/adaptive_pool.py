"""Adaptive and global pooling, fast: must equal strided.functional.reference.adaptive_pool.

Output position i of an axis of length I pooled to O pools input positions [start_i, end_i):

    start_i = floor(i * I / O),    end_i = ceil((i + 1) * I / O)        (PyTorch's windows)

When I is a multiple of O these are disjoint tiles of I/O, i.e. ordinary pooling with kernel =
stride = I/O, which takes the fast strided path of strided.functional.pool. Otherwise windows
may differ in length and overlap, and the two axes are pooled one after the other:

- average: pooling an axis is a product with a fixed (O, I) matrix whose row i holds
  1/(end_i - start_i) on the window, so y = P_h x P_w^T and dL/dx = P_h^T (dL/dy) P_w;
- max: the window's max is the max over its rows of the max along each row, gathered through
  an index table (one column per offset into the window; shorter windows repeat their last
  index, which can never win a strict comparison). Backward sends each gradient to the argmax.

Global pooling is the case O = 1 on both axes: a plain mean or max over each (H, W) plane.
"""

import numpy as np

from ..dispatch import Context
from ..geometry import adaptive_output_size, adaptive_windows
from .pool import (
    avg_pool2d,
    avg_pool2d_grad,
    first_max,
    max_pool2d,
    max_pool2d_grad,
    scatter_to_argmax,
    window_max,
)


def tile_kernel(input_hw, out_hw):
    """The kernel (= stride) when both axes divide evenly, else None."""
    if input_hw[0] % out_hw[0] or input_hw[1] % out_hw[1]:
        return None
    return input_hw[0] // out_hw[0], input_hw[1] // out_hw[1]


# --------------------------------------------------------------------------- average
def averaging_matrix(in_size: int, out_size: int, dtype) -> np.ndarray:
    """P of shape (O, I): P[i, start_i:end_i] = 1 / (end_i - start_i), zero elsewhere."""
    start, end = adaptive_windows(in_size, out_size)
    positions = np.arange(in_size)
    inside = (positions >= start[:, None]) & (positions < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(x: np.ndarray, output_size, who: str = "adaptive_avg_pool2d") -> np.ndarray:
    """y[n, c, i, j] = mean of x[n, c, start_i:end_i, start_j:end_j]."""
    n, c, h, w = x.shape
    oh, ow = adaptive_output_size((h, w), output_size, who)
    if (oh, ow) == (1, 1):
        return x.mean(axis=(2, 3), keepdims=True)
    kernel = tile_kernel((h, w), (oh, ow))
    if kernel is not None:
        return avg_pool2d(x, kernel, kernel)
    p_h, p_w = averaging_matrix(h, oh, x.dtype), averaging_matrix(w, ow, x.dtype)
    # Each axis is one large matrix product (a batch of small ones would be much slower):
    # pool W on rows of x, then move H last and pool it the same way.
    along_w = (x.reshape(-1, w) @ p_w.T).reshape(n, c, h, ow)
    both = _last_axis_product(along_w.swapaxes(2, 3), p_h.T)  # (N, C, O_w, O_h)
    return np.ascontiguousarray(both.swapaxes(2, 3))


def _last_axis_product(a: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """a @ matrix over a's last axis, as one 2-D matrix product (copies ``a`` if it is a view)."""
    return (np.ascontiguousarray(a).reshape(-1, a.shape[-1]) @ matrix).reshape(*a.shape[:-1], matrix.shape[1])


def adaptive_avg_pool2d_grad(grad_out: np.ndarray, input_shape, dtype=None) -> np.ndarray:
    """dL/dx[n, c, a, b] = sum over the windows holding (a, b) of dL/dy / window size."""
    dtype = grad_out.dtype if dtype is None else np.dtype(dtype)
    n, c, h, w = input_shape
    oh, ow = grad_out.shape[2:]
    if (oh, ow) == (1, 1):
        grad_in = np.empty(input_shape, dtype=dtype)
        grad_in[...] = grad_out / dtype.type(h * w)
        return grad_in
    kernel = tile_kernel((h, w), (oh, ow))
    if kernel is not None:
        return avg_pool2d_grad(grad_out, input_shape, kernel, kernel, dtype=dtype)
    p_h, p_w = averaging_matrix(h, oh, dtype), averaging_matrix(w, ow, dtype)
    along_h = _last_axis_product(grad_out.astype(dtype, copy=False).swapaxes(2, 3), p_h)  # (N, C, O_w, H)
    return _last_axis_product(along_h.swapaxes(2, 3), p_w)


# --------------------------------------------------------------------------- max
def window_table(in_size: int, out_size: int) -> np.ndarray:
    """(O, longest window) input indices; a shorter window repeats its last index."""
    start, end = adaptive_windows(in_size, out_size)
    return np.minimum(start[:, None] + np.arange((end - start).max()), end[:, None] - 1)


def adaptive_max_pool2d(x: np.ndarray, output_size, with_argmax: bool = True, who: str = "adaptive_max_pool2d"):
    """y[n, c, i, j] = max of x[n, c, start_i:end_i, start_j:end_j].

    Returns (y, argmax). argmax (None without ``with_argmax``) is what the backward needs: for
    evenly dividing sizes max_pool2d's kernel offsets, otherwise the flat index h*W + w of the
    row-major first maximum in each plane (PyTorch's tie rule).
    """
    n, c, h, w = x.shape
    oh, ow = adaptive_output_size((h, w), output_size, who)
    if (oh, ow) == (1, 1):
        return global_max_pool2d(x, with_argmax)
    kernel = tile_kernel((h, w), (oh, ow))
    if kernel is not None:
        return max_pool2d(x, kernel, kernel, with_argmax=with_argmax)
    rows, cols = window_table(h, oh), window_table(w, ow)
    columns = [np.take(x, cols[:, q], axis=3) for q in range(cols.shape[1])]  # C-ordered, unlike x[..., idx]

    def rows_of(a, p):
        return np.take(a, rows[:, p], axis=2)

    if not with_argmax:
        return first_max([rows_of(first_max(columns)[0], p) for p in range(rows.shape[1])])[0], None
    out, offset = window_max(columns, rows_of, rows.shape[1])
    # Offset k = p*L_w + q in the window of output (i, j) -> input position rows[i, p]*W + cols[j, q],
    # looked up in a table of all (i, j, k).
    position = (rows[:, None, :, None] * w + cols[None, :, None, :]).reshape(oh, ow, -1)
    return out, np.take(position, offset + (np.arange(oh * ow) * position.shape[2]).reshape(oh, ow))


def adaptive_max_pool2d_grad(grad_out: np.ndarray, argmax: np.ndarray, input_shape, dtype=None) -> np.ndarray:
    """dL/dx: each output's gradient goes to its window's maximum (overlapping windows add up)."""
    h, w = input_shape[2:]
    oh, ow = grad_out.shape[2:]
    if (oh, ow) == (1, 1):
        return global_max_pool2d_grad(grad_out, argmax, input_shape, dtype)
    kernel = tile_kernel((h, w), (oh, ow))
    if kernel is not None:
        return max_pool2d_grad(grad_out, argmax, input_shape, kernel, kernel, dtype=dtype)
    return scatter_to_argmax(grad_out, argmax, input_shape, dtype)


# --------------------------------------------------------------------------- global
def global_avg_pool2d(x: np.ndarray) -> np.ndarray:
    """y[n, c, 0, 0] = mean of the plane x[n, c]."""
    return x.mean(axis=(2, 3), keepdims=True)


def global_avg_pool2d_grad(grad_out: np.ndarray, input_shape, dtype=None) -> np.ndarray:
    """dL/dx[n, c, a, b] = dL/dy[n, c] / (H * W) for every (a, b)."""
    return adaptive_avg_pool2d_grad(grad_out, input_shape, dtype)


def global_max_pool2d(x: np.ndarray, with_argmax: bool = True):
    """y[n, c, 0, 0] = max of the plane x[n, c]; argmax is its flat index (the first maximum)."""
    n, c, h, w = x.shape
    planes = x.reshape(n, c, h * w)
    if not with_argmax:
        return planes.max(axis=2).reshape(n, c, 1, 1), None
    argmax = planes.argmax(axis=2)[..., None]
    return np.take_along_axis(planes, argmax, axis=2).reshape(n, c, 1, 1), argmax.reshape(n, c, 1, 1)


def global_max_pool2d_grad(grad_out: np.ndarray, argmax: np.ndarray, input_shape, dtype=None) -> np.ndarray:
    """dL/dx: the whole gradient of each plane goes to its maximum."""
    n, c, h, w = input_shape
    grad_in = np.zeros((n, c, h * w), dtype=grad_out.dtype if dtype is None else dtype)
    np.put_along_axis(grad_in, argmax.reshape(n, c, 1), grad_out.reshape(n, c, 1), axis=2)
    return grad_in.reshape(input_shape)


# --------------------------------------------------------------------------- the kernel interface
def adaptive_avg_pool2d_forward(x, output_size, need_backward=True, who="adaptive_avg_pool2d"):
    """(y, ctx): y = the mean of each adaptive window."""
    y = adaptive_avg_pool2d(x, output_size, who)
    return y, (Context(adaptive_avg_pool2d_backward, input_shape=x.shape, dtype=x.dtype) if need_backward else None)


def adaptive_avg_pool2d_backward(ctx, grad_out):
    return adaptive_avg_pool2d_grad(grad_out, ctx.input_shape, ctx.dtype)


def adaptive_max_pool2d_forward(x, output_size, need_backward=True, who="adaptive_max_pool2d"):
    """(y, ctx): y = the max of each adaptive window; ctx keeps where each maximum was."""
    y, argmax = adaptive_max_pool2d(x, output_size, with_argmax=need_backward, who=who)
    if not need_backward:
        return y, None
    return y, Context(adaptive_max_pool2d_backward, argmax=argmax, input_shape=x.shape, dtype=x.dtype)


def adaptive_max_pool2d_backward(ctx, grad_out):
    return adaptive_max_pool2d_grad(grad_out, ctx.argmax, ctx.input_shape, ctx.dtype)
