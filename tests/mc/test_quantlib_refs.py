"""Monte Carlo prices against QuantLib references, within 3 standard errors (QuantLib is a
test oracle only): finite-difference Bermudan options (LSM), analytic barriers with the
continuity correction, QuantLib's own arithmetic-Asian Monte Carlo.

Grids: 365-day years, expiry 365 days, so QuantLib's Act/365F year fraction is exactly 1.
"""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.mc import GBM, LongstaffSchwartz, MonteCarlo
from aadrisk.mc.payoffs import PAYOFFS

ql = pytest.importorskip("QuantLib")

S0, R, Q, VOL = 100.0, 0.05, 0.01, 0.25


def _process(today):
    dc = ql.Actual365Fixed()
    r = ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc, ql.Continuous))
    q = ql.YieldTermStructureHandle(ql.FlatForward(today, Q, dc, ql.Continuous))
    v = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), VOL, dc))
    return ql.BlackScholesMertonProcess(ql.QuoteHandle(ql.SimpleQuote(S0)), q, r, v)


@pytest.fixture(scope="module")
def today():
    d = ql.Date(15, 5, 2024)
    ql.Settings.instance().evaluationDate = d
    return d


def _grid(n):
    return {"spot": S0, "div": Q, "_dt": np.full(n, 1.0 / n), "_r": np.full(n, R),
            "_vol": np.full(n, VOL)}


@pytest.mark.parametrize("strike", [90.0, 100.0, 110.0])
def test_lsm_bermudan_put_against_quantlib_fd(today, strike):
    """12 monthly exercise dates (days 30k apart, 360 steps of one day ... here 12 steps):
    QuantLib FdBlackScholesVanillaEngine on the same Bermudan dates.  LSM is biased low
    by its sub-optimal rule: the tolerance is 3 se plus 0.5 % of the price."""
    n = 12
    lsm = LongstaffSchwartz(GBM(), n_steps=n, exercise_steps=range(1, n + 1))
    res = lsm.value(_grid(n), strike=strike, phi=-1.0, paths=60_000, seed=5)
    v, se = res.value["american"], res.stderr["american"]
    # QuantLib: exercise on the same dates (t = k/12 years -> days rounded)
    dates = [today + int(round(365 * k / n)) for k in range(1, n + 1)]
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Put, strike),
                           ql.BermudanExercise(dates))
    opt.setPricingEngine(ql.FdBlackScholesVanillaEngine(_process(today), 400, 800))
    ref = opt.NPV()
    assert abs(v - ref) < 3 * se + 0.005 * ref, (v, se, ref)
    assert v < ref + 3 * se   # a fixed rule cannot beat the optimal one


def test_lsm_greeks_equal_bumps_with_the_rule_fixed():
    n = 12
    lsm = LongstaffSchwartz(GBM(), n_steps=n, exercise_steps=range(1, n + 1))
    base = _grid(n)
    coef = lsm.regress(base, strike=100.0, phi=-1.0, paths=20_000, seed=9)
    g = lsm.grad(base, strike=100.0, phi=-1.0, paths=4000, seed=3, coef=coef)
    for name in ("spot", "div"):
        h = 1e-7 * max(1.0, abs(base[name]))
        up = lsm.value({**base, name: base[name] + h}, strike=100.0, phi=-1.0, paths=4000,
                       seed=3, coef=coef).value["american"]
        dn = lsm.value({**base, name: base[name] - h}, strike=100.0, phi=-1.0, paths=4000,
                       seed=3, coef=coef).value["american"]
        assert g.grad["american"][name] == pytest.approx((up - dn) / (2 * h), rel=1e-5)


def test_discrete_barrier_with_continuity_correction_against_quantlib(today):
    """Down-and-out call monitored at 250 steps with the BGK correction against QuantLib's
    analytic continuous barrier; smoothing width 1e-4 (bias far below the error)."""
    n, K, B = 250, 100.0, 85.0
    mc = MonteCarlo(GBM(), {"do": (lambda path, *, strike, phi, barrier:
                                   PAYOFFS["barrier"][0](path, strike=strike, phi=phi,
                                                         barrier=barrier, is_up=0.0,
                                                         is_in=0.0, width=1e-4,
                                                         correction=True),
                                   ("strike", "phi", "barrier"))}, n_steps=n)
    res = mc.value({**_grid(n), "do.strike": K, "do.phi": 1.0, "do.barrier": B},
                   paths=60_000, seed=2)
    opt = ql.BarrierOption(ql.Barrier.DownOut, B, 0.0, ql.PlainVanillaPayoff(ql.Option.Call, K),
                           ql.EuropeanExercise(today + 365))
    opt.setPricingEngine(ql.AnalyticBarrierEngine(_process(today)))
    ref = opt.NPV()
    v, se = res.value["do"], res.stderr["do"]
    assert abs(v - ref) < 3 * se, (v, se, ref)


def test_arithmetic_asian_against_quantlib_monte_carlo(today):
    """Daily-average Asian call (fixings at steps 1..N) against QuantLib's MCDiscreteArithmetic
    APEngine with the same fixing dates: the two estimates agree within 3 combined se."""
    n = 52
    mc = MonteCarlo(GBM(), {"asian": PAYOFFS["asian"]}, n_steps=n)
    res = mc.value({**_grid(n), "asian.strike": 100.0, "asian.phi": 1.0}, paths=60_000,
                   seed=8)
    step_days = 7
    fixings = [today + step_days * k for k in range(1, n + 1)]
    expiry = fixings[-1]
    opt = ql.DiscreteAveragingAsianOption(ql.Average.Arithmetic, 0.0, 0, fixings,
                                          ql.PlainVanillaPayoff(ql.Option.Call, 100.0),
                                          ql.EuropeanExercise(expiry))
    eng = ql.MCDiscreteArithmeticAPEngine(_process(today), "pseudorandom", requiredSamples=60_000,
                                          seed=42)
    opt.setPricingEngine(eng)
    ref, ref_se = opt.NPV(), opt.errorEstimate()
    # our grid: 52 steps of 1/52 year vs QuantLib's 7-day steps (364 days): align our grid
    res = mc.value({**_grid(n), "_dt": np.full(n, 7 / 365), "asian.strike": 100.0,
                    "asian.phi": 1.0}, paths=60_000, seed=8)
    v, se = res.value["asian"], res.stderr["asian"]
    assert abs(v - ref) < 3 * np.hypot(se, ref_se), (v, se, ref, ref_se)
