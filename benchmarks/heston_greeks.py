"""Heston analytic book: 10,000 European options, price vs price + 6 Greeks by AAD.

Book: seeded random strikes (K/S in [0.6, 1.5]) and expiries (0.1-5 y, whole
days), calls and puts, spot 100, shared model parameters (v0 = 0.04,
kappa = 1.5, theta = 0.05, sigma = 0.6, rho = -0.7, r = 0.03, q = 0.01).

Jobs (round-robin, warm-up excluded and reported as first call, medians):

* ``price``: ``Program.value`` of the recorded ``aadrisk.models.heston_price``;
* ``greeks``: ONE ``Program.grad`` with ``wrt=["spot", "v0", "kappa", "theta",
  "sigma", "rho"]`` -- spot is per element (per-option delta); the model
  parameters are passed per element too (same value repeated) so that their
  Greeks are per option, not summed over the book.

Peer: QuantLib ``AnalyticHestonEngine(model, 1e-12, 100000)`` pricing only, on
the first ``--ql-n`` options, time scaled to the full book (said so in the output).

Run: ``python benchmarks/heston_greeks.py`` (``--help``).  Last line: JSON summary.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

SEED = 20240612
PARAMS = dict(v0=0.04, kappa=1.5, theta=0.05, sigma=0.6, rho=-0.7)
WRT = ["spot", "v0", "kappa", "theta", "sigma", "rho"]


def make_book(n, seed=SEED):
    rng = np.random.default_rng(seed)
    book = dict(spot=np.full(n, 100.0), strike=100.0 * rng.uniform(0.6, 1.5, n),
                expiry=rng.integers(37, 5 * 365, n) / 365.0, rate=0.03, div=0.01,
                is_call=(rng.random(n) < 0.5).astype(float))
    book.update({k: np.full(n, v) for k, v in PARAMS.items()})
    return book


def ql_prices(book, m):
    import QuantLib as ql
    today = ql.Date(15, 5, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, 0.03, dc, ql.Continuous))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, 0.01, dc, ql.Continuous))
    proc = ql.HestonProcess(rts, qts, ql.QuoteHandle(ql.SimpleQuote(100.0)), *PARAMS.values())
    eng = ql.AnalyticHestonEngine(ql.HestonModel(proc), 1e-12, 100000)
    opts = []
    for i in range(m):
        typ = ql.Option.Call if book["is_call"][i] else ql.Option.Put
        o = ql.VanillaOption(ql.PlainVanillaPayoff(typ, float(book["strike"][i])),
                             ql.EuropeanExercise(today + int(round(book["expiry"][i] * 365))))
        o.setPricingEngine(eng)
        opts.append(o)
    t0 = time.perf_counter()
    out = np.array([o.NPV() for o in opts])
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=C.n_cores())
    ap.add_argument("--ql-n", type=int, default=2_000)
    a = ap.parse_args()

    import aadrisk as ad
    from aadrisk.models import heston_price

    book = make_book(a.n)
    t0 = time.perf_counter()
    prog = ad.record(heston_price)
    print(f"recorded heston_price: {prog.n_nodes} nodes in {time.perf_counter() - t0:.3f} s")
    jobs = {"price": lambda: prog.value(book, threads=a.threads).value,
            "greeks": lambda: prog.grad(book, wrt=WRT, threads=a.threads)}
    r = C.bench(jobs, a.repeats)
    for k, v in r.items():
        print(f"{k:7s} first call {v['first_call_s']:.3f} s, median {C.spread(v)}")
    price_s, greeks_s = r["price"]["median_s"], r["greeks"]["median_s"]
    print(f"ratio greeks / price = {greeks_s / price_s:.2f} (target <= 3), "
          f"{a.n / greeks_s:,.0f} options/s with 6 Greeks")

    m = min(a.ql_n, a.n)
    t_ql, p_ql = ql_prices(book, m)
    t_ql_full = t_ql * a.n / m
    p_aad = prog.value(book, threads=a.threads).value[:m]
    err = np.max(np.abs(p_aad - p_ql) / np.maximum(np.abs(p_ql), 1e-8))
    print(f"QuantLib AnalyticHestonEngine (1e-12, 100000): {m} options priced in {t_ql:.3f} s, "
          f"scaled to {a.n}: {t_ql_full:.3f} s (single thread); max rel diff vs aadrisk "
          f"{err:.2e}")
    C.print_json_last({"workload": "heston_analytic", "size": {"options": a.n}, "n_greeks": 6,
                       "price_s": price_s, "greeks_s": greeks_s, "ratio": greeks_s / price_s,
                       "first_call_s": r["greeks"]["first_call_s"],
                       "first_call_price_s": r["price"]["first_call_s"],
                       "peers": {"quantlib_price": t_ql_full},
                       "quantlib_subset": m, "max_rel_diff_vs_quantlib": err,
                       "threads": a.threads, "repeats": a.repeats, "env": C.environment()})


if __name__ == "__main__":
    main()
