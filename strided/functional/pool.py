"""Max and average pooling over sliding windows: forward and backward, as strided views.

A pooling window is K_h x K_w input positions, ``dilation`` apart, moved ``stride`` at a time
over the input padded by ``padding`` on each side. Output size along one axis (PyTorch's rule,
see ``shapes.pool_output_size``):

    O = floor((I + 2P - D(K - 1) - 1) / S) + 1        (ceil instead of floor with ceil_mode)

No loop over batch, channels or pixels: for each of the K_h * K_w kernel offsets (i, j) the
input values that offset sees, for every output position at once, form one strided view

    view_ij[n, c, oh, ow] = x_padded[n, c, oh*S_h + i*D_h, ow*S_w + j*D_w]

so average pooling is a running sum over the K views, and max pooling a running np.maximum
(done in two passes, over column offsets then row offsets; see max_pool2d). Backward sends the
output gradient back through the same views: divided by the window's divisor to every view
(average), or to the position that won (max).
"""

import functools
from typing import NamedTuple

import numpy as np

from .shapes import pool_output_size


def pair(value, name: str, who: str) -> tuple[int, int]:
    """An int or a pair of ints -> (h, w), with a clear error for anything else."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)):
        return int(value[0]), int(value[1])
    raise ValueError(f"{who}: {name} must be an int or a pair of ints (h, w), got {value!r}")


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


def pad_hw(x: np.ndarray, geom: PoolGeometry, value: float) -> np.ndarray:
    """x with ``value`` around it on H and W as the geometry asks (x itself when no padding)."""
    if not geom.padded:
        return x
    (top, left), (bottom, right) = geom.pad_before, geom.pad_after
    n, c, h, w = x.shape
    padded = np.full((n, c, top + h + bottom, left + w + right), value, dtype=x.dtype)
    padded[:, :, top:top + h, left:left + w] = x
    return padded


def crop_hw(padded: np.ndarray, geom: PoolGeometry, input_shape) -> np.ndarray:
    """The inverse of pad_hw for gradients: the input-sized middle, contiguous."""
    if not geom.padded:
        return padded
    (top, left), h, w = geom.pad_before, input_shape[2], input_shape[3]
    return np.ascontiguousarray(padded[:, :, top:top + h, left:left + w])


# --------------------------------------------------------------------------- max pooling
def argmax_dtype(count: int) -> np.dtype:
    """The smallest unsigned type that labels ``count`` positions (less memory traffic than int64)."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if count <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def max_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               with_argmax: bool = True, who: str = "max_pool2d"):
    """y[n, c, oh, ow] = max over the window; padded positions are -inf, so they never win.

    Returns (y, argmax): argmax holds, per output, the kernel offset k = i*K_w + j of the first
    maximum in row-major order (PyTorch's tie rule), or None when ``with_argmax`` is False
    (inference needs no backward). NaN propagates to the output.

    A window is a product of rows and columns, so its max takes two passes: the max over K_w
    column offsets for every input row, then the max over K_h of those. That is K_w + K_h - 2
    np.maximum calls instead of K_h*K_w - 1 (and much faster than a reduction over tiny axes).
    The first maximum of the first row that holds the maximum is the row-major first maximum.
    A 2x2 kernel uses a small comparison tree instead (_max4), the common case made fastest.
    """
    geom = pool_geometry(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode, who)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geom.kernel, geom.stride, geom.dilation, geom.out
    padded = pad_hw(x, geom, -np.inf)[:, :, : (oh - 1) * sh + (kh - 1) * dh + 1]  # only rows that windows use

    def rows_of(a, i):
        return a[:, :, i * dh: i * dh + (oh - 1) * sh + 1: sh]

    def columns_of(a, j):
        return a[:, :, :, j * dw: j * dw + (ow - 1) * sw + 1: sw]

    if not with_argmax:
        # Without an argmax the order is free: rows first, whose slices are contiguous along W
        # (fast), leaves the strided column slices for the smaller second pass.
        over_rows, _ = first_max([rows_of(padded, i) for i in range(kh)])
        return first_max([columns_of(over_rows, j) for j in range(kw)])[0], None
    if geom.kernel == (2, 2):
        return _max4(*geom.views(padded))
    return window_max([columns_of(padded, j) for j in range(kw)], rows_of, kh)


