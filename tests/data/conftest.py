"""Fixtures for the data tests: an isolated cache folder, a local HTTP server, and small IDX files."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from strided.data import write_idx


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own empty $STRIDED_HOME, so nothing reads or writes ~/.cache/strided."""
    home = tmp_path / "strided-home"
    monkeypatch.setenv("STRIDED_HOME", str(home))
    return home


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (body, mode)``; mode 'cut' announces the full length but sends half."""

    def do_GET(self):
        self.server.hits.append(self.path)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, mode = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if mode == "cut" else body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A real HTTP server on 127.0.0.1 (random port), stopped after the test. ``server.url(path)``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.routes, server.hits = {}, []
    server.url = lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: what an offline machine sees, at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def write_mnist():
    """Write a small MNIST-like split: write_mnist(folder, n, prefix='train', gz=True) -> (images, labels)."""

    def write(folder, n=12, prefix="train", gz=True, seed=0, num_classes=10):
        rng = np.random.default_rng(seed)
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % num_classes).astype(np.uint8)
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        return images, labels

    return write
