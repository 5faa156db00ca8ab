"""What the service refuses before the app runs, and the bounds it keeps while it runs.

``ServiceGuard`` is a pure ASGI middleware around the whole app (a ``BaseHTTPMiddleware`` would run
the app in a task group, and an error raised while reading the body would then arrive wrapped in
an ExceptionGroup: a chunked body over the limit came back as 500, or as 400 "unhandled errors in
a TaskGroup"). For every HTTP request it:

- refuses a ``Host`` outside ``allowed_hosts`` (400): a page on evil.example cannot reach a server
  on 127.0.0.1 through DNS rebinding;
- refuses a declared ``Content-Length`` over the limit (413) before reading anything, and cuts a
  chunked body off the moment it passes the limit (413);
- gives a client ``read_timeout`` seconds for each piece of the body (408 after that): a stalled
  upload does not hold a connection forever (the headers' own deadline is in server.py);
- turns a client that went away mid-body into a ``client_disconnect`` count, not an error of ours;
- turns any other exception into a logged 500 JSON, and counts every request by endpoint and status.

``DecodeBudget`` bounds how much is being decoded at once across all requests: pixels of images,
bytes of JSON.
"""

import asyncio
import json
import logging
import time

from starlette.requests import ClientDisconnect

log = logging.getLogger("strided.serve")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


class ServiceGuard:
    """``allowed_hosts``: host names (no port) or ``"*"``; ``metrics``: a ServiceMetrics or None."""

    def __init__(self, app, max_body_bytes: int, allowed_hosts=("*",), read_timeout: float = 10.0,
                 metrics=None, known_paths=()):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.read_timeout = read_timeout
        self.metrics = metrics
        self.known_paths = set(known_paths)

    def __getattr__(self, name):  # let tests and servers reach the FastAPI app's attributes (state, routes)
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = []  # the status sent, once the response has started

        async def tracked_send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await self._reply(tracked_send, *refusal)
            else:
                await self.app(scope, self._limited(receive), tracked_send)
        except Exception as error:  # noqa: BLE001 (every failure must become a status, never a traceback)
            await self._failed(_leaf(error), scope, tracked_send, status)
        if status and self.metrics is not None:
            endpoint = scope.get("path") if scope.get("path") in self.known_paths else "other"
            self.metrics.requests.labels(endpoint, str(status[0])).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)

    def _refusal(self, scope):
        headers = dict(scope.get("headers") or [])
        if "*" not in self.allowed_hosts:
            host = _host_name(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.allowed_hosts:
                return 400, f"host {host or '(none)'!r} is not allowed (see --allowed-hosts)"
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return 413, f"request body of {int(declared)} bytes is over the limit of {self.max_body_bytes} bytes"
        return None

    def _limited(self, receive):
        received, body_done = 0, False

        async def limited_receive():
            nonlocal received, body_done
            if body_done:  # after the body, receive only waits for a disconnect: no deadline then
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except TimeoutError:
                raise BodyTimeout(f"no part of the request body arrived for {self.read_timeout:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(f"request body is over the limit of {self.max_body_bytes} bytes")
                body_done = not message.get("more_body", False)
            return message

        return limited_receive

    async def _failed(self, error, scope, send, status):
        if isinstance(error, ClientDisconnect):
            self._count("client_disconnect")
            return
        if isinstance(error, (BodyTooLarge, BodyTimeout)):
            code, kind = (413, "http_413") if isinstance(error, BodyTooLarge) else (408, "http_408")
        else:  # a bug of ours: log it here, tell the client nothing internal
            log.error("unhandled error on %s", scope.get("path"), exc_info=error)
            code, kind = 500, "internal"
        if not status:
            await self._reply(send, code, "internal server error" if code == 500 else str(error), count=False)
        self._count(kind)

    async def _reply(self, send, code: int, detail: str, count: bool = True):
        if count:
            self._count(f"http_{code}")
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if code in (408, 413):  # the rest of the body is not read: the connection cannot be reused
            headers.append((b"connection", b"close"))
        try:
            await send({"type": "http.response.start", "status": code, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        except OSError:  # the client is gone already
            pass

    def _count(self, kind: str):
        if self.metrics is not None:
            self.metrics.errors.labels(kind).inc()


def _leaf(error: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _host_name(host: str) -> str:
    """'example.com:8000' -> 'example.com'; '[::1]:8000' -> '[::1]'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def default_allowed_hosts(bound_to: str) -> tuple:
    """Loopback names for a server bound to a loopback address; any host otherwise."""
    return LOOPBACK_HOSTS if bound_to in LOOPBACK_HOSTS or bound_to.startswith("127.") else ("*",)


class DecodeBudget:
    """At most ``capacity`` units (pixels, or bytes) decoding at once; a request waits until its share fits.

    Decoded memory grows with pixels, not with upload bytes: a 38 KiB PNG can hold 6300x6300
    pixels (40 MB as 8-bit grey, 120 MB once converted to RGB). 32 of them decoding together took
    the server from 68 MiB to 1,899 MiB; with a budget of one maximum-size image, 161 MiB. JSON is
    the same story in bytes: a 10 MB body of numbers becomes ~80 MB of Python floats, and 32 such
    bodies took it to 1,416 MiB (docs/serving.md has the figures). A share larger than the
    capacity waits for an empty budget (the per-image limit keeps images within it anyway).
    """

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"DecodeBudget: capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.in_use = 0
        self._changed, self._loop = None, None

    async def acquire(self, pixels: int) -> None:
        pixels = min(pixels, self.capacity)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (a test client's): a condition belongs to one loop
            self._changed, self._loop, self.in_use = asyncio.Condition(), loop, 0
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_use + pixels <= self.capacity)
            self.in_use += pixels

    async def release(self, pixels: int) -> None:
        async with self._changed:
            self.in_use -= min(pixels, self.capacity)
            self._changed.notify_all()
