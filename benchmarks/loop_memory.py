"""loop252 -- memory and speed of a 252-step Monte Carlo loop with a full reverse sweep.

The product: an arithmetic-average (daily) Asian call on GBM, S0 = 100,
r = 0.03, T = 1 year, 252 exact log-Euler daily steps, one shared volatility
per step (``vol`` of shape (252,), 0.2 + 0.05 sin(2 pi t/T)), one
``ad.normal()`` per step, running average in the loop state, payoff
``exp(-rT) softplus(avg - K, 0.5)`` with K = 100 (a smoothed max(avg - K, 0)).
The loop is recorded once with ``ad.scan``; evaluation uses
``reduce="mean"`` (Monte Carlo estimate with standard error).

* pricing only: ``Program.value``;
* price + Greeks: ``Program.grad`` with respect to spot, rate and all 252 step
  vols (254 derivatives), one full reverse sweep through the loop.

Peak memory is ``ru_maxrss`` read in a fresh subprocess per case (pricing /
price + Greeks at 100,000 and 1,000,000 paths); the growth ratio 1M / 100k
shows whether memory grows with the path count.  Times are medians of
in-process repeats (warm-up excluded) at 100,000 paths, round-robin.

Run: ``python benchmarks/loop_memory.py`` (``--help`` for options).
The last line printed is the JSON summary.
"""
from __future__ import annotations

import resource

_START_MAXRSS_MIB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # before imports

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

N_STEPS = 252
S0, RATE, T, K = 100.0, 0.03, 1.0, 100.0
WIDTH = 0.5  # softplus width, price units
SEED = 20240611
SIZES = (100_000, 1_000_000)
WRT = ["spot", "rate", "vol"]


def step_vols() -> np.ndarray:
    t = (np.arange(N_STEPS) + 0.5) * (T / N_STEPS)
    return 0.2 + 0.05 * np.sin(2.0 * np.pi * t / T)


def record_program():
    import aadrisk as ad

    dt = T / N_STEPS
    sqdt = math.sqrt(dt)

    def asian(*, spot, rate):
        def step(state, x):
            log_s, acc = state
            v = x["vol"]
            log_s = log_s + (rate - 0.5 * v * v) * dt + v * sqdt * ad.normal()
            return log_s, acc + ad.exp(log_s)

        _, acc = ad.scan(step, (ad.log(spot), 0.0), N_STEPS, xs=["vol"])
        return ad.exp(-rate * T) * ad.softplus(acc / N_STEPS - K, WIDTH)

    return ad.record(asian, name="asian252")


def inputs():
    return {"spot": S0, "rate": RATE, "vol": step_vols()}


def run(prog, mode, n, threads):
    if mode == "price":
        return prog.value(inputs(), reduce="mean", batch=n, seed=SEED, threads=threads)
    return prog.grad(inputs(), wrt=WRT, reduce="mean", batch=n, seed=SEED, threads=threads)


# -- child: one memory measurement ---------------------------------------------------------

