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

import math
import numbers

import numpy as np

__all__ = ["interpolate", "interpolate_backward", "interpolate_forward", "interpolation_weights"]

MODES = {"nearest": (3, 4), "nearest-exact": (3, 4), "linear": (3,), "bilinear": (4,)}
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


def _check_mode(x_ndim: int, mode: str, align_corners) -> None:
    if mode not in MODES:
        raise ValueError(f"interpolate: mode must be one of {tuple(MODES)}, got {mode!r}")
    if x_ndim not in MODES[mode]:
        expected = " or ".join({3: "(N, C, L)", 4: "(N, C, H, W)"}[n] for n in MODES[mode])
        raise ValueError(f"interpolate: mode {mode!r} expects input of shape {expected}, got rank {x_ndim}")
    if align_corners is not None and mode not in LINEAR_MODES:
        raise ValueError("interpolate: align_corners can only be set with the interpolating modes linear | "
                         f"bilinear, got mode {mode!r}")


def _per_axis(value, dims: int, name: str) -> tuple:
    """An int/float or a sequence of ``dims`` of them, as a tuple of ``dims`` values."""
    if isinstance(value, (tuple, list)):
        if len(value) != dims:
            raise ValueError(f"interpolate: {name} must have {dims} values for {dims} spatial dimensions, "
                             f"got {tuple(value)}")
        return tuple(value)
    return (value,) * dims


def output_size(in_sizes: tuple, size=None, scale_factor=None, recompute_scale_factor=None):
    """The output's spatial sizes and the scale each axis's coordinates use (None: in / out)."""
    dims = len(in_sizes)
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        sizes = _per_axis(size, dims, "size")
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"interpolate: size must be an int or a tuple of ints, got {size!r}")
        scales = (None,) * dims
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
    else:
        scales = _per_axis(scale_factor, dims, "scale_factor")
        if not all(isinstance(s, numbers.Real) and not isinstance(s, bool) and s > 0 for s in scales):
            raise ValueError(f"interpolate: scale_factor must be positive numbers, got {scale_factor!r}")
        scales = tuple(float(s) for s in scales)
        sizes = tuple(math.floor(float(n) * s) for n, s in zip(in_sizes, scales, strict=True))
        if recompute_scale_factor:
            scales = (None,) * dims
    sizes = tuple(int(s) for s in sizes)
    if min(sizes) < 1 or min(in_sizes) < 1:
        raise ValueError(f"interpolate: input and output sizes should be greater than 0, got input {in_sizes} "
                         f"and output {sizes}")
    return sizes, scales


def _apply(x: np.ndarray, matrices: list) -> np.ndarray:
    """Multiply spatial axis k of x (the trailing axes, in order) by matrices[k], last axis first."""
    last = matrices[-1]
    y = x.reshape(-1, x.shape[-1]) @ last.T
    y = y.reshape(x.shape[:-1] + (last.shape[0],))
    if len(matrices) == 2:
        y = np.matmul(matrices[0], y)  # (H_out, H) @ (N, C, H, W_out): one product per (n, c)
    return y


def interpolate_forward(input: np.ndarray, size=None, scale_factor=None, mode: str = "nearest",
                        align_corners=None, recompute_scale_factor=None, antialias: bool = False):
    """``(y, ctx)``: the resampled input and what interpolate_backward needs (the per-axis matrices)."""
    if not isinstance(input, np.ndarray) or input.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating NumPy array, got {getattr(input, 'dtype', type(input))}")
    _check_mode(input.ndim, mode, align_corners)
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported (use strided.data.transforms.Resize)")
    sizes, scales = output_size(input.shape[2:], size, scale_factor, recompute_scale_factor)
    matrices = [interpolation_weights(n, m, mode, bool(align_corners), s, input.dtype)
                for n, m, s in zip(input.shape[2:], sizes, scales, strict=True)]
    return _apply(input, matrices), (input.shape, matrices)


def interpolate_backward(grad_out: np.ndarray, ctx) -> np.ndarray:
    """dL/dx = A_h^T @ g @ A_w for each image and channel (the forward's maps, transposed)."""
    input_shape, matrices = ctx
    expected = input_shape[:2] + tuple(m.shape[0] for m in matrices)
    if grad_out.shape != expected:
        raise ValueError(f"interpolate: backward expected a gradient of shape {expected}, got {grad_out.shape}")
    return _apply(grad_out.astype(matrices[0].dtype, copy=False), [m.T for m in matrices])


def interpolate(input: np.ndarray, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> np.ndarray:
    """Resample (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor``, as torch.nn.functional.interpolate.

    ``mode``: 'nearest' (default), 'nearest-exact', 'linear' (3-D) or 'bilinear' (4-D);
    ``align_corners`` (linear modes only, default False) maps the corner pixels' centres onto each
    other instead of the corners of the pixel grid.
    """
    return interpolate_forward(input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                               antialias)[0]
