"""PUT/GET/DELETE /v1/markets/{id}: versions, validation, and a restart keeps them."""
from __future__ import annotations

from fastapi.testclient import TestClient


def test_put_get_delete_cycle(client, market_full):
    r = client.put("/v1/markets/eod-2024.06_28", json=market_full)
    assert r.status_code == 201
    info = r.json()
    assert (info["id"], info["version"], info["created"]) == ("eod-2024.06_28", 1, True)
    got = client.get("/v1/markets/eod-2024.06_28").json()
    assert got["market"] == market_full and got["sha256"] == info["sha256"]
    r = client.put("/v1/markets/eod-2024.06_28", json={**market_full, "description": "v2"})
    assert r.status_code == 200 and r.json()["version"] == 2 and not r.json()["created"]
    assert r.json()["sha256"] != info["sha256"]
    assert [m["id"] for m in client.get("/v1/markets").json()] == ["eod-2024.06_28"]
    assert client.delete("/v1/markets/eod-2024.06_28").status_code == 204
    assert client.get("/v1/markets/eod-2024.06_28").status_code == 404
    assert client.delete("/v1/markets/eod-2024.06_28").status_code == 404


def test_put_validates_the_market(client, market_full):
    r = client.put("/v1/markets/x", json={**market_full, "rates": {"USD": "5%"}})
    assert r.status_code == 422
    assert ["body", "rates", "USD"] in [e["loc"] for e in r.json()["detail"]]
    bad_curve = {**market_full, "curves": {"C": {"quotes": [{"kind": "swap", "tenor": "1Q",
                                                             "rate": 0.01}]}}}
    r = client.put("/v1/markets/x", json=bad_curve)
    assert r.status_code == 422
    assert ["body", "curves", "C", "quotes", 0, "tenor"] in [e["loc"] for e in r.json()["detail"]]
    assert client.get("/v1/markets/x").status_code == 404


def test_market_id_is_restricted(client, market_full):
    assert client.put("/v1/markets/a%20b", json=market_full).status_code == 422
    assert client.put("/v1/markets/" + "a" * 65, json=market_full).status_code == 422
    assert client.get("/v1/markets/..%2F..%2Fetc").status_code in (404, 422)


def test_restart_keeps_stored_markets(make_app, market_full):
    with TestClient(make_app()) as c1:
        assert c1.put("/v1/markets/eod", json=market_full).status_code == 201
        assert c1.put("/v1/markets/eod", json=market_full).json()["version"] == 2
    with TestClient(make_app()) as c2:       # a new app on the same database file
        got = c2.get("/v1/markets/eod")
        assert got.status_code == 200
        assert got.json()["market"] == market_full and got.json()["version"] == 2
        r = c2.post("/v1/risk", json={"portfolio": {"trades": [
            {"trade_id": "A", "underlying": "SPX", "option_type": "call", "strike": 5500,
             "expiry": "2025-06-20", "quantity": 1}]}, "market_id": "eod"})
        assert r.status_code == 200 and r.json()["n_priced"] == 1


def test_stored_markets_are_parsed_at_startup(make_app, market_full):
    with TestClient(make_app()) as c1:
        c1.put("/v1/markets/eod", json=market_full)
    app = make_app(warmup=True)
    with TestClient(app):
        from service.schemas import Market
        from service.store import content_hash
        key = content_hash(Market.model_validate(market_full).document())
        assert list(app.state.svc.markets._cache) == [key]


def test_memory_database_keeps_nothing(make_app, market_full):
    with TestClient(make_app(db_path=":memory:")) as c:
        c.put("/v1/markets/eod", json=market_full)
    with TestClient(make_app(db_path=":memory:")) as c:
        assert c.get("/v1/markets/eod").status_code == 404


def test_store_examples():
    import doctest

    import service.store

    assert doctest.testmod(service.store).failed == 0


def _open_store(path, barrier, failures):
    from service.store import MarketStore
    barrier.wait()
    try:
        MarketStore(path)
    except Exception:  # noqa: BLE001
        with failures.get_lock():
            failures.value += 1


def test_stores_opened_together_on_a_new_file(tmp_path):
    """Server processes starting together open the same new SQLite file at once; switching
    it to WAL can fail at once with "database is locked" (forked workers hit it in CI):
    every process's store must open."""
    import multiprocessing

    from service.store import MarketStore

    ctx = multiprocessing.get_context("fork")
    failures = ctx.Value("i", 0)
    for trial in range(6):
        path = str(tmp_path / f"m{trial}.db")
        barrier = ctx.Barrier(8)
        procs = [ctx.Process(target=_open_store, args=(path, barrier, failures))
                 for _ in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 8
    assert failures.value == 0
    s = MarketStore(str(tmp_path / "m0.db"))
    s.put("m", {"valuation_date": "2024-06-28", "rate": 0.05})
    assert s.head("m")[0] == 1
