"""The fast kernels' mutable state: a pool of large work buffers, handed out again instead of allocated anew.

Why: a fresh NumPy array of a few megabytes is fresh memory, and the first write to every page of it
is a page fault; reusing the buffer of the previous call avoids that (measured 3.3 ms against 1.4 ms
for one im2col buffer). Two kinds of buffer:

* ``take``/``give``: buffers whose old contents matter (a zero border that is never written, say),
  found again by role, shape, dtype and ``layout`` (whatever else their contents depend on);
* ``take_scratch``/``give_scratch``: buffers whose contents do not matter, found by role and dtype
  only: any free one large enough serves, as a view of its first elements. Layers of different sizes
  then share one buffer (the largest) instead of keeping one each, which bounds the memory a network
  keeps to about one buffer per role.

A third kind are not given back by hand: ``new_array`` makes a layer's output (or gradient) from a free
buffer, and the buffer returns to the pool by itself when the last array that uses its memory is gone.
Why: glibc gives freed activations back to the operating system between training steps, and the next
step faults every page in again (3 us a page on the 2-core test machine: 2,300 faults, 8 of seed-net's
33 ms a step). NumPy keeps the buffer's owner as the base of the array and of every view of it, so the
owner's end is exactly the end of the memory's use.

Buffers under ``min_bytes`` are plain allocations, cheaper than the bookkeeping. Free buffers beyond
``limit_bytes`` are dropped, least recently used first. All methods are thread-safe (a server may run
inference in several threads).

Apart from the pool, ``shared_zeros`` hands out read-only arrays of zeros that cost no memory.
"""

import math
import threading
import weakref
from collections import OrderedDict

import numpy as np


class _Owner:
    """The base of an array from ``BufferPool.new_array``: NumPy reads its memory through the array
    interface and keeps this object alive for as long as the array or any view of it lives."""

    __slots__ = ("__array_interface__", "__weakref__")


class BufferPool:
    """Free work buffers for reuse (see the module docstring)."""

    def __init__(self, limit_bytes: int, min_bytes: int = 0):
        self.limit_bytes, self.min_bytes = limit_bytes, min_bytes
        self._free = OrderedDict()  # key -> list of arrays, least recently used first
        self._bytes = 0
        # Reentrant: dropping an array inside _push may end an owner, whose callback pushes its buffer.
        self._lock = threading.RLock()
        self._lent = {}  # weak reference to an _Owner -> the buffer it lends out

    def _small(self, shape, dtype) -> bool:
        return math.prod(shape) * np.dtype(dtype).itemsize < self.min_bytes

    def _pop(self, key):
        with self._lock:
            stack = self._free.get(key)
            if not stack:
                return None
            array = stack.pop()
            self._bytes -= array.nbytes
            if not stack:
                del self._free[key]
            return array

    def _push(self, key, array: np.ndarray) -> None:
        with self._lock:
            self._free.setdefault(key, []).append(array)
            self._free.move_to_end(key)
            self._bytes += array.nbytes
            while self._bytes > self.limit_bytes and self._free:
                _, stack = self._free.popitem(last=False)
                self._bytes -= sum(a.nbytes for a in stack)

    def take(self, role: str, shape, dtype, layout=(), zeros: bool = False) -> np.ndarray:
        """A buffer of exactly this shape: a reused one (old contents kept) or a new one (zero-filled if ``zeros``)."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        array = None if self._small(shape, dtype) else self._pop((role, shape, dtype, layout))
        if array is None:
            array = np.zeros(shape, dtype) if zeros else np.empty(shape, dtype)
        return array

    def give(self, role: str, array: np.ndarray, layout=()) -> None:
        """Return a buffer taken for ``role`` and ``layout``; the caller must not use it afterwards."""
        if not self._small(array.shape, array.dtype):
            self._push((role, array.shape, array.dtype, layout), array)

    def take_scratch(self, role: str, shape, dtype) -> np.ndarray:
        """A C-contiguous buffer of this shape, contents arbitrary: a view of a free one if one is large enough."""
        dtype, size = np.dtype(dtype), math.prod(shape)
        if self._small(shape, dtype):
            return np.empty(shape, dtype)
        flat = self._pop((role, dtype))
        if flat is None or flat.size < size:  # a too small one is dropped: the pool grows to the largest need
            flat = np.empty(size, dtype)
        return flat[:size].reshape(shape)

    def give_scratch(self, role: str, array: np.ndarray) -> None:
        """Return a buffer from ``take_scratch``; the caller must not use it afterwards."""
        if not self._small(array.shape, array.dtype):
            self._push((role, array.dtype), array if array.base is None else array.base)

    def new_array(self, shape, dtype) -> np.ndarray:
        """An uninitialised array (like np.empty) whose memory returns to this pool when it is gone."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < self.min_bytes:
            return np.empty(shape, dtype)
        buffer = self._pop_array_buffer(nbytes)
        if buffer is None:
            buffer = np.empty(nbytes, np.uint8)
        owner = _Owner()
        owner.__array_interface__ = {"data": (buffer.ctypes.data, False), "shape": shape, "typestr": dtype.str,
                                     "version": 3}
        self._lent[weakref.ref(owner, self._returned)] = buffer
        array = np.asarray(owner)
        # The array interface names a dtype by its type string, which extension types (ml_dtypes' bfloat16:
        # '<V2') do not survive; a view restores the dtype, and keeps the owner alive through its base.
        return array if array.dtype == dtype else array.view(dtype)

    def _pop_array_buffer(self, nbytes: int):
        """The smallest free buffer of at least ``nbytes`` for ``new_array`` (its front part serves), or None.

        When none is large enough, smaller free ones are dropped, as many bytes as the new buffer takes: the
        pool then keeps about what a step has in use at once, not a set of buffers for each size of layer.
        Measured on resnet-cifar (step growth of peak memory; page faults a step): exact sizes only 67.4 MB,
        up to twice the size 65.2 MB, any size with dropping 60.9 MB (no pool: 55.2 MB, 1,760 faults);
        up to twice with dropping gave 60.8 MB but 547 faults a step in fmnist-cnn, against 0.
        """
        with self._lock:
            sizes = [key[1] for key in self._free if key[0] == "array" and nbytes <= key[1]]
            if sizes:
                return self._pop(("array", min(sizes)))
            dropped = 0
            for key in [key for key in self._free if key[0] == "array"]:
                while dropped < nbytes and self._free.get(key):
                    dropped += self._pop(key).nbytes
            return None

    def _returned(self, reference) -> None:
        buffer = self._lent.pop(reference)
        self._push(("array", buffer.nbytes), buffer)

    def clear(self) -> None:
        with self._lock:
            self._free.clear()
            self._bytes = 0


