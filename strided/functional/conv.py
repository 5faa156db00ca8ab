"""2-D convolution (cross-correlation, as PyTorch) by im2col and one matrix product, with both gradients.

Forward, for output pixel (n, o, i, j) and a group of C/G input channels::

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w]

im2col copies every x_pad value that window (i, j) reads into column (n, i, j) of ``cols`` (one row per
(c, p, q)), so the forward is one matrix product ``y = W @ cols`` with W of shape (C_out, C/G * K_h * K_w).
Backward, with g = dL/dy laid out like the columns (C_out, N*H_out*W_out):

    dL/db    = sum of g over (n, i, j)                           (each y[o] has a +b[o])
    dL/dW    = g @ cols^T                                        (y is linear in W with input cols)
    dL/dcols = W^T @ g, and dL/dx = col2im(dL/dcols)             (each x_pad value was copied into cols
                                                                  several times: col2im adds the copies back)

Layout, chosen for speed (the API stays NCHW):

* the padded input lives in one flat, channel-major "grid": rows of pitch P = W + max(pad_left, pad_right),
  images of R = H + max(pad_top, pad_bottom) rows. The right padding of a row doubles as the left padding
  of the next, and the bottom padding of an image as the top padding of the next, so at stride 1 every
  window offset (p, q) is one flat shift ``p*d_h*P + q*d_w`` of the whole grid: im2col is K_h*K_w
  contiguous copies and col2im K_h*K_w contiguous slice additions. The price: outputs are computed on the
  R x P grid and the rows i >= H_out and columns j >= W_out are thrown away (g is zero there, so they add
  nothing to any gradient). At stride s the grid holds the s_h*s_w phases of x_pad apart (every s-th row
  and column from each offset: space-to-depth), where a strided window is a stride-1 window of one phase,
  so the same holds. Where the waste would be large (tiny images, large kernels), outputs are computed
  exactly (H_out x W_out) and the copies and additions go through strided views instead;
* channel-major cols (C, K_h, K_w, images, R, P) make each product one BLAS call over many images (groups
  are a batch of G calls); the batch goes in chunks of images whose columns stay in cache from the gather
  to the products, and the backward gathers them again from the grid, so a layer keeps only its padded
  input for the backward, not the K_h*K_w times larger cols;
* large work buffers come from a small pool and are reused, which avoids page-faulting fresh memory on
  every call.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from .workspace import BufferPool

# Compute outputs on the R x P grid (stride 1) when, per axis, the thrown-away part is at most this fraction
# of the valid part: measured faster than exact outputs through strided views down to 2x2 images (50%).
MAX_GRID_WASTE = 0.5
# Images per chunk are chosen so that one chunk's columns take about this many bytes: small enough to stay
# in cache between the gather and the matrix products, large enough for efficient products.
CHUNK_BYTES = 4 * 2**20
# Free work buffers kept for reuse, in bytes; least recently used ones beyond this are dropped. Buffers
# smaller than POOL_MIN_BYTES are plain allocations: cheaper than the pool's bookkeeping.
WORKSPACE_LIMIT_BYTES = 512 * 2**20
POOL_MIN_BYTES = 64 * 2**10


WORKSPACE = BufferPool(WORKSPACE_LIMIT_BYTES, POOL_MIN_BYTES)


def clear_workspace() -> None:
    """Release every pooled work buffer (memory comes back; the next calls allocate again)."""
    WORKSPACE.clear()


def pair(value, name: str = "value") -> tuple[int, int]:
    """An int or a pair of ints as (h, w)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"conv2d: {name} must be an int or a pair of ints (h, w), got {value!r}")


