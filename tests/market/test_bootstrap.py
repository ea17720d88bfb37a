"""Bootstrap: repricing, QuantLib discount factors, IFT Jacobian vs finite differences, bad data."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from _rates_helpers import CONV, QUOTES, VAL, ql_curve, spec

from aadrisk.market.bootstrap import (BootstrapError, Conventions, CurveBuilder, CurveSpec, Quote,
                                      bootstrap)

ql = pytest.importorskip("QuantLib")
METHODS = ("loglinear_df", "linear_zero")


@pytest.fixture(scope="module", params=METHODS)
def built(request):
    b = CurveBuilder([spec(request.param)], VAL)
    return request.param, b, b.solve()


def test_reprices_input_quotes(built):
    _, _, cs = built
    assert np.max(np.abs(cs.par_rates() - cs.quotes)) < 1e-12
    assert cs.quote_labels[0] == "curve/USD-SOFR/depo/1M"
    assert cs.quote_labels[-1] == "curve/USD-SOFR/swap/30Y"
    assert cs.pillar_labels[-1] == "zero/USD-SOFR/30Y"


def test_discount_factors_vs_quantlib(built):
    method, _, cs = built
    curve, _ = ql_curve(method=method)
    c = cs.curves["USD-SOFR"]
    ql_times = [curve.timeFromReference(d) for d in curve.dates()[1:]]
    assert np.array_equal(np.array(ql_times), c.times)
    tt = np.concatenate([np.linspace(0.0, 35.0, 701), c.times])   # incl. extrapolation
    ours = c.discount(tt)
    theirs = np.array([curve.discount(float(t)) for t in tt])
    assert np.max(np.abs(ours - theirs)) < 1e-10


def test_ift_jacobian_vs_finite_differences(built):
    _, b, cs = built
    h = 1e-6
    q0 = cs.quotes
    cols = []
    for k in range(len(q0)):
        up, dn = q0.copy(), q0.copy()
        up[k] += h
        dn[k] -= h
        cols.append((b.solve(up).zeros - b.solve(dn).zeros) / (2 * h))
    fd = np.array(cols).T
    assert np.allclose(cs.dzdq, fd, rtol=1e-6, atol=1e-8)
    # par <-> zero Jacobians are inverse to each other
    assert np.allclose(cs.zero_to_par().values @ cs.jacobian().values, np.eye(len(q0)), atol=1e-10)


def test_fras_vs_quantlib():
    quotes = [Quote("depo", "3M", 0.053), Quote("fra", "3x6", 0.051), Quote("fra", "6x9", 0.049),
              Quote("fra", "9x12", 0.047), Quote("swap", "2Y", 0.045), Quote("swap", "5Y", 0.041)]
    cs = bootstrap([spec(quotes=quotes)], VAL)
    assert np.max(np.abs(cs.residuals())) < 1e-12
    curve, _ = ql_curve(quotes)
    tt = np.linspace(0.0, 6.0, 301)
    theirs = np.array([curve.discount(float(t)) for t in tt])
    assert np.max(np.abs(cs.curves["USD-SOFR"].discount(tt) - theirs)) < 1e-10


def test_dual_curve_ois_vs_quantlib():
    ois_conv = Conventions(fixed_tenor="1Y", fixed_dc="ACT/360")
    ois = CurveSpec("USD-OIS", [Quote("ois", t, r) for t, r in
                                [("1M", 0.0530), ("6M", 0.0520), ("1Y", 0.0490), ("2Y", 0.0445),
                                 ("5Y", 0.0400), ("10Y", 0.0390), ("30Y", 0.0365)]], ois_conv)
    fwd = CurveSpec("USD-LIBOR3M", [Quote("depo", "3M", 0.0555)] +
                    [Quote("swap", t, r) for t, r in [("1Y", 0.0515), ("2Y", 0.0470),
                                                      ("5Y", 0.0425), ("10Y", 0.0415),
                                                      ("30Y", 0.0390)]],
                    CONV, discount="USD-OIS")
    b = CurveBuilder([ois, fwd], VAL)
    cs = b.solve()
    assert np.max(np.abs(cs.residuals())) < 1e-12
    # QuantLib: OIS curve from OISRateHelpers, forecast curve from SwapRateHelpers on OIS
    ql.Settings.instance().evaluationDate = ql.Date(15, 1, 2024)
    cal = ql.WeekendsOnly()
    on = ql.OvernightIndex("ON", 0, ql.USDCurrency(), cal, ql.Actual360())
    hs = [ql.OISRateHelper(0, ql.Period(q.tenor), ql.QuoteHandle(ql.SimpleQuote(q.rate)), on,
                           paymentLag=0, paymentConvention=ql.ModifiedFollowing,
                           paymentFrequency=ql.Annual, paymentCalendar=cal)
          for q in ois.quotes]
    ois_ql = ql.PiecewiseLogLinearDiscount(ql.Date(15, 1, 2024), hs, ql.Actual365Fixed(),
                                           ql.IterativeBootstrap(1e-15))
    ois_ql.enableExtrapolation()
    idx = ql.IborIndex("IDX", ql.Period("3M"), 0, ql.USDCurrency(), cal, ql.ModifiedFollowing,
                       False, ql.Actual360())
    dh = ql.YieldTermStructureHandle(ois_ql)
    fh = [ql.DepositRateHelper(ql.QuoteHandle(ql.SimpleQuote(fwd.quotes[0].rate)),
                               ql.Period("3M"), 0, cal, ql.ModifiedFollowing, False,
                               ql.Actual360())]
    fh += [ql.SwapRateHelper(ql.QuoteHandle(ql.SimpleQuote(q.rate)), ql.Period(q.tenor), cal,
                             ql.Annual, ql.ModifiedFollowing,
                             ql.Thirty360(ql.Thirty360.BondBasis), idx, ql.QuoteHandle(),
                             ql.Period(0, ql.Days), dh) for q in fwd.quotes[1:]]
    fwd_ql = ql.PiecewiseLogLinearDiscount(ql.Date(15, 1, 2024), fh, ql.Actual365Fixed(),
                                           ql.IterativeBootstrap(1e-15))
    fwd_ql.enableExtrapolation()
    tt = np.linspace(0.0, 32.0, 321)
    for name, qc in (("USD-OIS", ois_ql), ("USD-LIBOR3M", fwd_ql)):
        theirs = np.array([qc.discount(float(t)) for t in tt])
        assert np.max(np.abs(cs.curves[name].discount(tt) - theirs)) < 1e-10, name
    # the IFT Jacobian couples the forecast pillars to the OIS quotes (block lower triangular)
    o, f = cs.offsets["USD-OIS"], cs.offsets["USD-LIBOR3M"]
    assert np.all(cs.dzdq[o, f] == 0.0)
    assert np.max(np.abs(cs.dzdq[f, o])) > 1e-3
    h, k = 1e-6, 3    # one OIS quote, bumped and rebootstrapped
    up, dn = cs.quotes.copy(), cs.quotes.copy()
    up[k] += h
    dn[k] -= h
    fd = (b.solve(up).zeros - b.solve(dn).zeros) / (2 * h)
    assert np.allclose(cs.dzdq[:, k], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("quotes, match", [
    ([Quote("depo", "3M", 0.05), Quote("swap", "2Y", float("nan"))],
     "USD-SOFR: quote curve/USD-SOFR/swap/2Y: rate is nan"),
    ([Quote("depo", "3M", 0.05), Quote("swap", "3M", 0.05)],
     "USD-SOFR: duplicate tenor '3M'"),
    ([Quote("swap", "5Y", 0.05), Quote("swap", "2Y", 0.04)],
     "USD-SOFR: quote curve/USD-SOFR/swap/2Y ends .* not after curve/USD-SOFR/swap/5Y"),
    ([Quote("depo", "12M", 0.05), Quote("swap", "1Y", 0.04)],
     "USD-SOFR: quote curve/USD-SOFR/swap/1Y ends .* not after"),
    ([Quote("bond", "2Y", 0.05)], "USD-SOFR: quote curve/USD-SOFR/bond/2Y: unknown kind"),
    ([Quote("swap", "2X", 0.05)], "USD-SOFR: quote curve/USD-SOFR/swap/2X: bad tenor"),
    ([Quote("fra", "6x3", 0.05)], "USD-SOFR: quote curve/USD-SOFR/fra/6x3: FRA tenor"),
    ([Quote("depo", "3M", "abc")], "USD-SOFR: quote curve/USD-SOFR/depo/3M: rate 'abc'"),
    ([], "USD-SOFR: no quotes"),
])
def test_bad_data(quotes, match):
    with pytest.raises(BootstrapError, match=match):
        bootstrap([CurveSpec("USD-SOFR", quotes)], VAL)


def test_bad_structure_and_solve_inputs():
    with pytest.raises(BootstrapError, match="discount curve 'USD-OIS' must be built earlier"):
        bootstrap([CurveSpec("F", [Quote("swap", "2Y", 0.04)], discount="USD-OIS")], VAL)
    with pytest.raises(BootstrapError, match="not a business day"):
        bootstrap([spec()], VAL.replace(day=13))
    b = CurveBuilder([spec()], VAL)
    q = b.quotes()
    q[4] = math.nan
    with pytest.raises(BootstrapError, match="quote curve/USD-SOFR/swap/2Y is NaN"):
        b.solve(q)
    with pytest.raises(BootstrapError, match="expected 12 quotes"):
        b.solve(q[:3])
    assert replace(QUOTES[0], rate=0.01).rate == 0.01
