"""Padding of H and W, the textbook way: every output pixel copies the input pixel its index maps to.

Padding is separable, out[..., i, j] = x[..., m_h(i), m_w(j)], with, along an axis of n pixels padded by
``before`` and ``after`` (output index i runs from 0; u = i - before is the input coordinate):

    constant   m(u) = u, and the constant where u < 0 or u >= n
    replicate  m(u) = clamp(u, 0, n - 1)                          (edge pixel repeated)
    reflect    m(u) = (n - 1) - |(n - 1) - |u||                    (mirrored, edge pixel not repeated)
    circular   m(u) = u mod n                                      (wrapped around)

Backward is the adjoint: dL/dx[m(u)] += dL/dy[u] (np.add.at sums the pixels copied several times).
Negative amounts crop, as PyTorch: after padding, except circular, which crops first and wraps the rest.
``padding`` is (left, right, top, bottom).
"""

import numpy as np

from ..dispatch import Context


def index_map(n: int, before: int, after: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(m, inside): the input index of each output index along one axis, and where it is not the constant."""
    if mode == "circular":  # crop first, then wrap what is left
        first, last = max(-before, 0), n - max(-after, 0)
        u = np.arange(-max(before, 0), last - first + max(after, 0))
        return first + u % (last - first), np.ones(u.shape, bool)
    u = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(u, 0, n - 1), np.ones(u.shape, bool)
    if mode == "reflect":
        return (n - 1) - np.abs((n - 1) - np.abs(u)), np.ones(u.shape, bool)
    inside = (u >= 0) & (u < n)  # zeros / constant
    return np.where(inside, u, 0), inside


def pad2d_forward(x, padding, mode="zeros", value=0.0, need_backward=True):
    """(y, ctx): y[..., i, j] = x[..., m_h(i), m_w(j)], or ``value`` outside x for the constant modes."""
    left, right, top, bottom = padding
    rows, rows_in = index_map(x.shape[-2], top, bottom, mode)
    cols, cols_in = index_map(x.shape[-1], left, right, mode)
    y = x[..., rows[:, None], cols[None, :]]
    inside = rows_in[:, None] & cols_in[None, :]
    y = np.where(inside, y, 0 if mode == "zeros" else value).astype(x.dtype, copy=False)
    return y, (Context(pad2d_backward, rows=rows, cols=cols, inside=inside, shape=x.shape) if need_backward else None)


def pad2d_backward(ctx, grad_out):
    """dL/dx[..., m_h(i), m_w(j)] += dL/dy[..., i, j] where the output copied x (not the constant)."""
    h, w = ctx.shape[-2:]
    grad = np.zeros(ctx.shape[:-2] + (h * w,), grad_out.dtype)
    flat = (ctx.rows[:, None] * w + ctx.cols[None, :])[ctx.inside]  # the input pixel of each copied output
    np.add.at(grad, (..., flat), grad_out[..., ctx.inside])
    return grad.reshape(ctx.shape)