def conv_padding(padding, kernel_size, dilation) -> tuple[int, int, int, int]:
    """Padding as (left, right, top, bottom) from an int, (h, w), 4 ints, 'valid' or 'same'.

    'same' pads d*(k-1) in total per axis, the odd one on the right/bottom, as PyTorch.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            (kh, kw), (dh, dw) = pair(kernel_size), pair(dilation)
            total_h, total_w = dh * (kh - 1), dw * (kw - 1)
            return total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2
        raise ValueError(f"conv2d: padding string must be 'same' or 'valid', got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(int(p) for p in padding)
    ph, pw = pair(padding, "padding")
    return pw, pw, ph, ph


@dataclass(frozen=True)
class ConvGeometry:
    """Every size of one convolution call; built by ``conv_geometry``."""

    n: int
    c: int
    h: int
    w: int
    c_out: int
    kh: int
    kw: int
    stride: tuple
    dilation: tuple
    padding: tuple  # (left, right, top, bottom)
    groups: int
    out_h: int
    out_w: int
    pitch: int  # P: row length of the grid
    rows: int  # R: rows of one image in the grid
    phases: tuple  # (1, 1), or the stride when the grid holds the stride phases of x_pad apart
    grid_h: int  # output rows computed per image: R on the grid (extra ones thrown away), else out_h
    grid_w: int  # output columns computed per row: P on the grid, else out_w

    @cached_property
    def padded_h(self) -> int:
        return self.h + self.padding[2] + self.padding[3]

    @cached_property
    def plane(self) -> int:
        """Elements of one image of one channel (of one phase) in the grid."""
        return self.rows * self.pitch

    @cached_property
    def flat(self) -> bool:
        """Outputs on the grid: each window offset is then one contiguous shift of the grid."""
        return (self.grid_h, self.grid_w) == (self.rows, self.pitch)

    @cached_property
    def channel_stride(self) -> int:
        """Elements of one channel's images, plus zero slack for the reads past the last one."""
        slack_rows = self.padded_h - self.rows + self.dilation[0] * (self.kh - 1) + 2
        images = self.phases[0] * self.phases[1] * self.n * self.plane
        return images + slack_rows * self.pitch + self.dilation[1] * (self.kw - 1)

    @cached_property
    def grid_size(self) -> int:
        return self.c * self.channel_stride

    @cached_property
    def m(self) -> int:
        """Columns of cols: one per computed output pixel."""
        return self.n * self.grid_h * self.grid_w


def _fits(out: int, grid: int) -> bool:
    return 0 < out <= grid <= (1 + MAX_GRID_WASTE) * out


