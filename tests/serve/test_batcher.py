"""The micro-batcher: gathers concurrent inputs, bounds its queue, and never loses a request."""

import threading
import time

import numpy as np
import pytest

from strided.serve.batcher import BatcherStopped, MicroBatcher, QueueFull


def test_concurrent_inputs_share_a_batch_and_get_their_own_rows():
    sizes = []
    batcher = MicroBatcher(lambda batch: batch * 2, max_batch_size=8, max_wait_ms=50,
                           on_batch=lambda n, waits: sizes.append(n))
    futures = [batcher.submit(np.full(3, float(i))) for i in range(5)]
    results = [f.result(timeout=5) for f in futures]
    batcher.stop()
    for i, row in enumerate(results):
        np.testing.assert_array_equal(row, np.full(3, 2.0 * i))
    assert sizes == [5]


def test_batches_never_exceed_the_maximum():
    sizes = []
    batcher = MicroBatcher(lambda batch: batch, max_batch_size=4, max_wait_ms=50,
                           on_batch=lambda n, waits: sizes.append(n))
    futures = [batcher.submit(np.zeros(1)) for _ in range(10)]
    [f.result(timeout=5) for f in futures]
    batcher.stop()
    assert sum(sizes) == 10 and max(sizes) == 4


def test_a_full_queue_refuses_at_once():
    release = threading.Event()

    def slow(batch):
        release.wait(5)
        return batch

    batcher = MicroBatcher(slow, max_batch_size=1, max_wait_ms=0, max_queue=2)
    first = batcher.submit(np.zeros(1))
    time.sleep(0.2)  # the worker has taken the first input and is blocked in slow()
    queued = [batcher.submit(np.zeros(1)) for _ in range(2)]
    with pytest.raises(QueueFull, match="more than 2 inputs are waiting"):
        batcher.submit(np.zeros(1))
    release.set()
    for future in [first, *queued]:
        future.result(timeout=5)
    batcher.stop()


def test_cancelled_inputs_are_skipped_and_the_worker_lives_on():
    release, seen = threading.Event(), []

    def slow(batch):
        release.wait(5)
        seen.append(batch[:, 0].tolist())
        return batch

    batcher = MicroBatcher(slow, max_batch_size=4, max_wait_ms=0)
    first = batcher.submit(np.zeros(1))
    time.sleep(0.2)  # the worker is blocked on the first input; these three wait in the queue
    kept, dropped, also_kept = (batcher.submit(np.full(1, float(i))) for i in (1, 2, 3))
    assert dropped.cancel()  # a client that went away
    release.set()
    assert [f.result(timeout=5)[0] for f in (first, kept, also_kept)] == [0.0, 1.0, 3.0]
    assert seen == [[0.0], [1.0, 3.0]]  # the cancelled input was never computed
    np.testing.assert_array_equal(batcher.submit(np.ones(1)).result(timeout=5), np.ones(1))
    batcher.stop()


def test_a_batch_waits_only_while_more_inputs_are_coming():
    coming, sizes = threading.Event(), []
    batcher = MicroBatcher(lambda batch: batch, max_batch_size=8, max_wait_ms=60_000,
                           on_batch=lambda n, waits: sizes.append(n), more_coming=coming.is_set)
    # Nothing on its way: the lone input runs at once (with the wait, result() would time out).
    np.testing.assert_array_equal(batcher.submit(np.ones(1)).result(timeout=30), np.ones(1))
    coming.set()  # now the first input waits for company...
    first = batcher.submit(np.zeros(1))
    time.sleep(0.2)
    assert not first.done()
    coming.clear()  # ...and the batch closes with the next input, as nothing more is coming
    second = batcher.submit(np.full(1, 2.0))
    assert second.result(timeout=30)[0] == 2.0 and first.result(timeout=30)[0] == 0.0
    batcher.stop()
    assert sizes == [1, 2]


def test_a_failing_batch_fails_its_requests_but_not_the_worker():
    calls = []

    def flaky(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("model exploded")
        return batch

    batcher = MicroBatcher(flaky, max_batch_size=1, max_wait_ms=0)
    with pytest.raises(RuntimeError, match="model exploded"):
        batcher.submit(np.zeros(1)).result(timeout=5)
    np.testing.assert_array_equal(batcher.submit(np.ones(1)).result(timeout=5), np.ones(1))
    batcher.stop()


def test_stop_finishes_queued_work_then_refuses():
    batcher = MicroBatcher(lambda batch: batch, max_batch_size=2, max_wait_ms=20)
    futures = [batcher.submit(np.zeros(1)) for _ in range(6)]
    batcher.stop()
    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(BatcherStopped):
        batcher.submit(np.zeros(1))
