"""2-D convolution in the channels-last (NHWC) im2col layout, for many channels on small images.

Must equal strided.functional.reference.conv (tests/functional/test_conv_nhwc.py: 1e-12 in float64). The
API stays NCHW: x is read through a transposed view while it is padded, y and dL/dx are copied back.

The grid path of conv.py gathers channel-major columns, one run of an image row per tap and channel: long
runs on large images, but on an 8x8 output a run is 8 floats, and its grid computes a padded row and column
of outputs (at stride 2 a phase row and column too) that are thrown away. Channels-last columns

    cols[(n, i, j), (p, q, c)] = x_pad[n, i*s_h + p, j*s_w + q, c]      (M = N*H_out*W_out rows)

are runs of K_w*C contiguous floats of the padded NHWC input whatever the image size (96 and more at 3x3
and C >= 32), gathered by one copy of one strided view, and give exactly the valid outputs. Then

    y = cols @ W^T + b,  W as (C_out, K_h*K_w*C): y lands as (N, H_out, W_out, C_out).

Backward, g = dL/dy as (M, C_out) (copied to NHWC):

* dL/db = the sum of g (one product with ones); dL/dW = g^T @ cols, cols gathered again from the padded
  input the forward kept (it keeps only that, as conv.py does);
* dL/dcols tap-major, one product per tap, dcols[p, q] = g @ W[:, :, p, q] (M, C): each tap's block is then
  contiguous, and col2im is K_h*K_w additions of (N, H_out, W_out, C) blocks onto the strided windows of a
  zero-padded gradient (16->16 at 32x32, batch 32: 2.8 ms, against 17.9 ms from the (M, K_h*K_w*C) layout of
  one product g @ W, whose taps are runs of C floats);
* dL/dx = the padded gradient's interior, copied to NCHW.

When: ``nhwc_applies`` (figures beside ``MIN_CHANNELS``; benchmarks/bench_channels_last.py). Runs on the
calling thread and BLAS's threads, not on strided's pool (the whole batch is one product).
"""

import numpy as np

from ..dispatch import Context
from ..storage import store_array
from .conv_layout import open_kept_input, release_restored_grid
from .workspace import WORKSPACE, new_array

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # float16 products are slow in NumPy (no BLAS)
KERNELS = ((1, 1), (3, 3))  # the kernel sizes measured
# The rule, from benchmarks/bench_channels_last.py (wall ms of forward + dx + dW + db, float32, batch 32 unless
# said, median of 7 alternating rounds, load 1.1-1.4 on 2 cores, BLAS default (2 threads) / 1 thread,
# NHWC with its transposes to and from NCHW, divided by the grid path's time):
#   wins: 32->64 /2 at 16x16 0.77-0.85 / 0.81-0.82 (batch 8: 0.76 / 0.70, batch 128: 0.81 / 0.88);
#   64->64 at 8x8 0.73 / 0.79 (batch 1: 0.76 / 0.80, batch 4: 0.80 / 0.77); 64->128 /2 at 8x8 0.55 / 0.56;
#   32->64 /2 at 20x20 (10x10 out) 0.79 / 0.81; 16->32 /2 at 16x16 0.84 / 0.86; 1x1 32->64 /2 at 16x16
#   0.65 / 0.78;
#   loses: 16->16 at 32x32 1.58 / 1.59; 16->32 /2 at 32x32 1.20 / 1.14; 32->32 at 16x16 1.04 / 1.11; 32->64
#   at 14x14 0.96 / 1.02; 32->32 at 12x12 0.88 / 1.05; 16->16 at 8x8 1.15 / 0.93; 1 or 3 input channels
#   1.16-2.01 (runs of 3 floats); 1x1 16->32 /2 at 32x32 1.07 / 1.00; 128->128 at 8x8 against Winograd 0.85 /
#   1.25 (Winograd is tried first).
# So: at least MIN_CHANNELS input channels and at most MAX_OUTPUT_PIXELS outputs per image and channel.
MIN_CHANNELS = 32
MAX_OUTPUT_PIXELS = 100


