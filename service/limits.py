"""Request-body size limit (413) as a pure ASGI middleware.

The body is read up to the limit before the app sees it: a ``Content-Length``
above the limit is refused at once, a chunked body as soon as it passes the
limit. The app then receives the buffered body.
"""
from __future__ import annotations

import orjson

from .metrics import COUNTED


async def send_413(send, limit: int) -> None:
    """Answer 413 (the body is over ``limit`` bytes) and close the connection."""
    body = orjson.dumps({"detail": f"request body larger than the limit of {limit} bytes "
                                   "(AADRISK_MAX_BODY_BYTES)"})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def declared_too_big(scope, limit: int) -> bool:
    """Whether the request's ``Content-Length`` is above ``limit``."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value) > limit
            except ValueError:
                return False
    return False


async def read_body(receive, limit: int) -> tuple[bytes, bool] | None:
    """(the body, whether the client disconnected before its end), or None as soon as
    it passes ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # disconnect
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with 413 (the risk lane checks its
    own requests: those marked ``scope[COUNTED]`` pass through)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get(COUNTED):
            await self.app(scope, receive, send)
            return
        if declared_too_big(scope, self.max_bytes):
            await send_413(send, self.max_bytes)
            return
        read = await read_body(receive, self.max_bytes)
        if read is None:
            await send_413(send, self.max_bytes)
            return
        body = read[0]
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