def conv_geometry(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1) -> ConvGeometry:
    """Sizes of a convolution of an (N, C, H, W) input with an (C_out, C/G, K_h, K_w) weight.

    H_out = floor((H + pad_top + pad_bottom - d_h*(K_h - 1) - 1) / s_h) + 1, and the same for W_out.
    """
    n, c, h, w = x_shape
    c_out, _, kh, kw = weight_shape
    (sh, sw), (dh, dw) = pair(stride, "stride"), pair(dilation, "dilation")
    left, right, top, bottom = conv_padding(padding, (kh, kw), (dh, dw))
    out_h = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    out_w = (w + left + right - dw * (kw - 1) - 1) // sw + 1
    # Stride 1: padding shared between neighbouring rows and images. Stride s: the s_h*s_w phases of
    # x_pad (every s-th row and column from each offset), where a strided window is a stride-1 one.
    shared = (h + max(top, bottom), w + max(left, right), (1, 1))
    if (sh, sw) == (1, 1):
        rows, pitch, phases = shared
    else:
        rows, pitch, phases = -(-(h + top + bottom) // sh), -(-(w + left + right) // sw), (sh, sw)
    if not (_fits(out_h, rows) and _fits(out_w, pitch)):
        rows, pitch, phases = shared  # exact outputs through strided views
        return ConvGeometry(n, c, h, w, c_out, kh, kw, (sh, sw), (dh, dw), (left, right, top, bottom), groups,
                            out_h, out_w, pitch, rows, phases, out_h, out_w)
    return ConvGeometry(n, c, h, w, c_out, kh, kw, (sh, sw), (dh, dw), (left, right, top, bottom), groups,
                        out_h, out_w, pitch, rows, phases, rows, pitch)


# --------------------------------------------------------------------------------------------- im2col / col2im
def _strided(flat: np.ndarray, shape: tuple, strides: tuple) -> np.ndarray:
    """A view of the 1-D buffer ``flat`` with ``strides`` in elements (as_strided, minus its overhead)."""
    return np.ndarray(shape, flat.dtype, flat, 0, tuple(s * flat.itemsize for s in strides))


class Taps(NamedTuple):
    """What each window offset (p, q) reads of a grid, for every computed output (n, i, j), in tap order.

    On the grid ``views[k]`` is a (C, N*L) slice of the flat grid shifted by the offset (L = grid_h*grid_w);
    otherwise a strided (C, N, H_out, W_out) view: [c, n, i, j] = x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w].
    At stride 1 on the grid the offsets are linear in (p, q) and one (C, K_h, K_w, N*L) ``block`` view
    serves every tap (``views`` is then None).
    """

    views: list | None
    block: np.ndarray | None


def _tap_views(flat: np.ndarray, g: ConvGeometry) -> Taps:
    (sh, sw), (dh, dw), (ph, pw) = g.stride, g.dilation, g.phases
    if g.flat and g.phases == (1, 1):  # offsets linear in (p, q): one view serves every tap
        block = _strided(flat, (g.c, g.kh, g.kw, g.n * g.plane), (g.channel_stride, dh * g.pitch, dw, 1))
        return Taps(None, block)
    if g.flat:
        rows = flat.reshape(g.c, g.channel_stride)
        views = []
        for p in range(g.kh):
            for q in range(g.kw):
                (a, r), (b, t) = divmod(p * dh, ph), divmod(q * dw, pw)  # phase (r, t), shift (a, b) in it
                start = (r * pw + t) * g.n * g.plane + a * g.pitch + b
                views.append(rows[:, start:start + g.n * g.plane])
        return Taps(views, None)
    strides = (g.channel_stride, dh * g.pitch, dw, g.plane, sh * g.pitch, sw)
    view = _strided(flat, (g.c, g.kh, g.kw, g.n, g.out_h, g.out_w), strides)
    return Taps([view[:, p, q] for p in range(g.kh) for q in range(g.kw)], None)


def _chunk(array: np.ndarray, g: ConvGeometry, first: int, count: int, axis: int = 1) -> np.ndarray:
    """The part of a tap view (images on ``axis``) for images first..first+count-1."""
    index = [slice(None)] * axis
    if g.flat:  # one axis on purpose: NumPy copies and adds long runs several times faster than 4-D views
        return array[tuple(index) + (slice(first * g.plane, (first + count) * g.plane),)]
    return array[tuple(index) + (slice(first, first + count),)]


def _tap_rows(cols: np.ndarray, g: ConvGeometry, count: int) -> np.ndarray:
    """cols (C*K_h*K_w, count*L) as (C, K_h*K_w, ...) with the trailing axes of ``_chunk``."""
    return cols.reshape((g.c, g.kh * g.kw) + ((count * g.plane,) if g.flat else (count, g.grid_h, g.grid_w)))


def _image_pieces(flat: np.ndarray, g: ConvGeometry) -> list:
    """[(grid view, (row slice, column slice) of x)]: where the pixels of x lie in the grid."""
    left, _, top, _ = g.padding
    (ph, pw), images = g.phases, g.n * g.plane * g.phases[0] * g.phases[1]
    planes = flat.reshape(g.c, g.channel_stride)[:, :images].reshape(g.c, ph, pw, g.n, g.rows, g.pitch)
    if g.phases == (1, 1):
        return [(planes[:, 0, 0, :, top:top + g.h, left:left + g.w], (slice(None), slice(None)))]
    pieces = []
    for r in range(ph):
        for t in range(pw):
            h0, w0 = (r - top) % ph, (t - left) % pw  # first row and column of x in phase (r, t)
            i0, j0 = (h0 + top - r) // ph, (w0 + left - t) // pw
            nh, nw = len(range(h0, g.h, ph)), len(range(w0, g.w, pw))
            pieces.append((planes[:, r, t, :, i0:i0 + nh, j0:j0 + nw], (slice(h0, None, ph), slice(w0, None, pw))))
    return pieces


def _grid_layout(g: ConvGeometry) -> tuple:
    """What decides where the zero padding of a grid buffer lies."""
    return g.c, g.n, g.h, g.w, g.padding, g.pitch, g.rows, g.phases


def pad_into_grid(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The flat grid holding x (NCHW) zero-padded, channel-major; from the pool (``release_grid`` it)."""
    # The pad positions of a pooled grid are zero from its creation and never written, so only the
    # pixels are copied. The key holds the layout, so a buffer never serves another one.
    flat = WORKSPACE.take("grid", (g.grid_size,), x.dtype, _grid_layout(g), zeros=True)
    for view, (rows, columns) in _image_pieces(flat, g):
        view[...] = x[:, :, rows, columns].transpose(1, 0, 2, 3)
    return flat


def grid_to_images(dflat: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The pixels of x read back from a grid (padding dropped), as a new NCHW array."""
    dx = np.empty((g.n, g.c, g.h, g.w), dflat.dtype)
    for view, (rows, columns) in _image_pieces(dflat, g):
        dx[:, :, rows, columns] = view.transpose(1, 0, 2, 3)
    return dx


def release_grid(flat: np.ndarray, g: ConvGeometry) -> None:
    """Give a grid from ``pad_into_grid`` (kept by the forward for the backward) back to the pool."""
    WORKSPACE.give("grid", flat, _grid_layout(g))


def im2col_images(taps: Taps, g: ConvGeometry, first: int, count: int, out: np.ndarray) -> np.ndarray:
    """Columns of images first..first+count-1 into ``out`` (C*K_h*K_w, count*L): one copy per tap, or one
    copy in all from ``taps.block`` (faster)."""
    rows = _tap_rows(out, g, count)
    if taps.block is not None:
        np.copyto(rows.reshape(g.c, g.kh, g.kw, -1), _chunk(taps.block, g, first, count, axis=3))
        return out
    for k, tap in enumerate(taps.views):
        np.copyto(rows[:, k], _chunk(tap, g, first, count))
    return out


def col2im_images(dcols: np.ndarray, dtaps: Taps, g: ConvGeometry, first: int, count: int) -> None:
    """Add the columns of images first..first+count-1 back onto a gradient grid: one addition per tap."""
    rows = _tap_rows(dcols, g, count)
    if dtaps.block is not None:
        block = _chunk(dtaps.block, g, first, count, axis=3)
        windows = [block[:, p, q] for p in range(g.kh) for q in range(g.kw)]
    else:
        windows = [_chunk(view, g, first, count) for view in dtaps.views]
    for k, window in enumerate(windows):
        np.add(window, rows[:, k], out=window)


def im2col(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """cols[(c, p, q), (n, i, j)] = x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w], shape (C*K_h*K_w, M).

    M = N * grid_h * grid_w; the rows i >= H_out and columns j >= W_out of the grid are scratch.
    """
    flat = pad_into_grid(x, g)
    cols = im2col_images(_tap_views(flat, g), g, 0, g.n, np.empty((g.c * g.kh * g.kw, g.m), x.dtype))
    release_grid(flat, g)
    return cols


def col2im(dcols: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The adjoint of im2col: add each column entry back onto the x pixel it was copied from; NCHW out.

    Entries of scratch columns must be zero; those that fall on padding are dropped with it.
    """
    dflat = np.zeros(g.grid_size, dcols.dtype)
    col2im_images(dcols, _tap_views(dflat, g), g, 0, g.n)
    return grid_to_images(dflat, g)


# --------------------------------------------------------------------------------------------- conv2d
def _by_group(matrix: np.ndarray, groups: int) -> np.ndarray:
    """Rows of a (R, M) matrix split into a (G, R/G, M) batch, one per group (a view; 2-D when G = 1)."""
    return matrix if groups == 1 else matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def _grouped_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """(C_out, C/G, K_h, K_w) -> (G, C_out/G, C/G*K_h*K_w): each group's matrix W (a view; 2-D when G = 1)."""
    return _by_group(weight.reshape(weight.shape[0], -1), groups)


def image_chunks(g: ConvGeometry, dtype) -> tuple[int, list]:
    """(images per chunk, [(first, count), ...]): chunks whose columns take about CHUNK_BYTES."""
    per_image = g.c * g.kh * g.kw * g.grid_h * g.grid_w * np.dtype(dtype).itemsize
    most = max(1, min(g.n, CHUNK_BYTES // max(per_image, 1)))
    size = -(-g.n // -(-g.n // most))  # as many chunks as needed, as even as possible
    return size, [(first, min(size, g.n - first)) for first in range(0, g.n, size)]


def _columns(buffer: np.ndarray, count: int, g: ConvGeometry) -> np.ndarray:
    """The columns of ``count`` images in a (rows, images per chunk * L) work buffer (BLAS takes the view)."""
    return buffer[:, :count * g.grid_h * g.grid_w]


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry,
                   keep_input: bool = True):
    """y = W @ im2col(x) + b, NCHW (N, C_out, H_out, W_out), a chunk of images at a time.

    Returns (y, grid or None): the padded input grid is what the backward needs (``conv2d_backward``,
    then ``release_grid``); with ``keep_input`` False it goes straight back to the pool.
    """
    flat = pad_into_grid(x, g)
    size, chunks = image_chunks(g, x.dtype)
    rows, grid, width = g.c * g.kh * g.kw, (g.grid_h, g.grid_w), size * g.grid_h * g.grid_w
    cols_buf = WORKSPACE.take_scratch("cols", (rows, width), x.dtype)
    product_buf = WORKSPACE.take_scratch("product", (g.c_out, width), x.dtype)
    weights, windows = _grouped_weight(weight, g.groups), _tap_views(flat, g)
    y = np.empty((g.n, g.c_out, g.out_h, g.out_w), x.dtype)
    for first, count in chunks:
        cols = im2col_images(windows, g, first, count, _columns(cols_buf, count, g))
        product = _columns(product_buf, count, g)
        np.matmul(weights, _by_group(cols, g.groups), out=_by_group(product, g.groups))
        if bias is not None:  # on the product's long rows: 2x faster than during the copy below
            np.add(product, bias[:, None], out=product)
        valid = product.reshape(g.c_out, count, *grid)[:, :, :g.out_h, :g.out_w]
        np.copyto(y[first:first + count], valid.transpose(1, 0, 2, 3))
    WORKSPACE.give_scratch("cols", cols_buf)
    WORKSPACE.give_scratch("product", product_buf)
    if not keep_input:
        release_grid(flat, g)
        flat = None
    return y, flat


def conv2d_backward(grad_out: np.ndarray, flat: np.ndarray, weight: np.ndarray, g: ConvGeometry,
                    need_bias: bool = True):
    """(dL/dx, dL/dW, dL/db or None) from dL/dy (NCHW) and the forward's grid; see the module docstring.

    Chunk by chunk of images: cols again from the grid, dW += g @ cols^T, dcols = W^T @ g, col2im.
    """
    dtype, groups = grad_out.dtype, g.groups
    size, chunks = image_chunks(g, dtype)
    rows, grid, width = g.c * g.kh * g.kw, (g.grid_h, g.grid_w), size * g.grid_h * g.grid_w
    cols_buf = WORKSPACE.take_scratch("cols", (rows, width), dtype)
    dcols_buf = WORKSPACE.take_scratch("cols", (rows, width), dtype)
    # dL/dy in the cols layout. Only the valid pixels are ever written, so the scratch rows and columns
    # stay zero from the buffer's creation (its key holds the output size).
    grad_buf = WORKSPACE.take("grad", (g.c_out, size) + grid, dtype, (g.out_h, g.out_w), zeros=True)
    dflat = WORKSPACE.take_scratch("dgrid", (g.grid_size,), dtype)
    dflat.fill(0)
    weights, windows, dwindows = _grouped_weight(weight, groups), _tap_views(flat, g), _tap_views(dflat, g)
    grad_weight = np.zeros(weights.shape, dtype)
    partial = np.empty(weights.shape, dtype)
    grad_bias = np.zeros(g.c_out, dtype) if need_bias else None
    ones = np.ones(width, dtype) if need_bias else None  # sums as a BLAS product: 3x faster than .sum
    for first, count in chunks:
        grad_buf[:, :count, :g.out_h, :g.out_w] = grad_out[first:first + count].transpose(1, 0, 2, 3)
        grad = _columns(grad_buf.reshape(g.c_out, width), count, g)
        cols = im2col_images(windows, g, first, count, _columns(cols_buf, count, g))
        grad_rows = _by_group(grad, groups)
        np.matmul(grad_rows, np.swapaxes(_by_group(cols, groups), -1, -2), out=partial)
        grad_weight += partial
        if need_bias:
            grad_bias += grad @ ones[:grad.shape[1]]
        dcols = _columns(dcols_buf, count, g)
        np.matmul(np.swapaxes(weights, -1, -2), grad_rows, out=_by_group(dcols, groups))
        col2im_images(dcols, dwindows, g, first, count)
    grad_x = grid_to_images(dflat, g)
    for buffer in (cols_buf, dcols_buf):
        WORKSPACE.give_scratch("cols", buffer)
    WORKSPACE.give("grad", grad_buf, (g.out_h, g.out_w))
    WORKSPACE.give_scratch("dgrid", dflat)
    return grad_x, grad_weight.reshape(weight.shape), grad_bias


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> np.ndarray:
    """torch.nn.functional.conv2d: NCHW in, NCHW out (zero padding; see ``conv_padding`` for the forms)."""
    g = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    return conv2d_forward(x, weight, bias, g, keep_input=False)[0]
