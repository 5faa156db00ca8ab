"""2-D convolution (cross-correlation, as PyTorch) by im2col and one matrix product, with both gradients.

Forward, for output pixel (n, o, i, j) and a group of C/G input channels::

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w]

im2col copies every x_pad value that window (i, j) reads into column (n, i, j) of ``cols`` (one row per
(c, p, q)), so the forward is one matrix product ``y = W @ cols`` with W of shape (C_out, C/G * K_h * K_w).
Backward, with g = dL/dy laid out like y (C_out, N*H_out*W_out):

    dL/db    = sum of g over (n, i, j)                           (each y[o] has a +b[o])
    dL/dW    = g @ cols^T                                        (y is linear in W with input cols)
    dL/dcols = W^T @ g, and dL/dx = col2im(dL/dcols)             (each x_pad value was copied into cols
                                                                  several times: col2im adds the copies back)

Layout, chosen for speed (the API stays NCHW):

* channel-major: cols is (C, K_h, K_w, N, H_out, grid_w), so each product is ONE large BLAS call (no loop
  over the batch) and groups are a batch of G such calls;
* the padded input lives in a flat "grid" per (c, n) whose rows have pitch P = W + max(pad_left, pad_right):
  the right padding of one row doubles as the left padding of the next, so with stride 1 every window offset
  (p, q) is one flat shift ``p*d_h*P + q*d_w``. im2col is then K_h*K_w contiguous copies and col2im K_h*K_w
  contiguous slice additions. The price: each output row is computed P wide, and the P - W_out extra
  columns are thrown away (g is zero there, so they add nothing to any gradient);
* large work buffers come from a small pool and are reused, which avoids page-faulting fresh memory on
  every call.
"""

from collections import OrderedDict
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

# Use the P-wide grid at stride 1 only when the thrown-away columns cost at most this fraction of the work.
MAX_GRID_WASTE = 0.25
# Free work buffers kept for reuse, in bytes; least recently used ones beyond this are dropped.
WORKSPACE_LIMIT_BYTES = 512 * 2**20


class BufferPool:
    """Free work buffers, handed out again instead of allocating anew.

    A buffer is found by its role, shape, dtype and ``layout`` (whatever else its contents depend on).
    """

    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        self._free = OrderedDict()  # key -> list of arrays, least recently used first
        self._bytes = 0

    @staticmethod
    def _key(role: str, shape, dtype, layout) -> tuple:
        return role, tuple(shape), np.dtype(dtype).str, layout

    def take(self, role: str, shape, dtype, layout=(), zeros: bool = False) -> np.ndarray:
        """A buffer: a reused one (old contents kept) or a new one (zero-filled if ``zeros``)."""
        key = self._key(role, shape, dtype, layout)
        stack = self._free.get(key)
        if not stack:
            return np.zeros(shape, dtype) if zeros else np.empty(shape, dtype)
        array = stack.pop()
        self._bytes -= array.nbytes
        if not stack:
            del self._free[key]
        return array

    def give(self, role: str, array: np.ndarray, layout=()) -> None:
        """Return a buffer taken for ``role`` and ``layout``; the caller must not use it afterwards."""
        key = self._key(role, array.shape, array.dtype, layout)
        self._free.setdefault(key, []).append(array)
        self._free.move_to_end(key)
        self._bytes += array.nbytes
        while self._bytes > self.limit_bytes and self._free:
            _, stack = self._free.popitem(last=False)
            self._bytes -= sum(a.nbytes for a in stack)

    def clear(self) -> None:
        self._free.clear()
        self._bytes = 0


WORKSPACE = BufferPool(WORKSPACE_LIMIT_BYTES)


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


