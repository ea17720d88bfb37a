"""Dupire local vol from an implied-vol quote surface (no fit: an interpolation), with
arbitrage checks naming the quote, written as ``models.local_vol.<U> = {times, spots, vols}``.

The quotes must form a full grid (every expiry quotes every strike).  See
:mod:`aadrisk.models.local_vol` for the interpolant and formula.
"""
from __future__ import annotations

import time

import numpy as np

from ..models.local_vol import (LocalVolArbitrageError, butterfly_violations, dupire_local_vol,
                                dupire_parts)
from ._common import check_calendar, equity_inputs
from .quotes import QuoteError
from .report import CalibrationResult

__all__ = ["calibrate_local_vol", "surface_grid"]


def surface_grid(quotes):
    """``(times, strikes, vols)`` of a full expiry x strike grid of quotes (else QuoteError)."""
    exps = quotes.expiries
    strikes = sorted({q.strike for q in quotes.quotes})
    grid = {(q.expiry, q.strike): q for q in quotes.quotes}
    for e in exps:
        missing = [k for k in strikes if (e, k) not in grid]
        if missing:
            raise QuoteError(f"local vol needs a full grid: expiry {e.isoformat()} has no quote "
                             f"at strike(s) {', '.join(f'{k:g}' for k in missing)} "
                             f"(label vol/{quotes.underlying}/{e.isoformat()}/{missing[0]:g})")
    if len(strikes) < 3:
        raise QuoteError(f"{quotes.underlying}: local vol needs at least 3 strikes per expiry, "
                         f"got {len(strikes)}")
    times = np.array([grid[(e, strikes[0])].t for e in exps])
    vols = np.array([[grid[(e, k)].vol for k in strikes] for e in exps])
    return times, np.array(strikes), vols


def calibrate_local_vol(quotes, market=None, *, out_times=None, out_spots=None, n_times=None,
                        n_spots=41, spot=None, rate=None, div=None) -> CalibrationResult:
    """Check the surface for arbitrage and compute the Dupire local vol grid.

    Default output grid: ``n_times`` (default 2 per expiry) equally spaced times in
    ``(0, T_last]`` and ``n_spots`` log-spaced spot levels between the lowest and the
    highest strike.  ``params`` = ``{"times", "spots", "vols"}`` (``vols[a][b]`` at
    ``times[a]``, ``spots[b]``).
    """
    t0 = time.perf_counter()
    if spot is None:
        spot, rate, div = equity_inputs(quotes, market)
    rate = np.broadcast_to(np.asarray(rate, float), (len(quotes.quotes),))
    div = np.broadcast_to(np.asarray(div, float), (len(quotes.quotes),))
    check_calendar(quotes, spot, rate, div)
    a = quotes.arrays()
    fwd_q = spot * np.exp((rate - div) * a["t"])
    bad = butterfly_violations(a["t"], np.log(a["strike"] / fwd_q), a["vol"] ** 2 * a["t"])
    if bad:
        n, d = bad[0]
        q = quotes.quotes[n]
        raise LocalVolArbitrageError(
            f"butterfly arbitrage: quote {q.label} (expiry {q.expiry.isoformat()}, strike "
            f"{q.strike:g}, vol {q.vol:g}): the Dupire denominator (density factor) is {d:.4g} "
            f"<= 0; {len(bad)} quote(s) in all")
    times, strikes, vols = surface_grid(quotes)
    fwd = np.array([fwd_q[[i for i, q in enumerate(quotes.quotes) if q.t == t][0]]
                    for t in times])
    if out_times is None:
        nt = n_times or 2 * len(times)
        out_times = np.linspace(times[-1] / nt, times[-1], nt)
    if out_spots is None:
        out_spots = np.exp(np.linspace(np.log(strikes[0]), np.log(strikes[-1]), n_spots))
    lv = np.array(dupire_local_vol(times=times, strikes=strikes, vols=vols.tolist(),
                                   forwards=fwd, spot=spot, out_times=out_times,
                                   out_spots=out_spots), dtype=float)
    # local vol at each quote (for the report): at (T_i, K_j) on the segment ending at T_i
    at_q = []
    for q in quotes.quotes:
        w, wt, w1, w2, y = dupire_parts(times=times, strikes=strikes, vols=vols.tolist(),
                                        forwards=fwd, spot=spot, t=q.t * (1 - 1e-9), k=q.strike)
        den = 1 - y / w * w1 + 0.25 * (-0.25 - 1 / w + y * y / (w * w)) * w1 * w1 + 0.5 * w2
        at_q.append(float(np.sqrt(max(wt, 0.0) / den)))
    secs = time.perf_counter() - t0
    u = quotes.underlying
    params = {"times": [float(t) for t in out_times], "spots": [float(s) for s in out_spots],
              "vols": lv.tolist()}
    return CalibrationResult(
        model="local_vol", name=u, params=params, labels=quotes.labels, market=a["vol"],
        model_vals=np.array(at_q), weights=a["weight"],
        groups=[q.expiry.isoformat() for q in quotes.quotes], x_axis=a["strike"], iterations=0,
        seconds=secs, converged=True, message="no arbitrage found; local vol grid computed",
        extra={"grid": (times, strikes, vols, fwd, float(spot))})
