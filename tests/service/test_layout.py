"""The ``columnar`` response layout carries exactly the content of the default one."""
from __future__ import annotations

import asyncio
import math

from service.batcher import MicroBatcher
from service.compute import Job, evaluate
from service.markets import parse_market

from _svc_helpers import vanilla


def _rows_from_columnar(g: dict, trades: dict) -> dict:
    """Per trade id: list of (label, greek, unit, value, per_bp, per_vol_point, stderr)."""
    out: dict = {}
    for i in range(len(g["value"])):
        k = g["greek"][i]
        out.setdefault(trades["trade"][g["trade"][i]], []).append(
            (g["labels"][g["label"][i]], g["greeks"][k], g["units"][k], g["value"][i],
             g["value_per_bp"][i], g["value_per_vol_point"][i], g["stderr"][i]))
    return out


def _rows_from_trades(trades: list, key: str = "greeks") -> dict:
    out = {}
    for t in trades:
        g = t[key]
        out[t["trade"]] = list(zip(g["label"], g["greek"], g["unit"], g["value"],
                                   g["value_per_bp"], g["value_per_vol_point"], g["stderr"]))
    return out


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def test_columnar_equals_per_trade_layout(client, market_full, book_full):
    trades = book_full["trades"] + vanilla(7, prefix="V") + [
        {"trade_id": "bad", "underlying": "SPX", "option_type": "call", "strike": -1,
         "expiry": "2025-06-20", "quantity": 1}]
    body = {"portfolio": {"name": "p", "trades": trades}, "market": market_full,
            "include_zero_greeks": True}
    a = client.post("/v1/risk", json=body).json()
    b = client.post("/v1/risk", json={**body, "layout": "columnar"}).json()
    assert b["layout"] == "columnar" and "layout" not in a
    for k in ("portfolio", "market", "valuation_date", "n_trades", "n_priced", "errors",
              "aggregates"):
        assert a[k] == b[k], k
    cols = b["trades"]
    assert cols["trade"] == [t["trade"] for t in a["trades"]]
    for c in ("product", "model", "underlying", "currency", "quantity", "unit_price", "price",
              "stderr"):
        assert cols[c] == [t[c] for t in a["trades"]], c
    for key in ("greeks", "zero_greeks"):
        per_trade = _rows_from_trades(a["trades"], key)
        columnar = _rows_from_columnar(b[key], cols)
        assert sum(map(len, per_trade.values())) == len(b[key]["value"]) > 0
        for tid, rows in per_trade.items():
            got = columnar.get(tid, [])
            assert len(got) == len(rows), tid
            assert all(_same(x, y) for r, s in zip(rows, got) for x, y in zip(r, s)), tid
    assert len(set(b["greeks"]["labels"])) == len(b["greeks"]["labels"])


def test_columnar_and_trades_layouts_merge_in_one_batch(market_full):
    """Books of both layouts in one evaluation each get their own layout and rows."""
    m = parse_market(market_full)
    jobs = [Job(vanilla(4, prefix="A"), {"portfolio": "a"}),
            Job(vanilla(3, prefix="B"), {"portfolio": "b"}, layout="columnar")]
    import orjson
    a, b = (orjson.loads(x) for x in evaluate(m, jobs))
    alone = orjson.loads(evaluate(m, [Job(vanilla(3, prefix="B"), {"portfolio": "b"})])[0])
    assert [t["trade"] for t in a["trades"]] == ["A0", "A1", "A2", "A3"]
    assert b["trades"]["trade"] == ["B0", "B1", "B2"]
    assert min(b["greeks"]["trade"]) == 0 and max(b["greeks"]["trade"]) == 2
    assert _rows_from_columnar(b["greeks"], b["trades"]) == _rows_from_trades(alone["trades"])
    assert b["aggregates"] == alone["aggregates"]


def test_unknown_layout_is_422(client, market_full):
    r = client.post("/v1/risk", json={"portfolio": {"trades": vanilla(1)},
                                      "market": market_full, "layout": "rows"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "layout"]


def test_batcher_keeps_each_jobs_layout(market_full):
    m = parse_market(market_full)

    async def run():
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(1) as ex:
            mb = MicroBatcher(ex, 0.05, 10_000)
            return await asyncio.gather(
                mb.submit("k", m, Job(vanilla(2), {"portfolio": "x"}, layout="columnar")),
                mb.submit("k", m, Job(vanilla(2), {"portfolio": "y"})))
    import orjson
    x, y = (orjson.loads(r) for r in asyncio.run(run()))
    assert isinstance(x["trades"], dict) and isinstance(y["trades"], list)


def test_as_mapping_matches_model_dump_with_key_order():
    """The fast mapping of a validated trade equals pydantic's own dump, key order included
    (the order the fields are given in the JSON differs from the model's order here)."""
    from service.compute import as_mapping
    from service.schemas import trade_model

    model = trade_model()
    raws = [{"quantity": 3, "strike": 100.5, "trade_id": "A", "expiry": "2025-01-02",
             "underlying": "SPX", "option_type": "put"},
            {"trade_id": 7, "product": "barrier_option", "barrier": 120, "rebate": 0.5,
             "strike": 90, "expiry": "2025-06-20", "underlying": "SPX", "zzz_unknown": [1]}]
    for raw in raws:
        t = model.model_validate(raw)
        want = t.model_dump(mode="json", exclude_unset=True)
        got = as_mapping(t)
        assert got == want and list(got) == list(want)


def test_client_ids_cut_each_books_tag():
    from service.layout import client_ids, owner
    ids = ["0|a", "0|1|b", "#1", "1|", "1|x|", "#4", "10|z", "2|c"]
    offsets, bounds = [0, 3, 5], [0, 3, 6, 8]
    assert client_ids(ids, offsets, bounds) == ["a", "1|b", "#1", "", "x|", "#1", "z", "c"]
    assert client_ids(ids, offsets, bounds) == [owner(t, offsets)[1] for t in ids]
    assert client_ids(ids, None, [0, 8]) is ids
    # pieces that would line up only if ids could be split anywhere: not the book's tag
    for odd in (["0", "|0|x"], ["0|a", "x0|"], ["0|", "0|0|"]):
        assert client_ids(odd, [0], [0, 2]) == [owner(t, [0])[1] for t in odd]
