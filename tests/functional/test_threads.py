"""strided's threads (strided.functional.fast.threads): set/get_num_threads, parallel_for, and the fast kernels
run on 1, 2 and 3 threads giving bit-for-bit the same results (the chunks and the order of every sum over them
depend on the shapes only), BLAS's thread setting given back, several user threads at once."""

import sys
import threading
import time

import numpy as np
import pytest

import strided as st
from strided.functional import fast
from strided.functional.fast import conv as fast_conv
from strided.functional.fast import threads
from tests.functional.test_conv_kernels import CALLS

THREAD_COUNTS = (1, 2, 3)


@pytest.fixture(autouse=True)
def _restore_threads():
    before = st.get_num_threads()
    yield
    st.set_num_threads(before)


@pytest.fixture
def many_chunks(monkeypatch):
    """Small test shapes cut into many chunks (one image each at most two), so every thread gets some."""
    monkeypatch.setattr(fast_conv, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(fast_conv, "SPLIT_CHUNKS", 64)
    monkeypatch.setattr(threads, "MIN_PIECE_BYTES", 0)


# ------------------------------------------------------------------------------------------------ set / get
def test_set_get_round_trip():
    assert threads.get_num_threads() == st.get_num_threads() >= 1
    for n in (1, 3, 7):
        st.set_num_threads(n)
        assert st.get_num_threads() == n


@pytest.mark.parametrize("value, expected", [("3", 3), ("1", 1), ("0", 1), ("x", 1), ("", 1)])
def test_default_is_one_or_strided_num_threads_whatever_omp_says(value, expected, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # BLAS's setting: not strided's pool
    monkeypatch.setenv("STRIDED_NUM_THREADS", value)
    assert threads.default_num_threads() == expected


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError),
                                        ("2", TypeError), (None, TypeError)])
def test_set_num_threads_rejects(bad, error):
    before = st.get_num_threads()
    with pytest.raises(error, match="set_num_threads"):
        st.set_num_threads(bad)
    assert st.get_num_threads() == before


# ------------------------------------------------------------------------------------------------ parallel_for
@pytest.mark.parametrize("n", THREAD_COUNTS)
def test_parallel_for_keeps_item_order_and_runs_then_in_order(n):
    st.set_num_threads(n)
    seen = []

    def square_slowly(i):  # earlier items take longer, so later ones finish first
        time.sleep(0.002 * (23 - i) * (i % 2))
        return i * i

    results = threads.parallel_for(square_slowly, range(23), then=lambda r: seen.append(r) or -r)
    assert results == [-i * i for i in range(23)]
    assert seen == [i * i for i in range(23)]
    assert threads.parallel_for(lambda i: i, []) == []


@pytest.mark.parametrize("n", (2, 3))
def test_parallel_for_uses_several_threads(n):
    st.set_num_threads(n)
    barrier = threading.Barrier(n, timeout=10)  # only passes if n items run at once
    names = threads.parallel_for(lambda _: barrier.wait() is not None and threading.current_thread().name, range(n))
    assert len(set(names)) == n


@pytest.mark.parametrize("n", THREAD_COUNTS)
def test_parallel_for_raises_the_first_error_and_stays_usable(n):
    st.set_num_threads(n)

    def fail_on_five(i):
        if i == 5:
            raise ValueError("item 5")
        return i

    with pytest.raises(ValueError, match="item 5"):
        threads.parallel_for(fail_on_five, range(12), then=lambda r: r)
    assert threads.parallel_for(lambda i: i, range(9)) == list(range(9))


def test_nested_parallel_for_does_not_deadlock():
    st.set_num_threads(2)
    inner = lambda i: sum(threads.parallel_for(lambda j: i * j, range(5)))  # noqa: E731
    assert threads.parallel_for(inner, range(6)) == [10 * i for i in range(6)]


