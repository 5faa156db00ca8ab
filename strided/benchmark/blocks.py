"""Two step functions timed in ONE process, in alternating blocks: the method of benchmarks/bench_conv.py
and bench_pool.py, which compare a single layer.

`strided bench` does not time this way any more: it gives each library a fresh process of its own
(runner.py), so that neither one's imports, allocator state or spinning threads touch the other.
In one process the blocks are the next best thing, and cheap enough for a quick look at one layer.
"""

import statistics
import time


def alternate_in_blocks(steps, repeats: int = 30, block: int = 5, pause: float = 0.3) -> list:
    """Median ms of each step function, run in turn in blocks of ``block`` timed calls.

    Before each block: a ``pause`` and one uncounted call; round 0 only warms up. Alternating every
    single call would measure interference instead of speed: after a call, both libraries keep their
    worker threads spinning for a while (OpenBLAS about 0.1 s), and on two cores those threads slow
    whichever library runs next (a batch-1 inference measured 3.6 ms that way takes 0.7 ms alone).
    """
    times = [[] for _ in steps]
    for round_ in range(max(1, -(-repeats // block)) + 1):
        for step, kept in zip(steps, times, strict=True):
            time.sleep(pause)
            step()  # wakes the threads; not counted
            for _ in range(block):
                start = time.perf_counter()
                step()
                if round_:
                    kept.append(time.perf_counter() - start)
    return [statistics.median(kept) * 1e3 for kept in times]


def ratio_row(steps, repeats: int = 30, **labels) -> dict:
    """One result row: ``labels``, then the medians in ms of strided's and PyTorch's step (``steps``, in that
    order, timed by ``alternate_in_blocks``) and their ratio."""
    s, t = alternate_in_blocks(steps, repeats)
    return {**labels, "strided_ms": s, "torch_ms": t, "ratio": s / t}
