"""Validation: a bad trade is reported (trade id, field, value) and never sinks the book."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import pytest

from aadrisk.risk import (BookError, EuropeanOption, MarketError, MarketSnapshot, OptionType,
                          TradeError, compute_risk, load_book, load_market, parse_trade)

MARKET = {
    "valuation_date": "2024-06-28",
    "rates": {"USD": 0.05},
    "underlyings": {"XYZ": {"spot": 100.0, "vol": 0.2, "div_yield": 0.01, "currency": "USD"}},
}
GOOD = {"trade_id": "G", "underlying": "XYZ", "option_type": "call", "strike": 100.0,
        "expiry": "2025-06-27", "quantity": 10}


@pytest.fixture(scope="module")
def market():
    return MarketSnapshot.from_mapping(MARKET)


def _book(bad: dict) -> list[dict]:
    """Two good trades around one bad one."""
    return [{**GOOD, "trade_id": "OK1"}, bad, {**GOOD, "trade_id": "OK2", "option_type": "put"}]


BAD_CASES = [
    # (change to the good trade, field named in the error, words in the reason)
    ({"strike": -100.0}, "strike", "positive"),
    ({"strike": 0}, "strike", "positive"),
    ({"strike": "100"}, "strike", "number"),
    ({"strike": float("nan")}, "strike", "finite"),
    ({"strike": None}, "strike", "number"),
    ({"option_type": "straddle"}, "option_type", "'call' or 'put'"),
    ({"option_type": 1}, "option_type", "'call' or 'put'"),
    ({"expiry": "2024-01-19"}, "expiry", "before the valuation date"),
    ({"expiry": "2024-06-28"}, "expiry", "is the valuation date"),
    ({"expiry": "27/06/2025"}, "expiry", "date"),
    ({"underlying": "NOPE"}, "underlying", "not in the market"),
    ({"underlying": ""}, "underlying", "non-empty"),
    ({"quantity": "ten"}, "quantity", "number"),
    ({"quantity": None}, "quantity", "number"),
    ({"quantity": True}, "quantity", "number"),
    ({"quantity": float("inf")}, "quantity", "finite"),
    ({"quantity": [1, 2]}, "quantity", "number"),
    ({"strik": 100.0}, "strik", "unknown field"),
    ({"product": "barrier_option"}, "product", "unknown product"),
]


@pytest.mark.parametrize("change, field, reason", BAD_CASES,
                         ids=[f"{f}={list(c.values())[0]!r}" for c, f, _ in BAD_CASES])
def test_bad_trade_is_reported_and_others_priced(market, change, field, reason):
    bad = {**GOOD, "trade_id": "BAD-1", **change}
    report = compute_risk(_book(bad), market)
    assert list(report.trades["trade_id"]) == ["OK1", "OK2"]
    assert not report.ok and report.failed_trade_ids == ["BAD-1"]
    err = next(e for e in report.errors if e.field == field)
    assert err.trade_id == "BAD-1" and reason in err.reason
    value = change.get(field, bad.get(field))
    msg = str(err)
    assert "BAD-1" in msg and repr(field) in msg and reason in msg
    if not (isinstance(value, float) and math.isnan(value)):
        assert err.value == value
    assert repr(value) in msg
    frame = report.errors_frame
    assert list(frame.columns) == ["trade_id", "field", "value", "message"]
    assert {"BAD-1"} == set(frame["trade_id"]) and field in set(frame["field"])


@pytest.mark.parametrize("field", ["underlying", "option_type", "strike", "expiry", "quantity"])
def test_missing_field(market, field):
    bad = {k: v for k, v in GOOD.items() if k != field} | {"trade_id": "MISSING"}
    report = compute_risk(_book(bad), market)
    (err,) = report.errors
    assert (err.trade_id, err.field, err.value) == ("MISSING", field, None)
    assert "missing" in str(err) and len(report.trades) == 2


def test_every_problem_of_a_trade_is_listed(market):
    bad = {**GOOD, "trade_id": "MANY", "strike": -1, "option_type": "x", "quantity": "q"}
    report = compute_risk(_book(bad), market)
    assert sorted(e.field for e in report.errors) == ["option_type", "quantity", "strike"]
    assert len(report.trades) == 2


def test_trade_without_id_is_named_by_position(market):
    bad = {k: v for k, v in GOOD.items() if k != "trade_id"}
    report = compute_risk(_book(bad), market)
    assert report.failed_trade_ids == ["#1"] and report.errors[0].field == "trade_id"


def test_duplicate_trade_id(market):
    report = compute_risk([GOOD, {**GOOD, "strike": 90.0}], market)
    assert len(report.trades) == 1 and report.trades["strike"].iloc[0] == 100.0
    (err,) = report.errors
    assert (err.trade_id, err.field) == ("G", "trade_id") and "duplicate" in err.reason


def test_non_object_trade(market):
    report = compute_risk([GOOD, ["not", "a", "trade"]], market)
    assert len(report.trades) == 1 and report.errors[0].trade_id == "#1"


def test_non_finite_result_is_an_error_not_a_number(market):
    # a strike so small that log(spot / strike) overflows: the model cannot price it
    bad = {**GOOD, "trade_id": "TINYK", "strike": 1e-320}
    report = compute_risk(_book(bad), market)
    assert report.failed_trade_ids == ["TINYK"] and len(report.trades) == 2
    assert "non-finite" in report.errors[0].reason


def test_all_trades_bad(market):
    report = compute_risk([{**GOOD, "strike": -1}], market)
    assert report.trades.empty and report.totals.empty and len(report.errors) == 1
    with pytest.raises(TradeError, match="strike"):
        report.raise_for_errors()


def test_option_type_is_case_insensitive(market):
    report = compute_risk([{**GOOD, "option_type": " PUT "}], market)
    assert report.ok and report.trades["option_type"].iloc[0] == "put"


def test_instrument_construction_validates():
    opt = EuropeanOption("A", "XYZ", "Call", 100, "2025-01-17", 5)
    assert opt.option_type is OptionType.CALL and opt.expiry == dt.date(2025, 1, 17)
    assert opt.strike == 100.0 and isinstance(opt.strike, float)
    with pytest.raises(TradeError) as info:
        EuropeanOption("B", "XYZ", "call", -5.0, dt.date(2025, 1, 17), 1)
    assert (info.value.trade_id, info.value.field, info.value.value) == ("B", "strike", -5.0)
    with pytest.raises(TradeError, match="trade_id"):
        EuropeanOption("", "XYZ", "call", 5.0, dt.date(2025, 1, 17), 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opt.strike = 1.0


def test_parse_trade_returns_instrument_or_errors():
    trade, errors = parse_trade(GOOD)
    assert errors == [] and isinstance(trade, EuropeanOption) and trade.quantity == 10.0
    trade, errors = parse_trade({**GOOD, "strike": -1})
    assert trade is None and [e.field for e in errors] == ["strike"]


# -- market -------------------------------------------------------------------------
@pytest.mark.parametrize("change, words", [
    ({"valuation_date": "yesterday"}, "valuation_date"),
    ({"underlyings": {"XYZ": {"spot": -1, "vol": 0.2, "currency": "USD"}}}, "'XYZ'"),
    ({"underlyings": {"XYZ": {"spot": 100, "vol": 0.0, "currency": "USD"}}}, "'vol'"),
    ({"underlyings": {"XYZ": {"spot": 100, "currency": "USD"}}}, "missing 'vol'"),
    ({"underlyings": {"XYZ": {"spot": 100, "vol": 0.2, "currency": "JPY"}}}, "'JPY'"),
    ({"underlyings": {"XYZ": {"spot": 100, "vol": 0.2, "colour": "red"}}}, "colour"),
    ({"underlyings": {}}, "underlyings"),
    ({"rates": {"USD": "five"}}, "'USD'"),
    ({"rates": {}}, "rate"),
    ({"fx": {}}, "fx"),
])
def test_malformed_market_is_refused_with_a_clear_message(change, words):
    with pytest.raises(MarketError, match="market") as info:
        MarketSnapshot.from_mapping({**MARKET, **change})
    assert words in str(info.value)


def test_market_accepts_wrapped_document_and_single_rate():
    m = MarketSnapshot.from_mapping({"market": {**MARKET, "rate": 0.02, "rates": {}}})
    assert m.rate_for("XYZ") == 0.02 and m.currency_of("XYZ") == "USD"
    m = MarketSnapshot.from_mapping({**MARKET, "rates": {"USD": 0.04}, "rate": 0.02})
    assert m.rate_for("XYZ") == 0.04       # the currency's rate wins over the single rate


# -- files --------------------------------------------------------------------------
def test_book_file_errors(tmp_path):
    with pytest.raises(BookError, match="not found"):
        load_book(tmp_path / "missing.json")
    p = tmp_path / "broken.json"
    p.write_text("{not json")
    with pytest.raises(BookError, match="not valid JSON"):
        load_book(p)
    p.write_text(json.dumps({"trades": {"a": 1}}))
    with pytest.raises(BookError, match="'trades' must be a list"):
        load_book(p)
    p.write_text(json.dumps({"trades": [], "portfolio": 1}))
    with pytest.raises(BookError, match="portfolio"):
        load_book(p)
    p.write_text(json.dumps({"trades": [], "market": {**MARKET, "rates": {}}}))
    with pytest.raises(MarketError):
        load_book(p)


def test_book_without_market_and_separate_market_file(tmp_path):
    p = tmp_path / "book.json"
    p.write_text(json.dumps({"trades": [GOOD]}))
    book = load_book(p)
    assert book.market is None and book.name == "book.json" and book.trades == (GOOD,)
    m = tmp_path / "market.json"
    m.write_text(json.dumps(MARKET))
    assert load_market(m).valuation_date == dt.date(2024, 6, 28)
