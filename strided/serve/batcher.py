"""Dynamic micro-batching: many concurrent requests, one forward pass.

A CPU network runs a batch of 32 images far faster than 32 single images, so requests that
arrive close together are gathered into one batch. The first request waits at most
``max_wait_ms`` for company; a batch also closes as soon as it holds ``max_batch_size`` inputs.
If the caller can tell whether more inputs are on their way (``more_coming``: the service counts
requests still being read and decoded), a batch also closes when nothing is queued and nothing
is coming: a lone client then pays no waiting time (p50 12.4 ms -> 4.3 ms measured).
One worker thread runs the batches, so the model is never called concurrently.

The queue is bounded: when ``max_queue`` inputs are already waiting, ``submit`` refuses at once
(``QueueFull``, which the service turns into 503 with Retry-After) instead of letting a backlog
grow without limit.
"""

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np


class QueueFull(RuntimeError):
    """The batcher's queue is full; try again shortly."""


class BatcherStopped(RuntimeError):
    """The batcher is shutting down and accepts no new work."""


@dataclass
class _Request:
    x: np.ndarray
    future: Future
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Gather single inputs into batches for ``predict_batch(batch) -> per-row results``.

    ``on_batch(size, queue_seconds_list)`` is called after each execution (for metrics);
    ``more_coming()``, if given, says whether inputs are on their way (see the module docstring).
    """

    def __init__(self, predict_batch, max_batch_size: int = 32, max_wait_ms: float = 5.0,
                 max_queue: int = 256, on_batch=None, more_coming=None):
        if max_batch_size < 1 or max_wait_ms < 0 or max_queue < 1:
            raise ValueError("MicroBatcher: max_batch_size and max_queue must be >= 1 and max_wait_ms >= 0")
        self.predict_batch = predict_batch
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.on_batch = on_batch
        self.more_coming = more_coming
        self._queue = queue.Queue(maxsize=max_queue)
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, name="strided-batcher", daemon=True)
        self._worker.start()

    def submit(self, x: np.ndarray) -> Future:
        """Queue one input; the future resolves to its row of the batch's result."""
        if self._stopping.is_set():
            raise BatcherStopped("the service is shutting down")
        request = _Request(x, Future())
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise QueueFull(f"more than {self._queue.maxsize} inputs are waiting") from None
        return request.future

    def stop(self, timeout: float = 30.0) -> None:
        """Refuse new work, finish what is queued, then stop the worker."""
        self._stopping.set()
        self._worker.join(timeout)

    def _next_batch(self) -> list:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.perf_counter() + self.max_wait
        while len(batch) < self.max_batch_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or (self.more_coming is not None and not self.more_coming()):
                break  # waiting longer could only add latency
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not (self._stopping.is_set() and self._queue.empty()):
            batch = self._next_batch()
            if batch:
                self._execute(batch)

    def _execute(self, batch: list) -> None:
        # A cancelled future (its client went away, or its request was refused half-queued) is skipped;
        # the others are marked running, after which they can no longer be cancelled under our feet.
        batch = [r for r in batch if r.future.set_running_or_notify_cancel()]
        if not batch:
            return
        started = time.perf_counter()
        waits = [started - r.enqueued for r in batch]
        try:
            results = self.predict_batch(np.stack([r.x for r in batch]))
        except Exception as error:  # hand the failure to every waiting request; the worker lives on
            for request in batch:
                request.future.set_exception(error)
            return
        for request, result in zip(batch, results, strict=True):
            request.future.set_result(result)
        if self.on_batch is not None:
            self.on_batch(len(batch), waits)
