"""Hull-White 1F analytic prices against QuantLib (the oracle: ql.HullWhite with
JamshidianSwaptionEngine / AnalyticCapFloorEngine on the same flat continuously
compounded Act/365F curve), and tape derivatives against finite differences."""
from __future__ import annotations

import math

import pytest

import aadrisk as ad
from aadrisk.models.hull_white import (cap_price, caplet_price, swaption_price, zcb_option_price,
                                       zcb_price)

ql = pytest.importorskip("QuantLib")

RATE = 0.035


@pytest.fixture(scope="module")
def qlenv():
    today = ql.Date(15, 5, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    yts = ql.YieldTermStructureHandle(ql.FlatForward(today, RATE, dc, ql.Continuous))
    return today, dc, yts


def df(t):
    return math.exp(-RATE * t)


@pytest.mark.parametrize("a,sigma,T,S,K,call", [(0.03, 0.01, 1.0, 5.0, 0.85, 1.0),
                                                (0.1, 0.015, 2.0, 3.0, 0.97, 0.0),
                                                (0.5, 0.008, 0.25, 10.0, 0.70, 1.0)])
def test_zcb_option_vs_quantlib(qlenv, a, sigma, T, S, K, call):
    _, _, yts = qlenv
    m = ql.HullWhite(yts, a, sigma)
    ref = m.discountBondOption(ql.Option.Call if call else ql.Option.Put, K, T, S)
    got = zcb_option_price(a=a, sigma=sigma, expiry=T, maturity=S, df_expiry=df(T),
                           df_maturity=df(S), strike=K, is_call=call)
    assert got == pytest.approx(ref, rel=1e-12, abs=1e-15)


def test_zcb_price_vs_quantlib(qlenv):
    """P(t, T; x) against ql.HullWhite.discountBond(t, T, r) with r = x + alpha(t)."""
    _, _, yts = qlenv
    a, sigma, t, T = 0.07, 0.012, 1.5, 6.0
    m = ql.HullWhite(yts, a, sigma)
    alpha = RATE + sigma ** 2 / (2 * a * a) * (1 - math.exp(-a * t)) ** 2   # flat f(0,t)
    for x in (-0.02, 0.0, 0.03):
        ref = m.discountBond(t, T, x + alpha)
        got = zcb_price(a=a, sigma=sigma, t=t, maturity=T, df_t=df(t), df_maturity=df(T), x=x)
        assert got == pytest.approx(ref, rel=1e-9)   # QuantLib takes f(0, t) numerically


def _ql_swaption(qlenv, a, sigma, exp_years, tenor_years, K, payer):
    today, dc, yts = qlenv
    cal = ql.NullCalendar()
    start = today + ql.Period(exp_years, ql.Years)
    end = start + ql.Period(tenor_years, ql.Years)
    fixed = ql.Schedule(start, end, ql.Period(1, ql.Years), cal, ql.Unadjusted, ql.Unadjusted,
                        ql.DateGeneration.Forward, False)
    flt = ql.Schedule(start, end, ql.Period(6, ql.Months), cal, ql.Unadjusted, ql.Unadjusted,
                      ql.DateGeneration.Forward, False)
    index = ql.IborIndex("X6M", ql.Period(6, ql.Months), 0, ql.USDCurrency(), cal,
                         ql.Unadjusted, False, dc, yts)
    swap = ql.VanillaSwap(ql.VanillaSwap.Payer if payer else ql.VanillaSwap.Receiver, 1.0, fixed,
                          K, dc, flt, index, 0.0, dc)
    swaption = ql.Swaption(swap, ql.EuropeanExercise(start))
    swaption.setPricingEngine(ql.JamshidianSwaptionEngine(ql.HullWhite(yts, a, sigma), yts))
    T0 = dc.yearFraction(today, start)
    times = [dc.yearFraction(today, cf.date()) for cf in swap.fixedLeg()]
    accr = [ql.as_coupon(cf).accrualPeriod() for cf in swap.fixedLeg()]
    return swaption.NPV(), T0, times, accr


@pytest.mark.parametrize("a,sigma,e,n,K,payer", [(0.03, 0.01, 1, 5, 0.035, 1.0),
                                                 (0.1, 0.012, 5, 10, 0.03, 0.0),
                                                 (0.01, 0.007, 2, 2, 0.045, 1.0),
                                                 (0.2, 0.015, 10, 20, 0.05, 0.0)])
def test_jamshidian_swaption_vs_quantlib(qlenv, a, sigma, e, n, K, payer):
    ref, T0, times, accr = _ql_swaption(qlenv, a, sigma, e, n, K, payer)
    got = swaption_price(a=a, sigma=sigma, expiry=T0, df_expiry=df(T0), times=times,
                         dfs=[df(t) for t in times], accruals=accr, strike=K, is_payer=payer)
    # QuantLib solves for r* by Brent to 1e-8 (JamshidianSwaptionEngine), hence 1e-7
    assert float(got) == pytest.approx(ref, rel=1e-7)


def test_cap_vs_quantlib(qlenv):
    today, dc, yts = qlenv
    a, sigma, K = 0.05, 0.01, 0.04
    cal = ql.NullCalendar()
    index = ql.IborIndex("X6M", ql.Period(6, ql.Months), 0, ql.USDCurrency(), cal,
                         ql.Unadjusted, False, dc, yts)
    sched = ql.Schedule(today, today + ql.Period(5, ql.Years), ql.Period(6, ql.Months), cal,
                        ql.Unadjusted, ql.Unadjusted, ql.DateGeneration.Forward, False)
    leg = ql.IborLeg([1.0], sched, index)
    cap = ql.Cap(leg, [K])
    cap.setPricingEngine(ql.AnalyticCapFloorEngine(ql.HullWhite(yts, a, sigma), yts))
    ref = cap.NPV()
    cps = [ql.as_floating_rate_coupon(cf) for cf in leg]
    resets = [dc.yearFraction(today, c.accrualStartDate()) for c in cps]
    pays = [dc.yearFraction(today, c.date()) for c in cps]
    accr = [c.accrualPeriod() for c in cps]
    # QuantLib's analytic engine skips the first caplet only if its fixing is in the past;
    # here the first reset is today (t = 0): its option value is intrinsic
    got = cap_price(a=a, sigma=sigma, resets=resets[1:], pays=pays[1:], accruals=accr[1:],
                    df_resets=[df(t) for t in resets[1:]], df_pays=[df(t) for t in pays[1:]],
                    strike=K)
    fwd0 = (1.0 / df(pays[0]) - 1.0) / accr[0]
    first = max(fwd0 - K, 0.0) * accr[0] * df(pays[0])
    assert float(got) + first == pytest.approx(ref, rel=1e-9)


def test_tape_swaption_and_caplet_derivatives():
    """Recorded prices equal float prices; AAD gradients and Hessians match finite
    differences of the float functions."""
    times = [2.0, 3.0, 4.0, 4.0]          # last entry: padding (accrual 0)
    accr = [1.0, 1.0, 1.0, 0.0]

    def f(*, a, sigma):
        return swaption_price(a=a, sigma=sigma, expiry=1.0, df_expiry=df(1.0), times=times,
                              dfs=[df(t) for t in times], accruals=accr, strike=0.036,
                              is_payer=1.0)

    prog = ad.record(f)
    x = {"a": 0.05, "sigma": 0.011}
    val = float(prog.value(x).value[0])
    assert val == pytest.approx(float(f(**x)), rel=1e-13)
    g = prog.grad(x)
    H = prog.hessian(x, ["a", "sigma"])
    for k in x:
        h = 1e-6 * x[k]
        up, dn = dict(x), dict(x)
        up[k] += h
        dn[k] -= h
        fd = (float(f(**up)) - float(f(**dn))) / (2 * h)
        assert float(g.grad[k]) == pytest.approx(fd, rel=1e-6)
        gu = prog.grad(up).grad
        gd = prog.grad(dn).grad
        for j in x:
            assert float(H[k][j]) == pytest.approx((float(gu[j]) - float(gd[j])) / (2 * h),
                                                   rel=1e-5, abs=1e-9)
    cp = ad.record(lambda *, a, sigma: caplet_price(a=a, sigma=sigma, reset=1.0, pay=1.5,
                                                    accrual=0.5, df_reset=df(1.0),
                                                    df_pay=df(1.5), strike=0.03))
    assert float(cp.value(x).value[0]) == pytest.approx(
        float(caplet_price(a=0.05, sigma=0.011, reset=1.0, pay=1.5, accrual=0.5,
                           df_reset=df(1.0), df_pay=df(1.5), strike=0.03)), rel=1e-13)
