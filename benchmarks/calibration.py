"""Calibration: Heston on a 10 x 10 surface (AAD vs finite-difference Jacobian) and SABR
per expiry on a 20-expiry surface, with the home-grown Levenberg-Marquardt.

Workloads (seeded):

* ``heston``: 10 expiries (1 month - 2 years) x 10 strikes (K/S 0.8 - 1.25), vols from
  Heston itself (v0 0.04, kappa 1.5, theta 0.06, xi 0.5, rho -0.7; S 100, r 3 %, q 1 %)
  plus 0.1 vol point of seeded noise; calibrated from the default initial guess.
  Jobs timed round-robin: the whole calibration; one AAD Jacobian (one reverse sweep,
  100 x 5); a central finite-difference Jacobian (10 value sweeps) and a forward one
  (6 value sweeps).  Also: the bundled illustrative SPX surface
  (``portfolios/quotes_spx.json`` on ``portfolios/market_full.json``), once timed.
* ``sabr``: 20 expiries (1 month - 5 years) x 10 strikes from SABR (beta 0.7, seeded
  alpha / nu / rho per expiry) plus 0.1 vol point noise; alpha, nu, rho per expiry in
  lockstep (one reverse sweep of all 200 quotes per iteration).

Warm-up (recording, Numba cache load) excluded and reported as first call; medians of
``--repeats``.  Run: ``python benchmarks/calibration.py``.  Last line: JSON summary.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20241126
VAL = dt.date(2024, 6, 28)
HESTON = np.array([0.04, 1.5, 0.06, 0.5, -0.7])
KW = dict(spot=100.0, rate=0.03, div=0.01)


def _surface(exps, strikes, vols, und="X"):
    from aadrisk.calibration import parse_quotes
    return parse_quotes({"underlying": und, "valuation_date": VAL.isoformat(),
                         "expiries": [(VAL + dt.timedelta(days=int(d))).isoformat() for d in exps],
                         "strikes": list(map(float, strikes)),
                         "vols": np.asarray(vols).tolist()}, VAL)


def heston_quotes(rng):
    from aadrisk.calibration.heston import HestonProblem
    exps, strikes = np.linspace(30, 730, 10), np.linspace(80, 125, 10)
    p = HestonProblem(_surface(exps, strikes, np.full((10, 10), 0.2)), **KW)
    vols = p.model_vols(HESTON).reshape(10, 10) + 0.001 * rng.standard_normal((10, 10))
    return _surface(exps, strikes, vols)


def sabr_quotes(rng):
    from aadrisk.calibration.sabr import SabrProblem
    exps, strikes = np.linspace(30, 1830, 20), np.linspace(70, 130, 10)
    X = np.column_stack([0.2 * 100 ** 0.3 * (1 + 0.1 * rng.standard_normal(20)),
                         rng.uniform(0.2, 0.9, 20), rng.uniform(-0.7, 0.1, 20)])
    p = SabrProblem(_surface(exps, strikes, np.full((20, 10), 0.2)), beta=0.7, **KW)
    return _surface(exps, strikes, p.model_vols(X) + 0.001 * rng.standard_normal((20, 10)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    from aadrisk.calibration.heston import HestonProblem, calibrate_heston
    from aadrisk.calibration.sabr import calibrate_sabr

    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    hq = heston_quotes(rng)
    sq = sabr_quotes(rng)
    print(f"set-up (recording, kernel cache load, synthetic quotes): "
          f"{time.perf_counter() - t0:.2f} s")
    hp = HestonProblem(hq, **KW)
    x0 = HESTON * [1.2, 0.8, 0.9, 1.2, 0.9]

    def fd_forward():
        base = hp.model_vols(x0)
        J = np.empty((hp.n, 5))
        for k in range(5):
            x = x0.copy()
            h = 1e-6 * max(abs(x[k]), 1e-2)
            x[k] += h
            J[:, k] = (hp.model_vols(x) - base) / h
        return J

    last = {}

    def heston_job():
        last["h"] = calibrate_heston(hq, **KW, check_arbitrage=False)

    def sabr_job():
        last["s"] = calibrate_sabr(sq, beta=0.7, **KW, check_arbitrage=False)

    r = C.bench({"heston_calibration": heston_job,
                 "heston_jacobian_aad": lambda: hp.jacobian(x0),
                 "heston_jacobian_fd_central": lambda: hp.fd_jacobian(x0),
                 "heston_jacobian_fd_forward": fd_forward,
                 "sabr_20_expiries": sabr_job}, a.repeats)
    for k, v in r.items():
        print(f"{k:28s} first call {v['first_call_s']:.3f} s, median {C.spread(v)}")
    h, s = last["h"], last["s"]
    J_aad = hp.jacobian(x0)[1]
    J_fd = hp.fd_jacobian(x0)
    jdiff = float(np.max(np.abs(J_aad - J_fd)) / np.max(np.abs(J_aad)))
    got = np.array([h.params[k] for k in ("v0", "kappa", "theta", "xi", "rho")])
    print(f"Heston 10x10: {h.iterations} iterations ({h.n_evals} Jacobian evaluations), "
          f"RMSE {h.rmse * 100:.4f} vol pts (noise 0.1), converged {h.converged} "
          f"({h.message}); params {np.round(got, 5).tolist()} vs true {HESTON.tolist()}")
    print(f"  Jacobian 100x5: AAD {r['heston_jacobian_aad']['median_s'] * 1e3:.1f} ms vs "
          f"central FD {r['heston_jacobian_fd_central']['median_s'] * 1e3:.1f} ms, forward FD "
          f"{r['heston_jacobian_fd_forward']['median_s'] * 1e3:.1f} ms; max |AAD - FD| / max|J| "
          f"{jdiff:.1e}")
    print(f"SABR 20 expiries x 10 strikes: {s.iterations} iterations (max over expiries), "
          f"RMSE {s.rmse * 100:.4f} vol pts, converged {s.converged}")

    # the bundled illustrative SPX surface, once (after the warm-up above)
    from aadrisk.calibration.quotes import load_quotes
    from aadrisk.market.snapshot import MarketData
    mkt = MarketData.from_mapping(json.load(open(os.path.join(ROOT, "portfolios",
                                                              "market_full.json"))))
    spx = load_quotes(os.path.join(ROOT, "portfolios", "quotes_spx.json"))
    t1 = time.perf_counter()
    hs = calibrate_heston(spx, mkt)
    spx_s = time.perf_counter() - t1
    t1 = time.perf_counter()
    ss = calibrate_sabr(spx, mkt)
    spx_sabr_s = time.perf_counter() - t1
    print(f"bundled SPX 10x10 (quotes_spx.json): Heston {spx_s:.3f} s, {hs.iterations} "
          f"iterations, RMSE {hs.rmse * 100:.3f} vol pts, converged {hs.converged}; SABR "
          f"(beta 1) {spx_sabr_s:.3f} s, RMSE {ss.rmse * 100:.3f} vol pts")
    print(f"machine: {C.n_cores()} cores (shared with other jobs while measured)")
    C.print_json_last({
        "workload": "calibration",
        "heston_s": r["heston_calibration"]["median_s"],
        "heston_first_call_s": r["heston_calibration"]["first_call_s"],
        "heston_iterations": h.iterations, "heston_rmse": h.rmse,
        "heston_converged": h.converged,
        "heston_jacobian_aad_s": r["heston_jacobian_aad"]["median_s"],
        "heston_jacobian_fd_s": r["heston_jacobian_fd_central"]["median_s"],
        "heston_jacobian_fd_forward_s": r["heston_jacobian_fd_forward"]["median_s"],
        "heston_jacobian_rel_diff": jdiff,
        "sabr_20_expiries_s": r["sabr_20_expiries"]["median_s"],
        "sabr_iterations": s.iterations, "sabr_rmse": s.rmse, "sabr_converged": s.converged,
        "spx_heston_s": spx_s, "spx_heston_iterations": hs.iterations, "spx_heston_rmse": hs.rmse,
        "spx_sabr_s": spx_sabr_s, "spx_sabr_rmse": ss.rmse,
        "size": {"heston_quotes": 100, "sabr_quotes": 200, "sabr_expiries": 20},
        "repeats": a.repeats, "env": C.environment()})


if __name__ == "__main__":
    main()
