"""A bounded load generator for the service: many concurrent clients, throughput and latency.

Used by the live-server tests and benchmarks/bench_serve.py. It only talks to the URL it is
given (the tests start the service on 127.0.0.1), sends at most ``requests`` requests and stops
after ``time_limit`` seconds whatever happens.
"""

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx


def run_load(url: str, files_or_json: list, requests: int = 2000, concurrency: int = 16,
             time_limit: float = 60.0) -> dict:
    """POST ``requests`` predictions (cycling through the payloads) from ``concurrency`` clients."""
    deadline = time.perf_counter() + time_limit
    latencies, statuses = [], {}
    lock = threading.Lock()
    counter = iter(range(requests))

    def client():
        with httpx.Client(timeout=30.0) as http:
            while time.perf_counter() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                payload = files_or_json[i % len(files_or_json)]
                started = time.perf_counter()
                try:
                    status = http.post(url, **payload).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(client)
    wall = time.perf_counter() - started
    latencies.sort()
    done = len(latencies)
    return {
        "requests": done,
        "concurrency": concurrency,
        "seconds": wall,
        "throughput_rps": done / wall if wall else 0.0,
        "p50_ms": statistics.median(latencies) * 1e3 if done else None,
        "p99_ms": latencies[min(done - 1, int(0.99 * done))] * 1e3 if done else None,
        "statuses": statuses,
        "errors": done - statuses.get(200, 0),
    }
