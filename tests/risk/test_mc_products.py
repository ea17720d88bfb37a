"""mc_option in Greek vectors: prices within 3 standard errors of the closed forms on the
same market (surface + bootstrapped curve), Greek vectors against bump-and-reprice of the
same engine with the same random numbers, shared paths, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aadrisk.market.snapshot import MarketData
from aadrisk.risk.greeks import greek_vectors

ROOT = Path(__file__).resolve().parents[2]
MARKET = json.loads((ROOT / "portfolios" / "market_full.json").read_text())


def _mc(tid, **kw):
    t = {"trade_id": tid, "product": "mc_option", "underlying": "SPX", "option_type": "call",
         "strike": 5500.0, "expiry": "2025-06-20", "quantity": 1.0, "paths": 40_000,
         "steps_per_year": 12, "seed": 3}
    t.update(kw)
    return t


@pytest.fixture(scope="module")
def market():
    return MarketData.from_mapping(MARKET)


def test_gbm_european_matches_the_closed_form_on_the_surface(market):
    book = [_mc("MC1"), _mc("MC2", option_type="put", strike=5200.0),
            {"trade_id": "A1", "product": "european_option", "underlying": "SPX",
             "option_type": "call", "strike": 5500.0, "expiry": "2025-06-20", "quantity": 1},
            {"trade_id": "A2", "product": "european_option", "underlying": "SPX",
             "option_type": "put", "strike": 5200.0, "expiry": "2025-06-20", "quantity": 1}]
    rep = greek_vectors(book, market)
    assert rep.ok, rep.errors
    p = rep.prices.set_index("trade")
    for mc, an in (("MC1", "A1"), ("MC2", "A2")):
        assert abs(p.loc[mc, "price"] - p.loc[an, "price"]) < 3 * p.loc[mc, "stderr"]
        assert p.loc[mc, "model"] == "mc-gbm"
    # delta and total vega within Monte Carlo error of the closed form's
    vm, va = rep.vector("MC1"), rep.vector("A1")
    assert vm["spot/SPX"] == pytest.approx(va["spot/SPX"], abs=0.02)
    vega_m = vm[[k for k in vm.index if k.startswith("vol/")]].sum()
    vega_a = va[[k for k in va.index if k.startswith("vol/")]].sum()
    assert vega_m == pytest.approx(vega_a, rel=0.05)


@pytest.mark.parametrize("payoff,extra", [("asian", {}), ("barrier", {
    "barrier": 4800.0, "barrier_type": "down_out"})])
def test_greek_vector_equals_bump_and_reprice_same_numbers(market, payoff, extra):
    trade = _mc("X", payoff=payoff, paths=2000, **extra)
    rep = greek_vectors([trade], market)
    assert rep.ok, rep.errors
    vec = rep.vector("X")
    labels = ["spot/SPX", "div/SPX", "curve/USD-SOFR/swap/2Y",
              *[k for k in vec.index if k.startswith("vol/")][:3]]
    for lab in labels:
        h = 1e-4 if lab == "spot/SPX" else 1e-7
        up = greek_vectors([trade], MarketData.from_mapping(MARKET, bumps={lab: h}))
        dn = greek_vectors([trade], MarketData.from_mapping(MARKET, bumps={lab: -h}))
        fd = (up.prices["price"].iloc[0] - dn.prices["price"].iloc[0]) / (2 * h)
        assert vec[lab] == pytest.approx(fd, rel=1e-5, abs=1e-6 * abs(vec).max()), lab


def test_heston_mc_trade_has_model_greeks_and_stderrs(market):
    rep = greek_vectors([_mc("H", model="heston", paths=5000, steps_per_year=24)], market)
    assert rep.ok, rep.errors
    g = rep.greeks.set_index("label")
    for p in ("v0", "kappa", "theta", "xi", "rho"):
        row = g.loc[f"model/heston/SPX/{p}"]
        row = row[row["greek"] == "model"].iloc[0]
        assert np.isfinite(row["value"]) and row["stderr"] > 0
    assert rep.prices["stderr"].iloc[0] > 0


def test_bad_mc_fields_name_trade_and_field(market):
    rep = greek_vectors([_mc("B1", payoff="rainbow"), _mc("B2", paths=5),
                         _mc("B3", payoff="barrier"), _mc("OK", paths=500)], market)
    bad = {(e.trade_id, e.field) for e in rep.errors}
    assert bad == {("B1", "payoff"), ("B2", "paths"), ("B3", "barrier")}
    assert rep.prices["trade"].tolist() == ["OK"]


def test_every_first_order_greek_has_a_standard_error(market):
    rep = greek_vectors([_mc("S", payoff="asian", paths=4000)], market)
    first = rep.greeks[rep.greeks["greek"].isin(["delta", "div", "par", "vega"])]
    assert set(first["greek"]) == {"delta", "div", "par", "vega"}
    assert np.all(np.isfinite(first["stderr"])) and np.all(first["stderr"] >= 0)
    assert (first["stderr"] > 0).sum() >= len(first) // 2
    assert len(rep.zero_greeks) > 0 and np.all(np.isfinite(rep.zero_greeks["stderr"]))


def test_local_vol_from_the_implied_surface_reprices_vanillas_and_vega_is_per_implied_node(
        market):
    """Dupire local vol built on the tape from the surface's nodes: a vanilla reprices the
    closed form on the same surface within MC error plus the grid's discretisation (1 %),
    and vega lands on the implied-vol nodes, equal to bump-rebuild-reprice (same numbers)."""
    lv = _mc("LV", model="local_vol", paths=20_000, steps_per_year=52)
    an = {"trade_id": "A", "product": "european_option", "underlying": "SPX",
          "option_type": "call", "strike": 5500.0, "expiry": "2025-06-20", "quantity": 1}
    rep = greek_vectors([lv, an], market)
    assert rep.ok, rep.errors
    p = rep.prices.set_index("trade")
    assert abs(p.loc["LV", "price"] - p.loc["A", "price"]) < (3 * p.loc["LV", "stderr"]
                                                             + 0.01 * p.loc["A", "price"])
    small = _mc("LVs", model="local_vol", paths=1000, steps_per_year=12)
    vec = greek_vectors([small], market).vector("LVs")
    vols = [k for k in vec.index if k.startswith("vol/")]
    assert len(vols) >= 6
    lab = max(vols, key=lambda k: abs(vec[k]))
    h = 1e-6
    up = greek_vectors([small], MarketData.from_mapping(MARKET, bumps={lab: h}))
    dn = greek_vectors([small], MarketData.from_mapping(MARKET, bumps={lab: -h}))
    fd = (up.prices["price"].iloc[0] - dn.prices["price"].iloc[0]) / (2 * h)
    assert vec[lab] == pytest.approx(fd, rel=1e-4)


def test_mc_theta_matches_the_closed_form_theta(market):
    """Theta (label ``time``, -dV/dT per year): central difference of MC prices over T +- one
    day with the same numbers, against the analytic engine's AAD theta on the same market
    (reference: aadrisk's Black-Scholes on the surface, itself checked against QuantLib).
    The expiry is between two surface expiries: on a surface expiry the total variance
    has a kink in T, where the analytic theta takes the left segment and a central
    difference the average of both."""
    book = [_mc("MC1", paths=40_000, steps_per_year=12, expiry="2025-03-21"),
            {"trade_id": "A1", "product": "european_option", "underlying": "SPX",
             "option_type": "call", "strike": 5500.0, "expiry": "2025-03-21", "quantity": 1}]
    rep = greek_vectors(book, market)
    assert rep.ok, rep.errors
    th_mc, th_an = rep.vector("MC1")["time"], rep.vector("A1")["time"]
    assert th_an < 0 and th_mc == pytest.approx(th_an, rel=0.02)
