"""QuantLib set-up shared by the model tests (QuantLib is a test oracle only).

Day counts: Actual/365 Fixed, expiries an integer number of days from a fixed
valuation date, so the year fraction seen by QuantLib is exactly ``days / 365``.
Flat curves are continuously compounded, as in aadrisk.
"""
from __future__ import annotations

import numpy as np


def ql():
    import QuantLib
    return QuantLib


TODAY = (15, 5, 2024)


def setup_today():
    q = ql()
    today = q.Date(*TODAY)
    q.Settings.instance().evaluationDate = today
    return today


def flat_curve(today, rate):
    q = ql()
    return q.YieldTermStructureHandle(q.FlatForward(today, q.QuoteHandle(q.SimpleQuote(rate)),
                                                    q.Actual365Fixed(), q.Continuous))


def bsm_process(today, spot, rate, div, vol):
    """Generalised BSM process on flat curves; returns (process, quotes) for bumping."""
    q = ql()
    quotes = {"spot": q.SimpleQuote(spot), "rate": q.SimpleQuote(rate),
              "div": q.SimpleQuote(div), "vol": q.SimpleQuote(vol)}
    dc = q.Actual365Fixed()
    r = q.YieldTermStructureHandle(q.FlatForward(today, q.QuoteHandle(quotes["rate"]), dc,
                                                 q.Continuous))
    d = q.YieldTermStructureHandle(q.FlatForward(today, q.QuoteHandle(quotes["div"]), dc,
                                                 q.Continuous))
    v = q.BlackVolTermStructureHandle(q.BlackConstantVol(today, q.NullCalendar(),
                                                         q.QuoteHandle(quotes["vol"]), dc))
    proc = q.BlackScholesMertonProcess(q.QuoteHandle(quotes["spot"]), d, r, v)
    return proc, quotes


def central_diff(price_fn, quote, h):
    """Central difference of ``price_fn()`` in a SimpleQuote, bump ``h`` (restored)."""
    x0 = quote.value()
    quote.setValue(x0 + h)
    up = price_fn()
    quote.setValue(x0 - h)
    dn = price_fn()
    quote.setValue(x0)
    return (up - dn) / (2.0 * h)


def assert_close(got, want, rtol, atol=0.0, what=""):
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    err = np.abs(got - want)
    tol = rtol * np.abs(want) + atol
    bad = np.flatnonzero(~(err <= tol))
    assert bad.size == 0, (f"{what}: {bad.size} of {err.size} outside rtol={rtol}, atol={atol}; "
                           f"first at {bad[0]}: got {got.flat[bad[0]]!r}, want "
                           f"{want.flat[bad[0]]!r}, worst rel "
                           f"{np.max(err / np.maximum(np.abs(want), 1e-300)):.3g}")
