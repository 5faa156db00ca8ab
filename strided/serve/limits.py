"""Refuse request bodies over a size limit (413) before they are read into memory.

An ASGI middleware: a declared Content-Length over the limit is answered at once; a body without
one (chunked) is counted as it streams in and cut off the moment it passes the limit.
"""

import json


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """``on_reject(path)``, if given, is called for each body refused by its declared size (for metrics)."""

    def __init__(self, app, max_body_bytes: int, on_reject=None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.on_reject = on_reject

    def __getattr__(self, name):  # let tests and servers reach the FastAPI app's attributes (state, routes)
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        limit = self.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if self.on_reject is not None:
                self.on_reject(scope.get("path", ""))
            return await _reject(send, f"request body of {int(declared)} bytes is over the limit of {limit} bytes")
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(f"request body is over the limit of {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def _reject(send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
