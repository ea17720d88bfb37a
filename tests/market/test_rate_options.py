"""Caps/floors and European swaptions on the tape: QuantLib prices (Black and Bachelier
engines on the same bootstrapped curve), vega vs QuantLib vol bumps, par deltas vs
bump-rebootstrap-reprice."""
from __future__ import annotations

import doctest
from datetime import date

import numpy as np
import pytest
from _rates_helpers import VAL, qdate, ql_curve, spec

from aadrisk.market import rate_options as ro_mod
from aadrisk.market.bootstrap import CurveBuilder
from aadrisk.market.dates import add_tenor, adjust, schedule
from aadrisk.market.rate_options import CapFloor, Swaption, risk_rate_options

ql = pytest.importorskip("QuantLib")


def _book():
    caps = [CapFloor("CB1", "5Y", 0.045, 1e6, 0.25),
            CapFloor("FB1", "3Y", 0.040, 2e6, 0.30, is_cap=False),
            CapFloor("CB2", "10Y", 0.035, -5e5, 0.20, float_tenor="6M"),
            CapFloor("FWDC", "2Y", 0.05, 1e6, 0.22, start=date(2025, 3, 17)),
            CapFloor("CN1", "7Y", 0.040, 1e6, 0.0095, model="bachelier"),
            CapFloor("FN1", "2Y", 0.030, 3e6, 0.0080, is_cap=False, model="bachelier")]
    swos = [Swaption("XB1", "1Y", "5Y", 0.042, 1e6, 0.22),
            Swaption("XB2", "2Y", "10Y", 0.038, 2e6, 0.18, payer=False, fixed_tenor="6M"),
            Swaption("XB3", "6M", "2Y", 0.045, -1e6, 0.30),
            Swaption("XN1", "5Y", "5Y", 0.040, 1e6, 0.0090, model="bachelier"),
            Swaption("XN2", "3M", "1Y", 0.045, 1e6, 0.0110, payer=False, model="bachelier")]
    return caps + swos


@pytest.fixture(scope="module")
def setup():
    b = CurveBuilder([spec()], VAL)
    cs = b.solve()
    book = _book()
    return b, cs, book, risk_rate_options(book, cs)


def _ql_cap(tr, h, idx, vq, hf=None):
    cal = ql.WeekendsOnly()
    start = tr.start or VAL
    sch = [d for d in schedule(start, add_tenor(start, tr.tenor), tr.float_tenor)]
    if sch[0] <= VAL:
        sch = sch[1:]   # first period fixes today: not a caplet (see the module notes)
    qs = ql.Schedule(ql.DateVector([qdate(d) for d in sch]), cal, ql.ModifiedFollowing)
    index = ql.IborIndex("I", ql.Period(tr.float_tenor), 0, ql.USDCurrency(), cal,
                         ql.ModifiedFollowing, False, ql.Actual360(), hf or h)
    leg = ql.IborLeg([abs(tr.notional)], qs, index, ql.Actual360(), ql.ModifiedFollowing,
                     fixingDays=[0])
    cf = (ql.Cap if tr.is_cap else ql.Floor)(leg, [tr.strike])
    eng = (ql.BlackCapFloorEngine(h, ql.QuoteHandle(vq), ql.Actual365Fixed())
           if tr.model == "black" else ql.BachelierCapFloorEngine(h, ql.QuoteHandle(vq)))
    cf.setPricingEngine(eng)
    return cf, np.sign(tr.notional)