class ConvGeometry(NamedTuple):
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
    pitch: int  # P: row length of the flat padded grid
    grid_w: int  # output columns computed per row: P at stride 1 (extra ones thrown away), else out_w

    @property
    def padded_h(self) -> int:
        return self.h + self.padding[2] + self.padding[3]

    @property
    def plane(self) -> int:
        """Elements of one padded (c, n) image in the grid."""
        return self.padded_h * self.pitch

    @property
    def grid_size(self) -> int:
        """Elements of the whole grid buffer: the planes plus slack for reads past the last row."""
        return self.c * self.n * self.plane + self.pitch + self.dilation[1] * (self.kw - 1)

    @property
    def m(self) -> int:
        """Columns of cols: one per computed output pixel."""
        return self.n * self.out_h * self.grid_w


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
    pitch = w + max(left, right)
    use_grid = sw == 1 and 0 < out_w <= pitch and (pitch - out_w) <= MAX_GRID_WASTE * out_w
    return ConvGeometry(n, c, h, w, c_out, kh, kw, (sh, sw), (dh, dw), (left, right, top, bottom), groups,
                        out_h, out_w, pitch, pitch if use_grid else out_w)


# --------------------------------------------------------------------------------------------- im2col / col2im
def _window_view(flat: np.ndarray, g: ConvGeometry, p: int | None = None, q: int | None = None) -> np.ndarray:
    """A strided view of the flat grid: element [c, p, q, n, i, j] is x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w].

    With ``p`` and ``q`` given, the (C, N, H_out, grid_w) slice of that one window offset.
    """
    (sh, sw), (dh, dw), item = g.stride, g.dilation, flat.itemsize
    strides = (g.n * g.plane, dh * g.pitch, dw, g.plane, sh * g.pitch, sw)
    shape = (g.c, g.kh, g.kw, g.n, g.out_h, g.grid_w)
    if p is None:
        return as_strided(flat, shape, tuple(s * item for s in strides))
    offset = p * dh * g.pitch + q * dw
    view = flat[offset:offset + 1]  # a base at the offset; as_strided reads on from it
    return as_strided(view, shape[:1] + shape[3:], tuple(s * item for s in strides[:1] + strides[3:]))


def _grid_layout(g: ConvGeometry) -> tuple:
    """What decides where the zero padding of a grid buffer lies."""
    return g.c, g.n, g.h, g.w, g.padding, g.pitch


def pad_into_grid(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The flat grid buffer holding x (NCHW) zero-padded, channel-major; taken from the pool (give it back)."""
    # The pad positions of a pooled grid are zero from its creation and never written, so only the
    # interior is copied. The key holds the padding, so a buffer never serves another layout.
    flat = WORKSPACE.take("grid", (g.grid_size,), x.dtype, _grid_layout(g), zeros=True)
    left, _, top, _ = g.padding
    planes = flat[:g.c * g.n * g.plane].reshape(g.c, g.n, g.padded_h, g.pitch)
    planes[:, :, top:top + g.h, left:left + g.w] = x.transpose(1, 0, 2, 3)
    return flat


def im2col(x: np.ndarray, g: ConvGeometry, out: np.ndarray | None = None) -> np.ndarray:
    """cols[(c, p, q), (n, i, j)] = x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w], shape (C*K_h*K_w, M).

    M = N * H_out * grid_w; columns with j >= W_out (present when grid_w = P) are scratch.
    """
    flat = pad_into_grid(x, g)
    cols = out if out is not None else np.empty((g.c * g.kh * g.kw, g.m), x.dtype)
    np.copyto(cols.reshape(g.c, g.kh, g.kw, g.n, g.out_h, g.grid_w), _window_view(flat, g))
    WORKSPACE.give("grid", flat, _grid_layout(g))
    return cols


def col2im(dcols: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The adjoint of im2col: add each column entry back onto the x pixel it was copied from; NCHW out.

    K_h*K_w slice additions on the flat grid (contiguous ones at stride 1). Entries of scratch columns must
    be zero; those that fall on padding are dropped with it.
    """
    flat = WORKSPACE.take("dgrid", (g.grid_size,), dcols.dtype)
    flat.fill(0)
    dcols = dcols.reshape(g.c, g.kh, g.kw, g.n, g.out_h, g.grid_w)
    for p in range(g.kh):
        for q in range(g.kw):
            window = _window_view(flat, g, p, q)
            np.add(window, dcols[:, p, q], out=window)
    left, _, top, _ = g.padding
    planes = flat[:g.c * g.n * g.plane].reshape(g.c, g.n, g.padded_h, g.pitch)
    dx = np.ascontiguousarray(planes[:, :, top:top + g.h, left:left + g.w].transpose(1, 0, 2, 3))
    WORKSPACE.give("dgrid", flat)
    return dx


