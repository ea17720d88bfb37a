"""Swaps par delta: 10,000 fixed-float swaps, prices and all 30 par-quote deltas by AAD + IFT.

Workload: one USD-style curve bootstrapped from 30 par quotes (deposits 1M, 2M,
3M, 6M, 9M and swaps 1Y-22Y, 25Y, 27Y, 30Y; annual 30/360 fixed, quarterly
Act/360 float, no lags, weekends-only calendar, log-linear discount factors),
and a seeded random book of 10,000 spot-starting swaps (tenors 1-30Y, fixed
rates 2-6 %, notionals 1e5-1e7, payer or receiver).

Jobs timed round-robin in one process (medians of >= 5 repeats, the warm-up
call excluded):

* ``price``: :func:`aadrisk.market.rates.price_book` -- gather the pillar
  zeros per cashflow and one ``Program.value`` over the book;
* ``greeks``: prices and dV/dq for all 30 quotes per swap: one
  ``Program.grad`` (one reverse sweep), scatter onto pillars, times the
  bootstrap's IFT Jacobian (arrays; the long DataFrame of
  :func:`risk_swaps` is timed separately as ``greeks_frame``);
* QuantLib peer (price-and-bump): the same curve from SimpleQuote-driven
  helpers and VanillaSwap/DiscountingSwapEngine; price the book once, then
  bump each of the 30 quotes by 1 bp (QuantLib re-bootstraps lazily) and
  reprice: 31 repricings.  Timed on a subset of the book and scaled linearly
  to the full size (printed explicitly).

Schedules and interpolation coefficients (rate-independent) are prepared once
before timing, for both engines (QuantLib: swap construction).  ``first_call_s``
is preparation (schedules + recording) plus the first greeks call in this
process (Numba kernels loaded from the on-disk cache when present).

Run: ``python benchmarks/swaps_par_delta.py [--swaps N] [--ql-subset M]``.
The last line printed is the JSON summary.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

VAL = date(2024, 1, 15)
DEPOS = [("1M", 0.0531), ("2M", 0.0532), ("3M", 0.0533), ("6M", 0.0522), ("9M", 0.0508)]
SWAP_TENORS = list(range(1, 23)) + [25, 27, 30]


def quotes():
    from aadrisk.market.bootstrap import Quote
    qs = [Quote("depo", t, r) for t, r in DEPOS]
    for y in SWAP_TENORS:
        qs.append(Quote("swap", f"{y}Y", 0.0495 - 0.011 * (1 - np.exp(-y / 4.0)) + 0.00005 * y))
    return qs


def book(n, seed=2024):
    from aadrisk.market.rates import Swap
    rng = np.random.default_rng(seed)
    ten = rng.integers(1, 31, n)
    rate = rng.uniform(0.02, 0.06, n)
    notl = rng.uniform(1e5, 1e7, n)
    payer = rng.random(n) < 0.5
    return [Swap(f"S{i}", f"{int(ten[i])}Y", float(rate[i]), float(notl[i]), bool(payer[i]))
            for i in range(n)]


def quantlib_job(qs, trades):
    """(job, check) for QuantLib price-and-bump on ``trades``; None if QuantLib is absent."""
    try:
        import QuantLib as ql
    except ImportError:
        print("QuantLib absent: the price-and-bump peer is not measured")
        return None
    from aadrisk.market.dates import add_tenor
    ql.Settings.instance().evaluationDate = ql.Date(VAL.day, VAL.month, VAL.year)
    cal = ql.WeekendsOnly()
    idx = ql.IborIndex("IDX", ql.Period("3M"), 0, ql.USDCurrency(), cal, ql.ModifiedFollowing,
                       False, ql.Actual360())
    sq = [ql.SimpleQuote(q.rate) for q in qs]
    hs = []
    for q, s in zip(qs, sq):
        h = ql.QuoteHandle(s)
        if q.kind == "depo":
            hs.append(ql.DepositRateHelper(h, ql.Period(q.tenor), 0, cal, ql.ModifiedFollowing,
                                           False, ql.Actual360()))
        else:
            hs.append(ql.SwapRateHelper(h, ql.Period(q.tenor), cal, ql.Annual,
                                        ql.ModifiedFollowing, ql.Thirty360(ql.Thirty360.BondBasis),
                                        idx))
    curve = ql.PiecewiseLogLinearDiscount(ql.Date(VAL.day, VAL.month, VAL.year), hs,
                                          ql.Actual365Fixed())
    curve.enableExtrapolation()
    hh = ql.YieldTermStructureHandle(curve)
    index = idx.clone(hh)
    eng = ql.DiscountingSwapEngine(hh)
    start = ql.Date(VAL.day, VAL.month, VAL.year)
    swaps = []
    for t in trades:
        e = add_tenor(VAL, t.tenor)
        end = ql.Date(e.day, e.month, e.year)
        fs = ql.Schedule(start, end, ql.Period("1Y"), cal, ql.ModifiedFollowing,
                         ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
        fl = ql.Schedule(start, end, ql.Period("3M"), cal, ql.ModifiedFollowing,
                         ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
        s = ql.VanillaSwap(ql.Swap.Payer if t.payer else ql.Swap.Receiver, t.notional, fs,
                           t.fixed_rate, ql.Thirty360(ql.Thirty360.BondBasis), fl, index, 0.0,
                           ql.Actual360())
        s.setPricingEngine(eng)
        swaps.append(s)
    bp = 1e-4

    def job():
        base = np.array([s.NPV() for s in swaps])
        out = np.empty((len(swaps), len(sq)))
        for k, s_q in enumerate(sq):
            v0 = s_q.value()
            s_q.setValue(v0 + bp)
            out[:, k] = [s.NPV() for s in swaps]
            s_q.setValue(v0)
        return base, (out - base[:, None]) / bp

    return job


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--swaps", type=int, default=10_000)
    ap.add_argument("--ql-subset", type=int, default=500,
                    help="swaps priced by the QuantLib peer (scaled to --swaps)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    n = args.swaps

    from aadrisk.market.bootstrap import CurveSpec, Conventions, bootstrap
    from aadrisk.market.rates import price_book, prepare_book, risk_swaps, zero_deltas

    qs = quotes()
    t0 = time.perf_counter()
    cs = bootstrap([CurveSpec("USD-SOFR", qs, Conventions(fixed_tenor="1Y", float_tenor="3M"))],
                   VAL)
    boot_s = time.perf_counter() - t0
    print(f"bootstrap of {len(qs)} quotes (record + Newton + IFT Jacobian): {boot_s:.3f} s, "
          f"max repricing error {np.max(np.abs(cs.residuals())):.2e}")
    trades = book(n)
    t0 = time.perf_counter()
    pb = prepare_book(trades, cs)
    prep_s = time.perf_counter() - t0
    print(f"prepare {n} swaps (schedules, coefficients, record {pb.names['J']} slots, "
          f"{pb.program.n_nodes} nodes): {prep_s:.3f} s")

    def price():
        return price_book(pb, cs.zeros)

    def greeks():
        v, dvdz = zero_deltas(pb, cs.zeros)
        return v, cs.par_sensitivities(dvdz)

    def greeks_frame():
        return risk_swaps(trades, cs, pb)

    t0 = time.perf_counter()
    greeks()
    first_s = prep_s + time.perf_counter() - t0
    res = C.bench({"price": price, "greeks": greeks, "greeks_frame": greeks_frame},
                  repeats=args.repeats)
    for k, r in res.items():
        print(f"  {k:<13}: {C.spread(r)}")
    price_s, greeks_s = res["price"]["median_s"], res["greeks"]["median_s"]
    print(f"  ratio greeks / price: {greeks_s / price_s:.2f}")

    peer = None
    m = min(args.ql_subset, n)
    job = quantlib_job(qs, trades[:m])
    if job is not None:
        r = C.bench({"ql": job}, repeats=5)["ql"]
        base, dq = job()
        v, dvdq = greeks()
        err_p = np.max(np.abs(base - v[:m]) / np.array([t.notional for t in trades[:m]]))
        err_d = np.max(np.abs(dq - dvdq[:m]) / np.abs(dvdq[:m]).max(axis=1, keepdims=True))
        peer = r["median_s"] * n / m
        print(f"  QuantLib price + 30 one-sided 1bp bumps on {m} swaps: {C.spread(r)}; "
              f"SCALED linearly x{n / m:g} to {n} swaps: {peer:.2f} s (subset, then scaled)")
        print(f"  check vs QuantLib: max |price diff| / notional {err_p:.1e}; "
              f"max |AAD par delta - 1bp bump| / max delta {err_d:.1e} (bump truncation)")

    C.print_json_last({
        "workload": "swaps_par_delta",
        "size": {"swaps": n, "quotes": len(qs)},
        "n_greeks": len(qs),
        "price_s": price_s,
        "greeks_s": greeks_s,
        "ratio": greeks_s / price_s,
        "first_call_s": first_s,
        "greeks_with_long_frame_s": res["greeks_frame"]["median_s"],
        "peers": {"quantlib_bump": peer},
        "peer_note": (f"QuantLib timed on the first {m} swaps and scaled x{n / m:g}"
                      if peer is not None else None),
        "bootstrap_s": boot_s,
        "prepare_s": prep_s,
        "repeats": len(res["price"]["times_s"]),
        "env": C.environment(),
    })


if __name__ == "__main__":
    main()
