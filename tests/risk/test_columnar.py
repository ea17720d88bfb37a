"""The columnar path of greek_arrays (vetted mappings, TradeColumns) against the per-trade
path (every trade through parse_greek_trade): same prices, rows, order and errors."""
from __future__ import annotations

import datetime as dt
import json
import pathlib

import numpy as np
import pytest

from aadrisk.market.snapshot import MarketData
from aadrisk.risk import greeks as G
from aadrisk.risk.columns import BookColumns, TradeColumns, factorize, groups, vet_book
from aadrisk.risk.greeks import greek_arrays, parse_greek_trade

ROOT = pathlib.Path(__file__).resolve().parents[2]
RAW = json.loads((ROOT / "portfolios" / "market_full.json").read_text())
BASE = {"option_type": "call", "expiry": "2025-03-21", "quantity": 2}


def _t(tid, und, strike, **kw):
    return {**BASE, "trade_id": tid, "underlying": und, "strike": strike, **kw}


#: every equity product, valid and invalid fields, duplicates, market failures, non-mappings
BOOK = [
    _t("EU", "SPX", 5300), _t(" EU2 ", " SPX ", 5300, option_type=" CALL "),
    _t(17, "AAPL", 220, option_type="put"),
    _t("DG", "SPX", 5600, product="digital_option", payoff="cash", cash=100),
    _t("DG2", "SPX", 5600, product="digital_option", payoff="asset"),
    _t("DG3", "SPX", 5600, product="digital_option"),
    _t("BA", "SPX", 5400, product="barrier_option", barrier=6200, barrier_type="up_out"),
    _t("BA2", "SPX", 5400, product="barrier_option", barrier=4200,
       barrier_type="Down-and-In", rebate=3),
    _t("BA3", "SPX", 5400, product="barrier_option", barrier=4200, barrier_type="sideways"),
    _t("AS", "SX5E", 4800, product="geometric_asian", n_fixings=12),
    _t("AS2", "SX5E", 4800, product="geometric_asian"),
    _t("AS3", "SX5E", 4800, product="geometric_asian", n_fixings=2.5),
    _t("HE", "SPX", 5500, product="heston_option"),
    _t("HE2", "AAPL", 200, product="heston_option"),
    _t("SA", "AAPL", 215, product="sabr_option"),
    _t("SA2", "SX5E", 4700, product="sabr_option", expiry="2026-06-19"),
    _t("X1", "SPX", -1), _t("X2", "SPX", "ten", quantity=True), _t("X3", "SPX", float("nan")),
    _t("X4", "SPX", 2 ** 60), _t("X5", "SPX", 5000, colour="red"),
    {"trade_id": "X6", "underlying": "SPX", "strike": 5000, "option_type": "call"},
    _t("", "SPX", 5000), {**BASE, "underlying": "SPX", "strike": 5000},
    _t("X7", "NOPE", 5000), _t("X8", "SPX", 5000, expiry="2020-01-01"),
    _t("X9", "SPX", 5000, expiry="2025-02-30"),
    _t("X10", "SPX", 5000, expiry=dt.date(2025, 6, 20)),
    _t("X11", "SPX", 5000, expiry=dt.datetime(2025, 6, 20, 3)),
    _t("X12", "SPX", 5000, product="no_such"), _t("X13", "SPX", 5000, product=7),
    "not a trade", None, [1, 2],
    _t("EU", "SPX", 5100), _t("X7", "SPX", 5100),
    _t("DG", "SPX", 5400, product="barrier_option", barrier=6200, barrier_type="up_out"),
    _t("X14", "SPX", 5000, quantity=-3), _t("X15", "SPX", 5000, quantity=1e308),
    _t("X17", "SPX", 5000, option_type=["call"]), _t(True, "SPX", 5000),
    {"underlying": "SPX", "trade_id": "X18", "strike": 5000, **BASE},
    _t("SA", "SX5E", 4800, product="sabr_option"),
]
OBJS = [parse_greek_trade(_t(f"O{i}", "SPX", 5000 + i))[0] for i in range(3)]
MIXED = BOOK[:5] + [OBJS[0]] + BOOK[5:20] + OBJS[1:] + BOOK[20:] + [OBJS[0]]


@pytest.fixture(scope="module")
def market():
    return MarketData.from_mapping(RAW)


def _per_trade(book, market, monkeypatch):
    """greek_arrays with nothing vetted: every item through the per-trade parser."""
    with monkeypatch.context() as mp:
        mp.setattr(G, "vet_book", lambda b, products, columnar: ({}, list(range(len(b)))))
        return greek_arrays(book, market)


