"""Threads for the fast kernels' data movement: ``set_num_threads``, ``get_num_threads``, ``parallel_for``.

BLAS already runs the matrix products on every core; the gathers (im2col), col2im, pooling and batch norm
around them are NumPy loops on one core. NumPy releases the GIL inside them, so Python threads that each
take a chunk of the batch run them in parallel. While strided's threads run, each BLAS call they make is one
of several at once, so BLAS is held to one thread for the parallel region (two levels of threads on two
cores only fight), and given its own setting back at the end. Where threads were measured not to pay, the
kernel stays on one thread: ReLU (one pass over memory; 2 threads took 1.3x its CPU time for no gain in
wall time, 128x32x28x28 float32, load 10-12).

* ``set_num_threads(n)`` / ``get_num_threads()``: torch.set_num_threads' names and rule (n >= 1). The
  default is 1 (or STRIDED_NUM_THREADS): with one thread every kernel is the plain loop it always was, no
  pool, and BLAS runs the products on its own threads. Measured on 2 idle cores (strided bench, 5 rounds,
  load 1.6-2.0), 2 threads with BLAS held to 1 were slower than that: resnet-cifar 146 against 120 ms a
  step, fmnist-cnn 148 against 144, seed-net 38 against 31, inference at batch 256 79 against 69. The
  pool pays where BLAS's own threads hurt: on a machine whose cores are taken by other work, where
  OpenBLAS's spinning threads cost 3-17x the CPU time (resnet-cifar 10.8 s against 0.52 s a step at
  load 12; docs/threads.md).
* ``parallel_for(fn, items, then)``: fn(item) for every item, on up to n threads (the calling thread is one
  of them), results in item order. ``then(result)``, if given, runs one result at a time in item order:
  for what must not run at once (additions into one array) or must be summed in a fixed order.
* Results do not depend on the thread count, bit for bit: every item computes what the single-thread loop
  computes, and every sum across items is taken in item order (``then``). PyTorch does not promise this;
  we keep it because a learner comparing two runs should see the same numbers
  (tests/functional/test_threads.py checks it).
* Safe from several user threads at once (a server's request threads share the pool): the calling thread
  works through the items itself, helpers only take what is left, so a call never waits for a pool that
  is busy elsewhere, and a kernel called inside a pool thread does not deadlock.
* threadpoolctl is optional: without it the threads still run, and BLAS keeps its own setting.
"""

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_executor_size = 0