# --------------------------------------------------------------------------------------------- conv2d
def _by_group(matrix: np.ndarray, groups: int) -> np.ndarray:
    """Rows of a (R, M) matrix split into a (G, R/G, M) batch, one per group (a view)."""
    return matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def _grouped_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """(C_out, C/G, K_h, K_w) -> (G, C_out/G, C/G*K_h*K_w): each group's matrix W (a view)."""
    return weight.reshape(groups, weight.shape[0] // groups, -1)


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, g: ConvGeometry,
                   keep_cols: bool = True):
    """y = W @ im2col(x) + b, NCHW (N, C_out, H_out, W_out); returns (y, cols or None).

    ``cols`` is what the backward needs; with ``keep_cols`` False it goes straight back to the pool.
    Otherwise hand it to ``conv2d_backward`` and then to ``release_cols``.
    """
    cols = im2col(x, g, out=WORKSPACE.take("cols", (g.c * g.kh * g.kw, g.m), x.dtype))
    product = WORKSPACE.take("product", (g.c_out, g.m), x.dtype)
    np.matmul(_grouped_weight(weight, g.groups), _by_group(cols, g.groups), out=_by_group(product, g.groups))
    grid = product.reshape(g.c_out, g.n, g.out_h, g.grid_w)[..., :g.out_w].transpose(1, 0, 2, 3)
    y = np.empty((g.n, g.c_out, g.out_h, g.out_w), x.dtype)
    if bias is None:
        np.copyto(y, grid)
    else:
        np.add(grid, bias.reshape(1, -1, 1, 1), out=y)
    WORKSPACE.give("product", product)
    if not keep_cols:
        release_cols(cols)
        cols = None
    return y, cols


def release_cols(cols: np.ndarray) -> None:
    """Give the forward's cols back to the pool once the backward is done with them."""
    WORKSPACE.give("cols", cols)


def conv2d_backward(grad_out: np.ndarray, cols: np.ndarray, weight: np.ndarray, g: ConvGeometry,
                    need_bias: bool = True):
    """(dL/dx, dL/dW, dL/db or None) from dL/dy (NCHW) and the forward's cols; see the module docstring."""
    dtype = grad_out.dtype
    # dL/dy in the cols layout; the scratch columns j >= W_out stay zero (never written after creation).
    grad = WORKSPACE.take("grad", (g.c_out, g.n, g.out_h, g.grid_w), dtype, g.out_w, zeros=True)
    grad[..., :g.out_w] = grad_out.transpose(1, 0, 2, 3)
    grad_rows = _by_group(grad.reshape(g.c_out, g.m), g.groups)

    grad_bias = grad.reshape(g.c_out, -1).sum(axis=1) if need_bias else None
    grad_weight = np.matmul(grad_rows, _by_group(cols, g.groups).transpose(0, 2, 1)).reshape(weight.shape)

    dcols = WORKSPACE.take("cols", cols.shape, dtype)
    np.matmul(_grouped_weight(weight, g.groups).transpose(0, 2, 1), grad_rows, out=_by_group(dcols, g.groups))
    grad_x = col2im(dcols, g)
    release_cols(dcols)
    WORKSPACE.give("grad", grad, g.out_w)
    return grad_x, grad_weight, grad_bias


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> np.ndarray:
    """torch.nn.functional.conv2d: NCHW in, NCHW out (zero padding; see ``conv_padding`` for the forms)."""
    g = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    return conv2d_forward(x, weight, bias, g, keep_cols=False)[0]