def window_max(columns, rows_of, kh: int):
    """Max over K_h x K_w windows, and the kernel offset k = i*K_w + j of the row-major first maximum.

    ``columns`` are the K_w arrays holding, for every input row, the value at column offset j
    of each output column's window; ``rows_of(a, i)`` picks, from an array shaped like them,
    kernel row i of each output's window. Columns are pooled first (first maximum along a row),
    then rows (first row holding the maximum): that is the row-major first maximum. Labels are
    small scalars, so no operand is broadcast (a broadcast operand splits NumPy's loops into
    short rows, several times slower).
    """
    kw = len(columns)
    dtype = argmax_dtype(kh * kw)
    over_columns, col_arg = first_max(columns, [dtype.type(j) for j in range(kw)])
    # Kernel row i's label is its kernel offset i*K_w + (that row's column argmax).
    labels = [rows_of(col_arg, i) + dtype.type(i * kw) for i in range(kh)]
    return first_max([rows_of(over_columns, i) for i in range(kh)], labels)


def first_max(views, labels=None):
    """Elementwise max of equally shaped views, and the label of the first view holding it.

    A view wins only where it is strictly greater, so ties keep the earlier view. Labels (scalars
    or arrays of one integer dtype, or None for no argmax) must grow along the list: then a
    winner's label is larger than any label before it, and the argmax is updated with
    np.maximum(arg, wins * label), which is much faster than np.copyto with a mask.
    """
    if len(views) == 1:
        return views[0].copy(), None if labels is None else np.array(np.broadcast_to(labels[0], views[0].shape))
    best = np.maximum(views[0], views[1])
    arg = None
    if labels is not None:
        # views[1] wins where the maximum is not views[0] (one strided operand, not two)
        arg = np.maximum(labels[0], np.not_equal(best, views[0]).view(np.uint8) * labels[1])
        wins = np.empty_like(best, dtype=bool)  # best's memory layout: mixed layouts iterate slowly
    for k in range(2, len(views)):
        if labels is not None:
            np.greater(views[k], best, out=wins)
            np.maximum(arg, wins.view(np.uint8) * labels[k], out=arg)
        np.maximum(best, views[k], out=best)
    return best, arg


def _max4(a, b, c, d):
    """Max of a 2x2 kernel's views [[a, b], [c, d]] as a small tree, with the argmax in arithmetic.

    The pairwise comparisons keep the first maximum within each row, then the top row wins ties
    against the bottom one: the row-major first maximum, as PyTorch. This is several times faster
    than a reduction over tiny axes, and avoids np.where on booleans (slow).
    """
    top, bottom = np.maximum(a, b), np.maximum(c, d)
    # b beats a exactly where the maximum is not a; comparing with the contiguous maximum reads
    # one strided view instead of two (nearly twice as fast as np.greater(b, a)).
    right_top = np.not_equal(top, a).view(np.uint8)
    right_bottom = np.not_equal(bottom, c).view(np.uint8)
    lower = np.greater(bottom, top).view(np.uint8)  # 1 where the bottom row wins
    # argmax = 2*lower + (right_bottom if lower else right_top), written with bit operations
    argmax = right_top ^ (lower & (right_top ^ right_bottom))
    argmax |= lower + lower  # 2 * lower; NumPy has no SIMD loop for a shift (lower << 1 is 16x slower)
    return np.maximum(top, bottom, out=top), argmax