def child(mode, n, threads):
    """One measurement in a fresh process: peak RSS of the whole process and of the call."""
    t0 = time.perf_counter()
    import aadrisk  # noqa: F401
    t_import = time.perf_counter() - t0
    rss_import = C.peak_rss_mib()
    prog = record_program()
    # small call of the same mode: loads the compiled kernels from the Numba cache
    t_small, _ = C.timed(lambda: run(prog, mode, 256, threads))
    peak_before_call = C.peak_rss_mib()
    rss_before_call = C.current_rss_mib()
    was_reset = C.reset_peak_rss()
    t_call, res = C.timed(lambda: run(prog, mode, n, threads))
    peak_since = C.peak_rss_mib()
    C.child_reply({
        "mode": mode, "paths": n,
        "peak_rss_mib": max(peak_before_call, peak_since),
        "maxrss_at_start_mib": _START_MAXRSS_MIB,
        "peak_after_import_mib": rss_import,
        "peak_after_kernel_load_mib": peak_before_call,
        "rss_before_call_mib": rss_before_call,
        "call_peak_rss_mib": peak_since if was_reset else None,
        "call_increment_mib": (peak_since - rss_before_call)
        if was_reset and rss_before_call is not None else None,
        "import_s": t_import, "small_call_s": t_small, "call_s": t_call,
        "value": res.value, "stderr": res.stderr})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats (>= 5)")
    ap.add_argument("--threads", type=int, default=C.n_cores(), help="aadrisk worker threads")
    ap.add_argument("--paths", type=int, default=SIZES[0], help="paths for the timings")
    ap.add_argument("--child", choices=["price", "greeks"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    threads = args.threads
    if args.child:
        return child(args.child, args.paths, threads)

    C.start_launcher()  # spawn the memory children from a small process (see _common)
    n = args.paths
    prog = record_program()
    print(f"loop252: arithmetic Asian call, GBM log-Euler, {N_STEPS} steps x {n:,} paths "
          f"(timings), float64, seed {SEED}, threads = {threads} (cores: {C.n_cores()})")
    print(f"  {prog}")
    print(f"  measured aadrisk: {C.aadrisk_source()}")
    print(f"  loop checkpoint interval at the default block: {prog.checkpoint_intervals()}")

    jobs = {"price": lambda: run(prog, "price", n, threads),
            "greeks": lambda: run(prog, "greeks", n, threads)}
    res = C.bench(jobs, args.repeats)
    r = run(prog, "greeks", n, threads)
    vol_grad = np.asarray(r.grad["vol"])
    print(f"\nMonte Carlo estimate ({n:,} paths x {N_STEPS} steps):")
    print(f"  price        {r.value:.6f}  (stderr {r.stderr:.6f})")
    print(f"  d/dspot      {r.grad['spot']:.6f}  (stderr {r.grad_stderr['spot']:.6f})")
    print(f"  d/drate      {r.grad['rate']:.6f}  (stderr {r.grad_stderr['rate']:.6f})")
    print(f"  d/dvol_i     252 values, sum {vol_grad.sum():.6f} (parallel-shift vega), "
          f"first {vol_grad[0]:.6f}, last {vol_grad[-1]:.6f}, "
          f"max stderr {np.max(r.grad_stderr['vol']):.6f}")

    print(f"\nTiming at {n:,} paths: warm-up first (excluded), then "
          f"{len(res['price']['times_s'])} repeats round-robin; medians.")
    for name, rec in res.items():
        print(f"  {name:<7} first call {rec['first_call_s']:7.3f} s | median {C.spread(rec)}")
    price_s, greeks_s = res["price"]["median_s"], res["greeks"]["median_s"]
    print(f"  greeks_s / price_s = {greeks_s / price_s:.3f}  (254 derivatives)")

    print("\nPeak RSS, fresh subprocess per case (ru_maxrss, MiB). Each child imports aadrisk, "
          "loads the kernels\nfrom the Numba cache with a 256-path call, resets its RSS "
          "high-water mark, then runs the full call:")
    me = os.path.abspath(__file__)
    cases = {}
    for mode in ("price", "greeks"):
        for paths in SIZES:
            out = C.run_child([me, "--child", mode, "--paths", str(paths),
                               "--threads", str(threads)])
            cases[f"{mode}_{paths}"] = out
            inc = out.get("call_increment_mib")
            cp = out.get("call_peak_rss_mib")
            print(f"  {mode:<7} {paths:>9,} paths: process peak {out['peak_rss_mib']:7.1f} | "
                  f"at start {out['maxrss_at_start_mib']:5.1f}, after import "
                  f"{out['peak_after_import_mib']:6.1f}, after kernel load "
                  f"{out['peak_after_kernel_load_mib']:6.1f} | peak during the call "
                  + (f"{cp:7.1f} (+{inc:.1f} over RSS before it)" if cp is not None
                     else "n/a (clear_refs not allowed)")
                  + f" | call {out['call_s']:.2f} s, value {out['value']:.5f} "
                  f"+- {out['stderr']:.5f}")
    def ratio(key, a, b):
        x, y = cases[a].get(key), cases[b].get(key)
        return x / y if x is not None and y is not None else None

    big, small = SIZES[1], SIZES[0]
    growth = {m: ratio("peak_rss_mib", f"{m}_{big}", f"{m}_{small}") for m in ("price", "greeks")}
    growth_call = {m: ratio("call_peak_rss_mib", f"{m}_{big}", f"{m}_{small}")
                   for m in ("price", "greeks")}
    g_over_p = {p: ratio("peak_rss_mib", f"greeks_{p}", f"price_{p}") for p in SIZES}
    g_over_p_call = {p: ratio("call_peak_rss_mib", f"greeks_{p}", f"price_{p}") for p in SIZES}

    def fmt(x):
        return "n/a" if x is None else f"{x:.3f}"

    print("Ratios (process peak | peak during the call):")
    for m in ("price", "greeks"):
        print(f"  peak RSS growth 1M / 100k paths, {m:<6}: {fmt(growth[m])} | "
              f"{fmt(growth_call[m])}")
    for p in SIZES:
        print(f"  peak RSS greeks / price at {p:>9,} paths: {fmt(g_over_p[p])} | "
              f"{fmt(g_over_p_call[p])}")
    print(f"  single-call time greeks / price at 1,000,000 paths: "
          f"{cases[f'greeks_{big}']['call_s'] / cases[f'price_{big}']['call_s']:.3f}")

    summary = {
        "workload": "loop252",
        "size": {"paths": n, "steps": N_STEPS},
        "n_greeks": 2 + N_STEPS,
        "price_s": price_s,
        "greeks_s": greeks_s,
        "ratio": greeks_s / price_s,
        "first_call_s": res["greeks"]["first_call_s"],
        "first_call_note": "in-process warm-up call of grad (Numba cache as found)",
        "peak_rss_mib": {k: v["peak_rss_mib"] for k, v in cases.items()},
        "call_peak_rss_mib": {k: v.get("call_peak_rss_mib") for k, v in cases.items()},
        "call_increment_mib": {k: v.get("call_increment_mib") for k, v in cases.items()},
        "rss_growth_1m_over_100k": growth,
        "call_rss_growth_1m_over_100k": growth_call,
        "rss_greeks_over_price": {str(k): v for k, v in g_over_p.items()},
        "call_rss_greeks_over_price": {str(k): v for k, v in g_over_p_call.items()},
        "single_call_s": {k: v["call_s"] for k, v in cases.items()},
        "estimate": {"price": r.value, "price_stderr": r.stderr, "delta": r.grad["spot"],
                     "delta_stderr": r.grad_stderr["spot"], "rho": r.grad["rate"],
                     "vega_parallel": float(vol_grad.sum())},
        "peers": {},
        "threads": threads,
        "repeats": len(res["price"]["times_s"]),
        "env": C.environment(),
    }
    C.print_json_last(summary)


if __name__ == "__main__":
    main()