# Free work buffers kept for reuse, in bytes; least recently used ones beyond this are dropped. Buffers
# smaller than POOL_MIN_BYTES are plain allocations: cheaper than the pool's bookkeeping.
WORKSPACE_LIMIT_BYTES = 512 * 2**20
POOL_MIN_BYTES = 64 * 2**10
# The pool the fast kernels share (the convolution's grids, columns and products).
WORKSPACE = BufferPool(WORKSPACE_LIMIT_BYTES, POOL_MIN_BYTES)




def new_array(shape, dtype) -> np.ndarray:
    """An output array from the shared pool: np.empty without the page faults (see the module docstring)."""
    return WORKSPACE.new_array(shape, dtype)


# Smallest shared zeros buffer, in bytes. np.zeros (calloc) usually takes buffers this large fresh from the OS,
# whose pages stay the kernel's one shared zero page for as long as nobody writes them; if glibc serves one
# from memory it already had, it zero-fills it and the buffer costs its size, nothing worse.
_SHARED_ZEROS_MIN_BYTES = 4 * 2**20
_shared_zeros: dict = {}  # dtype -> 1-D zeros, never written


def shared_zeros(shape, dtype) -> np.ndarray:
    """A read-only array of zeros of this shape: a view of one buffer per dtype that is never written.

    Why: NumPy's fast (SIMD) loops for np.maximum and np.minimum need two contiguous arrays; with a
    scalar, ``np.maximum(x, 0)``, they fall back to a loop 2 to 4 times slower (measured: 101 against
    453 us on a (32, 16, 32, 32) float32 array). The zeros cost no memory: pages that are only ever read
    map the kernel's shared zero page (measured: reading all of a 256 MB buffer added 52 KB of resident
    memory, the page tables), and they are always in cache.
    """
    dtype, size = np.dtype(dtype), math.prod(shape)
    zeros = _shared_zeros.get(dtype)
    if zeros is None or zeros.size < size:
        # Grown in powers of two, so a network of growing layers reallocates a few times at most. Two
        # threads growing it at once just make two buffers, of which one is kept.
        length = max(size, _SHARED_ZEROS_MIN_BYTES // dtype.itemsize)
        zeros = np.zeros(1 << (length - 1).bit_length(), dtype)
        zeros.flags.writeable = False
        _shared_zeros[dtype] = zeros
    return zeros[:size].reshape(shape)