# ------------------------------------------------------------------------------------------------ BLAS setting
def test_blas_threads_held_to_one_inside_and_given_back_after():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is optional")
    st.set_num_threads(2)
    before = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    inside = threads.parallel_for(
        lambda _: [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"],
        range(2))
    after = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    assert after == before
    assert all(counts == [1] * len(before) for counts in inside)


class _Untouchable:
    def __enter__(self):
        pytest.fail("BLAS's setting touched")

    def __exit__(self, *exc):
        pass


def test_one_thread_or_one_item_leaves_blas_alone(monkeypatch):
    monkeypatch.setattr(threads, "_blas_hold", _Untouchable())
    st.set_num_threads(1)
    assert threads.parallel_for(lambda i: i, range(4)) == [0, 1, 2, 3]
    st.set_num_threads(2)
    assert threads.parallel_for(lambda i: i, range(1)) == [0]
    with pytest.raises(pytest.fail.Exception):
        threads.parallel_for(lambda i: i, range(2))  # the check above can fail


def test_threads_run_without_threadpoolctl(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import threadpoolctl now raises ImportError
    hold = threads._BlasHold()
    monkeypatch.setattr(threads, "_blas_hold", hold)
    st.set_num_threads(2)
    assert threads.parallel_for(lambda i: i + 1, range(5)) == [1, 2, 3, 4, 5]
    assert hold._libraries == []


# ------------------------------------------------------------------------------------------------ kernels
def _conv_results(call, n_threads, dtype, bias, seed=1):
    x_shape, w_shape, stride, padding, dilation, groups = call
    rng = np.random.default_rng(seed)
    x, w, b, = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
    st.set_num_threads(n_threads)
    y, ctx = fast.conv2d_forward(x, w, b if bias else None, stride, padding, dilation, groups)
    grad = rng.standard_normal(y.shape).astype(dtype)
    return (y,) + ctx.backward(grad)


def _conv_in_child():
    """In a forked child: a threaded conv equals the one-thread one, and two threads really run at once."""
    call = ((6, 3, 9, 9), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    fast_conv.SPLIT_MIN_BYTES = 0
    _identical(_conv_results(call, 2, np.float64, True), _conv_results(call, 1, np.float64, True))
    st.set_num_threads(2)
    barrier = threading.Barrier(2, timeout=10)  # passes only if both items run at once
    names = threads.parallel_for(lambda _: barrier.wait() is not None and threading.current_thread().name, range(2))
    return len(set(names))


def _identical(results, expected):
    for ours, theirs in zip(results, expected, strict=True):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


@pytest.mark.parametrize("batch", (0, 1, 3, 7))
@pytest.mark.parametrize("call", CALLS[::5], ids=[f"call{i}" for i in range(0, len(CALLS), 5)])
def test_conv2d_forward_and_backward_bitwise_equal_on_1_2_3_threads(call, batch, many_chunks):
    call = ((batch,) + tuple(call[0][1:]),) + tuple(call[1:])
    for dtype, bias in ((np.float64, True), (np.float32, False)):
        expected = _conv_results(call, 1, dtype, bias)
        for n in THREAD_COUNTS[1:]:
            _identical(_conv_results(call, n, dtype, bias), expected)


@pytest.mark.parametrize("call", CALLS[1::4], ids=[f"call{i}" for i in range(1, len(CALLS), 4)])
def test_conv2d_on_two_threads_equals_the_reference(call, many_chunks):
    from tests.functional.test_fast_equals_reference import _both

    st.set_num_threads(2)
    x_shape, w_shape, stride, padding, dilation, groups = call
    rng = np.random.default_rng(4)
    x, w, b = (rng.standard_normal(s) for s in ((5,) + tuple(x_shape[1:]), w_shape, w_shape[:1]))
    _both("conv2d", 2, x, w, b, stride, padding, dilation, groups)


def test_kernels_from_several_user_threads_at_once(many_chunks):
    """A server's request threads share the pool: each call gets its own, correct, answer."""
    st.set_num_threads(2)
    call = ((6, 3, 9, 9), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    expected = _conv_results(call, 1, np.float64, True, seed=7)
    st.set_num_threads(2)
    answers, errors = [None] * 6, []

    def client(k):
        try:
            for _ in range(5):
                answers[k] = _conv_results(call, 2, np.float64, True, seed=7)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    users = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for user in users:
        user.start()
    for user in users:
        user.join(timeout=60)
    assert not errors and not any(user.is_alive() for user in users)
    for answer in answers:
        _identical(answer, expected)


def _batch_kernel_results(name, batch, n_threads, dtype, seed=3):
    """Forward and backward of one batch-wise kernel on a small odd-shaped input, on ``n_threads`` threads."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 5, 7, 9)).astype(dtype)
    weight, bias = rng.standard_normal(5).astype(dtype), rng.standard_normal(5).astype(dtype)
    st.set_num_threads(n_threads)
    calls = {
        "max_pool2d": lambda: fast.max_pool2d_forward(x, 3, 2, 1),
        "max_pool2d 2x2": lambda: fast.max_pool2d_forward(x, 2),
        "batch_norm train": lambda: fast.batch_norm_forward(x, None, None, weight, bias, True, 0.1, 1e-5),
        "batch_norm eval": lambda: fast.batch_norm_forward(x, np.zeros(5, dtype), np.ones(5, dtype), weight, bias,
                                                           False, 0.1, 1e-5),
    }
    y, ctx = calls[name]()
    grad = rng.standard_normal(y.shape).astype(dtype)
    backward = ctx.backward(grad)
    return (y,) + (backward if isinstance(backward, tuple) else (backward,))


@pytest.mark.parametrize("batch", (0, 1, 2, 5, 9))
@pytest.mark.parametrize("name", ("max_pool2d", "max_pool2d 2x2", "batch_norm train", "batch_norm eval"))
def test_batch_kernels_bitwise_equal_on_1_2_3_threads_and_equal_the_reference(name, batch, many_chunks):
    for dtype in (np.float64, np.float32):
        expected = _batch_kernel_results(name, batch, 1, dtype)
        for n in THREAD_COUNTS[1:]:
            _identical(_batch_kernel_results(name, batch, n, dtype), expected)
    if batch == 0 and name.startswith("batch_norm"):
        return  # the empty batch's statistics are nan in the reference (a 0/0 mean), as in PyTorch
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, 5, 7, 9))
    st.set_num_threads(2)
    from tests.functional.test_fast_equals_reference import _both
    if name.startswith("max_pool2d"):
        _both("max_pool2d", 6, x, *((3, 2, 1) if name == "max_pool2d" else (2,)))
    else:
        args = (None, None, True) if name.endswith("train") else (np.zeros(5), np.ones(5), False)
        _both("batch_norm", 6, x, args[0], args[1], rng.standard_normal(5), rng.standard_normal(5), args[2], 0.1, 1e-5)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_pool():
    import multiprocessing

    st.set_num_threads(2)
    threads.parallel_for(lambda i: i, range(4))  # the parent's pool exists now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        assert pool.apply(_conv_in_child, ()) == 2
