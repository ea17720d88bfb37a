"""The FastAPI application: :func:`create_app` and the module-level ``app``.

``uvicorn service.app:app`` serves an app configured from ``AADRISK_*``
variables (:class:`service.settings.Settings`); the app is built on first
access of ``service.app.app``, so importing this module has no side effect.

Errors (see service/README.md): trade problems are 200 with per-trade
errors; a body that does not match the schemas is 422 with the path of every
bad field; a market the library refuses is 422 naming the input; an unknown
market id 404; a body over the size limit 413; a request over the time limit
504; 401/403 without / with a wrong API key.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import math
from concurrent.futures import ThreadPoolExecutor

from .startup_gc import imports_without_gc

with imports_without_gc():   # ~0.25 s of CPU of collector scans at every restart
    import orjson
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from aadrisk import __version__

    from .lane import RiskLane
    from .limits import BodyLimitMiddleware
    from .metrics import MetricsMiddleware
    from .routes import router
    from .settings import Settings
    from .state import ServiceState

log = logging.getLogger("aadrisk.service")

_DESCRIPTION = """\
Portfolio prices and full labelled Greek vectors (adjoint algorithmic
differentiation) over HTTP. Concurrent requests on the same market are merged
onto shared tape evaluations. Formats: docs/formats.md (books and markets are
the files of the batch runs); labels and units: docs/labels.md.

**Errors**: per-trade problems are reported beside the priced trades (200);
422 lists the path of every bad field; 404 unknown market id; 413 body too
large; 504 time limit; 401/403 missing or wrong `X-API-Key` (when
`AADRISK_API_KEYS` is set).
"""


def json_response(content, status_code: int = 200, headers=None) -> Response:
    """A JSON response encoded by orjson (NaN becomes null)."""
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
                    status_code=status_code, media_type="application/json", headers=headers)


def _safe(x, depth: int = 0):
    """A JSON-safe, size-bounded echo of client input in error messages."""
    if depth > 3:
        return "..."
    if x is None or isinstance(x, bool):
        return x
    if isinstance(x, int):
        return x if -2**63 <= x < 2**63 else str(x)
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    if isinstance(x, str):
        return x if len(x) <= 200 else x[:200] + "..."
    if isinstance(x, (list, tuple)):
        return [_safe(v, depth + 1) for v in x[:10]] + (["..."] if len(x) > 10 else [])
    if isinstance(x, dict):
        items = list(x.items())[:10]
        return {str(k): _safe(v, depth + 1) for k, v in items}
    return str(x)[:200]


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
               "type": str(e.get("type", "")), "input": _safe(e.get("input"))}
              for e in exc.errors()]
    return json_response({"detail": errors}, 422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    return json_response({"detail": exc.detail}, exc.status_code, getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response({"detail": "internal error"}, 500)


async def _preload_markets(state: ServiceState) -> None:
    """Parse the most recently stored markets into the cache (first requests after a
    restart then skip the curve bootstrap)."""
    rows = await asyncio.to_thread(state.store.list)
    rows.sort(key=lambda r: r["updated_at"], reverse=True)
    for row in rows[:state.settings.market_cache]:
        stored = await asyncio.to_thread(state.store.get, row["id"])
        if stored is None:
            continue
        try:
            await state.markets.get(stored.sha256, stored.document)
        except Exception:  # a market the library no longer accepts: 422 on use
            log.warning("stored market %r cannot be parsed", row["id"])


def _warm_products() -> list[str]:
    from aadrisk.risk.greeks import GREEK_PRODUCTS

    return list(GREEK_PRODUCTS)


def tune_gc(gen0: int):
    """Freeze the objects alive now out of the garbage collector's scans and raise its
    generation-0 threshold to ``gen0`` (``0``: no change); returns the undo function.

    Only the young generations are collected before the freeze: a full collection
    here scans every object of the imported modules (about 90 ms of CPU before
    ``/v1/ready``) and finds no garbage after a start-up; the few cycles an old
    generation may hold stay alive, frozen."""
    if gen0 <= 0:
        return lambda: None
    before = gc.get_threshold()
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(gen0, *before[1:])

    def restore():
        gc.set_threshold(*before)
        gc.unfreeze()
    return restore


def _lifespan(state: ServiceState):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state.reopen()
        state.open_handoff(asyncio.get_running_loop())
        background, stop = None, asyncio.Event()
        if state.settings.warmup:
            from .warmup import VANILLA, warm_when_quiet, warmup

            loop = asyncio.get_running_loop()
            state.warmup_seconds = await loop.run_in_executor(state.executor, warmup, VANILLA)
            log.info("vanilla kernels warm in %.2f s", state.warmup_seconds)
            await _preload_markets(state)
            # every other product: loaded from the disk cache after /v1/ready answers 200,
            # in the moments without requests
            others = state.warming = [p for p in _warm_products() if p not in VANILLA]
            # a thread of its own: a warm-up (up to ~0.1 s) never queues ahead of a
            # request in the compute pool (one thread by default)
            warm_pool = ThreadPoolExecutor(1, thread_name_prefix="aadrisk-warm")
            background = asyncio.create_task(
                warm_when_quiet(warm_pool, state.metrics, others, stop))
        restore = tune_gc(state.settings.gc_gen0)
        state.ready = True
        try:
            yield
        finally:
            state.ready = False
            restore()
            if background is not None:
                stop.set()
                with contextlib.suppress(Exception):
                    await background
                warm_pool.shutdown(wait=False, cancel_futures=True)
            await state.batcher.drain()
            state.close()
    return lifespan


class ServiceAPI(FastAPI):
    """The FastAPI app with the risk lane (:class:`service.lane.RiskLane`) in front: a
    JSON ``POST /v1/risk`` goes to the lane first, every other request to the app."""

    lane: RiskLane | None = None

    async def __call__(self, scope, receive, send):
        lane = self.lane
        if lane is not None and lane.takes(scope):
            await lane(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def full(self, scope, receive, send):
        """The app without the lane (its middlewares, router and endpoints)."""
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings : Settings, optional
        Default: :meth:`Settings.from_env` (the ``AADRISK_*`` variables).

    Returns
    -------
    ServiceAPI
        A FastAPI app with the risk lane in front, and ``app.state.svc``
        (:class:`service.state.ServiceState`). The store is opened here; the lifespan
        warms the kernels (``settings.warmup``) and marks the app ready. Without a
        lifespan (e.g. a TestClient used without ``with``) the app serves but
        ``/v1/ready`` answers 503.
    """
    settings = settings or Settings.from_env()
    state = ServiceState.build(settings)
    app = ServiceAPI(title="aadrisk risk service", version=__version__,
                     description=_DESCRIPTION, lifespan=_lifespan(state), docs_url="/docs",
                     redoc_url=None)
    app.state.svc = state
    app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    options = {"allow_origins": list(settings.cors_origins),
               "allow_methods": ["GET", "POST", "PUT", "DELETE"],
               "allow_headers": ["Content-Type", "X-API-Key"]}
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, **options)
    app.lane = RiskLane(state, app.full, functools.partial(CORSMiddleware, **options)
                        if settings.cors_origins else None)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app


def __getattr__(name):
    """``service.app.app``: the app from the environment, built on first access."""
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)
