"""The compiled body scan (service/bodyscan.py) against orjson of the whole body.

The reference is :func:`service.fastpath._parse_whole` (``orjson.loads`` of the
whole body, then the column checks): :func:`service.fastpath.parse_risk_body`,
which tries the scan first, must return exactly what it returns (both ``None``,
or the same request and the same mappings, key order and value types included)
for every body -- well-formed, oddly formatted, or broken byte by byte.
"""
from __future__ import annotations

import json
import random

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import fastpath
from service.bodyscan import scan_body
from service.schemas import trade_field_kinds

KEYS = tuple(trade_field_kinds())


@pytest.fixture(autouse=True)
def _scan_every_body(monkeypatch):
    """The scan for bodies of any size (the service scans only large ones)."""
    monkeypatch.setattr(fastpath, "SCAN_MIN_BYTES", 0)


def _vanilla(i: int) -> dict:
    return {"trade_id": f"T{i}", "underlying": "SPX", "option_type": "call",
            "strike": 5000 + i, "expiry": "2025-06-20", "quantity": 1.5}


def _same(body: bytes):
    """parse_risk_body(body) and the whole-body reference agree, and the types the scan
    gives for a column hold its values' types; returns the result."""
    scanned = scan_body(body, KEYS)
    for col, types in zip(*(() if scanned is None else (scanned.columns, scanned.types))):
        assert types is None or set(map(type, col)) == types
    got, ref = fastpath.parse_risk_body(body), fastpath._parse_whole(body)
    if ref is None:
        assert got is None
        return None
    assert got is not None
    assert got[0] == ref[0]
    a, b = got[1].mappings(), ref[1].mappings()
    assert [list(m.items()) for m in a] == [list(m.items()) for m in b]
    assert [[type(v) for v in m.values()] for m in a] == [[type(v) for v in m.values()]
                                                          for m in b]
    return got


def test_scan_cuts_the_trades_into_columns():
    body = orjson.dumps({"market_id": "m", "portfolio": {"name": "p", "trades": [
        _vanilla(0), _vanilla(1)]}, "layout": "columnar"})
    s = scan_body(body, KEYS)
    assert s.n == 2 and s.keys == ("trade_id", "underlying", "option_type", "strike",
                                   "expiry", "quantity")
    assert s.columns[0] == ["T0", "T1"] and s.columns[3] == [5000, 5001]
    assert s.types == ({str}, {str}, {str}, None, {str}, None)
    mixed = scan_body(body.replace(b'"T1"', b"7").replace(b"5001", b"null"), KEYS)
    assert mixed.types[0] is None and mixed.types[1] == {str}
    assert orjson.loads(s.skeleton) == {"market_id": "m", "portfolio": {
        "name": "p", "trades": []}, "layout": "columnar"}
    assert _same(body) is not None


@pytest.mark.parametrize("body", [
    b'{"portfolio": {"trades": []}, "portfolio": {"trades": []}, "market_id": "m"}',
    b'{"portfolio": {"trades": [], "trades": []}, "market_id": "m"}',
    b'{"portfoli\\u006f": {"trades": []}, "market_id": "m"}',
    b'{"portfolio": {"trade\\u0073": []}, "market_id": "m"}',
    b'{"portfolio": {"trades": {}}, "market_id": "m"}',
    b'{"portfolio": {"trades": [1]}, "market_id": "m"}',
    b'{"portfolio": {"trades": [{"trade_id": "A", "trade_id": "B"}]}, "market_id": "m"}',
    b'{"portfolio": {"trades": [{"trade_id": "A", "moon": 1}]}, "market_id": "m"}',
    b'{"portfolio": {"trades": [{"trade_id": "A", "model": [1, 2]}]}, "market_id": "m"}',
    b'{"portfolio": {"trades": [{"trade_id": "A"}, {"strike": 1}]}, "market_id": "m"}',
    b'{"portfolio": {"trades": [{"trade_\\u0069d": "A"}]}, "market_id": "m"}',
    b'{"portfolio": {"trades": [{"trade_id": "A",}]}, "market_id": "m"}',
    b'{"portfolio": {"trades": [{"trade_id": "A"},]}, "market_id": "m"}',
    b'{"portfolio": {"trades": [{"trade_id": "A"}]}, "market_id": "m"} x',
    b'{"portfolio": {"trades": [{"trade_id": nul}]}, "market_id": "m"}',
    b'[{"portfolio": {"trades": []}}]',
])
def test_scan_gives_up_on_what_it_cannot_vouch_for(body):
    assert scan_body(body, KEYS) is None
    _same(body)


