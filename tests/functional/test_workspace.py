"""The work-buffer pool: exact buffers keep their contents, scratch buffers are shared across shapes."""

import numpy as np

from strided.functional.workspace import BufferPool


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
