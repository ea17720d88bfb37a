"""The fast path of POST /v1/risk (service.fastpath): same answers as the Pydantic path on
valid books, and every body it does not vouch for goes to the full path (same 422s)."""
from __future__ import annotations

import json

import orjson
import pytest
from fastapi.testclient import TestClient

from service import fastpath, lane
from service.compute import as_mapping
from service.schemas import Portfolio

from _svc_helpers import vanilla


@pytest.fixture
def calls(monkeypatch):
    """Records what the fast path returned for each body (None: the full path ran)."""
    seen = []
    real = lane.parse_risk_body

    def spy(body):
        out = real(body)
        seen.append(out is not None)
        return out
    monkeypatch.setattr(lane, "parse_risk_body", spy)
    return seen


@pytest.fixture
def unbatched(make_app):
    with TestClient(make_app(batch_window_ms=0)) as c:
        yield c


def _post(client, body) -> "object":
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/v1/risk", content=content, headers={"content-type": "application/json"})


def _both(client, body, monkeypatch):
    """(fast-path answer, full-path answer) of one body."""
    fast = _post(client, body)
    with monkeypatch.context() as m:
        m.setattr(lane, "parse_risk_body", lambda b: None)
        full = _post(client, body)
    return fast, full


def _odd_trades() -> list:
    """Valid JSON types in unusual forms: ints for numbers, nulls, unknown fields, an
    unknown product, a negative strike, a missing id, integer ids, keys out of order."""
    return vanilla(5) + [
        {"quantity": 3, "expiry": "2025-06-20", "strike": 5000, "option_type": "call",
         "underlying": "SPX", "trade_id": "ORDER"},
        {"trade_id": 17, "underlying": "AAPL", "option_type": "put", "strike": 200,
         "expiry": "2025-06-20", "quantity": -2, "zz_note": {"a": [1, None]}, "aa": "x"},
        {"trade_id": "NUL", "underlying": "SPX", "option_type": "call", "strike": None,
         "expiry": "2025-06-20", "quantity": 1},
        {"trade_id": "NEG", "underlying": "SPX", "option_type": "call", "strike": -1,
         "expiry": "2025-06-20", "quantity": 1},
        {"trade_id": "UNK", "product": "moon_option", "underlying": "SPX", "barrier": 4},
        {"underlying": "SPX", "option_type": "call", "strike": 5000.5,
         "expiry": "2025-06-20", "quantity": 1},
        {"trade_id": "T0", "underlying": "SPX", "option_type": "call", "strike": 5000,
         "expiry": "2025-06-20", "quantity": 1},
        {"trade_id": "  ", "underlying": "SPX", "option_type": "call", "strike": 5000,
         "expiry": "2025-06-20", "quantity": 1, "issue": "2024-02-29", "model": [1, 2]}]


def test_check_trades_equals_the_schema_mappings():
    trades = _odd_trades()
    models = Portfolio.model_validate({"trades": trades}).trades
    ref = [as_mapping(t) for t in models]
    got = fastpath.check_trades(trades)
    assert [list(d.items()) for d in got] == [list(d.items()) for d in ref]  # keys in order
    assert all(type(d["strike"]) is float for d in got if d.get("strike") is not None)


@pytest.mark.parametrize("extra", [{}, {"layout": "columnar"}, {"include_zero_greeks": True},
                                   {"layout": "columnar", "include_zero_greeks": True}])
def test_fast_answer_is_byte_identical(unbatched, market_full, book_full, calls, monkeypatch,
                                       extra):
    for trades in (_odd_trades(), book_full["trades"]):
        body = {"portfolio": {"name": "p", "trades": trades}, "market": market_full, **extra}
        fast, full = _both(unbatched, body, monkeypatch)
        assert fast.status_code == full.status_code == 200
        assert fast.content == full.content
    assert calls == [True, True]


def test_fast_path_with_stored_and_embedded_markets(unbatched, market_full, calls, monkeypatch):
    assert unbatched.put("/v1/markets/eod", json=market_full).status_code == 201
    for body in ({"portfolio": {"trades": vanilla(30)}, "market_id": "eod"},
                 {"portfolio": {"trades": vanilla(3), "market": market_full}},
                 {"portfolio": {"trades": []}, "market_id": "eod"}):
        fast, full = _both(unbatched, body, monkeypatch)
        assert fast.status_code == full.status_code == 200
        assert fast.content == full.content
    # request-level problems found after validation are the same too
    for body in ({"portfolio": {"trades": vanilla(2)}, "market_id": "nope"},
                 {"portfolio": {"trades": vanilla(2)}}):
        fast, full = _both(unbatched, body, monkeypatch)
        assert fast.status_code == full.status_code and fast.status_code in (404, 422)
        assert fast.content == full.content
    assert all(calls)


def _bad_trade(**fields) -> dict:
    good = {"trade_id": "A", "underlying": "SPX", "option_type": "call", "strike": 5000,
            "expiry": "2025-06-20", "quantity": 1}
    return {**good, **fields}