@pytest.mark.parametrize("body", [
    # values orjson reads: escapes, non-ASCII, exponents, big ints, literals, whitespace
    b'{"portfolio":{"trades":[{"trade_id":"A\\"\\u00e9\\n","strike":1E+3,"quantity":-0}]},'
    b'"market_id":"m"}',
    '{"portfolio": {"trades": [ {"trade_id": "é€", "strike": 12345678901234567890123}\t]},'
    ' "market_id": "m"}'.encode(),
    b'{"portfolio":{"trades":[{"trade_id":7,"strike":null,"quantity":true}]},"market_id":"m"}',
    b'\n{ "market_id" : "m" ,\r\n "portfolio" : { "name" : "[{\\"trades\\": 1}]" ,'
    b' "trades" : [ { "trade_id" : "A" , "strike" : 1.5 } ] } }\n',
    b'{"portfolio":{"trades":[{"trade_id":"A","strike":01}]},"market_id":"m"}',
    b'{"portfolio":{"trades":[{"trade_id":"A","strike":1.}]},"market_id":"m"}',
    b'{"portfolio":{"trades":[{"trade_id":"A\x01","strike":1}]},"market_id":"m"}',
    b'{"portfolio":{"trades":[{"trade_id":"\xff","strike":1}]},"market_id":"m"}',
    b'{"portfolio":{"trades":[{"trade_id":"A","strike":NaN}]},"market_id":"m"}',
    b'{"portfolio":{"trades":[{}]},"market_id":"m"}',
    b'{"portfolio":{"trades":[{"trade_id":"A","expiry":"2025-02-30"}]},"market_id":"m"}',
    b'{"portfolio":{"trades":[]},"market_id":"m","market":{"x":[1,{"y":"]"}]}}',
    b'{"portfolio":{"trades":[{"trade_id":"A"}]},"market_id":"m","layout":"nope"}',
])
def test_scan_agrees_with_orjson_on_odd_bodies(body):
    _same(body)


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
_value = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                   st.floats(allow_nan=False, allow_infinity=False), _text,
                   st.lists(st.integers(), max_size=2), st.dictionaries(_text, st.integers(),
                                                                        max_size=1))
_key = st.sampled_from(KEYS[:12] + ("moon", "trade_id"))
_trade = st.dictionaries(_key, _value, max_size=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trades=st.lists(_trade, max_size=4), uniform=st.booleans(), indent=st.booleans(),
       extra=st.dictionaries(st.sampled_from(["market_id", "layout", "name", "x"]),
                             _value, max_size=2))
def test_scan_agrees_with_orjson_on_generated_bodies(trades, uniform, indent, extra):
    if uniform and trades:
        keys = list(trades[0])
        trades = [{k: t.get(k, 1.0) for k in keys} for t in trades]
    doc = {**extra, "portfolio": {"trades": trades}}
    body = json.dumps(doc, indent=1 if indent else None, ensure_ascii=False).encode()
    _same(body)


def test_scan_agrees_with_orjson_on_broken_bodies():
    """Random byte edits of a valid body (seeded): deleted, doubled or replaced bytes."""
    rng = random.Random(7)
    base = orjson.dumps({"market_id": "m", "portfolio": {"name": "p", "trades": [
        _vanilla(i) for i in range(3)]}})
    alphabet = b'{}[]:,"\\ 0123456789.eE+-ntrufalsx'
    for _ in range(3000):
        b = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            op = rng.randrange(3)
            if op == 0:
                del b[i]
            elif op == 1:
                b.insert(i, b[i])
            else:
                b[i] = rng.choice(alphabet)
        _same(bytes(b))


def test_kernels_have_no_reference_counts():
    """The scan's kernels allocate nothing and are compiled without Numba's reference
    counts (atomic operations on every helper call, see aadrisk._numba)."""
    from numba.core.registry import CPUDispatcher

    from service import bodyscan

    kernels = [v for v in vars(bodyscan).values() if isinstance(v, CPUDispatcher)]
    assert len(kernels) >= 10
    assert all(k.targetoptions.get("_nrt") is False for k in kernels)
