"""Shared helpers: market inputs of an underlying (rates, dividends, forwards) and quote timing."""
from __future__ import annotations

import math

import numpy as np

from .quotes import QuoteError


class CalibrationError(ValueError):
    """Calibration cannot run (bad market for the quotes, unsupported option ...)."""


def equity_inputs(quotes, market):
    """Per-quote ``rate`` and ``div`` (continuous, to each expiry) and the spot.

    ``rate = -ln DF(T) / T`` from the discount curve of the underlying's currency;
    ``div`` the market's dividend yield, or implied from ``quotes.forwards`` when
    the quote file gives the forward of an expiry (``F = S e^{(r - q) T}``).
    """
    u = quotes.underlying
    if market is None:
        raise CalibrationError(f"{u}: a market snapshot is needed for spot, rates and dividends")
    if u not in market.spots:
        why = market.problems.get(f"spot/{u}", "not in the market's underlyings")
        raise CalibrationError(f"{u}: no spot in the market ({why})")
    spot = float(market.spots[u])
    ccy = market.currencies.get(u)
    disc = market.discount_for(ccy)
    if disc is None:
        raise CalibrationError(f"{u}: no discount curve or rate for currency {ccy!r} in the market")
    prob = market.discount_problem(ccy)
    if prob:
        raise CalibrationError(f"{u}: discount curve of {ccy} unusable: {prob}")
    a = quotes.arrays()
    t = a["t"]
    rate = -np.log(disc.discount(t)) / t
    div = np.full_like(t, float(market.divs.get(u, 0.0)))
    for n, q in enumerate(quotes.quotes):
        if q.expiry in quotes.forwards:
            div[n] = rate[n] - math.log(quotes.forwards[q.expiry] / spot) / q.t
    return spot, rate, div


def check_calendar(quotes, spot, rate, div):
    """Calendar arbitrage of the quotes (total variance must not fall along moneyness)."""
    from ..models.local_vol import calendar_violations
    a = quotes.arrays()
    fwd = spot * np.exp((rate - div) * a["t"])
    bad = calendar_violations(a["t"], np.log(a["strike"] / fwd), a["vol"] ** 2 * a["t"])
    if bad:
        n, m = bad[0]
        q, p = quotes.quotes[n], quotes.quotes[m]
        raise QuoteError(
            f"calendar arbitrage: quote {q.label} (vol {q.vol:g}, total variance "
            f"{q.vol ** 2 * q.t:.6g}) is below the total variance of the earlier expiry "
            f"{p.expiry.isoformat()} at the same moneyness (interpolated near {p.label}, "
            f"vol {p.vol:g}); {len(bad)} violation(s) in all")


def free_mask(x, lo, hi, rel=1e-9):
    """Parameters strictly inside their bounds (infinite bounds never bind)."""
    x, lo, hi = (np.asarray(a, dtype=float) for a in (x, lo, hi))
    with np.errstate(invalid="ignore"):
        above = ~np.isfinite(lo) | (x > lo + rel * (1 + np.abs(np.where(np.isfinite(lo), lo, 0))))
        below = ~np.isfinite(hi) | (x < hi - rel * (1 + np.abs(np.where(np.isfinite(hi), hi, 0))))
    return above & below
