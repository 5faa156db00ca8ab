"""2-D convolution, fast: must equal strided.functional.reference.conv.conv2d_forward and conv2d_backward.

The same math as the reference (y = W @ cols + b; dL/db = sum of g, dL/dW = g @ cols^T, dL/dx =
col2im(W^T @ g)), on the grid layout of ``conv_layout``, a chunk of images at a time:

* the columns of a chunk of images stay in cache from the gather to the products (CHUNK_BYTES), and the
  backward gathers them again from the padded input instead of keeping the K_h*K_w times larger cols;
* the work buffers (columns, products, the output gradient in column layout, the gradient grid) come
  from the pool of ``workspace``; the context keeps the padded-input grid, and the backward gives it back;
* the chunks run on strided's threads (``threads.parallel_for``), each with its own work buffers; the
  backward's dW and db sums and its col2im run one chunk at a time in chunk order (neighbouring chunks add
  into the same border rows of the gradient grid), so results are bitwise the same for any thread count.

tests/functional/test_fast_equals_reference.py holds the two to 1e-12 in float64.
"""

import numpy as np

from ..dispatch import Context
from ..storage import store_array
from . import conv_nhwc, winograd
from .conv_layout import (
    ConvGeometry,
    col2im_images,
    conv_geometry,
    grid_to_images,
    im2col_images,
    open_kept_input,
    pad_into_grid,
    release_grid,
    release_restored_grid,
    tap_views,
)
from .threads import parallel_for
from .winograd import winograd_applies
from .workspace import WORKSPACE, new_array

# Images per chunk are chosen so that one chunk's columns take about this many bytes: small enough to stay
# in cache between the gather and the matrix products, large enough for efficient products.
CHUNK_BYTES = 4 * 2**20
# The batch may be cut further, into up to SPLIT_CHUNKS chunks for threads to share, none under SPLIT_MIN_BYTES
# of columns (the pool's hand-offs cost 25-70 us each, see fast/threads.py). Off (1): the smaller chunks make
# smaller products, and on 2 idle cores, with BLAS on its own 2 threads (the default), 8 chunks made
# fmnist-cnn's step 139 ms against 103 and seed-net's 42.6 against 35.6 (strided bench, 3 rounds each,
# load 1.6). The chunks depend on the shapes only, never on the thread count (so do the sums over them).
SPLIT_CHUNKS = 1
SPLIT_MIN_BYTES = 256 * 2**10


def _by_group(matrix: np.ndarray, groups: int) -> np.ndarray:
    """Rows of a (R, M) matrix split into a (G, R/G, M) batch, one per group (a view; 2-D when G = 1)."""
    return matrix if groups == 1 else matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def _grouped_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """(C_out, C/G, K_h, K_w) -> (G, C_out/G, C/G*K_h*K_w): each group's matrix W (a view; 2-D when G = 1)."""
    return _by_group(weight.reshape(weight.shape[0], -1), groups)


