"""Max and average pooling, fast: must equal strided.functional.reference.pool (max_pool2d_forward,
max_pool2d_backward, avg_pool2d_forward, avg_pool2d_backward).

The reference stacks every window and reduces it; here nothing is stacked. A pooling window is
K_h x K_w input positions, ``dilation`` apart, moved ``stride`` at a time over the input padded by
``padding`` on each side. Output size along one axis (PyTorch's rule,
see ``shapes.pool_output_size``; the windows are ``geometry.pool_geometry``'s):

    O = floor((I + 2P - D(K - 1) - 1) / S) + 1        (ceil instead of floor with ceil_mode)

No loop over batch, channels or pixels: for each of the K_h * K_w kernel offsets (i, j) the
input values that offset sees, for every output position at once, form one strided view

    view_ij[n, c, oh, ow] = x_padded[n, c, oh*S_h + i*D_h, ow*S_w + j*D_w]

so average pooling is a running sum over the K views, and max pooling a running np.maximum
(done in two passes, over column offsets then row offsets; see max_pool2d). Backward sends the
output gradient back through the same views: divided by the window's divisor to every view
(average), or to the position that won (max).
"""

import numpy as np

from ..dispatch import Context
from ..geometry import PoolGeometry, avg_pool_divisor, pool_geometry
from .threads import batch_slices, parallel_for
from .workspace import new_array


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
    def fresh(dtype):  # every result into an array of the pool (fast/workspace.py: no page faults)
        return new_array(a.shape, dtype)

    top, bottom = np.maximum(a, b, out=fresh(a.dtype)), np.maximum(c, d, out=fresh(a.dtype))
    # b beats a exactly where the maximum is not a; comparing with the contiguous maximum reads
    # one strided view instead of two (nearly twice as fast as np.greater(b, a)).
    right_top = np.not_equal(top, a, out=fresh(np.bool_)).view(np.uint8)
    right_bottom = np.not_equal(bottom, c, out=fresh(np.bool_)).view(np.uint8)
    lower = np.greater(bottom, top, out=fresh(np.bool_)).view(np.uint8)  # 1 where the bottom row wins
    # argmax = 2*lower + (right_bottom if lower else right_top), written with bit operations in place:
    # right_top ^ (lower & (right_top ^ right_bottom)), then | 2 * lower
    argmax = np.bitwise_xor(right_top, right_bottom, out=right_bottom)
    argmax &= lower
    argmax ^= right_top
    argmax |= np.add(lower, lower, out=lower)  # 2 * lower; NumPy has no SIMD loop for a shift (16x slower)
    return np.maximum(top, bottom, out=top), argmax


def max_pool2d_grad(grad_out: np.ndarray, argmax: np.ndarray, input_shape, kernel_size, stride=None,
                        padding=0, dilation=1, ceil_mode=False, dtype=None) -> np.ndarray:
    """dL/dx: each output's gradient goes to the input position that was its maximum.

    Overlapping windows (stride < kernel) add up. Disjoint tiles (kernel == stride) are written
    directly, each kernel offset's view once, with no zero-filling pass.
    """
    dtype = grad_out.dtype if dtype is None else dtype
    geom = pool_geometry(input_shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    if geom.tiles():
        grad_in = _tiled_grad(input_shape, geom, dtype)
        is_k = new_array(argmax.shape, np.bool_)
        for k, view in enumerate(geom.views(grad_in)):
            np.multiply(grad_out, np.equal(argmax, k, out=is_k), out=view)
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
    grad_in = new_array(input_shape, dtype)
    covered_h, covered_w = geom.out[0] * geom.kernel[0], geom.out[1] * geom.kernel[1]
    grad_in[:, :, covered_h:, :] = 0
    grad_in[:, :, :covered_h, covered_w:] = 0
    return grad_in


# --------------------------------------------------------------------------- average pooling
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


def avg_pool2d_grad(grad_out: np.ndarray, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
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


# --------------------------------------------------------------------------- the kernel interface
# Max pooling runs on pieces of the batch on strided's threads (fast/threads.py): 2x2 on (128, 32, 28, 28)
# float32, 2 threads against 1: forward 7.2-8.0 against 20.6-20.9 ms (best of 25), backward 9.6-11.0 against
# 19.5-23.1 ms, with the same CPU time (6.5-7.9 against 7.5-8.5 ms); measured at load 10-12 on 2 cores.
def _joined(pieces: list):
    """The results of the threads' pieces of the batch (arrays, or tuples of arrays or None), joined along it."""
    if len(pieces) == 1:
        return pieces[0]
    if isinstance(pieces[0], tuple):
        return tuple(None if part[0] is None else np.concatenate(part) for part in zip(*pieces, strict=True))
    return np.concatenate(pieces)


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, need_backward=True,
                       who="max_pool2d"):
    """(y, ctx): y = the max of each window; ctx keeps the argmax (small integers) for the backward."""
    y, argmax = _joined(parallel_for(
        lambda s: max_pool2d(x[s], kernel_size, stride, padding, dilation, ceil_mode, need_backward, who),
        batch_slices(x)))
    if not need_backward:
        return y, None
    return y, Context(max_pool2d_backward, argmax=argmax, input_shape=x.shape, dtype=x.dtype,
                      args=(kernel_size, stride, padding, dilation, ceil_mode))


def max_pool2d_backward(ctx, grad_out):
    """dL/dx: each output's gradient to its window's first maximum."""
    def piece(s):
        shape = (len(range(*s.indices(ctx.input_shape[0]))),) + tuple(ctx.input_shape[1:])
        return max_pool2d_grad(grad_out[s], ctx.argmax[s], shape, *ctx.args, dtype=ctx.dtype)

    return _joined(parallel_for(piece, batch_slices(grad_out)))


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                       divisor_override=None, need_backward=True, who="avg_pool2d"):
    """(y, ctx): y = each window's sum / divisor; ctx keeps only the shapes and arguments."""
    args = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    y = avg_pool2d(x, *args, who=who)
    return y, (Context(avg_pool2d_backward, input_shape=x.shape, dtype=x.dtype, args=args) if need_backward else None)


def avg_pool2d_backward(ctx, grad_out):
    """dL/dx: each output's gradient / divisor, to every input position of its window."""
    return avg_pool2d_grad(grad_out, ctx.input_shape, *ctx.args, dtype=ctx.dtype)
