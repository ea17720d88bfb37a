"""POST /v1/risk and /v1/risk/batch: results equal the library's, errors per trade, 4xx."""
from __future__ import annotations

import math

import numpy as np
import pytest

from aadrisk.market.snapshot import MarketData
from aadrisk.risk.greeks import greek_vectors

from _svc_helpers import vanilla


def test_risk_inline_market_matches_library(client, market_full, book_full):
    r = client.post("/v1/risk", json={"portfolio": book_full, "market": market_full})
    assert r.status_code == 200
    doc = r.json()
    ref = greek_vectors(book_full["trades"], MarketData.from_mapping(market_full))
    assert doc["portfolio"] == "demo_full"
    assert doc["market"]["source"] == "inline" and len(doc["market"]["sha256"]) == 64
    assert doc["n_trades"] == doc["n_priced"] == len(ref.prices) == len(book_full["trades"])
    assert doc["errors"] == []
    assert [t["trade"] for t in doc["trades"]] == ref.prices["trade"].tolist()
    np.testing.assert_allclose([t["price"] for t in doc["trades"]], ref.prices["price"])
    first = doc["trades"][0]
    g = ref.greeks[ref.greeks["trade"] == first["trade"]]
    assert first["greeks"]["label"] == g["label"].tolist()
    assert first["greeks"]["greek"] == g["greek"].tolist()
    np.testing.assert_allclose(first["greeks"]["value"], g["value"])
    assert first["greeks"]["unit"] == g["unit"].tolist()
    assert first["stderr"] is None  # analytic
    # scaled columns keep the unit in the name; null where not applicable
    for greek, bp, vp, v in zip(*(first["greeks"][k] for k in
                                  ("greek", "value_per_bp", "value_per_vol_point", "value"))):
        assert (bp is not None) == (greek in ("div", "rate", "par"))
        assert (vp is not None) == (greek == "vega")
        if vp is not None:
            assert math.isclose(vp, v * 1e-2)
    by = doc["aggregates"]["by_label"]
    ref_by = ref.by_label
    assert by["label"] == ref_by["label"].tolist()
    np.testing.assert_allclose(by["value"], ref_by["value"])
    usd = ref.prices.loc[ref.prices["currency"] == "USD", "price"].sum()
    assert math.isclose(doc["aggregates"]["price_by_currency"]["USD"], usd)


def test_trade_errors_are_200_beside_the_priced_trades(client, market_full):
    trades = vanilla(3) + [
        {"trade_id": "NEG", "underlying": "SPX", "option_type": "call", "strike": -1,
         "expiry": "2025-06-20", "quantity": 1},
        {"trade_id": "T0", "underlying": "SPX", "option_type": "call", "strike": 5000,
         "expiry": "2025-06-20", "quantity": 1},                       # duplicate id
        {"trade_id": "UNK", "product": "moon_option", "underlying": "SPX"},
        {"underlying": "SPX", "option_type": "call", "strike": 5000,
         "expiry": "2025-06-20", "quantity": 1},                       # no id
        {"trade_id": "OLD", "underlying": "SPX", "option_type": "put", "strike": 5000,
         "expiry": "2020-01-17", "quantity": 1}]
    r = client.post("/v1/risk", json={"portfolio": {"trades": trades}, "market": market_full})
    assert r.status_code == 200
    doc = r.json()
    assert [t["trade"] for t in doc["trades"]] == ["T0", "T1", "T2"]
    errs = {(e["trade_id"], e["field"]): e for e in doc["errors"]}
    assert errs[("NEG", "strike")]["value"] == -1
    assert "positive" in errs[("NEG", "strike")]["reason"]
    assert errs[("T0", "trade_id")]["value"] == "T0"
    assert "duplicate" in errs[("T0", "trade_id")]["reason"]
    assert ("UNK", "product") in errs
    assert ("#6", "trade_id") in errs
    assert errs[("OLD", "expiry")]["value"] == "2020-01-17"


def test_422_lists_the_path_of_every_bad_field(client, market_full):
    body = {"portfolio": {"trades": [
        {"trade_id": "A", "strike": "100", "expiry": 20240230, "quantity": True},
        {"trade_id": ["x"]}]}, "market": {**market_full, "valuation_date": "28/06/2024"},
        "unexpected": 1}
    r = client.post("/v1/risk", json=body)
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["detail"]}
    for loc in [("body", "portfolio", "trades", 0, "strike"),
                ("body", "portfolio", "trades", 0, "expiry"),
                ("body", "portfolio", "trades", 0, "quantity"),
                ("body", "market", "valuation_date"), ("body", "unexpected")]:
        assert loc in locs, (loc, locs)
    assert any(loc[:4] == ("body", "portfolio", "trades", 1) for loc in locs)