def output_size(x_shape, weight_shape, stride, padding) -> tuple:
    """(H_out, W_out) = (floor((H + pad_top + pad_bottom - K_h) / s_h) + 1, the same for W)."""
    left, right, top, bottom = padding
    return ((x_shape[2] + top + bottom - weight_shape[2]) // stride[0] + 1,
            (x_shape[3] + left + right - weight_shape[3]) // stride[1] + 1)


def nhwc_applies(x_shape, weight_shape, stride, padding, dilation, groups, dtype) -> bool:
    """Whether fast.conv2d_forward runs this layout: an ungrouped, undilated float32/float64 1x1 or 3x3 conv
    of a non-empty batch with at least MIN_CHANNELS input channels and at most MAX_OUTPUT_PIXELS outputs per
    image and channel, without negative padding."""
    if (groups != 1 or tuple(dilation) != (1, 1) or tuple(weight_shape[2:]) not in KERNELS or x_shape[0] == 0
            or x_shape[1] < MIN_CHANNELS or np.dtype(dtype) not in FLOAT_DTYPES or min(padding) < 0):
        return False
    out_h, out_w = output_size(x_shape, weight_shape, stride, padding)
    return out_h > 0 and out_w > 0 and out_h * out_w <= MAX_OUTPUT_PIXELS


def _padded_shape(x_shape, padding) -> tuple:
    n, c, h, w = x_shape
    left, right, top, bottom = padding
    return n, h + top + bottom, w + left + right, c


def pad_channels_last(x: np.ndarray, padding) -> np.ndarray:
    """x (N, C, H, W) zero-padded into a pooled (N, H_pad, W_pad, C) buffer (give it back under its layout).

    The border of a pooled buffer is zero from its creation and never written: only the pixels are copied."""
    left, _, top, _ = padding
    h, w = x.shape[2:]
    xp = WORKSPACE.take("nhwc input", _padded_shape(x.shape, padding), x.dtype, tuple(padding), zeros=True)
    xp[:, top:top + h, left:left + w] = x.transpose(0, 2, 3, 1)
    return xp


def gather_columns(xp: np.ndarray, kernel, stride, out_size, out: np.ndarray) -> np.ndarray:
    """cols[(n, i, j), (p, q, c)] = xp[n, i*s_h + p, j*s_w + q, c] into ``out`` (M, K_h*K_w*C), one copy."""
    (kh, kw), (sh, sw), (out_h, out_w) = kernel, stride, out_size
    sn, sy, sx, sc = xp.strides
    windows = np.ndarray((xp.shape[0], out_h, out_w, kh, kw, xp.shape[3]), xp.dtype, xp, 0,
                         (sn, sh * sy, sw * sx, sy, sx, sc))  # a view: [n, i, j, p, q, c]
    np.copyto(out.reshape(windows.shape), windows)
    return out


def conv2d_forward(x, weight, bias, stride, padding, need_backward=True):
    """(y, ctx): y = cols @ W^T + b, returned NCHW (N, C_out, H_out, W_out); ``padding`` is (left, right, top,
    bottom). The context keeps the padded NHWC input (from the pool); its backward gives it back."""
    n, c = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    out_h, out_w = output_size(x.shape, weight.shape, stride, padding)
    m, taps = n * out_h * out_w, kh * kw * c
    xp = pad_channels_last(x, padding)
    cols = gather_columns(xp, (kh, kw), stride, (out_h, out_w), WORKSPACE.take_scratch("cols", (m, taps), x.dtype))
    product = WORKSPACE.take_scratch("product", (m, c_out), x.dtype)
    np.matmul(cols, weight.transpose(0, 2, 3, 1).reshape(c_out, taps).T, out=product)
    WORKSPACE.give_scratch("cols", cols)
    if bias is not None:
        np.add(product, bias, out=product)
    y = new_array((n, c_out, out_h, out_w), x.dtype)
    np.copyto(y, product.reshape(n, out_h, out_w, c_out).transpose(0, 3, 1, 2))
    WORKSPACE.give_scratch("product", product)
    layout = tuple(padding)
    if not need_backward:
        WORKSPACE.give("nhwc input", xp, layout)
        return y, None
    stored = store_array(xp)  # mixed precision: 16 bits kept, the float32 buffer back to the pool now
    if stored is not None:
        WORKSPACE.give("nhwc input", xp, layout)
        xp = stored
    return y, Context(conv2d_backward, padded=xp, layout=layout, weight=weight, stride=tuple(stride),
                      padding=tuple(padding), image_size=x.shape[2:], has_bias=bias is not None)


def conv2d_backward(ctx, grad_out):
    """(dL/dx, dL/dW, dL/db or None) from g = dL/dy (NCHW); gives the forward's buffer back to the pool."""
    weight = ctx.weight
    xp, restored = open_kept_input(ctx.padded, weight.dtype)
    n, c_out, out_h, out_w = grad_out.shape
    _, _, kh, kw = weight.shape
    (sh, sw), (left, _, top, _), (h, w) = ctx.stride, ctx.padding, ctx.image_size
    c, dtype = xp.shape[3], grad_out.dtype
    m, taps = n * out_h * out_w, kh * kw * c
    g = WORKSPACE.take_scratch("product", (m, c_out), dtype)  # the forward's product buffer, free now
    np.copyto(g.reshape(n, out_h, out_w, c_out), grad_out.transpose(0, 2, 3, 1))
    grad_bias = np.ones(m, dtype) @ g if ctx.has_bias else None  # the sum over (n, i, j): one BLAS call
    cols = gather_columns(xp, (kh, kw), (sh, sw), (out_h, out_w), WORKSPACE.take_scratch("cols", (m, taps), dtype))
    # (C_out, M) @ (M, K_h*K_w*C); the order cols^T @ g measured the same (4.9 against 4.7 ms, 1 BLAS thread).
    grad_weight = np.ascontiguousarray((g.T @ cols).reshape(c_out, kh, kw, c).transpose(0, 3, 1, 2))
    # dcols tap-major in the same buffer: cols are no longer needed.
    dcols = cols.reshape(kh * kw, m, c)
    np.matmul(g, weight.transpose(2, 3, 0, 1).reshape(kh * kw, c_out, c), out=dcols)
    WORKSPACE.give_scratch("product", g)
    dxp = WORKSPACE.take_scratch("dgrid", xp.shape, dtype)  # the grid path's gradient grid
    dxp.fill(0)
    blocks = dcols.reshape(kh, kw, n, out_h, out_w, c)
    span_h, span_w = sh * (out_h - 1) + 1, sw * (out_w - 1) + 1
    for p in range(kh):  # one addition per tap: the windows of neighbouring taps overlap
        for q in range(kw):
            window = dxp[:, p:p + span_h:sh, q:q + span_w:sw]
            np.add(window, blocks[p, q], out=window)
    WORKSPACE.give_scratch("cols", cols)
    grad_x = new_array((n, c, h, w), dtype)
    np.copyto(grad_x, dxp[:, top:top + h, left:left + w].transpose(0, 3, 1, 2))
    WORKSPACE.give_scratch("dgrid", dxp)
    if restored:
        release_restored_grid(xp)
    else:
        WORKSPACE.give("nhwc input", xp, ctx.layout)
    ctx.padded = None
    return grad_x, grad_weight, grad_bias
