"""The fast convolution's data layout: its geometry, the padded-input "grid", im2col and col2im on it.

Computes what strided.functional.reference.conv's ``im2col`` and ``col2im`` compute (the columns
cols[(c, p, q), (n, i, j)] = x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w] and their adjoint), in a layout
chosen for speed; strided.functional.fast.conv runs the products on it. The API stays NCHW.

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
from functools import cached_property, lru_cache
from typing import NamedTuple

import numpy as np

from .workspace import WORKSPACE, new_array

# Compute outputs on the R x P grid (stride 1) when, per axis, the thrown-away part is at most this fraction
# of the valid part: measured faster than exact outputs through strided views down to 2x2 images (50%).
MAX_GRID_WASTE = 0.5


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


@lru_cache(maxsize=256)
def conv_geometry(x_shape: tuple, weight_shape: tuple, stride: tuple, padding: tuple, dilation: tuple,
                  groups: int) -> ConvGeometry:
    """Sizes of a convolution of an (N, C, H, W) input with an (C_out, C/G, K_h, K_w) weight.

    ``stride`` and ``dilation`` are (h, w), ``padding`` (left, right, top, bottom). Cached: a layer sees the
    same few shapes again and again, and at batch size 1 this arithmetic costs as much as a small layer.
    H_out = floor((H + pad_top + pad_bottom - d_h*(K_h - 1) - 1) / s_h) + 1, and the same for W_out.
    """
    n, c, h, w = x_shape
    c_out, _, kh, kw = weight_shape
    (sh, sw), (dh, dw) = stride, dilation
    left, right, top, bottom = padding
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


def tap_views(flat: np.ndarray, g: ConvGeometry) -> Taps:
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
    dx = new_array((g.n, g.c, g.h, g.w), dflat.dtype)
    for view, (rows, columns) in _image_pieces(dflat, g):
        dx[:, :, rows, columns] = view.transpose(1, 0, 2, 3)
    return dx


def release_grid(flat: np.ndarray, g: ConvGeometry) -> None:
    """Give a grid from ``pad_into_grid`` (kept by the forward for the backward) back to the pool."""
    WORKSPACE.give("grid", flat, _grid_layout(g))


def restore_grid(stored: np.ndarray, dtype) -> np.ndarray:
    """A grid that mixed precision stored in 16 bits, in ``dtype`` again (``release_restored_grid`` it).

    The stored copy holds the zero border too, so any free buffer serves: one scratch buffer (the largest)
    for every layer, rather than one per layout as the forward's grids need.
    """
    flat = WORKSPACE.take_scratch("restored grid", stored.shape, dtype)
    flat[...] = stored
    return flat


def release_restored_grid(flat: np.ndarray) -> None:
    WORKSPACE.give_scratch("restored grid", flat)


def open_kept_input(kept, dtype) -> tuple:
    """(padded input, restored): what a convolution's forward kept, for its backward (grid path, Winograd and
    channels-last alike). In 16 bits (mixed precision) it is ``dtype`` again in a scratch buffer and restored is
    True: then ``release_restored_grid`` it, else give the forward's own buffer back."""
    if kept is None:
        raise RuntimeError("conv2d: this context's backward already ran (one backward per forward)")
    return (kept, False) if kept.dtype == dtype else (restore_grid(kept, dtype), True)


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
    cols = im2col_images(tap_views(flat, g), g, 0, g.n, np.empty((g.c * g.kh * g.kw, g.m), x.dtype))
    release_grid(flat, g)
    return cols


def col2im(dcols: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The adjoint of im2col: add each column entry back onto the x pixel it was copied from; NCHW out.

    Entries of scratch columns must be zero; those that fall on padding are dropped with it.
    """
    dflat = np.zeros(g.grid_size, dcols.dtype)
    col2im_images(dcols, tap_views(dflat, g), g, 0, g.n)
    return grid_to_images(dflat, g)