BAD_TRADES = [  # (trade fields, path of the bad field below the trade)
    ({"strike": "5000"}, ["strike"]),
    ({"strike": True}, ["strike"]),
    ({"quantity": [1]}, ["quantity"]),
    ({"quantity": {"n": 1}}, ["quantity"]),
    ({"expiry": 20250620}, ["expiry"]),
    ({"option_type": 1}, ["option_type"]),
    ({"product": 3}, ["product"]),
    ({"issue": "2024-02-30"}, ["issue"]),
    ({"maturity": "2024-2-03"}, ["maturity"]),
    ({"maturity": "2024-W01-1"}, ["maturity"]),
    ({"trade_id": True}, ["trade_id"]),
    ({"trade_id": 1.5}, ["trade_id"]),
    ({"trade_id": ["x"]}, ["trade_id"]),
]


@pytest.mark.parametrize("fields,path", BAD_TRADES)
def test_bad_trade_fields_take_the_full_path(unbatched, market_full, calls, fields, path):
    trades = vanilla(20) + [_bad_trade(**fields)] + vanilla(3, prefix="U")
    r = _post(unbatched, {"portfolio": {"trades": trades}, "market": market_full})
    assert r.status_code == 422
    want = ["body", "portfolio", "trades", 20, *path]
    locs = [e["loc"] for e in r.json()["detail"]]
    assert any(loc[:len(want)] == want for loc in locs), locs   # (a union adds its member)
    assert calls == [False]


@pytest.mark.parametrize("content,loc", [
    (b'{"portfolio": {"trades": [{"trade_id": "A", "strike": NaN}]}, "market_id": "m"}',
     ["body", "portfolio", "trades", 0, "strike"]),
    (b'{"portfolio": {"trades": [{"trade_id": "A", "strike": 1e400}]}, "market_id": "m"}',
     ["body", "portfolio", "trades", 0, "strike"]),
    (b'{"portfolio": {"trades": [7]}, "market_id": "m"}', ["body", "portfolio", "trades", 0]),
    (b'{"portfolio": {"trades": {}}, "market_id": "m"}', ["body", "portfolio", "trades"]),
    (b'{"portfolio": {}, "market_id": "m"}', ["body", "portfolio", "trades"]),
    (b'{"portfolio": [], "market_id": "m"}', ["body", "portfolio"]),
    (b'{"portfolio": {"trades": []}, "market_id": "bad id!"}', ["body", "market_id"]),
    (b'{"portfolio": {"trades": []}, "market_id": "m", "layout": "wide"}', ["body", "layout"]),
    (b'{"portfolio": {"trades": []}, "market_id": "m", "other": 1}', ["body", "other"]),
    (b'{"portfolio": {"trades": [], "x": 1}, "market_id": "m"}', ["body", "portfolio", "x"]),
    (b'{"portfolio": {"trades": []}, "market": {"valuation_date": "28/06/2024"}}',
     ["body", "market", "valuation_date"]),
    (b'[1, 2]', ["body"]),
])
def test_bad_bodies_take_the_full_path(unbatched, calls, content, loc):
    r = _post(unbatched, content)
    assert r.status_code == 422
    assert loc in [e["loc"] for e in r.json()["detail"]]
    assert calls == [False]


def test_json_the_fast_parser_reads_differently_takes_the_full_path(unbatched, market_full,
                                                                    calls, monkeypatch):
    big = 123456789012345678901234567890  # orjson would read a float, json.loads an int
    trades = [_bad_trade(note=big), _bad_trade(trade_id="B", strike=5000.0)]
    body = json.dumps({"portfolio": {"trades": trades}, "market": market_full}).encode()
    assert fastpath.parse_risk_body(body) is None
    fast, full = _both(unbatched, body, monkeypatch)
    assert fast.status_code == full.status_code == 200 and fast.content == full.content
    err = [e for e in fast.json()["errors"] if e["field"] == "note"]
    assert err and err[0]["value"] == str(big)


def test_fast_path_needs_the_api_key(make_app, market_full):
    with TestClient(make_app(api_keys=("k1",))) as c:
        body = orjson.dumps({"portfolio": {"trades": vanilla(2)}, "market": market_full})
        assert _post(c, body).status_code == 401
        r = c.post("/v1/risk", content=body, headers={"content-type": "application/json",
                                                      "x-api-key": "nope"})
        assert r.status_code == 403
        r = c.post("/v1/risk", content=body, headers={"content-type": "application/json",
                                                      "x-api-key": "k1"})
        assert r.status_code == 200


def test_large_bodies_are_parsed_off_the_event_loop(unbatched, market_full, calls, monkeypatch):
    body = orjson.dumps({"portfolio": {"trades": vanilla(400)}, "market": market_full})
    assert len(body) >= lane.PARSE_OFF_LOOP_BYTES
    fast, full = _both(unbatched, body, monkeypatch)
    assert fast.status_code == 200 and fast.content == full.content
    assert calls == [True]


