"""Where the windows of pooling and the borders of padding lie: the definitions both kernel sets share.

The reference kernels and the fast ones compute the same windows from these functions, so a window can
only be wrong in one place. Output sizes follow ``shapes.pool_output_size``; the arguments are checked
here against the input (PyTorch's rules) with the caller's label in every error.
"""

import functools
from typing import NamedTuple

import numpy as np

from .args import pair
from .shapes import pool_output_size

PAD_MODES = ("zeros", "constant", "reflect", "replicate", "circular")


# --------------------------------------------------------------------------- padding
def check_padding(shape, padding, mode: str, name: str = "pad2d") -> None:
    """PyTorch's rules: reflect needs padding < size, circular padding <= size; cropping must leave a pixel."""
    if mode not in PAD_MODES:
        raise ValueError(f"{name}: padding mode must be one of {PAD_MODES}, got {mode!r}")
    if len(shape) < 2:
        raise ValueError(f"{name}: expected an array with at least 2 dimensions (..., H, W), got shape {tuple(shape)}")
    height, width = shape[-2:]
    left, right, top, bottom = padding
    for size, axis, amounts in ((width, "width", (left, right)), (height, "height", (top, bottom))):
        for amount in amounts:
            if mode == "reflect" and amount >= size:
                raise ValueError(f"{name}: reflect padding must be smaller than the input {axis} {size}, "
                                 f"got padding {amount}")
            if mode == "circular" and amount > size:
                raise ValueError(f"{name}: circular padding must be at most the input {axis} {size}, "
                                 f"got padding {amount}")
        if size + sum(min(amount, 0) for amount in amounts) < 1:  # PyTorch crops before it pads
            raise ValueError(f"{name}: padding {padding} crops away all of an input of {axis} {size}")



# --------------------------------------------------------------------------- pooling windows
class PoolGeometry(NamedTuple):
    """Everything forward and backward share: kernel, stride, dilation, padding, output size."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad_before: tuple[int, int]  # the user's padding (top, left)
    pad_after: tuple[int, int]  # bottom, right: user's padding, or more when ceil_mode windows run past it
    out: tuple[int, int]

    def views(self, padded: np.ndarray):
        """The K_h*K_w strided views of ``padded``, kernel offsets in row-major order."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel, self.stride, self.dilation, self.out
        for i in range(kh):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            for j in range(kw):
                yield padded[:, :, rows, j * dw: j * dw + (ow - 1) * sw + 1: sw]

    @property
    def padded(self) -> bool:
        return any(self.pad_before) or any(self.pad_after)

    def tiles(self) -> bool:
        """True when windows are disjoint blocks side by side (kernel == stride, no padding or dilation)."""
        return self.kernel == self.stride and self.dilation == (1, 1) and not self.padded


def check_pool_args(kernel_size, stride, padding, dilation, who: str):
    """Validate the layer arguments (PyTorch's rules); return them as (h, w) pairs."""
    kernel = pair(kernel_size, "kernel_size", who)
    stride = kernel if stride is None else pair(stride, "stride", who)
    padding = pair(padding, "padding", who)
    dilation = pair(dilation, "dilation", who)
    for name, value, low in (("kernel_size", kernel, 1), ("stride", stride, 1), ("dilation", dilation, 1),
                             ("padding", padding, 0)):
        if min(value) < low:
            raise ValueError(f"{who}: {name} must be >= {low}, got {value}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{who}: padding must be at most half the kernel size "
                         f"(<= {(kernel[0] // 2, kernel[1] // 2)}), got padding {padding} for kernel {kernel}")
    return kernel, stride, padding, dilation


def pool_geometry(input_hw, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                  who: str = "pool2d") -> PoolGeometry:
    """Check the arguments against the input's (H, W) and work out the output size and padding."""
    kernel, stride, padding, dilation = check_pool_args(kernel_size, stride, padding, dilation, who)
    return _geometry(tuple(input_hw), kernel, stride, padding, dilation, bool(ceil_mode), who)


@functools.lru_cache(maxsize=512)
def _geometry(input_hw, kernel, stride, padding, dilation, ceil_mode, who) -> PoolGeometry:
    # Cached: a layer sees the same few input sizes again and again, and at batch size 1 this
    # arithmetic would cost as much as the pooling itself.
    out, after = [], []
    for axis, size, k, s, p, d in zip(("height", "width"), input_hw, kernel, stride, padding, dilation, strict=True):
        span = d * (k - 1) + 1
        if span > size + 2 * p:
            raise ValueError(f"{who}: kernel (dilated extent {span}) is larger than the padded input {axis} "
                             f"{size} + 2*{p} = {size + 2 * p}")
        o = pool_output_size(size, k, s, p, d, ceil_mode)
        taps = (np.arange(o) * s - p)[:, None] + np.arange(k) * d
        if not ((taps >= 0) & (taps < size)).any(axis=1).all():
            # Possible only with dilation on a tiny input; PyTorch reads out of bounds here.
            raise ValueError(f"{who}: with dilation {d} and padding {p}, a window along the {axis} "
                             f"({size}) would see only padding; use a smaller dilation or padding")
        out.append(o)
        after.append(max(0, (o - 1) * s + span - p - size))
    return PoolGeometry(kernel, stride, dilation, padding, tuple(after), tuple(out))


def avg_pool_divisor(input_hw, geom: PoolGeometry, count_include_pad=True, divisor_override=None, dtype=np.float64):
    """The number each window's sum is divided by: a scalar, or an (O_h, O_w) array.

    PyTorch's rule: with ``count_include_pad`` a window counts its positions inside input +
    padding (a ceil_mode window running past the padding counts less); without it, only the
    positions on the real input. ``divisor_override`` replaces both.
    """
    dtype = np.dtype(dtype)
    if divisor_override is not None:
        return dtype.type(divisor_override)
    counts = []
    for size, k, s, p, o in zip(input_hw, geom.kernel, geom.stride, geom.pad_before, geom.out, strict=True):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        counts.append(end - start)
    divisor = np.outer(counts[0], counts[1]).astype(dtype)
    return divisor.flat[0] if np.all(divisor == divisor.flat[0]) else divisor



# --------------------------------------------------------------------------- adaptive and fractional windows
def adaptive_windows(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each output position's window along one axis, PyTorch's formula."""
    i = np.arange(out_size)
    return (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)


def adaptive_output_size(input_hw, output_size, who: str = "adaptive_pool2d") -> tuple[int, int]:
    """Resolve ``output_size`` (int, or (h, w) where None keeps the input's size) and check it."""
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    if not (isinstance(output_size, (tuple, list)) and len(output_size) == 2):
        raise ValueError(f"{who}: output_size must be an int or a pair (h, w) of ints or None, got {output_size!r}")
    out = []
    for size, o in zip(input_hw, output_size, strict=True):
        if o is None:
            o = size
        if isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o < 1:
            raise ValueError(f"{who}: output_size must be positive ints (or None to keep an axis), "
                             f"got {tuple(output_size)}")
        out.append(int(o))
    return tuple(out)


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
