"""A short lane for ``POST /v1/risk``: ASGI middleware answering the requests the fast path
(:mod:`service.fastpath`) vouches for without the framework's per-request layers.

A risk request otherwise passes the exception middleware, the router, FastAPI's
request handler (an exit stack, dependency solving, body validation into one
Pydantic object per trade) before the endpoint runs; for small books that is most
of the server's CPU per request. The lane sits inside the service's own
middlewares (metrics, body limit, CORS), reads the buffered body and, when
:func:`service.fastpath.parse_risk_body` accepts it, checks the API key and
answers as the endpoint would (:func:`service.routes.risk_answer`; an
HTTPException becomes the same ``{"detail": ...}`` answer the app's handler
gives). Every other request -- other paths and methods, other content types,
any body the fast path does not vouch for -- goes to the app unchanged, so
validation errors (422 with every bad field's path) and the OpenAPI schema are
the endpoint's.
"""
from __future__ import annotations

import asyncio

import orjson
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from .fastpath import parse_risk_body
from .routes import check_key, risk_answer

PATH = "/v1/risk"
#: bodies at least this large are parsed in a worker thread, not on the event loop
PARSE_OFF_LOOP_BYTES = 32_768


def is_json(content_type: bytes | None) -> bool:
    """Whether a Content-Type header value is ``application/json`` (parameters aside)."""
    return content_type is not None and \
        content_type.split(b";", 1)[0].strip().lower() == b"application/json"


def _header(scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v
    return None


class _Route:
    """What the metrics middleware reads from ``scope["route"]``."""

    path = PATH


class RiskLane:
    """ASGI middleware: the fast path of ``POST /v1/risk``.

    Parameters
    ----------
    app : ASGI app
        The rest of the stack (the full path).
    state : service.state.ServiceState
        Settings (API keys), executor, markets, batcher.
    """

    def __init__(self, app, state):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH \
                or not is_json(_header(scope, b"content-type")):
            await self.app(scope, receive, send)
            return
        body, disconnected = await _read(receive)
        if disconnected:
            await self.app(scope, _replay(body, disconnected, receive), send)
            return
        svc = self.state
        if len(body) >= PARSE_OFF_LOOP_BYTES:
            parsed = await asyncio.get_running_loop().run_in_executor(
                svc.executor, parse_risk_body, body)
        else:
            parsed = parse_risk_body(body)
        if parsed is None:                       # the full path: 422 with every bad field
            await self.app(scope, _replay(body, disconnected, receive), send)
            return
        scope["route"] = _Route
        try:
            key = _header(scope, b"x-api-key")
            check_key(svc.settings.api_keys, None if key is None else key.decode("latin-1"))
            response = await risk_answer(svc, *parsed)
        except HTTPException as exc:
            # as the app's HTTPException handler answers
            response = Response(orjson.dumps({"detail": exc.detail},
                                             option=orjson.OPT_SERIALIZE_NUMPY),
                                exc.status_code, exc.headers, media_type="application/json")
        await response(scope, receive, send)


async def _read(receive) -> tuple[bytes, bool]:
    """The request body, and whether the client disconnected before its end."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, disconnected: bool, receive):
    """A ``receive`` giving ``body`` again (then the original channel)."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            if disconnected:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay
