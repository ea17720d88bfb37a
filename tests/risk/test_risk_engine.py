"""aadrisk.risk on the demo book: Greeks, totals, quantity scaling, units, one evaluation."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aadrisk as ad
from aadrisk.models import bsm_price
from aadrisk.risk import (GREEKS, PRICERS, PRODUCTS, SCALED, UNITS, EuropeanOption,
                          MarketSnapshot, TradeError, bsm_program, compute_risk, load_book,
                          load_market, register_pricer, register_product, year_fraction)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "portfolios" / "demo.json"
DEMO_MARKET = ROOT / "portfolios" / "demo_market.json"


@pytest.fixture(scope="module")
def demo():
    return load_book(DEMO)


@pytest.fixture(scope="module")
def report(demo):
    return compute_risk(demo.trades, demo.market)


def test_demo_book_prices_cleanly(demo, report):
    assert report.ok and report.errors == () and report.errors_frame.empty
    assert len(report.trades) == len(demo.trades) >= 8
    assert list(report.trades["trade_id"]) == [t["trade_id"] for t in demo.trades]
    assert set(report.trades["underlying"]) == {"SPX", "AAPL", "SX5E"}
    assert set(report.trades["option_type"]) == {"call", "put"}
    values = report.trades[list(GREEKS) + list(SCALED)].to_numpy(dtype=float)
    assert np.isfinite(values).all()


def _per_unit_reference(trade: dict, market: MarketSnapshot) -> dict:
    """Price and Greeks of one unit by plain-float bsm_price and central differences.

    An independent check of the wiring (which derivative lands in which column,
    sign of theta, quantity); the 1e-12 accuracy of the derivatives themselves is
    tested in tests/models/test_black_scholes.py.
    """
    q = market.quote(trade["underlying"])
    args = dict(spot=q.spot, strike=float(trade["strike"]),
                expiry=year_fraction(market.valuation_date,
                                     dt.date.fromisoformat(trade["expiry"])),
                vol=q.vol, rate=market.rate_for(trade["underlying"]), div=q.div_yield,
                is_call=1.0 if trade["option_type"] == "call" else 0.0)

    def f(**kw):
        return float(bsm_price(**{**args, **kw}))

    def d(name, h):
        x = args[name]
        return (f(**{name: x + h}) - f(**{name: x - h})) / (2 * h)

    hs = 2e-3 * args["spot"]
    gamma = (f(spot=args["spot"] + hs) - 2 * f() + f(spot=args["spot"] - hs)) / hs**2
    return {"price": f(), "delta": d("spot", 1e-5 * args["spot"]), "gamma": gamma,
            "vega": d("vol", 1e-5), "theta": -d("expiry", 1e-5), "rho": d("rate", 1e-6)}


def test_greeks_are_raw_derivatives_times_quantity(demo, report):
    rows = report.trades.set_index("trade_id")
    for trade in demo.trades:
        ref = _per_unit_reference(trade, demo.market)
        row = rows.loc[trade["trade_id"]]
        qty = trade["quantity"]
        assert row["unit_price"] == pytest.approx(ref["price"], rel=1e-13)
        assert row["price"] == pytest.approx(qty * ref["price"], rel=1e-13)
        for g, rel in (("delta", 1e-6), ("gamma", 1e-4), ("vega", 1e-6), ("theta", 1e-6),
                       ("rho", 1e-6)):
            assert row[g] == pytest.approx(qty * ref[g], rel=rel), (trade, g)


def test_scaled_columns_carry_their_units(report):
    t = report.trades
    np.testing.assert_allclose(t["vega_per_vol_point"], t["vega"] / 100.0, rtol=1e-15)
    np.testing.assert_allclose(t["theta_per_day"], t["theta"] / 365.0, rtol=1e-15)
    np.testing.assert_allclose(t["rho_per_bp"], t["rho"] / 10_000.0, rtol=1e-15)
    assert UNITS["theta_per_day"] == "ccy/day" and UNITS["rho_per_bp"] == "ccy/bp"
    assert set(UNITS) == set(GREEKS) | set(SCALED)


def test_years_to_expiry_is_act_365f(demo, report):
    vd = demo.market.valuation_date
    for row in report.trades.itertuples():
        assert row.years_to_expiry == (row.expiry - vd).days / 365.0


def test_by_underlying_totals_are_sums_of_trades(report):
    t, by = report.trades, report.by_underlying.set_index("underlying")
    for und, grp in t.groupby("underlying"):
        assert by.loc[und, "n_trades"] == len(grp)
        for col in list(GREEKS) + list(SCALED):
            assert by.loc[und, col] == pytest.approx(grp[col].sum(), rel=1e-14, abs=1e-12)


def test_currency_totals_are_sums_of_trades(report):
    t, tot = report.trades, report.totals
    assert sorted(tot.index) == ["EUR", "USD"]
    for ccy, grp in t.groupby("currency"):
        assert tot.loc[ccy, "n_trades"] == len(grp)
        for col in ("price", "vega", "theta", "rho", *SCALED):
            assert tot.loc[ccy, col] == pytest.approx(grp[col].sum(), rel=1e-14, abs=1e-12)
        if grp["underlying"].nunique() == 1:   # EUR: only SX5E
            assert tot.loc[ccy, "delta"] == pytest.approx(grp["delta"].sum(), rel=1e-14)
        else:                                  # USD: SPX and AAPL deltas do not add up
            assert math.isnan(tot.loc[ccy, "delta"]) and math.isnan(tot.loc[ccy, "gamma"])


def test_quantity_scaling_is_linear(demo):
    unit = [{**t, "quantity": 1} for t in demo.trades]
    scaled = [{**t, "quantity": -2.5} for t in demo.trades]
    a = compute_risk(unit, demo.market).trades
    b = compute_risk(scaled, demo.market).trades
    for g in GREEKS:
        np.testing.assert_allclose(b[g], -2.5 * a[g], rtol=1e-15)
    np.testing.assert_array_equal(a["price"], a["unit_price"])


def test_zero_quantity_is_priced_as_zero(demo):
    rep = compute_risk([{**demo.trades[0], "quantity": 0}], demo.market)
    assert rep.ok and (rep.trades[list(GREEKS)] == 0.0).all(axis=None)
    assert rep.trades["unit_price"].iloc[0] > 0


def test_instruments_and_mappings_mix(demo, report):
    t0 = demo.trades[0]
    inst = EuropeanOption(t0["trade_id"], t0["underlying"], t0["option_type"], t0["strike"],
                          dt.date.fromisoformat(t0["expiry"]), t0["quantity"])
    rep = compute_risk([inst, *demo.trades[1:]], demo.market)
    pd.testing.assert_frame_equal(rep.trades, report.trades)


def test_all_trades_in_one_recording_and_one_evaluation(demo, monkeypatch):
    calls = []
    prog = bsm_program()
    assert bsm_program() is prog                        # recorded once, cached
    original = type(prog).hvp

    def counting(self, inputs, direction, **kw):
        calls.append((len(inputs["spot"]), direction))
        return original(self, inputs, direction, **kw)

    monkeypatch.setattr(type(prog), "hvp", counting)
    compute_risk(demo.trades, demo.market)
    assert calls == [(len(demo.trades), {"spot": 1.0})]


def test_market_override_changes_valuation(demo, report):
    other = load_market(DEMO_MARKET)
    rep = compute_risk(demo.trades, other)
    assert rep.ok and rep.valuation_date == other.valuation_date != report.valuation_date
    assert not np.allclose(rep.trades["price"], report.trades["price"])
    assert (rep.trades["spot"] != report.trades["spot"]).all()


def test_single_rate_market_without_currencies():
    mkt = MarketSnapshot.from_mapping({"valuation_date": "2024-01-02", "rate": 0.03,
                                       "underlyings": {"X": {"spot": 50, "vol": 0.3}}})
    rep = compute_risk([{"trade_id": "a", "underlying": "X", "option_type": "put",
                         "strike": 55, "expiry": "2024-07-02", "quantity": 3}], mkt)
    assert rep.ok and rep.trades["rate"].iloc[0] == 0.03 and rep.trades["div_yield"].iloc[0] == 0
    assert list(rep.totals.index) == [""]
    expected = 3 * float(bsm_price(spot=50.0, strike=55.0, expiry=182 / 365, vol=0.3,
                                   rate=0.03, div=0.0, is_call=0.0))
    assert rep.totals["price"].iloc[0] == pytest.approx(expected, rel=1e-14)


def test_empty_book(demo):
    rep = compute_risk([], demo.market)
    assert rep.ok and rep.trades.empty and rep.totals.empty and rep.by_underlying.empty


def test_registry_takes_a_new_product_and_pricer(demo):
    """A cash-or-nothing digital call added from outside: the engine needs no change."""

    @dataclasses.dataclass(frozen=True)
    class DigitalCall:
        product_type = "test_digital_call"
        validators = {"underlying": str, "strike": float, "expiry": dt.date.fromisoformat,
                      "quantity": float}
        trade_id: str
        underlying: str
        strike: float
        expiry: dt.date
        quantity: float = 1.0

        @classmethod
        def fields(cls):
            return [f.name for f in dataclasses.fields(cls)]

    def digital(*, spot, strike, expiry, vol, rate):
        sd = vol * ad.sqrt(expiry)
        d2 = (ad.log(spot / strike) + rate * expiry) / sd - 0.5 * sd
        return ad.exp(-rate * expiry) * ad.norm_cdf(d2)

    class DigitalPricer:
        model = "bs-digital"
        input_columns = {"spot": "spot"}
        program = staticmethod(functools.lru_cache(None)(lambda: ad.record(digital)))

        def check(self, trade, market):
            if trade.underlying not in market.underlyings:
                raise TradeError(trade.trade_id, "underlying", trade.underlying, "unknown")

        def inputs(self, trades, market):
            q = [market.quote(t.underlying) for t in trades]
            return {"spot": np.array([x.spot for x in q]),
                    "strike": np.array([t.strike for t in trades]),
                    "expiry": np.array([year_fraction(market.valuation_date, t.expiry)
                                        for t in trades]),
                    "vol": np.array([x.vol for x in q]),
                    "rate": np.array([market.rate_for(t.underlying) for t in trades])}

    register_product(DigitalCall)
    register_pricer(DigitalCall.product_type, DigitalPricer())
    try:
        book = [*demo.trades[:2],
                {"trade_id": "D1", "product": "test_digital_call", "underlying": "SPX",
                 "strike": 5500.0, "expiry": "2024-12-20", "quantity": 1000.0}]
        rep = compute_risk(book, demo.market)
        assert rep.ok and list(rep.trades["trade_id"]) == [t["trade_id"] for t in book]
        d = rep.trades.set_index("trade_id").loc["D1"]
        assert d["model"] == "bs-digital" and 0 < d["unit_price"] < 1 and d["delta"] > 0
        assert d["strike"] == 5500.0 and pd.isna(d["option_type"])
    finally:
        PRODUCTS.pop(DigitalCall.product_type, None)
        PRICERS.pop(DigitalCall.product_type, None)