def image_chunks(g: ConvGeometry, dtype) -> tuple[int, list]:
    """(images per chunk, [(first, count), ...]): chunks whose columns take at most about CHUNK_BYTES, cut
    into up to SPLIT_CHUNKS for the threads; the same chunks for any thread count."""
    if g.n == 0:  # an empty batch: no chunk, and buffers for one image
        return 1, []
    per_image = g.c * g.kh * g.kw * g.grid_h * g.grid_w * np.dtype(dtype).itemsize
    # At most CHUNK_BYTES a chunk; and up to SPLIT_CHUNKS chunks of at least SPLIT_MIN_BYTES, for the
    # threads. The chunks depend on the shapes only, never on the thread count: so do the sums over them.
    split = max(-(-g.n // SPLIT_CHUNKS), SPLIT_MIN_BYTES // max(per_image, 1))
    most = max(1, min(g.n, CHUNK_BYTES // max(per_image, 1), split))
    size = -(-g.n // -(-g.n // most))  # as many chunks as needed, as even as possible
    return size, [(first, min(size, g.n - first)) for first in range(0, g.n, size)]


def _columns(buffer: np.ndarray, count: int, g: ConvGeometry) -> np.ndarray:
    """The columns of ``count`` images in a (rows, images per chunk * L) work buffer (BLAS takes the view)."""
    return buffer[:, :count * g.grid_h * g.grid_w]


def conv2d_forward(x, weight, bias, stride, padding, dilation, groups, need_backward=True):
    """(y, ctx): y = W @ im2col(x) + b, NCHW (N, C_out, H_out, W_out), a chunk of images at a time.

    The context holds the padded input grid (from the pool), which ``ctx.backward`` gives back; without
    ``need_backward`` it goes back at once and the context is None. 3x3 stride-1 convolutions where it measured
    faster run on Winograd F(2x2, 3x3) instead (``winograd.py``), and many channels on small images in the
    channels-last layout (``conv_nhwc.py``).
    """
    if winograd_applies(x.shape, weight.shape, stride, dilation, groups, x.dtype):
        return winograd.conv2d_forward(x, weight, bias, padding, need_backward)
    if conv_nhwc.nhwc_applies(x.shape, weight.shape, stride, padding, dilation, groups, x.dtype):
        return conv_nhwc.conv2d_forward(x, weight, bias, stride, padding, need_backward)
    g = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    flat = pad_into_grid(x, g)
    size, chunks = image_chunks(g, x.dtype)
    rows, grid, width = g.c * g.kh * g.kw, (g.grid_h, g.grid_w), size * g.grid_h * g.grid_w
    weights, windows = _grouped_weight(weight, g.groups), tap_views(flat, g)
    y = new_array((g.n, g.c_out, g.out_h, g.out_w), x.dtype)

    def forward_chunk(chunk):  # images first..first+count-1 into y; buffers per chunk in flight (threads)
        first, count = chunk
        cols_buf = WORKSPACE.take_scratch("cols", (rows, width), x.dtype)
        product_buf = WORKSPACE.take_scratch("product", (g.c_out, width), x.dtype)
        cols = im2col_images(windows, g, first, count, _columns(cols_buf, count, g))
        product = _columns(product_buf, count, g)
        np.matmul(weights, _by_group(cols, g.groups), out=_by_group(product, g.groups))
        if bias is not None:  # on the product's long rows: 2x faster than during the copy below
            np.add(product, bias[:, None], out=product)
        valid = product.reshape(g.c_out, count, *grid)[:, :, :g.out_h, :g.out_w]
        np.copyto(y[first:first + count], valid.transpose(1, 0, 2, 3))
        WORKSPACE.give_scratch("cols", cols_buf)
        WORKSPACE.give_scratch("product", product_buf)

    parallel_for(forward_chunk, chunks)
    if not need_backward:
        release_grid(flat, g)
        return y, None
    # Mixed precision: keep 16 bits and drop the float32 grid now (returned to the pool, every layer's
    # grid would stay there: measured 0.67x of float32's peak step memory instead of 0.58x).
    stored = store_array(flat)
    if stored is not None:
        flat = stored
    return y, Context(conv2d_backward, grid=flat, geometry=g, weight=weight, has_bias=bias is not None)


def conv2d_backward(ctx, grad_out):
    """(dL/dx, dL/dW, dL/db or None) from g = dL/dy (NCHW); gives the forward's grid back to the pool.

    Chunk by chunk of images: cols again from the grid, dW += g @ cols^T, db += sum of g, dcols = W^T @ g,
    col2im onto a gradient grid.
    """
    g, weight = ctx.geometry, ctx.weight
    flat, restored = open_kept_input(ctx.grid, weight.dtype)
    dtype, groups = grad_out.dtype, g.groups
    size, chunks = image_chunks(g, dtype)
    rows, grid, width = g.c * g.kh * g.kw, (g.grid_h, g.grid_w), size * g.grid_h * g.grid_w
    dflat = WORKSPACE.take_scratch("dgrid", (g.grid_size,), dtype)
    dflat.fill(0)
    weights, windows, dwindows = _grouped_weight(weight, groups), tap_views(flat, g), tap_views(dflat, g)
    grad_weight = np.zeros(weights.shape, dtype)
    grad_bias = np.zeros(g.c_out, dtype) if ctx.has_bias else None
    # The bias gradient, sum of g over (n, i, j), as a product with ones: one BLAS call over the long rows
    # of the column layout, 3x faster than .sum there (the scratch columns of g are zero).
    ones = np.ones(width, dtype) if ctx.has_bias else None

    def chunk_products(chunk):
        """This chunk's parts of dW and db, and its dcols = W^T @ g (buffers per chunk in flight)."""
        first, count = chunk
        cols_buf = WORKSPACE.take_scratch("cols", (rows, width), dtype)
        dcols_buf = WORKSPACE.take_scratch("cols", (rows, width), dtype)
        # dL/dy in the cols layout, in a scratch buffer that layers share: its scratch rows and columns (the
        # grid's, beyond the output) are zeroed, a row or two; a buffer per layer kept zero there cost 4 MB.
        grad_buf = WORKSPACE.take_scratch("grad", (g.c_out, size) + grid, dtype)
        grad_buf[:, :count, g.out_h:] = 0
        grad_buf[:, :count, :g.out_h, g.out_w:] = 0
        grad_buf[:, :count, :g.out_h, :g.out_w] = grad_out[first:first + count].transpose(1, 0, 2, 3)
        grad = _columns(grad_buf.reshape(g.c_out, width), count, g)
        cols = im2col_images(windows, g, first, count, _columns(cols_buf, count, g))
        grad_rows = _by_group(grad, groups)
        # dW^T = cols @ g^T, not dW = g @ cols^T: the same with 1 BLAS thread (19.6 against 21.6 ms CPU at
        # 64x32000 @ 32000x320), but with 2 threads at load 13 g @ cols^T took 2402 ms wall (722 ms CPU)
        # against 98 ms (28 ms CPU) for this order (benchmarks/bench_winograd.py --orders).
        partial = np.swapaxes(np.matmul(_by_group(cols, groups), np.swapaxes(grad_rows, -1, -2)), -1, -2)
        partial_bias = grad @ ones[:grad.shape[1]] if ctx.has_bias else None
        dcols = _columns(dcols_buf, count, g)
        np.matmul(np.swapaxes(weights, -1, -2), grad_rows, out=_by_group(dcols, groups))
        WORKSPACE.give_scratch("cols", cols_buf)
        WORKSPACE.give_scratch("grad", grad_buf)
        return chunk, partial, partial_bias, dcols_buf, dcols

    def add_in_order(products):
        """One chunk at a time, in chunk order: the sums come out the same for any thread count, and
        neighbouring chunks' col2im add into the same border rows of the gradient grid."""
        (first, count), partial, partial_bias, dcols_buf, dcols = products
        np.add(grad_weight, partial, out=grad_weight)
        if ctx.has_bias:
            np.add(grad_bias, partial_bias, out=grad_bias)
        col2im_images(dcols, dwindows, g, first, count)
        WORKSPACE.give_scratch("cols", dcols_buf)

    parallel_for(chunk_products, chunks, then=add_in_order)
    grad_x = grid_to_images(dflat, g)
    WORKSPACE.give_scratch("dgrid", dflat)
    if restored:
        release_restored_grid(flat)
    else:
        release_grid(flat, g)
    ctx.grid = None
    return grad_x, grad_weight.reshape(weight.shape), grad_bias
