"""The work-buffer pool: exact buffers keep their contents, scratch buffers are shared across shapes."""

import numpy as np
import pytest

from strided.functional.fast import workspace
from strided.functional.fast.activation import relu
from strided.functional.fast.workspace import BufferPool, shared_zeros


def test_pool_reuses_buffers_and_respects_its_limit():
    pool = BufferPool(limit_bytes=3 * 800)
    small_pool = BufferPool(10**6, min_bytes=1000)
    small = small_pool.take("cols", (10,), np.float64)
    small_pool.give("cols", small)  # under min_bytes: not kept
    assert small_pool.take("cols", (10,), np.float64) is not small and small_pool._bytes == 0
    a = pool.take("cols", (10, 10), np.float64)
    pool.give("cols", a)
    assert pool.take("cols", (10, 10), np.float64) is a
    assert pool.take("cols", (10, 10), np.float32) is not a  # another dtype is another buffer
    pool.give("cols", a)
    assert pool.take("cols", (10, 10), np.float64, layout=(1,)) is not a  # so is another layout
    for _ in range(4):
        pool.give("cols", np.empty((10, 10)))
    assert pool._bytes <= pool.limit_bytes
    assert pool.take("grid", (5,), np.float64, zeros=True).tolist() == [0.0] * 5


def test_scratch_buffers_are_shared_across_shapes_and_grow_to_the_largest():
    pool = BufferPool(limit_bytes=10**6)
    big = pool.take_scratch("cols", (20, 30), np.float32)
    assert big.shape == (20, 30) and big.flags.c_contiguous
    pool.give_scratch("cols", big)
    smaller = pool.take_scratch("cols", (7, 11), np.float32)  # a view of the same memory
    assert smaller.shape == (7, 11) and smaller.flags.c_contiguous and np.shares_memory(smaller, big)
    pool.give_scratch("cols", smaller)
    assert pool._bytes == big.nbytes  # the whole buffer went back, once
    larger = pool.take_scratch("cols", (40, 30), np.float32)  # too small a free one is dropped
    assert not np.shares_memory(larger, big) and pool._bytes == 0
    pool.give_scratch("cols", larger)
    assert not np.shares_memory(pool.take_scratch("cols", (20, 30), np.float64), larger)  # dtype matters
    two = pool.take_scratch("cols", (20, 30), np.float32), pool.take_scratch("cols", (20, 30), np.float32)
    assert not np.shares_memory(*two)  # buffers in use at the same time are never the same memory


def test_shared_zeros_are_read_only_views_of_one_growing_buffer(monkeypatch):
    monkeypatch.setattr(workspace, "_shared_zeros", {})
    small = shared_zeros((2, 3), np.float32)
    assert small.shape == (2, 3) and small.dtype == np.float32 and not small.any()
    with pytest.raises(ValueError, match="read-only"):
        small[0, 0] = 1.0
    again = shared_zeros((4,), np.float32)
    assert np.shares_memory(small, again)  # one buffer serves every shape
    big_size = workspace._SHARED_ZEROS_MIN_BYTES  # four times the buffer's first length in float32
    big = shared_zeros((big_size,), np.float32)
    assert big.size == big_size and not big.any() and not np.shares_memory(big, small)
    assert shared_zeros((3,), np.float64).dtype == np.float64
    assert shared_zeros((), np.float32).shape == ()


def test_relu_against_the_shared_zeros_keeps_nan_dtype_and_works_in_place():
    x = np.array([[-1.5, 0.0, 2.0, np.nan], [3.0, -0.0, -7.0, 1e-30]], np.float32)
    expected = np.array([[0.0, 0.0, 2.0, np.nan], [3.0, 0.0, 0.0, 1e-30]], np.float32)
    y = relu(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, expected)
    transposed = x.T  # not contiguous: the zeros still broadcast element by element
    np.testing.assert_array_equal(relu(transposed), expected.T)
    assert relu(x, out=x) is x
    np.testing.assert_array_equal(x, expected)


def test_new_array_comes_back_to_the_pool_when_its_last_view_is_gone():
    pool = BufferPool(limit_bytes=10**6, min_bytes=100)
    a = pool.new_array((4, 25), np.float32)
    assert a.shape == (4, 25) and a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
    a[...] = 7.0
    view = a[1:, ::2].T  # a view of a view: NumPy keeps the buffer's owner alive through both
    del a
    assert pool._bytes == 0  # still in use by the view
    b = pool.new_array((4, 25), np.float32)
    assert not np.shares_memory(b, view) and (view == 7.0).all()  # a second buffer, the first untouched
    del view
    assert pool._bytes == 400  # the first buffer is free now
    c = pool.new_array((100,), np.float32)  # the same size in bytes: that buffer again
    assert pool._bytes == 0 and c.shape == (100,) and not np.shares_memory(c, b)
    d = pool.new_array((50,), np.float64)  # any shape and dtype of the same byte size reuses it
    del c
    assert pool._bytes == 400
    assert pool.new_array((50,), np.float64).dtype == np.float64 and pool._bytes == 0
    assert d.base is not None and pool.new_array((3,), np.float32).base is None  # under min_bytes: plain


def test_new_arrays_beyond_the_limit_are_dropped_and_copies_are_independent():
    pool = BufferPool(limit_bytes=1000, min_bytes=0)
    arrays = [pool.new_array((100,), np.float32) for _ in range(5)]  # 400 bytes each
    copy = arrays[0].copy()
    del arrays
    assert pool._bytes <= 1000 and copy.base is None  # two kept, the rest back to the allocator
    kinds = [pool.new_array((2, 50), dtype) for dtype in (np.float32, np.int32, np.bool_)]
    assert [k.dtype for k in kinds] == [np.float32, np.int32, np.bool_]


def test_new_array_takes_the_smallest_large_enough_buffer_and_drops_smaller_ones_it_cannot_use():
    pool = BufferPool(limit_bytes=10**6, min_bytes=0)
    small, large = pool.new_array((100,), np.uint8), pool.new_array((800,), np.uint8)
    del small, large
    assert pool._bytes == 900
    front = pool.new_array((50,), np.float32)  # 200 bytes: the 800-byte buffer is the smallest that fits
    assert pool._bytes == 100 and front.shape == (50,)
    bigger = pool.new_array((1000,), np.uint8)  # nothing fits: the free 100 bytes are dropped, not kept idle
    assert pool._bytes == 0
    del front, bigger
    assert pool._bytes == 1800


def test_new_array_keeps_extension_dtypes_and_their_views_keep_the_buffer():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    pool = BufferPool(limit_bytes=10**6, min_bytes=0)
    a = pool.new_array((4, 8), ml_dtypes.bfloat16)
    assert a.dtype == ml_dtypes.bfloat16 and a.shape == (4, 8)
    a[...] = 1.5
    row = a[2]
    del a
    assert pool._bytes == 0 and float(row[0]) == 1.5  # the view still holds the buffer
    del row
    assert pool._bytes == 64
