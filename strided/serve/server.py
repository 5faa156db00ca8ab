"""Run the service with uvicorn: ``strided serve MODEL`` ends up here.

On SIGTERM or Ctrl-C uvicorn stops accepting connections, lets in-flight requests finish (up to
``graceful_seconds``), then runs the app's shutdown, which drains the batcher's queue.
With several workers, each process loads the model itself; uvicorn needs an import string and a
factory for that, so the settings travel in an environment variable.

Connections are bounded too: ``limit_concurrency`` answers 503 past that many connections, and
``HeaderDeadlineProtocol`` closes a connection whose request headers have not all arrived within
``read_timeout`` seconds (uvicorn itself waits for ever: a client that sends half a header line, or
one byte every few seconds, held a connection for as long as it liked). The body's own deadline
is ServiceGuard's (limits.py).
"""

import functools
import json
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

CONFIG_ENV = "STRIDED_SERVE_CONFIG"


def app_from_env():
    """The app factory uvicorn calls in each worker process."""
    from .app import create_app

    settings = json.loads(os.environ[CONFIG_ENV])
    return create_app(**settings)


@functools.cache
def _read_timeout() -> float:  # the settings of this process (a worker's too: it inherits the environment)
    return json.loads(os.environ.get(CONFIG_ENV, "{}")).get("read_timeout", 10.0)


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus: the request headers must be complete within the read timeout."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self._cancel_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()  # one deadline per connection: the latest response's
        self._header_deadline = self.loop.call_later(_read_timeout(), self._headers_overdue)

    def _cancel_header_deadline(self) -> None:
        deadline = getattr(self, "_header_deadline", None)
        if deadline is not None:
            deadline.cancel()

    def _headers_overdue(self) -> None:
        # IDLE: no request's headers have been parsed since the deadline was armed.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def serve(model_path, host: str = "127.0.0.1", port: int = 8000, max_batch_size: int = 32,
          max_wait_ms: float = 5.0, max_queue: int = 256, max_body_bytes: int = 10 * 1024 * 1024,
          workers: int = 1, graceful_seconds: float = 30.0, log_level: str = "info", max_pixels: int | None = None,
          decode_pixels: int | None = None, allowed_hosts=None, read_timeout: float = 10.0,
          limit_concurrency: int | None = 512) -> None:
    """``allowed_hosts=None``: the loopback names when ``host`` is a loopback address, else any host."""
    import uvicorn

    from ..data.preprocess import DEFAULT_MAX_PIXELS
    from .limits import default_allowed_hosts

    settings = {"model_path": str(model_path), "max_batch_size": max_batch_size, "max_wait_ms": max_wait_ms,
                "max_queue": max_queue, "max_body_bytes": max_body_bytes,
                "max_pixels": max_pixels or DEFAULT_MAX_PIXELS, "decode_pixels": decode_pixels,
                "allowed_hosts": list(allowed_hosts or default_allowed_hosts(host)), "read_timeout": read_timeout}
    os.environ[CONFIG_ENV] = json.dumps(settings)
    app = "strided.serve.server:app_from_env" if workers > 1 else app_from_env()
    uvicorn.run(app, host=host, port=port, workers=workers, factory=workers > 1, log_level=log_level,
                timeout_graceful_shutdown=graceful_seconds, http=HeaderDeadlineProtocol,
                limit_concurrency=limit_concurrency)