def test_key_is_checked_after_the_body_as_on_the_full_path(make_app, market_full):
    with TestClient(make_app(api_keys=("k1",))) as c:
        assert _post(c, b"{not json").status_code == 422       # JSON errors come first
        bad = {"portfolio": {"trades": [_bad_trade(strike="1")]}, "market": market_full}
        assert _post(c, bad).status_code == 401                 # then the key, as FastAPI


def test_lane_answers_are_counted_under_the_route(client, market_full, calls):
    body = {"portfolio": {"trades": vanilla(2)}, "market": market_full}
    assert _post(client, body).status_code == 200
    text = client.get("/metrics").text
    assert 'aadrisk_http_requests_total{method="POST",route="/v1/risk",status="200"} 1.0' in text
    assert calls == [True]


def test_lane_counts_each_request_once(client, market_full, calls):
    """A body the lane hands to the full path (422) and one over the limit (413) are each
    counted once, under the route."""
    bad = {"portfolio": {"trades": [{"trade_id": "x", "strike": "high"}]}, "market": market_full}
    assert _post(client, bad).status_code == 422
    text = client.get("/metrics").text
    assert 'aadrisk_http_requests_total{method="POST",route="/v1/risk",status="422"} 1.0' in text
    assert calls == [False]


def test_lane_refuses_a_body_over_the_limit(make_app, market_full, calls):
    with TestClient(make_app(max_body_bytes=500)) as c:
        r = _post(c, {"portfolio": {"trades": vanilla(20)}, "market": market_full})
        assert r.status_code == 413 and "500" in r.json()["detail"]
        text = c.get("/metrics").text
    assert 'route="/v1/risk",status="413"} 1.0' in text
    assert calls == []                                    # refused before any parse


def test_lane_answers_an_unexpected_error_with_500(client, market_full, monkeypatch, caplog):
    async def boom(*args):
        raise RuntimeError("bug in the service")
    monkeypatch.setattr(lane, "risk_answer", boom)
    r = _post(client, {"portfolio": {"trades": vanilla(1)}, "market": market_full})
    assert r.status_code == 500 and r.json() == {"detail": "internal error"}
    assert "bug in the service" in caplog.text


def test_lane_answers_carry_cors_headers(make_app, market_full, calls):
    with TestClient(make_app(cors_origins=("https://dash.example",))) as c:
        r = c.post("/v1/risk", content=orjson.dumps({"portfolio": {"trades": vanilla(1)},
                                                     "market": market_full}),
                   headers={"content-type": "application/json",
                            "origin": "https://dash.example"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://dash.example"
    assert calls == [True]


@pytest.mark.parametrize("value, accepted", [(2 ** 53, True), (-(2 ** 53), True),
                                             (2 ** 53 + 1, False), (-(2 ** 53) - 1, False),
                                             (2 ** 60, False), (9.0e15, True)])
def test_number_column_int_exactness(value, accepted):
    """An int converts exactly to float only up to 2**53 (the vectorised bound test lets
    larger magnitudes fall to the exact per-int check; floats pass below 2**63)."""
    col = [1, 2.5, value]
    if accepted:
        assert fastpath._numbers(col) == ([1.0, 2.5, float(value)], frozenset({float}))
    else:
        with pytest.raises(fastpath._Reject):
            fastpath._numbers(col)


@pytest.mark.parametrize("trades", [
    [{"trade_id": "A", "underlying": "X", "strike": 1, "quantity": None},
     {"trade_id": 7, "underlying": "X", "strike": 2.5, "quantity": None}],
    [{"trade_id": "A", "underlying": None, "strike": None, "quantity": 3, "extra": True},
     {"trade_id": None, "underlying": "Y", "strike": None, "quantity": 1.5, "extra": [1]}],
    [{"trade_id": "A", "strike": 1}, {"trade_id": "B", "expiry": "2025-01-02"}],
])
def test_checked_columns_carry_their_value_types(trades):
    """The value types the checks hand the library are exactly those of each column."""
    book = fastpath.check_trades(trades)
    assert len(book.types) == len(book.groups)
    for (keys, _, columns), types in zip(book.groups, book.types):
        assert types == tuple(frozenset(map(type, c)) for c in columns)


@pytest.mark.parametrize("n", [3, 600])                 # parsed whole, and scanned
def test_parsed_columns_carry_their_value_types(n, market_full, monkeypatch):
    trades = vanilla(n) + (_odd_trades()[-3:] if n < 100 else [])
    body = json.dumps({"portfolio": {"trades": trades}, "market": market_full}).encode()
    if n > 100:                                         # must go through the scan
        assert len(body) >= fastpath.SCAN_MIN_BYTES
        monkeypatch.setattr(fastpath, "_parse_whole", None)
    got = fastpath.parse_risk_body(body)
    assert got is not None
    book = got[1]
    assert len(book.types) == len(book.groups)
    for (_, _, columns), types in zip(book.groups, book.types):
        assert types == tuple(frozenset(map(type, c)) for c in columns)