def _ql_swaption(tr, h, idx, vq, hf=None):
    cal = ql.WeekendsOnly()
    x = adjust(add_tenor(VAL, tr.expiry), "MF")
    end = add_tenor(x, tr.tenor)
    fs = ql.Schedule(qdate(x), qdate(end), ql.Period(tr.fixed_tenor), cal, ql.ModifiedFollowing,
                     ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    fl = ql.Schedule(qdate(x), qdate(end), ql.Period(tr.float_tenor), cal, ql.ModifiedFollowing,
                     ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    index = ql.IborIndex("I", ql.Period(tr.float_tenor), 0, ql.USDCurrency(), cal,
                         ql.ModifiedFollowing, False, ql.Actual360(), hf or h)
    typ = ql.Swap.Payer if tr.payer else ql.Swap.Receiver
    sw = ql.VanillaSwap(typ, abs(tr.notional), fs, tr.strike,
                        ql.Thirty360(ql.Thirty360.BondBasis), fl, index, 0.0, ql.Actual360())
    so = ql.Swaption(sw, ql.EuropeanExercise(qdate(x)))
    eng = (ql.BlackSwaptionEngine(h, ql.QuoteHandle(vq), ql.Actual365Fixed())
           if tr.model == "black" else
           ql.BachelierSwaptionEngine(h, ql.QuoteHandle(vq), ql.Actual365Fixed()))
    so.setPricingEngine(eng)
    return so, np.sign(tr.notional)


def test_vs_quantlib_prices_and_vega(setup):
    b, cs, book, r = setup
    curve, idx = ql_curve()
    h = ql.YieldTermStructureHandle(curve)
    px, vg = [], []
    for tr in book:
        vq = ql.SimpleQuote(tr.vol)
        inst, s = (_ql_cap if isinstance(tr, CapFloor) else _ql_swaption)(tr, h, idx, vq)
        px.append(s * inst.NPV())
        dv = 1e-6 * tr.vol
        vq.setValue(tr.vol + dv)
        up = inst.NPV()
        vq.setValue(tr.vol - dv)
        dn = inst.NPV()
        vg.append(s * (up - dn) / (2 * dv))
    px, vg = np.array(px), np.array(vg)
    ours = r.prices["price"].to_numpy()
    notional = np.array([abs(t.notional) for t in book])
    # relative 1e-10, or 1e-10 of the notional for the small (far OTM) ones
    assert np.all(np.abs(ours - px) <= 1e-10 * np.maximum(np.abs(px), notional * 1e-2)), \
        np.abs(ours - px) / np.abs(px)
    assert np.all(np.abs(ours) > 1.0)
    # vega: the tape's dV/dsigma against central QuantLib vol bumps
    print("max rel price err", np.max(np.abs(ours - px) / np.abs(px)),
          "max rel vega err", np.max(np.abs(r.vega - vg) / np.abs(vg)))
    assert np.max(np.abs(r.vega - vg) / np.abs(vg)) < 1e-6


def test_par_deltas_vs_bump_rebootstrap(setup):
    b, cs, book, r = setup
    h = 1e-6
    fd = np.empty_like(r.dv_dq)
    for k in range(len(cs.quotes)):
        up, dn = cs.quotes.copy(), cs.quotes.copy()
        up[k] += h
        dn[k] -= h
        fd[:, k] = (risk_rate_options(book, b.solve(up)).prices["price"].to_numpy()
                    - risk_rate_options(book, b.solve(dn)).prices["price"].to_numpy()) / (2 * h)
    scale = np.abs(r.dv_dq).max(axis=1, keepdims=True)
    print("max rel par-delta err", np.max(np.abs(r.dv_dq - fd) / scale))
    assert np.max(np.abs(r.dv_dq - fd) / scale) < 1e-6


def test_greek_frame(setup):
    b, cs, book, r = setup
    g = r.greeks
    Q = len(cs.quotes)
    assert list(g.columns) == ["trade", "label", "value", "unit"]
    assert len(g) == len(book) * (Q + 1)
    vr = g[g["label"].str.contains("vol/")]
    assert vr["label"].tolist() == [("capvol/" if isinstance(t, CapFloor) else "swaptionvol/")
                                    + t.trade_id for t in book]
    assert vr["unit"].tolist() == ["ccy per 1.00 " + ("lognormal" if t.model == "black"
                                                      else "normal") + " vol" for t in book]
    assert np.allclose(vr["value"].to_numpy(), r.vega, rtol=0, atol=0)
    d = g[~g["label"].str.contains("vol/")]
    assert np.array_equal(d["value"].to_numpy(), r.dv_dq.ravel())
    assert set(d["label"]) == set(cs.quote_labels)


def test_put_call_parity_and_errors(setup):
    b, cs, book, r = setup
    cap = CapFloor("C", "5Y", 0.045, 1e6, 0.25)
    flo = CapFloor("F", "5Y", 0.045, 1e6, 0.25, is_cap=False)
    pay = Swaption("P", "1Y", "5Y", 0.042, 1e6, 0.0095, model="bachelier")
    rec = Swaption("R", "1Y", "5Y", 0.042, 1e6, 0.0095, payer=False, model="bachelier")
    from aadrisk.market.rates import Swap, price_book, prepare_book
    v = risk_rate_options([cap, flo, pay, rec], cs).prices["price"].to_numpy()
    swap = Swap("S", "5Y", 0.042, 1e6, start=adjust(add_tenor(VAL, "1Y"), "MF"))
    assert v[2] - v[3] == pytest.approx(price_book(prepare_book([swap], cs), cs.zeros)[0],
                                        rel=1e-10)
    # cap - floor = sum of forward-starting FRA payoffs N tau DF(e) (F - K) (NumPy curve)
    from aadrisk.market.dates import year_fraction
    sch = schedule(VAL, add_tenor(VAL, "5Y"), "3M")[1:]
    crv = cs.curves["USD-SOFR"]
    t = np.array([(d - VAL).days / 365.0 for d in sch])
    df = crv.discount(t)
    tau = np.array([year_fraction(s, e, "ACT/360") for s, e in zip(sch[:-1], sch[1:])])
    fwd = (df[:-1] / df[1:] - 1.0) / tau
    assert v[0] - v[1] == pytest.approx(np.sum(1e6 * tau * df[1:] * (fwd - 0.045)), rel=1e-10)
    with pytest.raises(ValueError, match="model"):
        risk_rate_options([CapFloor("Z", "1Y", 0.04, 1.0, 0.2, model="sabr")], cs)
    with pytest.raises(ValueError, match="positive strike"):
        risk_rate_options([CapFloor("Z", "1Y", -0.01, 1.0, 0.2)], cs)
    with pytest.raises(ValueError, match="vol must be positive"):
        risk_rate_options([Swaption("Z", "1Y", "1Y", 0.04, 1.0, 0.0)], cs)
    with pytest.raises(ValueError, match="not in the curve set"):
        risk_rate_options([CapFloor("Z", "1Y", 0.04, 1.0, 0.2, forecast="EUR")], cs)


def test_dual_curve_vs_quantlib_and_bumps():
    """Forecast on a 3M curve, discount on OIS: QuantLib on our curves' DFs, and par deltas
    to both curves' quotes vs bump-rebootstrap-reprice."""
    from aadrisk.market.bootstrap import Conventions, CurveSpec, Quote
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
    kw = dict(forecast="USD-3M", discount="USD-OIS")
    book = [CapFloor("DC", "4Y", 0.045, 1e6, 0.25, **kw),
            CapFloor("DF", "3Y", 0.044, 1e6, 0.0095, is_cap=False, model="bachelier", **kw),
            Swaption("DX", "1Y", "5Y", 0.043, 1e6, 0.2, **kw),
            Swaption("DN", "2Y", "3Y", 0.042, -2e6, 0.009, payer=False, model="bachelier", **kw)]
    r = risk_rate_options(book, cs)
    dc = ql.Actual365Fixed()
    ql.Settings.instance().evaluationDate = qdate(VAL)

    def qlc(name):
        c = cs.curves[name]
        dates = [qdate(VAL) + int(round(t * 365)) for t in c.times]
        crv = ql.DiscountCurve([qdate(VAL)] + dates, [1.0] + list(np.exp(-c.zeros * c.times)), dc)
        crv.enableExtrapolation()
        return ql.YieldTermStructureHandle(crv)
    hd, hf = qlc("USD-OIS"), qlc("USD-3M")
    for tr, ours in zip(book, r.prices["price"]):
        inst, s = (_ql_cap if isinstance(tr, CapFloor) else _ql_swaption)(
            tr, hd, None, ql.SimpleQuote(tr.vol), hf)
        assert abs(ours - s * inst.NPV()) < 1e-10 * abs(ours)
    h = 1e-6
    fd = np.empty_like(r.dv_dq)
    for k in range(len(cs.quotes)):
        up, dn = cs.quotes.copy(), cs.quotes.copy()
        up[k] += h
        dn[k] -= h
        fd[:, k] = (risk_rate_options(book, b.solve(up)).prices["price"].to_numpy()
                    - risk_rate_options(book, b.solve(dn)).prices["price"].to_numpy()) / (2 * h)
    err = np.max(np.abs(r.dv_dq - fd) / np.abs(r.dv_dq).max(axis=1, keepdims=True))
    print("dual-curve max rel par-delta err", err)
    assert err < 1e-6
    # both curves move every trade
    assert np.all(np.abs(r.dv_dq[:, :5]).max(axis=1) > 0)
    assert np.all(np.abs(r.dv_dq[:, 5:]).max(axis=1) > 0)


def test_doctests():
    assert doctest.testmod(ro_mod).failed == 0


def test_payment_lag_caps_vs_quantlib_and_swaption_parity():
    """Caplets paid 2 business days after their period end (QuantLib IborLeg paymentLag with
    the Black / Bachelier cap engines, which discount to the payment date): 1e-10 relative;
    a payer minus a receiver swaption with a payment lag is the forward swap with that lag."""
    from datetime import date

    from aadrisk.market.dates import add_business_days
    from aadrisk.market.rates import Swap, price_book, prepare_book
    b = CurveBuilder([spec()], VAL)
    cs = b.solve()
    curve, idx = ql_curve()
    h = ql.YieldTermStructureHandle(curve)
    cal = ql.WeekendsOnly()
    book = [CapFloor("LC", "5Y", 0.045, 1e6, 0.25, payment_lag=2),
            CapFloor("LF", "3Y", 0.040, 2e6, 0.0090, is_cap=False, model="bachelier",
                     payment_lag=2, float_tenor="6M"),
            CapFloor("LE", "2Y", 0.042, 1e6, 0.22, start=date(2024, 1, 31), eom=True,
                     payment_lag=1)]
    ours = risk_rate_options(book, cs).prices["price"].to_numpy()
    for tr, v in zip(book, ours):
        start = tr.start or VAL
        sch = schedule(start, add_tenor(start, tr.tenor) if not tr.eom else
                       date(2026, 1, 30), tr.float_tenor, eom=tr.eom)   # 31 Jan 2026: Sat
        if sch[0] <= VAL:
            sch = sch[1:]
        qs = ql.Schedule(ql.DateVector([qdate(d) for d in sch]), cal, ql.ModifiedFollowing)
        index = ql.IborIndex("I", ql.Period(tr.float_tenor), 0, ql.USDCurrency(), cal,
                             ql.ModifiedFollowing, False, ql.Actual360(), h)
        leg = ql.IborLeg([tr.notional], qs, index, ql.Actual360(), ql.ModifiedFollowing,
                         fixingDays=[0], paymentCalendar=cal, paymentLag=tr.payment_lag,
                         withIndexedCoupons=False)
        for cf in leg:   # the payment dates are ours
            c = ql.as_floating_rate_coupon(cf)
            e = c.accrualEndDate()
            want = add_business_days(date(e.year(), e.month(), e.dayOfMonth()), tr.payment_lag)
            assert c.date() == qdate(want)
        cap = (ql.Cap if tr.is_cap else ql.Floor)(leg, [tr.strike])
        vq = ql.QuoteHandle(ql.SimpleQuote(tr.vol))
        cap.setPricingEngine(ql.BlackCapFloorEngine(h, vq, ql.Actual365Fixed())
                             if tr.model == "black" else ql.BachelierCapFloorEngine(h, vq))
        assert v == pytest.approx(cap.NPV(), rel=1e-10), tr.trade_id
    pay = Swaption("P", "1Y", "5Y", 0.042, 1e6, 0.0095, model="bachelier", payment_lag=2)
    rec = Swaption("R", "1Y", "5Y", 0.042, 1e6, 0.0095, payer=False, model="bachelier",
                   payment_lag=2)
    v = risk_rate_options([pay, rec], cs).prices["price"].to_numpy()
    fwd = Swap("S", "5Y", 0.042, 1e6, start=adjust(add_tenor(VAL, "1Y"), "MF"), payment_lag=2)
    assert v[0] - v[1] == pytest.approx(price_book(prepare_book([fwd], cs), cs.zeros)[0],
                                        rel=1e-10)