def max_pool2d_backward(grad_out: np.ndarray, argmax: np.ndarray, input_shape, kernel_size, stride=None,
                        padding=0, dilation=1, ceil_mode=False, dtype=None) -> np.ndarray:
    """dL/dx: each output's gradient goes to the input position that was its maximum.

    Overlapping windows (stride < kernel) add up. Disjoint tiles (kernel == stride) are written
    directly, each kernel offset's view once, with no zero-filling pass.
    """
    dtype = grad_out.dtype if dtype is None else dtype
    geom = pool_geometry(input_shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    if geom.tiles():
        grad_in = _tiled_grad(input_shape, geom, dtype)
        for k, view in enumerate(geom.views(grad_in)):
            np.multiply(grad_out, argmax == k, out=view)
        return grad_in
    # Overlapping windows: one input can be the maximum of several outputs. Each output's
    # target is a flat index into the padded input; np.add.at sums repeated targets exactly,
    # and (NumPy 2) runs several times faster than K masked additions through strided views.
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geom.kernel, geom.stride, geom.dilation, geom.out
    n, c, h, w = input_shape
    (top, left), (bottom, right) = geom.pad_before, geom.pad_after
    hp, wp = top + h + bottom, left + w + right
    offset_of_k = (np.arange(kh)[:, None] * (dh * wp) + np.arange(kw) * dw).ravel()
    window_origin = (np.arange(oh) * (sh * wp))[:, None] + np.arange(ow) * sw
    target = np.take(offset_of_k, argmax)
    target += window_origin
    target += np.arange(n * c).reshape(n, c, 1, 1) * (hp * wp)
    grad_padded = np.zeros((n, c, hp, wp), dtype=dtype)
    np.add.at(grad_padded.reshape(-1), target.reshape(-1), grad_out.reshape(-1))
    return crop_hw(grad_padded, geom, input_shape)


def _tiled_grad(input_shape, geom: PoolGeometry, dtype) -> np.ndarray:
    """An uninitialised gradient array whose rows/columns outside every tile are already zero."""
    grad_in = np.empty(input_shape, dtype=dtype)
    covered_h, covered_w = geom.out[0] * geom.kernel[0], geom.out[1] * geom.kernel[1]
    grad_in[:, :, covered_h:, :] = 0
    grad_in[:, :, :covered_h, covered_w:] = 0
    return grad_in


# --------------------------------------------------------------------------- average pooling
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


def avg_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, who: str = "avg_pool2d") -> np.ndarray:
    """y[n, c, oh, ow] = (sum of the window, zero padding included) / divisor (see avg_pool_divisor)."""
    geom = pool_geometry(x.shape[2:], kernel_size, stride, padding, 1, ceil_mode, who)
    views = geom.views(pad_hw(x, geom, 0))
    out = next(views).copy()
    for view in views:  # summed in PyTorch's order (row-major over the window)
        out += view
    out /= avg_pool_divisor(x.shape[2:], geom, count_include_pad, divisor_override, x.dtype)
    return out


def avg_pool2d_backward(grad_out: np.ndarray, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None, dtype=None) -> np.ndarray:
    """dL/dx: each output's gradient / divisor, added to every input position of its window."""
    dtype = grad_out.dtype if dtype is None else np.dtype(dtype)
    geom = pool_geometry(input_shape[2:], kernel_size, stride, padding, 1, ceil_mode)
    share = (grad_out / avg_pool_divisor(input_shape[2:], geom, count_include_pad, divisor_override, dtype))
    share = share.astype(dtype, copy=False)
    if geom.tiles():
        grad_in = _tiled_grad(input_shape, geom, dtype)
        for view in geom.views(grad_in):
            view[...] = share
        return grad_in
    n, c, h, w = input_shape
    (top, left), (bottom, right) = geom.pad_before, geom.pad_after
    grad_padded = np.zeros((n, c, top + h + bottom, left + w + right), dtype=dtype)
    for view in geom.views(grad_padded):
        view += share
    return crop_hw(grad_padded, geom, input_shape)


# --------------------------------------------------------------------------- shared by adaptive / fractional
def scatter_to_argmax(grad_out: np.ndarray, flat_index: np.ndarray, input_shape, dtype=None) -> np.ndarray:
    """dL/dx for max pooling whose argmax is a flat index into each (H, W) plane.

    Windows may overlap, so two outputs can send gradient to one input: np.add.at sums them
    (it is fast in NumPy 2 for this one-dimensional case, and exact).
    """
    dtype = grad_out.dtype if dtype is None else dtype
    n, c, h, w = input_shape
    planes = np.arange(n * c, dtype=np.int64).reshape(n, c, 1, 1) * (h * w)
    grad_in = np.zeros(n * c * h * w, dtype=dtype)
    np.add.at(grad_in, (flat_index + planes).ravel(), grad_out.ravel())
    return grad_in.reshape(input_shape)