@pytest.mark.parametrize("content", [b"{not json", b"[]", b"\xff\xfe", b"",
                                     b'{"portfolio": {"trades": [{"strike": NaN}]}}'])
def test_malformed_bodies_are_422(client, content):
    r = client.post("/v1/risk", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_market_choice_and_unknown_id(client, market_full):
    book = {"trades": vanilla(2)}
    r = client.post("/v1/risk", json={"portfolio": book})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "market_choice"
    r = client.post("/v1/risk", json={"portfolio": book, "market": market_full,
                                      "market_id": "eod"})
    assert r.status_code == 422
    r = client.post("/v1/risk", json={"portfolio": book, "market_id": "nope"})
    assert r.status_code == 404
    assert r.json()["detail"][0]["loc"] == ["body", "market_id"]
    r = client.post("/v1/risk", json={"portfolio": {**book, "market": market_full}})
    assert r.status_code == 200 and r.json()["market"]["source"] == "portfolio"


def test_stored_market_is_used_with_its_version(client, market_full):
    assert client.put("/v1/markets/eod", json=market_full).status_code == 201
    r = client.post("/v1/risk", json={"portfolio": {"trades": vanilla(4)}, "market_id": "eod"})
    assert r.status_code == 200
    ref = r.json()["market"]
    assert (ref["source"], ref["id"], ref["version"]) == ("stored", "eod", 1)
    bumped = {**market_full, "underlyings": {**market_full["underlyings"],
                                             "AAPL": {"spot": 250.0, "vol": 0.3,
                                                      "currency": "USD"}}}
    assert client.put("/v1/markets/eod", json=bumped).status_code == 200
    r2 = client.post("/v1/risk", json={"portfolio": {"trades": vanilla(4)}, "market_id": "eod"})
    assert r2.json()["market"]["version"] == 2
    p1 = {t["trade"]: t["price"] for t in r.json()["trades"]}
    p2 = {t["trade"]: t["price"] for t in r2.json()["trades"]}
    assert p1["T0"] == p2["T0"] and p1["T1"] != p2["T1"]  # T1 is on AAPL


def test_market_refused_by_the_library_is_422_naming_it(client, market_full, monkeypatch):
    from aadrisk.market import snapshot

    def refuse(raw, bumps=None):
        raise snapshot.MarketDataError("market: 'underlyings' must be an object")
    monkeypatch.setattr(snapshot.MarketData, "from_mapping", staticmethod(refuse))
    r = client.post("/v1/risk", json={"portfolio": {"trades": vanilla(1)},
                                      "market": market_full})
    assert r.status_code == 422
    d = r.json()["detail"][0]
    assert d["loc"] == ["body", "market"] and "underlyings" in d["msg"]


def test_bad_market_component_fails_only_its_trades(client, market_full):
    bad = {**market_full, "vol_surfaces": {"SPX": {**market_full["vol_surfaces"]["SPX"],
                                                   "expiries": ["2024-01-19", "2024-12-20",
                                                                "2025-06-20", "2025-12-19"]}}}
    r = client.post("/v1/risk", json={"portfolio": {"trades": vanilla(3)}, "market": bad})
    assert r.status_code == 200
    doc = r.json()
    assert [t["trade"] for t in doc["trades"]] == ["T1", "T2"]      # AAPL, SX5E
    assert [(e["trade_id"], e["field"]) for e in doc["errors"]] == [("T0", "vol_surface")]


def test_zero_greeks_on_request(client, market_full):
    body = {"portfolio": {"trades": vanilla(1)}, "market": market_full}
    assert "zero_greeks" not in client.post("/v1/risk", json=body).json()["trades"][0]
    t = client.post("/v1/risk", json={**body, "include_zero_greeks": True}).json()["trades"][0]
    assert t["zero_greeks"]["label"] and set(t["zero_greeks"]["greek"]) == {"zero"}


def test_batch_endpoint_answers_each_request_in_order(client, market_full):
    client.put("/v1/markets/eod", json=market_full)
    reqs = [{"portfolio": {"name": "a", "trades": vanilla(2)}, "market_id": "eod"},
            {"portfolio": {"name": "b", "trades": vanilla(3)}, "market_id": "missing"},
            {"portfolio": {"name": "c", "trades": vanilla(1) + vanilla(1)},
             "market": market_full}]
    r = client.post("/v1/risk/batch", json={"requests": reqs})
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["status"] for x in res] == [200, 404, 200]
    assert res[0]["body"]["portfolio"] == "a" and res[0]["body"]["n_priced"] == 2
    assert res[1]["body"]["detail"][0]["loc"] == ["body", "requests", 1, "market_id"]
    assert res[2]["body"]["n_priced"] == 1 and res[2]["body"]["errors"][0]["field"] == "trade_id"
    assert client.post("/v1/risk/batch", json={"requests": []}).status_code == 422
