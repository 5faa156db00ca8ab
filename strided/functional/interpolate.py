"""torch.nn.functional.interpolate and its backward: the arguments parsed here, the math (one matrix per axis)
in the kernels (``kernels().interpolate_forward``: strided.functional.reference.interpolate, which the fast
package uses as it is). Upsample and the feature pyramid parse with ``interpolate_args`` too."""

import math
import numbers

import numpy as np

from .args import one_of
from .dispatch import kernels
from .reference.interpolate import LINEAR_MODES, interpolation_weights  # noqa: F401  (Resize builds on them)

__all__ = ["MODES", "interpolate", "interpolate_args", "interpolate_backward"]

MODES = {"nearest": (3, 4), "nearest-exact": (3, 4), "linear": (3,), "bilinear": (4,)}


def _check_mode(x_ndim: int, mode: str, align_corners) -> None:
    one_of(mode, tuple(MODES), "mode", "interpolate")
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


def interpolate_args(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                     recompute_scale_factor=None, antialias=False):
    """The kernel's arguments ``(sizes, scales, mode, align_corners)`` from interpolate's, checked."""
    if not isinstance(input, np.ndarray) or input.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating NumPy array, got {getattr(input, 'dtype', type(input))}")
    _check_mode(input.ndim, mode, align_corners)
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported (use strided.data.transforms.Resize)")
    sizes, scales = output_size(input.shape[2:], size, scale_factor, recompute_scale_factor)
    return sizes, scales, mode, align_corners


def interpolate(input: np.ndarray, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> np.ndarray:
    """Resample (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor``, as torch.nn.functional.interpolate:
    y = A_h @ x @ A_w^T per image and channel.

    ``mode``: 'nearest' (default), 'nearest-exact', 'linear' (3-D) or 'bilinear' (4-D);
    ``align_corners`` (linear modes only, default False) maps the corner pixels' centres onto each
    other instead of the corners of the pixel grid.
    """
    args = interpolate_args(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    return kernels().interpolate_forward(input, *args, need_backward=False)[0]


def interpolate_backward(grad_out, input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                         recompute_scale_factor=None, antialias=False):
    """dL/dx of interpolate: A_h^T @ g @ A_w, every input pixel collecting the gradient of the outputs it fed."""
    args = interpolate_args(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    return kernels().interpolate_forward(input, *args)[1].backward(grad_out)
