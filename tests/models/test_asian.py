"""Geometric average price Asian options against QuantLib (oracle only).

Oracles: ``AnalyticContinuousGeometricAveragePriceAsianEngine`` (prices and its
analytic delta, gamma, vega, rho, dividendRho, theta) and
``AnalyticDiscreteGeometricAveragePriceAsianEngine`` (prices, analytic delta,
gamma, vega, rho, dividendRho; fixings every ``days / n`` days, ``days`` a
multiple of ``n``, so fixing ``i`` is at ``i T / n`` exactly).
Tolerances: prices 1e-10 relative (floor 1e-12 x spot); first-order Greeks 1e-9
relative, gamma 1e-8 (floors 1e-11 x natural scale).  Published value: Haug
(2007) section 4.20.1 example, geometric put 4.6922.
"""
from __future__ import annotations

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.models import bsm_price, geometric_asian_discrete_price, geometric_asian_price

from _qlsetup import assert_close, bsm_process, setup_today

ql = pytest.importorskip("QuantLib")


def _book(seed, n):
    rng = np.random.default_rng(seed)
    S = rng.uniform(50.0, 150.0, n)
    nfix = rng.integers(1, 60, n)
    days = nfix * rng.integers(1, 20, n)
    return dict(spot=S, strike=S * np.exp(rng.uniform(-0.3, 0.3, n)), days=days,
                vol=rng.uniform(0.08, 0.6, n), rate=rng.uniform(-0.01, 0.08, n),
                div=rng.uniform(-0.02, 0.06, n), is_call=rng.integers(0, 2, n).astype(float),
                n_fixings=nfix.astype(float))


def _inputs(b, discrete):
    d = {k: v for k, v in b.items() if k != "days" and (discrete or k != "n_fixings")}
    d["expiry"] = b["days"] / 365.0
    return d


def test_haug_example():
    # Haug (2007) 4.20.1: S=80, X=85, T=0.25, r=0.05, b=0.08 (q=-0.03), vol=0.2: put 4.6922
    v = geometric_asian_price(spot=80.0, strike=85.0, expiry=0.25, vol=0.2, rate=0.05,
                              div=-0.03, is_call=0.0)
    assert round(float(v), 4) == 4.6922


@pytest.mark.parametrize("discrete", [False, True])
def test_vs_quantlib_prices_and_analytic_greeks(discrete):
    n = 150
    b = _book(51 + discrete, n)
    today = setup_today()
    keys = ["v", "delta", "gamma", "vega", "rho", "qrho", "theta"]
    want = {k: np.empty(n) for k in keys}
    for i in range(n):
        proc, _ = bsm_process(today, b["spot"][i], b["rate"][i], b["div"][i], b["vol"][i])
        typ = ql.Option.Call if b["is_call"][i] else ql.Option.Put
        payoff = ql.PlainVanillaPayoff(typ, b["strike"][i])
        ex = ql.EuropeanExercise(today + int(b["days"][i]))
        if discrete:
            k = int(b["n_fixings"][i])
            step = int(b["days"][i]) // k
            dates = [today + step * (j + 1) for j in range(k)]
            opt = ql.DiscreteAveragingAsianOption(ql.Average.Geometric, 1.0, 0, dates, payoff, ex)
            opt.setPricingEngine(ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(proc))
        else:
            opt = ql.ContinuousAveragingAsianOption(ql.Average.Geometric, payoff, ex)
            opt.setPricingEngine(ql.AnalyticContinuousGeometricAveragePriceAsianEngine(proc))
        want["v"][i], want["delta"][i], want["gamma"][i] = opt.NPV(), opt.delta(), opt.gamma()
        want["vega"][i], want["rho"][i], want["qrho"][i] = opt.vega(), opt.rho(), opt.dividendRho()
        want["theta"][i] = np.nan if discrete else opt.theta()
    fn = geometric_asian_discrete_price if discrete else geometric_asian_price
    prog = ad.record(fn)
    x = _inputs(b, discrete)
    g = prog.grad(x, wrt=["spot", "vol", "rate", "div", "expiry"])
    h = prog.hvp(x, {"spot": 1.0}, wrt=["spot"])
    S = b["spot"]
    assert_close(g.value, want["v"], 1e-10, 1e-12 * S, "price")
    assert_close(fn(**x), g.value, 1e-13, 1e-14 * S, "float vs tape")
    assert_close(g.grad["spot"], want["delta"], 1e-9, 1e-11, "delta")
    assert_close(h.hvp["spot"], want["gamma"], 1e-8, 1e-11 / S, "gamma")
    assert_close(g.grad["vol"], want["vega"], 1e-9, 1e-11 * S, "vega")
    assert_close(g.grad["rate"], want["rho"], 1e-9, 1e-11 * S, "rho")
    assert_close(g.grad["div"], want["qrho"], 1e-9, 1e-11 * S, "dividend rho")
    if not discrete:  # QuantLib's theta is dV/dt = -dV/dT
        assert_close(-g.grad["expiry"], want["theta"], 1e-9, 1e-11 * S, "theta")


def test_limits():
    b = _book(55, 200)
    x = _inputs(b, True)
    cont = {k: v for k, v in x.items() if k != "n_fixings"}
    # one fixing at expiry is the European option
    assert_close(geometric_asian_discrete_price(**{**x, "n_fixings": 1.0}), bsm_price(**cont),
                 1e-12, 1e-13 * x["spot"], "n = 1")
    # many fixings tend to the continuous average, with an O(1/n) error
    big = geometric_asian_discrete_price(**{**x, "n_fixings": 1e6})
    assert_close(big, geometric_asian_price(**cont), 1e-5, 1e-7 * x["spot"], "n -> inf")


def test_mixed_book_one_program_call_matches_floats():
    b = _book(57, 300)
    for fn, discrete in [(geometric_asian_price, False), (geometric_asian_discrete_price, True)]:
        x = _inputs(b, discrete)
        res = ad.record(fn).value(x).value
        per = [fn(**{k: float(v[i]) for k, v in x.items()}) for i in range(300)]
        assert_close(res, per, 1e-13, 1e-13 * x["spot"], fn.__name__)
