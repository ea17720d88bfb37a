"""The ``/v1`` endpoints and ``/metrics``."""
from __future__ import annotations

import asyncio
import hmac
import inspect
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Request, Security
from fastapi.responses import Response
from fastapi.security import APIKeyHeader

from aadrisk import __version__

from .compute import Failure, Job
from .markets import MarketProblem
from .metrics import CONTENT_TYPE_LATEST
from .schemas import (BatchRequest, BatchResponse, Market, MarketId, Problem, ProductInfo,
                      RiskRequest, RiskResponse, StoredMarket, StoredMarketInfo, product_fields)
from .store import content_hash

router = APIRouter()
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="One of the keys in AADRISK_API_KEYS (when set).")


def _json(content, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status_code,
                    media_type="application/json")


def require_key(request: Request, key: Annotated[str | None, Security(_api_key)] = None):
    """401 without a key, 403 with a wrong one (only when ``AADRISK_API_KEYS`` is set)."""
    check_key(request.app.state.svc.settings.api_keys, key)


def check_key(keys, key: str | None) -> None:
    """Raise 401 / 403 unless ``key`` is one of ``keys`` (no check when ``keys`` is empty)."""
    if not keys:
        return
    if not key:
        raise HTTPException(401, "missing API key (header X-API-Key)",
                            headers={"WWW-Authenticate": "APIKey"})
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise HTTPException(403, "API key not accepted")


_AUTH = [Depends(require_key)]
_ERRS = {401: {"model": Problem, "description": "missing API key"},
         403: {"model": Problem, "description": "wrong API key"},
         413: {"model": Problem, "description": "body larger than AADRISK_MAX_BODY_BYTES"},
         422: {"model": Problem, "description": "bad fields (with their paths) or an unusable "
                                                "market (naming the input)"}}
_RISK_ERRS = {**_ERRS, 404: {"model": Problem, "description": "unknown market_id"},
              504: {"model": Problem, "description": "over AADRISK_REQUEST_TIMEOUT_S"}}
MarketIdPath = Annotated[MarketId, Path(description="market id: letters, digits, . _ - "
                                        "(at most 64)", examples=["eod-2024-06-28"])]


# ----------------------------------------------------------------------------- risk
def _problem(status: int, loc: list, msg: str, type_: str) -> HTTPException:
    return HTTPException(status, [{"loc": loc, "msg": msg, "type": type_}])


async def _market_of(svc, req: RiskRequest, loc: list):
    """(content key, MarketData, market reference) of a request; HTTPException if none."""
    given = [n for n, v in (("market", req.market), ("market_id", req.market_id),
                            ("portfolio.market", req.portfolio.market)) if v is not None]
    if len(given) != 1:
        raise _problem(422, loc, "give exactly one of 'market', 'market_id' or "
                       f"'portfolio.market' (got {given or 'none'})", "market_choice")
    if req.market_id is not None:
        head = svc.store.head(req.market_id)        # primary-key lookup, no document
        if head is not None and svc.markets.cached(head[1]) is not None:
            version, key = head
            ref = {"source": "stored", "id": req.market_id, "version": version, "sha256": key}
            return key, svc.markets.cached(key), ref
        stored = await asyncio.to_thread(svc.store.get, req.market_id)
        if stored is None:
            raise _problem(404, [*loc, "market_id"], f"no stored market {req.market_id!r}",
                           "not_found")
        doc, key = stored.document, stored.sha256
        ref = {"source": "stored", "id": stored.id, "version": stored.version, "sha256": key}
        where = [*loc, "market_id"]
    else:
        inline = req.market if req.market is not None else req.portfolio.market
        doc = inline.document()
        key = content_hash(doc)
        ref = {"source": "inline" if req.market is not None else "portfolio", "sha256": key}
        where = [*loc, "market"] if req.market is not None else [*loc, "portfolio", "market"]
    try:
        market = await svc.markets.get(key, doc)
    except MarketProblem as exc:
        raise _problem(422, where, str(exc), "market_data") from None
    return key, market, ref


