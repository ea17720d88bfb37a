"""A short lane for ``POST /v1/risk``, in front of the FastAPI app: it answers the
requests the fast path (:mod:`service.fastpath`) vouches for without the framework's
per-request layers.

A risk request otherwise passes FastAPI's telemetry check, Starlette's error and
exception middlewares, the service's metrics and body-limit middlewares, the router
and FastAPI's request handler (an exit stack, dependency solving, body validation
into one Pydantic object per trade) before the endpoint runs; for small books that
is most of the server's CPU per request. :class:`service.app.ServiceAPI` hands a
JSON ``POST /v1/risk`` to the lane first. The lane counts and times the request
itself (:func:`service.metrics.counted`, same route label), refuses a body over the
size limit with 413, applies CORS when configured (the same middleware as the app),
and, when :func:`service.fastpath.parse_risk_body` accepts the body, checks the API
key and answers as the endpoint would (:func:`service.routes.risk_answer`; an
HTTPException becomes the same ``{"detail": ...}`` answer the app's handler gives;
an unexpected error is logged and answered 500, as the app's handler does). Every
other body -- and every other path, method or content type -- goes to the app's
full stack, so validation errors (422 with every bad field's path) and the OpenAPI
schema are the endpoint's; a body the lane has read is marked
(``scope[COUNTED]``) so that the metrics and body-limit middlewares do not count
or read it again.
"""
from __future__ import annotations

import logging

import orjson
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from .fastpath import parse_risk_body
from .handoff import in_pool
from .limits import declared_too_big, read_body, send_413
from .metrics import COUNTED, counted
from .routes import check_key, risk_answer

PATH = "/v1/risk"
#: bodies at least this large are parsed in a worker thread, not on the event loop
PARSE_OFF_LOOP_BYTES = 32_768

log = logging.getLogger("aadrisk.service")


def is_json(content_type: bytes | None) -> bool:
    """Whether a Content-Type header value is ``application/json`` (parameters aside)."""
    return content_type is not None and \
        content_type.split(b";", 1)[0].strip().lower() == b"application/json"


def _header(scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v
    return None


def _json(content, status: int, headers=None) -> Response:
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY), status,
                    headers, media_type="application/json")


class RiskLane:
    """The fast path of ``POST /v1/risk`` (an ASGI app for the requests :meth:`takes`).

    Parameters
    ----------
    state : service.state.ServiceState
        Settings (API keys, body limit), executor, markets, batcher, metrics.
    full : ASGI app
        The app's full stack, for every body the fast path does not vouch for.
    cors : callable, optional
        ``cors(app) -> app``: the app's CORS middleware around the lane (when configured).
    """

    def __init__(self, state, full, cors=None):
        self.state = state
        self.full = full
        self._answer = self._answer_body if cors is None else cors(self._answer_body)

    @staticmethod
    def takes(scope) -> bool:
        """Whether the request is a JSON ``POST /v1/risk`` (the lane's to answer)."""
        return scope["type"] == "http" and scope["method"] == "POST" and \
            scope["path"] == PATH and is_json(_header(scope, b"content-type"))

    async def __call__(self, scope, receive, send):
        await counted(self.state.metrics, self._answer, scope, receive, send, route=PATH)

    async def _answer_body(self, scope, receive, send):
        svc = self.state
        limit = svc.settings.max_body_bytes
        read = None if declared_too_big(scope, limit) else await read_body(receive, limit)
        if read is None:
            await send_413(send, limit)
            return
        body, disconnected = read
        scope[COUNTED] = True
        if disconnected:
            await self.full(scope, _replay(body, disconnected, receive), send)
            return
        if len(body) >= PARSE_OFF_LOOP_BYTES:
            parsed = await in_pool(svc.handoff, svc.executor, parse_risk_body, body)
        else:
            parsed = parse_risk_body(body)
        if parsed is None:                       # the full path: 422 with every bad field
            await self.full(scope, _replay(body, disconnected, receive), send)
            return
        try:
            key = _header(scope, b"x-api-key")
            check_key(svc.settings.api_keys, None if key is None else key.decode("latin-1"))
            response = await risk_answer(svc, *parsed)
        except HTTPException as exc:             # as the app's HTTPException handler answers
            response = _json({"detail": exc.detail}, exc.status_code, exc.headers)
        except Exception:                        # as the app's handler of the unexpected
            log.exception("unhandled error on POST %s", PATH)
            response = _json({"detail": "internal error"}, 500)
        await response(scope, receive, send)


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
