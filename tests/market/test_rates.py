"""Swaps and FRAs on the tape: QuantLib prices, par deltas vs bump-rebootstrap-reprice."""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from _rates_helpers import VAL, ql_curve, ql_swap, random_book, spec

from aadrisk.market import bootstrap as bootstrap_mod
from aadrisk.market import curves as curves_mod
from aadrisk.market import dates as dates_mod
from aadrisk.market import rates as rates_mod
from aadrisk.market.bootstrap import CurveBuilder, Quote
from aadrisk.market.rates import (FRA, Swap, fair_rates, prepare_book, price_book, risk_swaps)

ql = pytest.importorskip("QuantLib")


@pytest.fixture(scope="module")
def setup():
    b = CurveBuilder([spec()], VAL)
    cs = b.solve()
    book = random_book(40, seed=11)
    book += [Swap("FWD", "4Y", 0.041, 2e6, payer=False, start=VAL.replace(year=2025)),
             Swap("SEMI", "7Y", 0.039, 3e6, fixed_tenor="6M", float_tenor="6M")]
    return b, cs, book, prepare_book(book, cs)


@pytest.mark.parametrize("method", ["loglinear_df", "linear_zero"])
def test_swaps_vs_quantlib(method):
    cs = CurveBuilder([spec(method)], VAL).solve()
    curve, idx = ql_curve(method=method)
    book = random_book(40, seed=5) + [Swap("SEMI", "7Y", 0.039, 3e6, fixed_tenor="6M",
                                           float_tenor="6M")]
    r = risk_swaps(book, cs)
    qs = [ql_swap(curve, idx, s) for s in book]
    npv = np.array([s.NPV() for s in qs])
    notional = np.array([s.notional for s in book])
    # relative to the notional: NPVs near par are tiny differences of large legs
    assert np.max(np.abs(r.prices["price"].to_numpy() - npv) / notional) < 1e-10
    assert np.allclose(fair_rates(book, cs), [s.fairRate() for s in qs], rtol=1e-10, atol=0)


def test_fra_vs_quantlib():
    cs = CurveBuilder([spec()], VAL).solve()
    curve, _ = ql_curve()
    fras = [FRA("F1", "3x6", 0.05, 1e6), FRA("F2", "6x12", 0.045, 2e6, payer=False)]
    v = price_book(prepare_book(fras, cs), cs.zeros)
    h = ql.YieldTermStructureHandle(curve)
    cal = ql.WeekendsOnly()
    fair = fair_rates(fras, cs)
    for f, ours, fr in zip(fras, v, fair):
        a, b = (int(x) for x in f.tenor.split("x"))
        idx = ql.IborIndex("I", ql.Period(b - a, ql.Months), 0, ql.USDCurrency(), cal,
                           ql.ModifiedFollowing, False, ql.Actual360(), h)
        start = cal.advance(ql.Date(15, 1, 2024), a, ql.Months, ql.ModifiedFollowing)
        pos = ql.Position.Long if f.payer else ql.Position.Short
        fra = ql.ForwardRateAgreement(idx, start, pos, f.rate, f.notional, h)
        assert ours == pytest.approx(fra.NPV(), rel=1e-10, abs=1e-10 * f.notional)
        assert fr == pytest.approx(fra.forwardRate().rate(), rel=1e-10)


def test_par_deltas_vs_bump_rebootstrap(setup):
    b, cs, book, pb = setup
    r = risk_swaps(book, cs, pb)
    h = 1e-6
    fd = np.empty_like(r.dv_dq)
    for k in range(len(cs.quotes)):
        up, dn = cs.quotes.copy(), cs.quotes.copy()
        up[k] += h
        dn[k] -= h
        fd[:, k] = (price_book(pb, b.solve(up).zeros) - price_book(pb, b.solve(dn).zeros)) / (2 * h)
    scale = np.abs(r.dv_dq).max(axis=1, keepdims=True)
    assert np.max(np.abs(r.dv_dq - fd) / scale) < 1e-6
    # long frame: one row per trade and quote label, same numbers
    g = r.greeks
    assert len(g) == len(book) * len(cs.quotes)
    assert list(g.columns) == ["trade", "label", "value", "unit"]
    assert set(g["label"]) == set(cs.quote_labels)
    piv = g.pivot(index="trade", columns="label", values="value")
    assert np.array_equal(piv.loc[r.prices["trade"], cs.quote_labels].to_numpy(), r.dv_dq)


