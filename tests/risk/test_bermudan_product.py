"""bermudan_swaption (Hull-White 1F, LSM Monte Carlo) in Greek vectors, on
portfolios/market_full.json (USD-SOFR curve, models.hull_white.USD):

* a European (one exercise) within 3 standard errors of the analytic Jamshidian price
  (aadrisk.models.hull_white, itself tested against QuantLib) on the same curve, schedule
  and accruals; a deep in-the-money one equals the ``swap`` product's forward swap;
* a Bermudan at least its most valuable European minus 3 standard errors;
* the Greek vector (par quotes, a, sigma) equals bump-and-reprice of the same engine with
  the same random numbers AND the exercise rule held fixed (the regression is refitted
  on a bumped market unless :func:`price_with_rules` is given the base market's rule);
* bad fields and missing model parameters are TradeErrors naming the field.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from aadrisk.market.snapshot import MarketData
from aadrisk.models import hull_white as hwa
from aadrisk.risk.greeks import greek_vectors
from aadrisk.risk.instruments import parse_trade
from aadrisk.risk.registry import INSTRUMENTS
from aadrisk.risk.products.bermudan import exercise_rules, price_with_rules, trade_schedule

ROOT = Path(__file__).resolve().parents[2]
MARKET = json.loads((ROOT / "portfolios" / "market_full.json").read_text())
HW = MARKET["models"]["hull_white"]["USD"]


def _bs(tid, **kw):
    t = {"trade_id": tid, "product": "bermudan_swaption", "currency": "USD", "expiry": "1Y",
         "tenor": "4Y", "strike": 0.042, "notional": 1e6, "payer": True, "paths": 4000,
         "seed": 5}
    t.update(kw)
    return t


def _inst(raw):
    inst, errs = parse_trade(raw, products=INSTRUMENTS)
    assert not errs, errs
    return inst


@pytest.fixture(scope="module")
def market():
    return MarketData.from_mapping(MARKET)


def _jamshidian(market, raw, j=0):
    """Analytic European exercising at schedule date ``j`` into the rest of the trade's
    swap (same times, discount factors and accruals), in currency."""
    times, acc = trade_schedule(_inst(raw), market)
    src = market.discount_for("USD")
    df = [float(d) for d in src.discount(np.asarray(times))]
    return raw["notional"] * float(hwa.swaption_price(
        a=HW["a"], sigma=HW["sigma"], expiry=times[j], df_expiry=df[j], times=list(times[j + 1:]),
        dfs=df[j + 1:], accruals=list(acc[j:]), strike=raw["strike"],
        is_payer=1.0 if raw["payer"] else 0.0))


def test_schedule_follows_the_curve_conventions(market):
    """USD-SOFR: annual fixed leg on ACT/360, MF; 1Y x 4Y from 2024-06-28 (the 1Y date is a
    Saturday: first exercise Monday 2025-06-30)."""
    times, acc = trade_schedule(_inst(_bs("S")), market)
    assert len(times) == 5 and times[0] == pytest.approx(367 / 365)
    assert all(t1 - t0 == pytest.approx(1.0, abs=0.01) for t0, t1 in zip(times, times[1:]))
    assert all(a == pytest.approx((t1 - t0) * 365 / 360) for a, t0, t1 in
               zip(acc, times, times[1:]))


@pytest.mark.parametrize("payer", [True, False])
def test_european_matches_jamshidian(market, payer):
    raw = _bs("E", exercise="european", expiry="2Y", tenor="3Y", strike=0.041, payer=payer,
              paths=10_000)
    rep = greek_vectors([raw], market)
    assert rep.ok, rep.errors
    p = rep.prices.set_index("trade").loc["E"]
    ref = _jamshidian(market, raw)
    assert p["model"] == "hull_white_mc" and p["stderr"] > 0
    assert abs(p["price"] - ref) < 3 * p["stderr"], (p["price"], p["stderr"], ref)


def test_deep_in_the_money_european_is_the_forward_swap(market):
    """Receive 12 % (~4.5 sd in the money): always exercised, so the price is the forward
    receiver swap of the ``swap`` product on the same dates (its fixed leg on the same
    schedule; single curve, the floating leg at par)."""
    raw = _bs("D", exercise="european", expiry="2Y", tenor="3Y", strike=0.12, payer=False)
    swap = {"trade_id": "SW", "product": "swap", "currency": "USD", "tenor": "3Y",
            "fixed_rate": 0.12, "notional": 1e6, "payer": False, "start": "2026-06-29"}
    rep = greek_vectors([raw, swap], market)
    assert rep.ok, rep.errors
    p = rep.prices.set_index("trade")
    assert abs(p.loc["D", "price"] - p.loc["SW", "price"]) < 3 * p.loc["D", "stderr"]
    # the analytic price is the swap's up to the out-of-the-money tail (receiver-payer parity)
    tail = _jamshidian(market, {**raw, "payer": True})
    assert _jamshidian(market, raw) - tail == pytest.approx(p.loc["SW", "price"], rel=1e-9)
    assert tail < 1e-3 * p.loc["SW", "price"]


def test_bermudan_worth_at_least_its_most_valuable_european(market):
    raw = _bs("B", paths=10_000)
    rep = greek_vectors([raw], market)
    assert rep.ok, rep.errors
    v, se = rep.prices["price"].iloc[0], rep.prices["stderr"].iloc[0]
    euro = [_jamshidian(market, raw, j) for j in range(4)]
    assert v >= max(euro) - 3 * se, (v, se, euro)
    assert v < sum(euro)


def test_trades_on_the_same_dates_share_paths_without_changing_prices(market):
    one = greek_vectors([_bs("A")], market).prices["price"].iloc[0]
    both = greek_vectors([_bs("A"), _bs("R", payer=False, strike=0.04)], market)
    assert both.prices["price"].iloc[0] == pytest.approx(one, rel=1e-12)


def test_greek_vector_equals_bump_and_reprice_with_the_rule_fixed(market):
    raw = _bs("G", paths=2000)
    rep = greek_vectors([raw], market)
    assert rep.ok, rep.errors
    vec = rep.vector("G")
    g = rep.greeks.set_index("label")
    quotes = market.discount_for("USD").labels
    params = [f"model/hull_white/USD/{p}" for p in ("a", "sigma")]
    assert set(vec.index) == set(quotes) | set(params)
    assert set(g.loc[quotes, "greek"]) == {"par"} and set(g.loc[params, "greek"]) == {"model"}
    assert np.all(np.isfinite(g["stderr"])) and np.all(g["stderr"] >= 0)
    assert all(g.loc[lab, "stderr"] > 0 for lab in params + ["curve/USD-SOFR/swap/5Y"])
    inst = _inst(raw)
    rule = exercise_rules([inst], market)
    base, _ = price_with_rules([inst], market, rule)
    assert base[0] == pytest.approx(rep.prices["price"].iloc[0], rel=1e-12)
    for lab in quotes + params:
        h = 1e-8 if lab.endswith("sigma") else 1e-7
        up = price_with_rules([inst], MarketData.from_mapping(MARKET, bumps={lab: h}), rule)
        dn = price_with_rules([inst], MarketData.from_mapping(MARKET, bumps={lab: -h}), rule)
        fd = (up[0][0] - dn[0][0]) / (2 * h)
        assert vec[lab] == pytest.approx(fd, rel=1e-5, abs=1e-6 * abs(vec).max()), (lab, fd)


def test_bad_fields_name_trade_and_field(market):
    rep = greek_vectors([_bs("B1", exercise="american"), _bs("B2", paths=5),
                         _bs("B3", fixed_tenor="5W"), _bs("B4", tenor="soon"),
                         _bs("B5", strike="4%"), _bs("B6", notional=-1.0),
                         _bs("B7", currency="JPY"), _bs("OK", paths=500)], market)
    bad = {(e.trade_id, e.field) for e in rep.errors}
    assert bad == {("B1", "exercise"), ("B2", "paths"), ("B3", "fixed_tenor"),
                   ("B4", "tenor"), ("B5", "strike"), ("B6", "notional"),
                   ("B7", "currency")}
    assert rep.prices["trade"].tolist() == ["OK"]


def test_missing_or_bad_hull_white_parameters_fail_the_trade_only(market):
    rep = greek_vectors([_bs("EUR", currency="EUR"), _bs("OK", paths=500)], market)
    assert [(e.trade_id, e.field) for e in rep.errors] == [("EUR", "currency")]
    assert "models.hull_white.EUR" in str(rep.errors[0])
    raw = copy.deepcopy(MARKET)
    raw["models"]["hull_white"]["USD"]["sigma"] = -0.01
    rep = greek_vectors([_bs("NEG", paths=500)], MarketData.from_mapping(raw))
    assert [(e.trade_id, e.field) for e in rep.errors] == [("NEG", "currency")]
    assert "sigma" in str(rep.errors[0])


def test_schema_and_sample_book_match_the_instrument():
    """docs/schemas/rates_trades.schema.json has the instrument's fields (required: those
    without a default); the bundled sample book's trade uses only those and prices."""
    import dataclasses

    from aadrisk.risk.products.bermudan import BermudanSwaptionTrade
    schema = json.loads((ROOT / "docs" / "schemas" / "rates_trades.schema.json").read_text())
    d = schema["$defs"]["bermudan_swaption"]
    fields = dataclasses.fields(BermudanSwaptionTrade)
    assert set(d["properties"]) == {f.name for f in fields} | {"product"}
    assert set(d["required"]) == {"product"} | {f.name for f in fields
                                                 if f.default is dataclasses.MISSING}
    book = json.loads((ROOT / "portfolios" / "demo_full.json").read_text())["trades"]
    mine = [t for t in book if t["product"] == "bermudan_swaption"]
    assert mine and all(set(t) <= set(d["properties"]) and set(d["required"]) <= set(t)
                        for t in mine)
