"""Shared set-up of the rates tests: a curve and its QuantLib twin (same conventions)."""
from __future__ import annotations

from datetime import date

import numpy as np

from aadrisk.market.bootstrap import Conventions, CurveSpec, Quote

VAL = date(2024, 1, 15)   # a Monday
CONV = Conventions(fixed_tenor="1Y", fixed_dc="30/360", float_tenor="3M", float_dc="ACT/360")
QUOTES = [Quote("depo", "1M", 0.0531), Quote("depo", "3M", 0.0533), Quote("depo", "6M", 0.0522),
          Quote("swap", "1Y", 0.0495), Quote("swap", "2Y", 0.0452), Quote("swap", "3Y", 0.0430),
          Quote("swap", "5Y", 0.0410), Quote("swap", "7Y", 0.0404), Quote("swap", "10Y", 0.0401),
          Quote("swap", "15Y", 0.0398), Quote("swap", "20Y", 0.0390), Quote("swap", "30Y", 0.0372)]


def spec(method="loglinear_df", name="USD-SOFR", quotes=QUOTES):
    return CurveSpec(name, list(quotes), CONV, method=method)


def qdate(d):
    import QuantLib as ql
    return ql.Date(d.day, d.month, d.year)


def ql_curve(quotes=QUOTES, method="loglinear_df", val=VAL):
    """QuantLib curve from the same quotes: no lags, WeekendsOnly, Act/365F curve."""
    import QuantLib as ql
    ql.Settings.instance().evaluationDate = qdate(val)
    cal = ql.WeekendsOnly()
    idx = ql.IborIndex("IDX", ql.Period("3M"), 0, ql.USDCurrency(), cal, ql.ModifiedFollowing,
                       False, ql.Actual360())
    hs = []
    for q in quotes:
        h = ql.QuoteHandle(ql.SimpleQuote(q.rate))
        if q.kind == "depo":
            hs.append(ql.DepositRateHelper(h, ql.Period(q.tenor), 0, cal, ql.ModifiedFollowing,
                                           False, ql.Actual360()))
        elif q.kind == "fra":
            a, b = (int(x) for x in q.tenor.split("x"))
            hs.append(ql.FraRateHelper(h, a, b, 0, cal, ql.ModifiedFollowing, False,
                                       ql.Actual360()))
        else:
            hs.append(ql.SwapRateHelper(h, ql.Period(q.tenor), cal, ql.Annual,
                                        ql.ModifiedFollowing, ql.Thirty360(ql.Thirty360.BondBasis),
                                        idx))
    cls = {"loglinear_df": ql.PiecewiseLogLinearDiscount,
           "linear_zero": ql.PiecewiseLinearZero}[method]
    curve = cls(qdate(val), hs, ql.Actual365Fixed(), ql.IterativeBootstrap(1e-15))
    curve.enableExtrapolation()
    return curve, idx


def ql_swap(curve, idx, sw, val=VAL):
    """QuantLib VanillaSwap twin of an aadrisk Swap (spot start, WeekendsOnly, MF)."""
    import QuantLib as ql
    from aadrisk.market.dates import add_tenor
    h = ql.YieldTermStructureHandle(curve)
    index = idx.clone(h)
    cal = ql.WeekendsOnly()
    start = qdate(sw.start or val)
    end = qdate(add_tenor(sw.start or val, sw.tenor))
    fs = ql.Schedule(start, end, ql.Period(sw.fixed_tenor), cal, ql.ModifiedFollowing,
                     ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    flt = ql.Schedule(start, end, ql.Period(sw.float_tenor), cal, ql.ModifiedFollowing,
                      ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    typ = ql.Swap.Payer if sw.payer else ql.Swap.Receiver
    s = ql.VanillaSwap(typ, sw.notional, fs, sw.fixed_rate, ql.Thirty360(ql.Thirty360.BondBasis),
                       flt, index, 0.0, ql.Actual360())
    s.setPricingEngine(ql.DiscountingSwapEngine(h))
    return s


def random_book(n, seed=7, tenors=range(1, 31)):
    from aadrisk.market.rates import Swap
    rng = np.random.default_rng(seed)
    ts = rng.choice(list(tenors), n)
    return [Swap(f"S{i}", f"{int(ts[i])}Y", fixed_rate=float(rng.uniform(0.02, 0.06)),
                 notional=float(rng.uniform(1e5, 1e7)), payer=bool(rng.random() < 0.5))
            for i in range(n)]
