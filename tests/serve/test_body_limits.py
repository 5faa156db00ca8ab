"""The body limit applies while a body is read, on every body /predict accepts (JSON and multipart), and
JSON bodies wait for their decode budget before they are read; --limit-concurrency answers 503 past
its connections and the server keeps serving.

The HTTP edges talk raw HTTP/1.1 to a real `strided serve` (the session's hardened server: a 1 MiB
limit, a 1.5 s read timeout), so what the client did NOT send is under the test's control: a 413
instead of the 408 of a stalled body proves the server answered without waiting for the rest.
"""

import asyncio
import socket
import time

import httpx
import pytest

from strided.serve.app import create_app
from strided.serve.loadtest import LiveServer

from .conftest import READ_TIMEOUT

LIMIT = 2**20  # the hardened server's --max-body-mb 1
CONTENT_TYPES = [b"application/json", b"multipart/form-data; boundary=xyz"]
PART_HEADER = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'


def send_and_read_status(server, head: bytes, body: bytes = b"") -> bytes:
    """Send ``head`` and ``body`` (and nothing after them), return the status line the server answers."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=READ_TIMEOUT * 4) as sock:
        sock.sendall(head + body)
        answer = b""
        while b"\r\n" not in answer:
            piece = sock.recv(1000)
            if not piece:
                break
            answer += piece
    return answer.split(b"\r\n")[0]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_declared_length_over_the_limit_is_413_before_any_body_is_sent(hardened_server, content_type):
    head = (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type +
            b"\r\nContent-Length: " + str(LIMIT + 1).encode() + b"\r\n\r\n")
    assert send_and_read_status(hardened_server, head) == b"HTTP/1.1 413 Request Entity Too Large"


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_chunked_body_is_413_once_it_passes_the_limit_without_the_rest(hardened_server, content_type):
    head = (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type +
            b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    start = b"" if b"json" in content_type else PART_HEADER  # a well-formed start: the parser reads on
    body = start + b" " * (LIMIT + 1 - len(start))  # one byte over the limit
    halves = (body[: len(body) // 2], body[len(body) // 2:])
    chunks = b"".join(f"{len(half):x}\r\n".encode() + half + b"\r\n" for half in halves)
    # The body's end (0\r\n\r\n) never comes: a server that went on reading would answer 408 after the
    # read timeout instead.
    assert send_and_read_status(hardened_server, head, chunks) == b"HTTP/1.1 413 Request Entity Too Large"
    assert httpx.get(hardened_server.url + "/healthz").status_code == 200


def asgi_request(content_length: int) -> dict:
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
               (b"content-length", str(content_length).encode())]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/predict", "raw_path": b"/predict", "root_path": "", "query_string": b"", "headers": headers,
            "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000)}


def test_a_json_body_waits_for_the_decode_budget_before_it_is_read(model_path):
    app = create_app(model_path, max_body_bytes=1000, read_timeout=30)
    reads, statuses = [], {}

    def client(name: str, body: bytes, body_arrives: asyncio.Event):
        async def receive():
            if name in reads:  # after its body, a request only waits for a disconnect
                await asyncio.Event().wait()
            reads.append(name)
            await body_arrives.wait()
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                statuses[name] = message["status"]

        return receive, send

    async def until(condition, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return condition()

    async def scenario():
        slow_body, ready = asyncio.Event(), asyncio.Event()
        ready.set()
        first = asyncio.create_task(app(asgi_request(1000), *client("first", b" " * 1000, slow_body)))
        assert await until(lambda: reads == ["first"], 30)  # it holds the whole budget while its body trickles in
        second = asyncio.create_task(app(asgi_request(2), *client("second", b"{}", ready)))
        # Read first, the second body would be in memory at once; it must wait in the client's socket.
        assert not await until(lambda: "second" in reads, 1.0)
        slow_body.set()
        await asyncio.wait_for(asyncio.gather(first, second), 30)

    asyncio.run(scenario())
    assert reads == ["first", "second"]
    assert statuses == {"first": 400, "second": 422}  # blank is not JSON; {} lacks "inputs"


def test_limit_concurrency_answers_503_past_it_and_the_server_keeps_serving(model_path):
    server = LiveServer(model_path, "--limit-concurrency", "3", "--read-timeout", "20")
    try:
        assert httpx.get(server.url + "/healthz").status_code == 200
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(2)]
        try:
            deadline = time.monotonic() + 10
            status = None
            while status != 503 and time.monotonic() < deadline:  # until the server has accepted both
                status = httpx.get(server.url + "/healthz").status_code
                time.sleep(0.05)
            assert status == 503  # two idle connections and this one: 3, the limit
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 10
        while status != 200 and time.monotonic() < deadline:  # until the server has seen them close
            status = httpx.get(server.url + "/healthz").status_code
            time.sleep(0.05)
        assert status == 200
    finally:
        server.stop()
