"""A bounded load generator for the service: many concurrent clients, throughput and latency.

Used by the live-server tests and benchmarks/bench_serve.py. ``LiveServer`` starts `strided serve`
as a subprocess on a free port of 127.0.0.1 and stops it with SIGTERM; ``run_load`` only talks to
the URL it is given, sends at most ``requests`` requests and stops after ``time_limit`` seconds
whatever happens.
"""

import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

try:
    import httpx
except ImportError:  # one line with the fix, not a traceback into a bare ModuleNotFoundError
    raise ImportError("strided.serve.loadtest needs httpx (its HTTP client): pip install 'strided[serve]'") from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`strided serve MODEL *options` in a subprocess on 127.0.0.1, ready (/readyz) when constructed."""

    def __init__(self, model_path, *options, ready_within: float = 60.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "strided", "serve", str(model_path), "--port", str(self.port),
                   "--log-level", "warning", *map(str, options)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + ready_within
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stdout.read()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not become ready in {ready_within:g} s")

    def stop(self):
        """SIGTERM (in-flight requests finish), a kill after 30 s; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.returncode


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