def test_bucketed_par_deltas_sum_to_parallel(setup):
    b, cs, book, pb = setup
    r = risk_swaps(book, cs, pb)
    h = 1e-6
    par = (price_book(pb, b.solve(cs.quotes + h).zeros) -
           price_book(pb, b.solve(cs.quotes - h).zeros)) / (2 * h)
    total = r.dv_dq.sum(axis=1)
    assert np.max(np.abs(total - par) / np.abs(r.dv_dq).max(axis=1)) < 1e-8


def test_zero_deltas_vs_finite_differences(setup):
    _, cs, book, pb = setup
    r = risk_swaps(book, cs, pb)
    h = 1e-7
    for k in (0, 5, 11):
        dz = np.zeros_like(cs.zeros)
        dz[k] = h
        fd = (price_book(pb, cs.zeros + dz) - price_book(pb, cs.zeros - dz)) / (2 * h)
        assert np.allclose(r.dv_dz[:, k], fd, rtol=1e-6, atol=1e-6 * np.abs(r.dv_dz).max())
    zg = r.zero_greeks()
    assert zg["label"].iloc[0] == "zero/USD-SOFR/1M"


def test_bad_trades(setup):
    _, cs, _, _ = setup
    with pytest.raises(ValueError, match="trade X: curve 'EUR' is not in the curve set"):
        prepare_book([Swap("X", "2Y", 0.04, 1e6, forecast="EUR")], cs)
    with pytest.raises(ValueError, match="trade Y: start .* before the valuation date"):
        prepare_book([Swap("Y", "2Y", 0.04, 1e6, start=VAL.replace(year=2023))], cs)
    with pytest.raises(ValueError, match="trade Z: FRA tenor must be 'AxB'"):
        prepare_book([FRA("Z", "6x3", 0.04, 1e6)], cs)


@pytest.mark.parametrize("mod", [dates_mod, curves_mod, bootstrap_mod, rates_mod])
def test_doctests(mod):
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


def test_dual_curve_swaps_vs_quantlib_and_bumps():
    """Forecast on a 3M curve, discount on OIS: float slots on the tape vs QuantLib and
    par deltas (to both curves' quotes) vs bump-rebootstrap-reprice."""
    from aadrisk.market.bootstrap import Conventions, CurveSpec
    ois = CurveSpec("USD-OIS", [Quote("ois", t, r) for t, r in
                                [("6M", 0.0520), ("1Y", 0.0490), ("2Y", 0.0445), ("5Y", 0.0400),
                                 ("10Y", 0.0390)]],
                    Conventions(fixed_tenor="1Y", fixed_dc="ACT/360"))
    fwd = CurveSpec("USD-3M", [Quote("depo", "3M", 0.0555)] +
                    [Quote("swap", t, r) for t, r in [("1Y", 0.0515), ("2Y", 0.0470),
                                                      ("5Y", 0.0425), ("10Y", 0.0415)]],
                    spec().conventions, discount="USD-OIS")
    b = CurveBuilder([ois, fwd], VAL)
    cs = b.solve()
    book = [Swap("D1", "3Y", 0.043, 1e6, forecast="USD-3M", discount="USD-OIS"),
            Swap("D2", "8Y", 0.041, 2e6, payer=False, forecast="USD-3M", discount="USD-OIS"),
            Swap("D3", "12Y", 0.040, 1e6, forecast="USD-3M", discount="USD-OIS")]
    pb = prepare_book(book, cs)
    assert pb.names["K"] > 0
    r = risk_swaps(book, cs, pb)
    # QuantLib on OUR curves (as zero-curve nodes on the same DFs): checks the swap pricer
    dc = ql.Actual365Fixed()
    ql.Settings.instance().evaluationDate = ql.Date(15, 1, 2024)

    def qlc(name):
        c = cs.curves[name]
        dates = [ql.Date(15, 1, 2024) + int(round(t * 365)) for t in c.times]
        crv = ql.DiscountCurve([ql.Date(15, 1, 2024)] + dates,
                               [1.0] + list(np.exp(-c.zeros * c.times)), dc)
        crv.enableExtrapolation()
        return crv
    import QuantLib as q
    d_ql, f_ql = qlc("USD-OIS"), qlc("USD-3M")
    idx = q.IborIndex("IDX", q.Period("3M"), 0, q.USDCurrency(), q.WeekendsOnly(),
                      q.ModifiedFollowing, False, q.Actual360())
    for sw, ours in zip(book, r.prices["price"]):
        s = ql_swap(f_ql, idx, sw)
        s.setPricingEngine(q.DiscountingSwapEngine(q.YieldTermStructureHandle(d_ql)))
        assert abs(ours - s.NPV()) / sw.notional < 1e-10
    h = 1e-6
    fd = np.empty_like(r.dv_dq)
    for k in range(len(cs.quotes)):
        up, dn = cs.quotes.copy(), cs.quotes.copy()
        up[k] += h
        dn[k] -= h
        fd[:, k] = (price_book(pb, b.solve(up).zeros) - price_book(pb, b.solve(dn).zeros)) / (2 * h)
    assert np.max(np.abs(r.dv_dq - fd) / np.abs(r.dv_dq).max(axis=1, keepdims=True)) < 1e-6