def default_num_threads() -> int:
    """STRIDED_NUM_THREADS if set to a positive integer, else 1 (measured: module docstring). Not
    OMP_NUM_THREADS, unlike PyTorch: that variable sets BLAS's threads, which strided's default uses."""
    value = os.environ.get("STRIDED_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 1


_num_threads = default_num_threads()


def set_num_threads(n: int) -> None:
    """Threads strided's fast kernels use for data movement (torch.set_num_threads); n >= 1."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: expected n >= 1, got {n}")
    _num_threads = n


def get_num_threads() -> int:
    """Threads strided's fast kernels use (torch.get_num_threads)."""
    return _num_threads


def _helpers(count: int) -> ThreadPoolExecutor:
    """The pool of helper threads, grown to ``count`` when needed (created on first use)."""
    global _executor, _executor_size
    with _lock:
        if _executor is None or _executor_size < count:
            old, _executor = _executor, ThreadPoolExecutor(count, thread_name_prefix="strided")
            _executor_size = count
            if old is not None:
                old.shutdown(wait=False)  # its threads finish what they hold, then exit
        return _executor


def _forget_pool_after_fork() -> None:
    """A forked child (a data loader's worker, say) has none of the parent's threads: start a new pool."""
    global _executor, _executor_size, _lock
    _executor, _executor_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


# ------------------------------------------------------------------------------------------------ BLAS hold
class _BlasHold:
    """Holds BLAS to one thread while any parallel region runs; the first in sets it, the last out restores.

    One counter for the process, because BLAS's thread setting is one for the process: two regions that
    each saved and restored it on their own (threadpool_limits) would leave it at 1 when they overlap.
    The controller (a scan of the loaded libraries, 0.4 ms) is made once; setting and reading the thread
    count then costs about 3 us per region.
    """

    def __init__(self):
        self._lock, self._depth, self._saved, self._libraries = threading.Lock(), 0, [], None

    def _blas(self) -> list:
        if self._libraries is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:  # optional: the threads still run, BLAS keeps its own setting
                self._libraries = []
            else:
                self._libraries = ThreadpoolController().select(user_api="blas").lib_controllers
        return self._libraries

    def __enter__(self):
        with self._lock:
            if self._depth == 0:
                self._saved = [(lib, lib.get_num_threads()) for lib in self._blas()]
                for lib, _ in self._saved:
                    lib.set_num_threads(1)
            self._depth += 1

    def __exit__(self, *exc):
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for lib, threads in self._saved:
                    lib.set_num_threads(threads)


_blas_hold = _BlasHold()


# ------------------------------------------------------------------------------------------------ parallel_for
class _Run:
    """One parallel_for call: the next item to claim, the results, the turn of ``then``, the first error."""

    def __init__(self, fn, items, then):
        self.fn, self.items, self.then = fn, items, then
        self.results = [None] * len(items)
        self.claims = itertools.count()  # next() is atomic under the GIL: each item is claimed once
        self.turn, self.turn_changed = 0, threading.Condition()
        self.error: BaseException | None = None

    def work(self) -> None:
        """Claim items until none is left (or one failed); each thread runs this loop."""
        while self.error is None:
            index = next(self.claims)
            if index >= len(self.items):
                return
            result = error = None
            try:
                result = self.fn(self.items[index])
            except BaseException as e:  # noqa: BLE001  (handed to the caller below)
                error = e
            with self.turn_changed:  # items are claimed in order, so the one before is running or done
                while self.turn != index:
                    self.turn_changed.wait()
                try:
                    if error is None and self.error is None:
                        self.results[index] = self.then(result) if self.then is not None else result
                except BaseException as e:  # noqa: BLE001
                    error = e
                if error is not None and self.error is None:
                    self.error = error
                self.turn = index + 1
                self.turn_changed.notify_all()


def parallel_for(fn, items, then=None) -> list:
    """[fn(item) for item in items] on up to get_num_threads() threads, in item order (module docstring).

    With ``then``, the list holds then(fn(item)), each ``then`` run alone and in item order. One thread or
    one item: the plain loop, in the calling thread, with no pool and BLAS untouched.
    """
    items = list(items)
    threads = min(_num_threads, len(items))
    if threads <= 1:
        return [fn(item) if then is None else then(fn(item)) for item in items]
    run = _Run(fn, items, then)
    with _blas_hold:
        helpers = [_helpers(threads - 1).submit(run.work) for _ in range(threads - 1)]
        run.work()
        for helper in helpers:
            if not helper.cancel():  # one that never started has nothing to wait for
                helper.result()
    if run.error is not None:
        raise run.error
    return run.results


# ------------------------------------------------------------------------------------------------ batch slices
# Elementwise work is cut for threads only when each piece has at least this many bytes: below it, the
# hand-off costs more than the piece. parallel_for over 2 empty items on 2 threads: 25 us at best, 69 us
# median (load 11 on 2 cores); one pass over 256 KiB takes 25-50 us.
MIN_PIECE_BYTES = 256 * 2**10
PIECES_PER_THREAD = 2  # a little more than one piece each, so a thread slowed by other load holds up less


def batch_slices(array) -> list:
    """Slices of axis 0 of ``array`` for the threads to share: [slice(None)] with one thread or small work.

    For elementwise work only, where the pieces do not change the numbers; sums over the batch must be
    cut the same way for every thread count (as fast/conv.py's image_chunks does).
    """
    n = array.shape[0] if array.ndim else 0
    pieces = min(n, _num_threads * PIECES_PER_THREAD, array.nbytes // max(MIN_PIECE_BYTES, 1))
    if _num_threads == 1 or pieces <= 1:
        return [slice(None)]
    size = -(-n // pieces)
    return [slice(first, first + size) for first in range(0, n, size)]
