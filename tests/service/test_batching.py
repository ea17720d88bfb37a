"""Micro-batching: concurrent requests on one market share an evaluation, answers split back."""
from __future__ import annotations

import asyncio

import httpx
import numpy as np
import orjson

from aadrisk.market.snapshot import MarketData
from aadrisk.risk.greeks import greek_vectors
from service.compute import Job, evaluate, owner, tag_trades

from _svc_helpers import vanilla


def _books():
    """Four books with overlapping ids; book 2 repeats an id of its own."""
    return [vanilla(5), vanilla(3), vanilla(2) + [vanilla(1)[0]], vanilla(4, prefix="X")]


def test_tagging_maps_ids_and_positions_back():
    jobs = [Job([{"trade_id": "A"}, {"trade_id": 7}], {}), Job([{}, {"trade_id": " A "}], {})]
    trades, offsets = tag_trades(jobs)
    assert [t.get("trade_id") for t in trades] == ["0|A", "0|7", None, "1|A"]
    assert offsets == [0, 2]
    assert owner("1|A", offsets) == (1, "A")
    assert owner("0|x|y", offsets) == (0, "x|y")
    assert owner("#2", offsets) == (1, "#0")


def test_merged_evaluation_equals_separate_ones(market_full):
    m = MarketData.from_mapping(market_full)
    books = _books()
    merged = [orjson.loads(b) for b in evaluate(m, [Job(b, {"i": i}) for i, b in
                                                     enumerate(books)])]
    alone = [orjson.loads(evaluate(m, [Job(b, {"i": i})])[0]) for i, b in enumerate(books)]
    assert merged == alone
    assert [d["i"] for d in merged] == [0, 1, 2, 3]
    assert merged[2]["errors"] == [{"trade_id": "T0", "field": "trade_id", "value": "T0",
                                    "reason": "duplicate trade id in the book"}]
    ref = greek_vectors(books[0], m)
    np.testing.assert_allclose([t["price"] for t in merged[0]["trades"]], ref.prices["price"])


def test_concurrent_requests_are_merged(make_app, market_full):
    app = make_app(batch_window_ms=200, batch_quiet_ms=200)
    calls = []
    batcher = app.state.svc.batcher
    real = batcher.run

    def spy(market, jobs):
        calls.append(len(jobs))
        return real(market, jobs)
    batcher.run = spy

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            rs = await asyncio.gather(*(c.post("/v1/risk", json={
                "portfolio": {"name": str(i), "trades": b}, "market": market_full})
                for i, b in enumerate(_books())))
            metrics = (await c.get("/metrics")).text
        return rs, metrics
    rs, metrics = asyncio.run(go())
    assert all(r.status_code == 200 for r in rs)
    assert calls == [4]                              # one evaluation for the four requests
    docs = [r.json() for r in rs]
    assert [d["portfolio"] for d in docs] == ["0", "1", "2", "3"]
    assert [d["n_priced"] for d in docs] == [5, 3, 2, 4]
    assert [t["trade"] for t in docs[3]["trades"]] == ["X0", "X1", "X2", "X3"]
    assert docs[2]["errors"][0]["field"] == "trade_id" and not docs[0]["errors"]
    assert "aadrisk_batch_requests_bucket{le=\"4.0\"} 1.0" in metrics


def test_window_zero_disables_batching(make_app, market_full):
    app = make_app(batch_window_ms=0)
    calls = []
    batcher = app.state.svc.batcher
    real = batcher.run
    batcher.run = lambda market, jobs: (calls.append(len(jobs)), real(market, jobs))[1]

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await asyncio.gather(*(c.post("/v1/risk", json={
                "portfolio": {"trades": b}, "market": market_full}) for b in _books()))
    assert all(r.status_code == 200 for r in asyncio.run(go()))
    assert calls == [1, 1, 1, 1]


def test_different_markets_are_not_merged(make_app, market_full):
    app = make_app(batch_window_ms=200, batch_quiet_ms=200)
    seen = []
    batcher = app.state.svc.batcher
    real = batcher.run
    batcher.run = lambda market, jobs: (seen.append(market.spots["AAPL"]), real(market, jobs))[1]
    other = {**market_full, "underlyings": {**market_full["underlyings"],
                                            "AAPL": {"spot": 250.0, "vol": 0.3,
                                                     "currency": "USD"}}}

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await asyncio.gather(*(c.post("/v1/risk", json={
                "portfolio": {"trades": vanilla(3)}, "market": mk})
                for mk in (market_full, other, market_full)))
    rs = asyncio.run(go())
    assert sorted(seen) == [210.62, 250.0]
    p = [r.json()["trades"][1]["price"] for r in rs]     # T1 is on AAPL
    assert p[0] == p[2] != p[1]


