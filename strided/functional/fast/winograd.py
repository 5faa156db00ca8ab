"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2015).

Must equal strided.functional.reference.conv (tests/functional/test_winograd.py: 1e-12 in float64). Each 2x2
block of outputs (a "tile") comes from the 4x4 block of padded input d under it and the 3x3 filter g::

    y_tile = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise, 16 products instead of 36)

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]      A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

Summed over input channels, the 16 elementwise products become 16 matrix products, one BLAS call:
M[k] = U[k] @ V[k] with U = G g G^T as (16, C_out, C) and V = B^T d B as (16, C, tiles): 4 multiplications
per output where the direct algorithm (im2col) takes 9. V is built from strided views of the padded input
with additions and subtractions only (4 values per output pixel and channel, against im2col's 9 copies).

Backward, gy = dL/dy (the transposes of the three steps):

* dL/dx: the input gradient of a stride-1 conv is the conv of gy zero-padded by K-1-P with the flipped,
  channel-transposed kernel, so the same routine computes it;
* dL/dW: dM = A gy_tile A^T, dU[k] = dM[k] @ V[k]^T (again 16 products, summed over tiles), dW = G^T dU G;
* dL/db: the sum of gy, read off dM[1, 1] (the sum of each gy tile: a quarter of the additions).

Odd output sizes: the padded input gets extra zero rows and columns up to whole tiles, and the extra
outputs are cropped.

Why F(2x2, 3x3) and not F(4x4, 3x3) (2.25 products per output): accuracy. Float32 forward error against
float64 (max |y - exact| / max |exact|, benchmarks/bench_winograd.py --accuracy) on the bench layers:
im2col 1.0e-7 to 7.9e-7, F(2x2) 1.5e-7 to 5.1e-7 (its transforms hold only 0, +-1, +-1/2), F(4x4)
2.0e-6 to 9.5e-6 (entries up to 8 and 1/24 amplify the rounding): at 128 channels F(4x4) is at the
parity tolerance (1e-5) already. And in NumPy the transforms, not the products, are the cost.

When: ``winograd_applies`` (figures beside ``MIN_CHANNELS``). Each addition of the transforms is a NumPy
pass over memory, so the 2.25x fewer multiplications pay off only with many channels: 64 and more.
"""

import numpy as np

from ..dispatch import Context
from ..storage import store_array
from .conv_layout import open_kept_input, release_restored_grid
from .workspace import WORKSPACE

TILE = 2  # outputs per tile side (m of F(m x m, 3x3))
WINDOW = TILE + 2  # inputs per tile side (m + r - 1)
# The transforms, as (4, 4), (4, 3) and (2, 4) matrices (used by the filter transforms; the data transforms
# spell their +/-1 entries out as additions).
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)
# M[1, 1] maps to every output of its tile (column 1 of A^T is all ones): a bias added there is added to
# the 4 outputs of the tile, on a quarter of the elements of y.
BIAS_POSITION = 1 * WINDOW + 1

# Images per chunk: the chunk's transformed input V and products M take about this many bytes. Forward CPU ms
# with 1, 4, 16, 64 MB (load 12): 32->64 at 14x14 batch 128: 26.7, 23.1, 21.8, 25.4; 16->16 at 32x32 batch 32:
# 8.9, 7.7, 8.7, 7.7; 32->64 at 14x14 batch 32: 7.0, 4.7, 6.1, 6.0. No size wins clearly; im2col's is kept.
CHUNK_BYTES = 4 * 2**20


def winograd_applies(x_shape, weight_shape, stride, dilation, groups, dtype) -> bool:
    """Whether fast.conv2d_forward runs this algorithm: a 3x3, stride-1, undilated, ungrouped float32/float64
    conv with at least MIN_CHANNELS input and output channels and MIN_OUTPUTS output pixels per channel."""
    n, c, h, w = x_shape
    return (tuple(weight_shape[2:]) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and groups == 1 and np.dtype(dtype) in FLOAT_DTYPES and min(c, weight_shape[0]) >= MIN_CHANNELS
            and n * h * w >= MIN_OUTPUTS)


# float16 products are slow in NumPy (no BLAS): leave them to im2col, which has fewer.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# The rule, from benchmarks/bench_winograd.py (CPU ms, 1 BLAS thread, float32, padding 1, median of 7, load
# 12-14 on 2 cores, forward / forward + backward, im2col -> Winograd):
#   C = C_out = 128, 16x16, batch 32: 47.7 -> 30.6 / 152 -> 101;   8x8: 14.3 -> 10.6 / 47.0 -> 30.9
#   C = C_out = 64, 16x16, batch 32: 13.7 -> 13.2 / 49.8 -> 37.6;   8x8: 4.39 -> 3.41 / 13.1 -> 11.6
#   32 -> 32, 16x16, batch 32: 5.63 -> 5.77 / 16.9 -> 16.2 (even); 32 -> 64, 14x14: 5.94 -> 7.36 / 17.1 -> 20.5
#   1 -> 32 and 3 -> 16: 4 to 9 times slower (the transforms cost per channel, the products they save are few)
#   64 -> 64, 8x8 by batch 1, 4, 8: 0.98 -> 2.26, 2.16 -> 2.93, 3.51 -> 2.71 (f + b): a fixed cost per call
# NumPy pays a pass over memory for each addition of the transforms; they only pay off with many channels.
# With BLAS on its own 2 threads (strided's default) on 2 idle cores the 64-channel gain was gone: resnet-cifar's
# 64 -> 64 at 8x8, batch 32, 42.1 against im2col's 45.9 GFLOP/s, and its whole step 111.0 against 110.9 ms
# with 8 MB more peak memory (the transforms' buffers; strided bench, 5 rounds, load 1.5). So 128 channels.
MIN_CHANNELS = 128
MIN_OUTPUTS = 512  # N * H * W (about the output pixels per channel): batch 8 of 8x8 images


# ------------------------------------------------------------------------------------------------ transforms
def transform_filter(weight: np.ndarray) -> np.ndarray:
    """U = G g G^T for every (output, input) channel pair: (C_out, C, 3, 3) -> (16, C_out, C), a pooled
    buffer (give it back with ``WORKSPACE.give_scratch("winograd U", u)``)."""
    c_out, c = weight.shape[:2]
    taps = WORKSPACE.take_scratch("winograd taps", (3, 3, c_out * c), weight.dtype)
    np.copyto(taps.reshape(3, 3, c_out, c), weight.transpose(2, 3, 0, 1))
    u = WORKSPACE.take_scratch("winograd U", (WINDOW, WINDOW, c_out * c), weight.dtype)
    _sandwich(G.astype(weight.dtype), taps, u)
    WORKSPACE.give_scratch("winograd taps", taps)
    return u.reshape(WINDOW * WINDOW, c_out, c)


def _sandwich(left: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """out[a, b, r] = sum_ij left[a, i] x[i, j, r] left[b, j] (L x L^T for every r), as two BLAS products.

    x is (I, J, R) and contiguous, out (A, A, R). Pooled buffers, no transposes: np.einsum took 0.6 ms for
    a 64x32 filter bank, and fresh temporaries cost page faults (about 4 ms for 128x128 at load 12).
    """
    half = WORKSPACE.take_scratch("winograd half filter", (x.shape[0], left.shape[0], x.shape[2]), x.dtype)
    np.matmul(left, x, out=half)  # half[i, b, r] = sum_j left[b, j] x[i, j, r]
    np.matmul(left, half.reshape(x.shape[0], -1), out=out.reshape(left.shape[0], -1))
    WORKSPACE.give_scratch("winograd half filter", half)


def tiles(out_h: int, out_w: int) -> tuple:
    """(tile rows, tile columns) covering an out_h x out_w output."""
    return -(-out_h // TILE), -(-out_w // TILE)


def pad_to_tiles(x: np.ndarray, padding: tuple, role: str) -> np.ndarray:
    """x (N, C, H, W) zero-padded by (left, right, top, bottom), then up to whole tiles, channels last, even and
    odd columns apart: xp[n, i, j % 2, j // 2, c] = x_pad[n, c, i, j], shape (N, 2*t_h + 2, 2, t_w + 1, C).
    From the pool (give it back with ``WORKSPACE.give(role, ..., layout)``).

    A negative padding crops. Only the pixels are written: a pooled buffer's border is zero from its creation.
    """
    n, c, h, w = x.shape
    left, right, top, bottom = padding
    th, tw = tiles(h + top + bottom - 2, w + left + right - 2)
    rows, columns = slice(max(0, -top), h - max(0, -bottom)), slice(max(0, -left), w - max(0, -right))
    xp = WORKSPACE.take(role, (n, TILE * th + 2, TILE, tw + 1, c), x.dtype, _pad_layout(x.shape, padding), zeros=True)
    i0, j0 = max(0, top), max(0, left)
    pixels = x[:, :, rows, columns].transpose(0, 2, 3, 1)  # (N, rows, columns, C)
    for parity in range(TILE):
        first = j0 + (parity - j0) % TILE  # the first padded column of this parity that holds a pixel
        part = pixels[:, :, first - j0::TILE]
        xp[:, i0:i0 + pixels.shape[1], parity, first // TILE:first // TILE + part.shape[2]] = part
    return xp


def _pad_layout(x_shape, padding) -> tuple:
    return tuple(x_shape) + tuple(padding)


def transform_input(xp: np.ndarray, out: np.ndarray) -> np.ndarray:
    """V = B^T d B for every tile d of xp (from ``pad_to_tiles``), into ``out`` (4, 4, n, t_h, t_w, C).

    Rows first (B^T d: 4 rows per tile row from 4 row views), then columns (. B), additions only. The
    layout makes every view's inner run contiguous and long (a row of W*C numbers, or t_w*C): NumPy pays
    per inner loop, and channels first (runs of t_w = 7 numbers, 2 apart) took 3.7 ms for the 32->64 layer
    at 14x14, batch 32, channels last with interleaved columns 1.3 ms, this layout 0.65 to 1.0 ms.
    """
    th, tw = out.shape[3:5]
    rows = [xp[:, k:k + TILE * th:TILE] for k in range(WINDOW)]  # row k of every tile row
    half = WORKSPACE.take_scratch("winograd rows", (WINDOW,) + rows[0].shape, xp.dtype)
    _b_t(rows, half)
    columns = [half[:, :, :, k % TILE, k // TILE:k // TILE + tw] for k in range(WINDOW)]  # column k of every tile
    _b_t(columns, [out[:, k] for k in range(WINDOW)])
    WORKSPACE.give_scratch("winograd rows", half)
    return out


def _b_t(d: list, out) -> None:
    """out[k] = (B^T d)[k] for the 4 arrays d[0..3]: d0 - d2, d1 + d2, d2 - d1, d1 - d3."""
    np.subtract(d[0], d[2], out=out[0])
    np.add(d[1], d[2], out=out[1])
    np.subtract(d[2], d[1], out=out[2])
    np.subtract(d[1], d[3], out=out[3])


def transform_output(m: np.ndarray, y: np.ndarray) -> None:
    """y = A^T m A for every tile: m (4, 4, C_out, n, t_h, t_w) -> y (n, C_out, H_out, W_out), cropped.

    Channels first: the two passes run over whole contiguous planes, and then 4 copies interleave the
    outputs (a, b) of each tile into y. Measured at 32->64, 14x14, batch 32: 1.6 ms, against 2.8 ms with
    channels last (short runs of C_out numbers, and one transposing copy with a 2-long inner loop) and
    2.9 ms writing the second pass straight into y's strided views.
    """
    out_h, out_w = y.shape[2:]
    half = WORKSPACE.take_scratch("winograd half", (TILE,) + m.shape[1:], m.dtype)
    _a_t(m, half)  # A^T m: 2 rows per tile
    pixels = WORKSPACE.take_scratch("winograd pixels", (TILE, TILE) + m.shape[2:], m.dtype)
    for a in range(TILE):  # . A: 2 columns per tile
        _a_t(half[a], pixels[a])
    WORKSPACE.give_scratch("winograd half", half)
    for a in range(TILE):
        for b in range(TILE):  # output pixel (a, b) of every tile: (2t + a, 2u + b)
            target = y[:, :, a::TILE, b::TILE]
            np.copyto(target, pixels[a, b, :, :, :target.shape[2], :target.shape[3]].transpose(1, 0, 2, 3))
    WORKSPACE.give_scratch("winograd pixels", pixels)


def _a_t(m, out) -> None:
    """out[0] = m0 + m1 + m2, out[1] = m1 - m2 - m3: the 2 rows of A^T m."""
    np.add(m[0], m[1], out=out[0])
    np.add(out[0], m[2], out=out[0])
    np.subtract(m[1], m[2], out=out[1])
    np.subtract(out[1], m[3], out=out[1])


def _chunks(n: int, per_image: int) -> list:
    """[(first, count), ...]: chunks of images whose work buffers take about CHUNK_BYTES, as even as possible."""
    most = max(1, min(n, CHUNK_BYTES // max(per_image, 1)))
    size = -(-n // -(-n // most)) if n else 1
    return [(first, min(size, n - first)) for first in range(0, n, size)]


# ----------------------------------------------------------------------------------------------- convolution
def correlate(xp: np.ndarray, u: np.ndarray, out_h: int, out_w: int, bias=None) -> np.ndarray:
    """y (N, C_out, out_h, out_w) = the 3x3 cross-correlation of the padded, tiled input xp (from
    ``pad_to_tiles``) with the filters transformed to u (16, C_out, C), plus bias; a chunk of images at a time."""
    n, c = xp.shape[0], xp.shape[-1]
    c_out, dtype = u.shape[1], xp.dtype
    th, tw = tiles(out_h, out_w)
    y = np.empty((n, c_out, out_h, out_w), dtype)
    per_image = WINDOW * WINDOW * (c + c_out) * th * tw * np.dtype(dtype).itemsize
    for first, count in _chunks(n, per_image):
        v = WORKSPACE.take_scratch("winograd V", (WINDOW, WINDOW, count, th, tw, c), dtype)
        transform_input(xp[first:first + count], v)
        m = WORKSPACE.take_scratch("winograd M", (WINDOW * WINDOW, c_out, count * th * tw), dtype)
        # The 16 products, one BLAS call: M[k] = U[k] @ V[k]^T, channels last in, channels first out.
        np.matmul(u, v.reshape(WINDOW * WINDOW, -1, c).swapaxes(1, 2), out=m)
        WORKSPACE.give_scratch("winograd V", v)
        if bias is not None:
            np.add(m[BIAS_POSITION], bias[:, None], out=m[BIAS_POSITION])
        transform_output(m.reshape(WINDOW, WINDOW, c_out, count, th, tw), y[first:first + count])
        WORKSPACE.give_scratch("winograd M", m)
    return y


def conv2d_forward(x, weight, bias, padding, need_backward=True):
    """(y, ctx): y = the conv of x (N, C, H, W) with the 3x3 weight, stride 1, ``padding`` (left, right, top,
    bottom). The context keeps the padded, tiled input (from the pool); its backward gives it back."""
    left, right, top, bottom = padding
    out_h, out_w = x.shape[2] + top + bottom - 2, x.shape[3] + left + right - 2
    xp = pad_to_tiles(x, padding, "winograd input")
    u = transform_filter(weight)
    y = correlate(xp, u, out_h, out_w, bias)
    WORKSPACE.give_scratch("winograd U", u)
    layout = _pad_layout(x.shape, padding)
    if not need_backward:
        WORKSPACE.give("winograd input", xp, layout)
        return y, None
    stored = store_array(xp)  # mixed precision: 16 bits kept, the float32 buffer back to the pool now
    if stored is not None:
        WORKSPACE.give("winograd input", xp, layout)
        xp = stored
    return y, Context(conv2d_backward, padded=xp, layout=layout, weight=weight, padding=padding,
                      has_bias=bias is not None)


def conv2d_backward(ctx, grad_out):
    """(dL/dx, dL/dW, dL/db or None) from gy = dL/dy (NCHW); gives the forward's buffer back to the pool."""
    weight = ctx.weight
    xp, restored = open_kept_input(ctx.padded, weight.dtype)
    left, right, top, bottom = ctx.padding
    grad_weight, grad_bias = _weight_gradient(xp, grad_out, ctx.has_bias)
    # dL/dx: gy padded by K-1-P (2 - P: negative crops), correlated with the flipped, transposed kernel.
    full = (2 - left, 2 - right, 2 - top, 2 - bottom)
    gp = pad_to_tiles(grad_out, full, "winograd grad")
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    x_h, x_w = grad_out.shape[2] + 2 - top - bottom, grad_out.shape[3] + 2 - left - right
    u = transform_filter(flipped)
    grad_x = correlate(gp, u, x_h, x_w)
    WORKSPACE.give_scratch("winograd U", u)
    WORKSPACE.give("winograd grad", gp, _pad_layout(grad_out.shape, full))
    if restored:
        release_restored_grid(xp)
    else:
        WORKSPACE.give("winograd input", xp, ctx.layout)
    ctx.padded = None
    return grad_x, grad_weight, grad_bias


def _weight_gradient(xp, grad_out, has_bias) -> tuple:
    """(dL/dW, dL/db or None): dU[k] = dM[k] @ V[k] (C_out x tiles @ tiles x C, summed over chunks),
    dW = G^T dU G, db = the sum of dM[1, 1]."""
    n, c = xp.shape[0], xp.shape[-1]
    c_out, dtype = grad_out.shape[1], grad_out.dtype
    th, tw = tiles(*grad_out.shape[2:])
    grad_u = WORKSPACE.take_scratch("winograd dU", (WINDOW * WINDOW, c_out, c), dtype)
    grad_u.fill(0)
    partial = WORKSPACE.take_scratch("winograd partial dU", grad_u.shape, dtype)
    grad_bias = np.zeros(c_out, dtype) if has_bias else None
    per_image = WINDOW * WINDOW * (c + c_out) * th * tw * np.dtype(dtype).itemsize
    for first, count in _chunks(n, per_image):
        v = WORKSPACE.take_scratch("winograd V", (WINDOW, WINDOW, count, th, tw, c), dtype)
        transform_input(xp[first:first + count], v)
        dm = WORKSPACE.take_scratch("winograd M", (WINDOW, WINDOW, c_out, count, th, tw), dtype)
        _transform_output_gradient(grad_out[first:first + count], dm)
        flat_dm = dm.reshape(WINDOW * WINDOW, c_out, -1)
        np.matmul(flat_dm, v.reshape(WINDOW * WINDOW, -1, c), out=partial)
        grad_u += partial
        if has_bias:
            grad_bias += flat_dm[BIAS_POSITION].sum(axis=1)
        WORKSPACE.give_scratch("winograd V", v)
        WORKSPACE.give_scratch("winograd M", dm)
    WORKSPACE.give_scratch("winograd partial dU", partial)
    taps = WORKSPACE.take_scratch("winograd taps", (3, 3, c_out * c), dtype)
    _sandwich(G.T.astype(dtype), grad_u.reshape(WINDOW, WINDOW, c_out * c), taps)  # G^T dU G
    WORKSPACE.give_scratch("winograd dU", grad_u)
    grad_weight = np.ascontiguousarray(taps.reshape(3, 3, c_out, c).transpose(2, 3, 0, 1))
    WORKSPACE.give_scratch("winograd taps", taps)
    return grad_weight, grad_bias


def _transform_output_gradient(grad: np.ndarray, out: np.ndarray) -> None:
    """dM = A gy A^T for every 2x2 tile of gy (n, C_out, H_out, W_out), into out (4, 4, C_out, n, t_h, t_w).

    A gy A^T spreads each tile's rows (g0, g1) to (g0, g0 + g1, g0 - g1, -g1), then its columns the same way.
    Outside gy (a ragged last tile) the gradient is zero.
    """
    n, c_out, out_h, out_w = grad.shape
    th, tw = out.shape[4:]
    pixels = WORKSPACE.take_scratch("winograd pixels", (TILE, TILE, c_out, n, th, tw), grad.dtype)
    if (TILE * th, TILE * tw) != (out_h, out_w):
        pixels.fill(0)
    for a in range(TILE):
        for b in range(TILE):  # gy at pixel (a, b) of every tile, channels first (transform_output's inverse)
            source = grad[:, :, a::TILE, b::TILE]
            np.copyto(pixels[a, b, :, :, :source.shape[2], :source.shape[3]], source.transpose(1, 0, 2, 3))
    half = WORKSPACE.take_scratch("winograd half", (WINDOW, TILE, c_out, n, th, tw), grad.dtype)
    _a(pixels, half)  # A gy: 4 rows per tile
    WORKSPACE.give_scratch("winograd pixels", pixels)
    _a([half[:, b] for b in range(TILE)], [out[:, k] for k in range(WINDOW)])  # . A^T
    WORKSPACE.give_scratch("winograd half", half)


def _a(g, out) -> None:
    """out[k] = (A g)[k] for the 2 arrays g[0], g[1]: g0, g0 + g1, g0 - g1, -g1."""
    np.copyto(out[0], g[0])
    np.add(g[0], g[1], out=out[1])
    np.subtract(g[0], g[1], out=out[2])
    np.negative(g[1], out=out[3])