async def _risk_one(svc, req: RiskRequest, loc: list, trades: list | None = None
                    ) -> bytes | Failure:
    """Evaluate one request; ``trades`` (mappings from the fast path) replaces
    ``req.portfolio.trades`` when given."""
    key, market, ref = await _market_of(svc, req, loc)
    job = Job(req.portfolio.trades if trades is None else trades,
              {"portfolio": req.portfolio.name, "market": ref},
              req.include_zero_greeks, req.layout)
    return await svc.batcher.submit(key, market, job)


async def _with_timeout(svc, coro):
    """``await coro`` within the request time limit (``asyncio.timeout``: in this task,
    without the extra task per request that ``asyncio.wait_for`` creates)."""
    limit = svc.settings.request_timeout_s
    try:
        async with asyncio.timeout(limit if limit > 0 else None):
            return await coro
    except TimeoutError:
        raise HTTPException(504, f"request exceeded the time limit of {limit:g} s "
                            "(AADRISK_REQUEST_TIMEOUT_S)") from None


async def risk_answer(svc, req: RiskRequest, trades: list | None = None) -> Response:
    """The answer to one validated risk request (``trades``: the fast path's mappings);
    HTTPException for 404 / 422 / 504."""
    out = await _with_timeout(svc, _risk_one(svc, req, ["body"], trades))
    if isinstance(out, Failure):
        raise HTTPException(out.status, out.detail)
    return Response(out, media_type="application/json")


async def risk(body: RiskRequest, request: Request):
    """Price a portfolio and compute each trade's full labelled Greek vector.

    The market is inline (`market`), stored (`market_id`, see PUT /v1/markets/{id})
    or embedded in the portfolio (`portfolio.market`). Per trade: price, `stderr`
    (Monte Carlo standard error; null when analytic) and the Greek vector
    (columnar: label, greek, value = raw derivative x quantity, unit,
    value_per_bp, value_per_vol_point). Trades that cannot be priced are listed in
    `errors` (trade_id, field, value, reason) beside the others.
    """
    return await risk_answer(request.app.state.svc, body)


router.add_api_route("/v1/risk", risk, methods=["POST"], dependencies=_AUTH,
                     response_model=RiskResponse, responses=_RISK_ERRS, tags=["risk"],
                     summary="Prices and labelled Greek vectors of a portfolio")


async def _batch_item(svc, i: int, req: RiskRequest):
    try:
        out = await _risk_one(svc, req, ["body", "requests", i])
    except HTTPException as exc:
        return {"status": exc.status_code, "body": {"detail": exc.detail}}
    if isinstance(out, Failure):
        return {"status": out.status, "body": {"detail": out.detail}}
    return {"status": 200, "body": orjson.Fragment(out)}


@router.post("/v1/risk/batch", dependencies=_AUTH, response_model=BatchResponse,
             responses=_RISK_ERRS, tags=["risk"], summary="Several portfolios in one call")
async def risk_batch(body: BatchRequest, request: Request):
    """Evaluate several portfolios; `results[i]` answers `requests[i]` with
    `{"status": 200, "body": <as POST /v1/risk>}` or `{"status": 404 | 422, "body":
    {"detail": ...}}`. Portfolios on the same market share one evaluation."""
    svc = request.app.state.svc

    async def run():
        return await asyncio.gather(*(_batch_item(svc, i, r)
                                      for i, r in enumerate(body.requests)))
    results = await _with_timeout(svc, run())
    return Response(orjson.dumps({"results": results}), media_type="application/json")


# ----------------------------------------------------------------------------- markets
@router.get("/v1/markets", dependencies=_AUTH, tags=["markets"], responses=_ERRS,
            summary="List stored markets")
async def list_markets(request: Request) -> list[dict]:
    """Id, version, update time and content hash of every stored market."""
    return await asyncio.to_thread(request.app.state.svc.store.list)


@router.put("/v1/markets/{market_id}", dependencies=_AUTH, response_model=StoredMarketInfo,
            responses={**_ERRS, 201: {"model": StoredMarketInfo, "description": "created"}},
            tags=["markets"], summary="Store a market snapshot")