def test_batch_flushes_at_max_trades(make_app, market_full):
    app = make_app(batch_window_ms=10_000, batch_quiet_ms=10_000, max_batch_trades=5)
    from fastapi.testclient import TestClient
    with TestClient(app) as c:                           # 10 s window, flushed by size
        r = c.post("/v1/risk", json={"portfolio": {"trades": vanilla(5)}, "market": market_full})
        assert r.status_code == 200 and r.elapsed.total_seconds() < 5


def test_large_requests_are_not_merged(make_app, market_full):
    app = make_app(batch_window_ms=200, batch_quiet_ms=200, batch_max_request=4)
    calls = []
    batcher = app.state.svc.batcher
    real = batcher.run
    batcher.run = lambda market, jobs: (calls.append(len(jobs)), real(market, jobs))[1]

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await asyncio.gather(*(c.post("/v1/risk", json={
                "portfolio": {"trades": vanilla(n)}, "market": market_full})
                for n in (5, 6, 2, 3)))
    assert all(r.status_code == 200 for r in asyncio.run(go()))
    assert sorted(calls) == [1, 1, 2]                    # 5 and 6 alone; 2 and 3 merged


def test_single_untagged_book_answers_as_a_merged_one(market_full):
    """A book alone goes to the library untagged: ids, positions and errors as merged."""
    m = MarketData.from_mapping(market_full)
    odd = vanilla(6)
    odd[0]["trade_id"], odd[1]["trade_id"], odd[2]["trade_id"] = 7, " A ", "3|x"
    odd[3].pop("trade_id")
    odd[4]["trade_id"] = True
    odd.append({**odd[2], "trade_id": "3|x"})
    odd.append({**odd[5], "strike": -1.0})
    alone = orjson.loads(evaluate(m, [Job(odd, {})])[0])
    merged = orjson.loads(evaluate(m, [Job(vanilla(2), {}), Job(odd, {})])[1])
    assert alone == merged
    assert tag_trades([Job(odd, {})]) == (odd, None)
    assert {e["trade_id"] for e in alone["errors"]} >= {"#3", "#4", "3|x"}


def test_tagging_columns_equals_tagging_mappings():
    """Books held as columns (the fast path's) are tagged column by column; the merged
    book must be what tagging their mappings gives: same mappings (key order
    included), same grouping, same offsets."""
    from aadrisk.risk.columns import BookColumns

    books = [vanilla(3),
             [{"trade_id": 7, "underlying": "SPX"}, {"underlying": "SPX", "strike": 1.0},
              {"trade_id": "  x ", "strike": 2.0, "underlying": "SPX"}],
             [{"trade_id": "", "underlying": "SPX"}, {"trade_id": True}, {"trade_id": None}],
             [],
             vanilla(2)]
    col_jobs = [Job(BookColumns.from_mappings(b), {}) for b in books]
    map_jobs = [Job(list(b), {}) for b in books]
    got, got_off = tag_trades(col_jobs)
    ref, ref_off = tag_trades(map_jobs)
    assert isinstance(got, BookColumns) and got_off == ref_off
    assert [list(m.items()) for m in got.mappings()] == [list(m.items()) for m in ref]
    assert [g[:2] for g in got.groups] == [g[:2] for g in BookColumns.from_mappings(ref).groups]


def test_tagging_columns_merges_their_value_types():
    """Books with known value types: the merged book's types are exactly those of its
    columns (tagged ids included); a book without them leaves its groups' types unknown."""
    from aadrisk.risk.columns import BookColumns

    def typed(book):
        b = BookColumns.from_mappings(book)
        return BookColumns(b.n, b.groups, [tuple(frozenset(map(type, c)) for c in cols)
                                           for _, _, cols in b.groups])

    books = [[{"trade_id": 7, "strike": 1.0}, {"trade_id": " a ", "strike": 2}],
             [{"trade_id": True, "strike": 3.0}, {"trade_id": "  ", "strike": None}],
             [{"trade_id": "b", "strike": 4.0}, {"trade_id": None}]]
    got, _ = tag_trades([Job(typed(b), {}) for b in books])
    want = [tuple(frozenset(map(type, c)) for c in cols) for _, _, cols in got.groups]
    assert list(got.types) == want
    assert want[0][0] == {str, bool} and want[0][1] == {float, int, type(None)}
    got, _ = tag_trades([Job(typed(books[0]), {}), Job(BookColumns.from_mappings(books[1]), {})])
    assert got.types == (None,)