def _same(a, b):
    assert a.valuation_date == b.valuation_date and a.evaluated == b.evaluated
    assert [(type(e), e.trade_id, e.field, repr(e.value), str(e)) for e in a.errors] == \
        [(type(e), e.trade_id, e.field, repr(e.value), str(e)) for e in b.errors]
    for x, y in ((a.prices, b.prices), (a.greeks, b.greeks), (a.zero_greeks, b.zero_greeks)):
        assert list(x) == list(y)
        for c in x:
            assert x[c].dtype == y[c].dtype, c
            if x[c].dtype == object:
                assert x[c].tolist() == y[c].tolist(), c
            else:
                assert x[c].tobytes() == y[c].tobytes(), c


@pytest.mark.parametrize("book", [BOOK, MIXED, BOOK[16:34], [t for t in BOOK if type(t) is dict],
                                  []], ids=["mixed", "objects", "bad", "mappings", "empty"])
def test_columnar_equals_per_trade(book, market, monkeypatch):
    with np.errstate(over="ignore"):
        _same(greek_arrays(book, market), _per_trade(book, market, monkeypatch))


def test_book_columns_equal_the_mappings(market):
    """A book held as columns per key set gives what its list of mappings gives."""
    book = [t for t in BOOK if type(t) is dict]
    cols = BookColumns.from_mappings(book)
    assert cols.mappings() == list(cols) == book and len(cols) == len(book)
    assert [list(cols.mapping(p).items()) for p in range(len(book))] == \
        [list(t.items()) for t in book]
    with np.errstate(over="ignore"):
        _same(greek_arrays(cols, market), greek_arrays(book, market))
    fast, slow = vet_book(cols, G.GREEK_PRODUCTS, {"european_option", "sabr_option"})
    ref_fast, ref_slow = vet_book(book, G.GREEK_PRODUCTS, {"european_option", "sabr_option"})
    assert slow == ref_slow and list(fast) == list(ref_fast)
    for p in fast:
        assert fast[p][0].tolist() == ref_fast[p][0].tolist()
        assert fast[p][1].trade_id.tolist() == ref_fast[p][1].trade_id.tolist()


def test_every_equity_product_is_vetted(market):
    fast, slow = vet_book(BOOK, G.GREEK_PRODUCTS, {p for p, e in G.ENGINES.items()
                                                   if e.columnar})
    assert set(fast) == {"european_option", "digital_option", "barrier_option",
                         "geometric_asian", "heston_option", "sabr_option"}
    assert [BOOK[p]["trade_id"] for p in fast["european_option"][0][:3]] == ["EU", " EU2 ", 17]
    assert fast["european_option"][1].trade_id[:3].tolist() == ["EU", "EU2", "17"]
    # bad fields, unknown / missing fields, non-mappings and unknown products go per trade
    assert {16, 17, 18, 19, 20, 21, 22, 23, 29, 30, 31, 32, 33} <= set(slow)


def test_errors_name_trade_field_value(market):
    with np.errstate(over="ignore"):
        a = greek_arrays(BOOK, market)
    by = {(e.trade_id, e.field): e for e in a.errors}
    assert by[("X1", "strike")].value == -1
    assert ("EU", "trade_id") in by and ("X7", "underlying") in by
    assert ("X8", "expiry") in by and ("HE2", "underlying") in by
    assert "EU" in a.prices["trade"].tolist() and "X7" not in a.prices["trade"].tolist()


def test_columns_of_instruments_round_trip():
    cols = TradeColumns.from_instruments(OBJS)
    assert cols.product == "european_option" and cols.trade_id.tolist() == ["O0", "O1", "O2"]
    assert cols["strike"].dtype == float and cols.take([2])["strike"].tolist() == [5002.0]
    codes, uniq = factorize(["b", "a", "b", "c"])
    assert [g.tolist() for g in groups(codes, len(uniq))] == [[0, 2], [1], [3]]


def test_columns_read_as_instruments(market):
    """Engines written against lists of instruments can iterate the columns."""
    fast, _ = vet_book(BOOK, G.GREEK_PRODUCTS, {"european_option", "digital_option"})
    cols = fast["digital_option"][1]
    recs = list(cols)
    assert [r.trade_id for r in recs] == cols.trade_id.tolist() == [r.trade_id for r in
                                                                      cols.records()]
    want = [parse_greek_trade(BOOK[p])[0] for p in fast["digital_option"][0]]
    assert recs == want and cols[0] == want[0]
    assert TradeColumns.from_instruments(recs)["cash"].tolist() == cols["cash"].tolist()


def _typed(cols: BookColumns) -> BookColumns:
    """``cols`` with each column's exact set of value types given."""
    return BookColumns(cols.n, cols.groups,
                       [tuple(frozenset(map(type, c)) for c in columns)
                        for _, _, columns in cols.groups])