async def put_market(market_id: MarketIdPath, body: Market, request: Request):
    """Store (or replace: the version increases) a market snapshot under `market_id`.
    It is parsed first: a market the library refuses is 422 and nothing is stored.
    201 when created, 200 when replaced."""
    svc = request.app.state.svc
    doc = body.document()
    key = content_hash(doc)
    try:
        market = await svc.markets.get(key, doc)
    except MarketProblem as exc:
        raise _problem(422, ["body"], str(exc), "market_data") from None
    existed = await asyncio.to_thread(svc.store.get, market_id)
    row = await asyncio.to_thread(svc.store.put, market_id, doc)
    svc.markets.put(key, market)
    info = {"id": row.id, "version": row.version, "updated_at": row.updated_at,
            "sha256": row.sha256, "created": existed is None}
    return _json(info, 201 if existed is None else 200)


@router.get("/v1/markets/{market_id}", dependencies=_AUTH, response_model=StoredMarket,
            responses={**_ERRS, 404: {"model": Problem}}, tags=["markets"],
            summary="A stored market snapshot")
async def get_market(market_id: MarketIdPath, request: Request):
    """The stored snapshot with its id, version, update time and content hash."""
    row = await asyncio.to_thread(request.app.state.svc.store.get, market_id)
    if row is None:
        raise HTTPException(404, f"no stored market {market_id!r}")
    return _json({"id": row.id, "version": row.version, "updated_at": row.updated_at,
                  "sha256": row.sha256, "market": row.document})


@router.delete("/v1/markets/{market_id}", dependencies=_AUTH, status_code=204,
               responses={**_ERRS, 404: {"model": Problem}}, tags=["markets"],
               summary="Delete a stored market")
async def delete_market(market_id: MarketIdPath, request: Request):
    """Remove the stored snapshot (204), 404 if there is none."""
    if not await asyncio.to_thread(request.app.state.svc.store.delete, market_id):
        raise HTTPException(404, f"no stored market {market_id!r}")
    return Response(status_code=204)


# ----------------------------------------------------------------------------- info
def products() -> list[dict]:
    """The supported products and their fields, from ``GREEK_PRODUCTS`` at run time."""
    from aadrisk.risk.greeks import GREEK_PRODUCTS

    out = []
    for name, cls in sorted(GREEK_PRODUCTS.items()):
        doc = (inspect.getdoc(cls) or "").strip().splitlines()
        fields = [{"name": "trade_id", "type": "string", "required": True, "default": None},
                  {"name": "product", "type": "string", "required": False, "default": name},
                  *product_fields(cls)]
        out.append({"product": name, "description": doc[0] if doc else "", "fields": fields})
    return out


@router.get("/v1/products", dependencies=_AUTH, response_model=list[ProductInfo],
            responses=_ERRS, tags=["info"], summary="Supported products and their fields")
async def get_products():
    """Every product accepted in a portfolio with its fields (type, required, default)."""
    return _json(products())


@router.get("/v1/health", tags=["info"], summary="Liveness")
async def health() -> dict:
    """200 while the process serves requests."""
    return {"status": "ok", "version": __version__}


@router.get("/v1/ready", tags=["info"], summary="Readiness",
            responses={503: {"description": "not ready (warming up or store down)"}})
async def ready(request: Request):
    """200 once the kernels are warm and the market store answers, else 503.
    ``warming`` lists the products whose kernels are still being loaded in the
    background (in quiet moments; a request for one loads them itself)."""
    svc = request.app.state.svc
    store_ok = await asyncio.to_thread(svc.store.ping)
    ok = svc.ready and store_ok
    body = {"ready": ok, "warm": svc.ready, "store": store_ok,
            "warmup_seconds": svc.warmup_seconds, "warming": list(svc.warming),
            "batch_window_ms": svc.settings.batch_window_ms}
    return _json(body, 200 if ok else 503)


@router.get("/metrics", tags=["info"], summary="Prometheus metrics",
            response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request):
    """Request counts and latency histograms by route, batch sizes, evaluation times."""
    return Response(request.app.state.svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)
