"""Resampling by interpolation (torch.nn.functional.interpolate): nearest and (bi)linear.

Interpolation is linear in the input and separable by axis: for each spatial axis there is an
(out_size, in_size) matrix A whose row i holds the weights output pixel i gives the input pixels,
and for an image x (H, W)

    y = A_h @ x @ A_w^T            (forward)
    dx = A_h^T @ g @ A_w           (backward: the transposed maps, applied to the gradient g)

Each row of A has one 1 (nearest) or two weights (1 - l, l) that sum to 1 (linear). The source
coordinate of output pixel i is PyTorch's (aten/src/ATen/native/UpSample.h), computed in the
input's own precision as PyTorch computes it, so the same pixels are chosen:

    nearest        src = floor(i * scale)
    nearest-exact  src = floor((i + 0.5) * scale)
    linear         src = max(scale * (i + 0.5) - 0.5, 0)          (align_corners=False)
                   src = i * (in - 1) / (out - 1)                 (align_corners=True)

with scale = 1 / scale_factor when a scale factor is given, else in / out. The dense matrices make
each axis one BLAS product: for the feature-map sizes of vision models (up to ~100 pixels a side)
that is faster than gathers plus a scatter-add backward, and the backward is the same code as the
forward. strided.data.transforms.Resize builds its nearest and bilinear weights here too.
"""

import numpy as np

from ..dispatch import Context

__all__ = ["interpolate_backward", "interpolate_forward", "interpolation_weights"]

LINEAR_MODES = ("linear", "bilinear")


def _source_scale(in_size: int, out_size: int, align_corners: bool, scale_factor, dtype):
    """PyTorch's area_pixel_compute_scale, in ``dtype`` (float32 inputs use float32 arithmetic)."""
    if align_corners:
        return dtype.type(in_size - 1) / dtype.type(out_size - 1) if out_size > 1 else dtype.type(0)
    if scale_factor is not None and scale_factor > 0:
        return dtype.type(1.0 / scale_factor)
    return dtype.type(in_size) / dtype.type(out_size)


def _nearest_source(in_size: int, out_size: int, mode: str, scale_factor) -> np.ndarray:
    """The input pixel each output pixel copies: PyTorch's nearest_idx / nearest_exact_idx.

    PyTorch computes these in float32 whatever the input's dtype, and its 'nearest' copies (out ==
    in) or halves the index (out == 2 * in) without the formula, even when a scale factor that is
    not exactly 1 or 2 gave those sizes. (Its 3-D forward alone uses the formula there, so it
    disagrees with its own backward; strided follows the backward and the 4-D forward.)
    """
    i = np.arange(out_size)
    if mode == "nearest" and out_size == in_size:
        return i
    if mode == "nearest" and out_size == 2 * in_size:
        return i >> 1
    scale = _source_scale(in_size, out_size, False, scale_factor, np.dtype(np.float32))
    offset = np.float32(0.5 if mode == "nearest-exact" else 0.0)
    return np.minimum(np.floor((i.astype(np.float32) + offset) * scale).astype(np.intp), in_size - 1)


def interpolation_weights(in_size: int, out_size: int, mode: str = "linear", align_corners: bool = False,
                          scale_factor=None, dtype=np.float64) -> np.ndarray:
    """The (out_size, in_size) matrix of one axis: row i holds the weights of output pixel i."""
    dtype = np.dtype(dtype)
    weights = np.zeros((out_size, in_size), dtype=dtype)
    rows = np.arange(out_size)
    i = rows.astype(dtype)
    scale = _source_scale(in_size, out_size, align_corners and mode in LINEAR_MODES, scale_factor, dtype)
    if mode in ("nearest", "nearest-exact"):
        weights[rows, _nearest_source(in_size, out_size, mode, scale_factor)] = 1
        return weights
    if out_size == in_size:  # PyTorch copies: no rounding of the coordinates at all
        weights[rows, rows] = 1
        return weights
    if align_corners:
        src = scale * i
    else:
        src = np.maximum(scale * (i + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    low = np.minimum(np.floor(src).astype(np.intp), in_size - 1)
    frac = np.clip(src - low.astype(dtype), 0, 1)
    high = low + (low < in_size - 1)
    # add, not assign: at the last pixel low == high and the two weights land on the same input.
    np.add.at(weights, (rows, low), 1 - frac)
    np.add.at(weights, (rows, high), frac)
    return weights


def _apply(x: np.ndarray, matrices: list) -> np.ndarray:
    """Multiply spatial axis k of x (the trailing axes, in order) by matrices[k], last axis first."""
    last = matrices[-1]
    y = x.reshape(-1, x.shape[-1]) @ last.T
    y = y.reshape(x.shape[:-1] + (last.shape[0],))
    if len(matrices) == 2:
        y = np.matmul(matrices[0], y)  # (H_out, H) @ (N, C, H, W_out): one product per (n, c)
    return y


def interpolate_forward(x: np.ndarray, sizes: tuple, scales: tuple, mode: str = "nearest", align_corners=None,
                        need_backward: bool = True):
    """``(y, ctx)``: y = A_h @ x @ A_w^T, each axis's matrix A from ``interpolation_weights`` (``sizes`` and
    ``scales`` per spatial axis, as strided.functional.interpolate parses them)."""
    matrices = [interpolation_weights(n, m, mode, bool(align_corners), s, x.dtype)
                for n, m, s in zip(x.shape[2:], sizes, scales, strict=True)]
    ctx = Context(interpolate_backward, shape=x.shape, matrices=matrices) if need_backward else None
    return _apply(x, matrices), ctx


def interpolate_backward(ctx, grad_out: np.ndarray) -> np.ndarray:
    """dL/dx = A_h^T @ g @ A_w for each image and channel (the forward's maps, transposed)."""
    expected = ctx.shape[:2] + tuple(m.shape[0] for m in ctx.matrices)
    if grad_out.shape != expected:
        raise ValueError(f"interpolate: backward expected a gradient of shape {expected}, got {grad_out.shape}")
    return _apply(grad_out.astype(ctx.matrices[0].dtype, copy=False), [m.T for m in ctx.matrices])