@pytest.mark.parametrize("book", [[t for t in BOOK if type(t) is dict],
                                  [_t(f"T{i}", u, k, option_type=o, expiry=e, quantity=q)
                                   for i, (u, k, o, e, q) in enumerate(
                                       [("SPX", 5000.0, "call", "2025-03-21", 2.0),
                                        ("AAPL", float("nan"), "put", "2025-06-20", 1.0),
                                        ("SX5E", -4.0, "CALL", "2025-06-20", -3.0),
                                        ("SPX", "5000", "call", "2025-03-21", 1.0),
                                        ("SPX", True, "call", "2025-03-21", 1.0),
                                        ("SPX", 5000.0, "call", "2025-03-21", False),
                                        ("SPX", 5000.0, None, "2025-03-21", 1.0),
                                        ("SPX", 5100.0, "put", None, 1.0),
                                        (7, 5100.0, "put", "2025-03-21", 1.0),
                                        ("SPX", 5100.0, "put", "2025-03-21", 2 ** 60)])]],
                         ids=["mixed", "bad-values"])
def test_given_value_types_change_nothing(book, market, monkeypatch):
    """Column type sets handed over by a reader (the service's checks) give the same
    vetting and results as the library's own scan, and as the per-trade path."""
    cols = BookColumns.from_mappings(book)
    typed = _typed(cols)
    assert typed.types != cols.types and cols.types == (None,) * len(cols.groups)
    columnar = {p for p, e in G.ENGINES.items() if e.columnar}
    fast, slow = vet_book(typed, G.GREEK_PRODUCTS, columnar)
    ref_fast, ref_slow = vet_book(cols, G.GREEK_PRODUCTS, columnar)
    assert slow == ref_slow and list(fast) == list(ref_fast)
    for p in fast:
        assert fast[p][0].tolist() == ref_fast[p][0].tolist()
        assert fast[p][1].trade_id.tolist() == ref_fast[p][1].trade_id.tolist()
        for k, v in fast[p][1].fields.items():
            assert v.tolist() == ref_fast[p][1].fields[k].tolist() or \
                np.array_equal(v, ref_fast[p][1].fields[k], equal_nan=True), k
    with np.errstate(over="ignore"):
        got = greek_arrays(typed, market)
        _same(got, greek_arrays(cols, market))
        _same(got, _per_trade(book, market, monkeypatch))


def test_given_value_types_are_used():
    """The vetting reads the given sets instead of scanning (so the test above compares
    two different scans): ids claimed to be all strings are stripped as strings."""
    cols = BookColumns.from_mappings([_t("A", "SPX", 5000.0), _t(7, "SPX", 5100.0)])
    keys = cols.groups[0][0]
    lie = tuple(frozenset({str}) if k == "trade_id" else frozenset(map(type, c))
                for k, c in zip(keys, cols.groups[0][2]))
    assert vet_book(cols, G.GREEK_PRODUCTS, {"european_option"})[1] == []
    with pytest.raises(TypeError):
        vet_book(BookColumns(cols.n, cols.groups, [lie]), G.GREEK_PRODUCTS,
                 {"european_option"})
    with pytest.raises(ValueError):
        BookColumns(cols.n, cols.groups, [])


@pytest.mark.parametrize("book", [[t for t in BOOK if type(t) is dict],
                                  [_t(f"T{i}", u, 5000, option_type=o, expiry=e)
                                   for i, (u, o, e) in enumerate(
                                       [("SX5E", "put", "2025-06-20"), ("SPX", "call", "2025-03-21"),
                                        (" SPX", "CALL", "2025-06-20"), ("SX5E", " put", "2025-03-21"),
                                        ("AAPL", "call", "2025-06-20")])],
                                  [_t(f"M{i}", f"U{(i * 7) % 300}", 5000) for i in range(700)]
                                  + [_t("BAD", "SPX", 5000, option_type="straddle")]],
                         ids=["mixed", "equal-after-conversion", "300-values"])
def test_vetted_codes_are_factorize(book):
    """The codes the vetting keeps (in order of first appearance, or re-numbered) are
    exactly ``factorize`` of the converted values, also after ``take``."""
    fast, _ = vet_book(BookColumns.from_mappings(book), G.GREEK_PRODUCTS,
                       {p for p, e in G.ENGINES.items() if e.columnar})
    assert fast
    for _, cols in fast.values():
        for part in (cols, cols.take(np.arange(len(cols))[::-1].copy())):
            for name in ("underlying", "option_type", "expiry"):
                codes, uniq = part.factorized(name)
                want_codes, want_uniq = factorize(part[name])
                assert codes.tolist() == want_codes.tolist() and uniq == want_uniq
                assert all(a is b for a, b in zip(uniq, want_uniq))