def _ql_lag_swap(curve, idx, sw, start, end):
    """QuantLib Swap of a FixedRateLeg and an IborLeg (par coupons) with the payment lag and
    end-of-month rule of an aadrisk Swap."""
    h = ql.YieldTermStructureHandle(curve)
    cal = ql.WeekendsOnly()
    q = lambda d: ql.Date(d.day, d.month, d.year)  # noqa: E731
    sched = [ql.Schedule(q(start), q(end), ql.Period(t), cal, ql.ModifiedFollowing,
                         ql.ModifiedFollowing, ql.DateGeneration.Backward, sw.eom)
             for t in (sw.fixed_tenor, sw.float_tenor)]
    fixed = ql.FixedRateLeg(sched[0], ql.Thirty360(ql.Thirty360.BondBasis), [sw.notional],
                            [sw.fixed_rate], ql.ModifiedFollowing, paymentCalendar=cal,
                            paymentLag=sw.payment_lag)
    flt = ql.IborLeg([sw.notional], sched[1], idx.clone(h), ql.Actual360(),
                     ql.ModifiedFollowing, fixingDays=[0], paymentCalendar=cal,
                     paymentLag=sw.payment_lag, withIndexedCoupons=False)
    s = ql.Swap(fixed, flt) if sw.payer else ql.Swap(flt, fixed)
    s.setPricingEngine(ql.DiscountingSwapEngine(h))
    return s


def test_payment_lag_and_end_of_month_swaps_vs_quantlib():
    """Swaps paying 0-3 business days after each period end, with and without the
    end-of-month rule (month-end starts), against QuantLib legs with paymentLag /
    endOfMonth: 1e-10 of the notional; the end date equals NullCalendar.advance(eom)."""
    from datetime import date

    from aadrisk.market.rates import swap_end
    cs = CurveBuilder([spec()], VAL).solve()
    curve, idx = ql_curve()
    book = []
    for i, (start, tenor, lag, eom) in enumerate([
            (date(2024, 1, 31), "5Y", 2, True), (date(2024, 4, 30), "7Y", 0, True),
            (date(2024, 5, 31), "10Y", 3, True), (date(2024, 2, 29), "3Y", 1, True),
            (None, "6Y", 2, False), (date(2024, 4, 30), "4Y", 2, False),
            (date(2024, 1, 31), "18M", 1, True)]):
        book.append(Swap(f"L{i}", tenor, 0.04 + 0.001 * i, 1e6 * (i + 1), i % 2 == 0, start,
                         "6M" if i % 3 == 0 else "1Y", "30/360", "3M", "ACT/360",
                         payment_lag=lag, eom=eom))
    ours = risk_swaps(book, cs).prices["price"].to_numpy()
    for sw, v in zip(book, ours):
        start = sw.start or VAL
        end = swap_end(start, sw.tenor, sw.eom)
        qend = ql.NullCalendar().advance(ql.Date(start.day, start.month, start.year),
                                         ql.Period(sw.tenor), ql.Unadjusted, sw.eom)
        assert ql.WeekendsOnly().adjust(qend, ql.ModifiedFollowing) == \
            ql.Date(end.day, end.month, end.year) or sw.eom is False
        ref = _ql_lag_swap(curve, idx, sw, start, end).NPV()
        assert abs(v - ref) < 1e-10 * sw.notional, (sw.trade_id, v, ref)
    # a lag of 0 is the telescoped single-curve leg; a lag changes the value
    assert ours[1] != 0.0
    no_lag = risk_swaps([dataclasses_replace(book[0], payment_lag=0)], cs).prices["price"][0]
    assert abs(no_lag - ours[0]) > 1.0


def dataclasses_replace(obj, **kw):
    import dataclasses
    return dataclasses.replace(obj, **kw)
