"""W5 -- memory of W2: peak RSS of price + Greeks against pricing only, 100k and 1M paths.

Each figure is ``ru_maxrss`` of a fresh subprocess (spawned through a small
launcher, so it does not inherit this process's peak) that runs W2 once
(benchmarks/w2_gbm.py: three payoffs, 252 steps, 255 Greeks each) after a
warm-up on 1,000 paths.  Targets (issue 4): Greeks <= 1.5 x pricing memory, and
flat from 100,000 to 1,000,000 paths.  Last line: JSON.
"""
from __future__ import annotations

import resource

_START = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # before imports

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402


def child(mode: str, paths: int) -> None:
    import time

    import w2_gbm as W2
    mc, inputs = W2.w2_mc()
    run = mc.grad if mode == "greeks" else mc.value
    run(inputs, paths=1000, seed=1)
    t = time.perf_counter()
    res = run(inputs, paths=paths, seed=1)
    secs = time.perf_counter() - t
    C.child_reply({"mode": mode, "paths": paths, "seconds": secs,
                   "peak_rss_mib": C.peak_rss_mib(), "start_rss_mib": _START,
                   "price": res.value["european"]})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATHS"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    C.start_launcher()
    me = os.path.abspath(__file__)
    out = {}
    print("W5: peak RSS (MiB) of W2 in a fresh process per case (252 steps, 3 payoffs)")
    for paths in args.sizes:
        for mode in ("price", "greeks"):
            r = C.run_child([me, "--child", mode, str(paths)])
            out[(mode, paths)] = r
            print(f"  {mode:6s} {paths:>9,} paths: peak {r['peak_rss_mib']:7.1f} MiB, "
                  f"{r['seconds']:.2f} s")
    lo, hi = min(args.sizes), max(args.sizes)
    ratio = out[("greeks", lo)]["peak_rss_mib"] / out[("price", lo)]["peak_rss_mib"]
    growth = out[("greeks", hi)]["peak_rss_mib"] / out[("greeks", lo)]["peak_rss_mib"]
    print(f"  greeks / pricing memory at {lo:,} paths: {ratio:.3f} (target <= 1.5)")
    print(f"  greeks memory {hi:,} / {lo:,} paths: {growth:.3f} (target: flat, 1.0)")
    C.print_json_last({"workload": "W5", "size": {"paths": list(args.sizes), "steps": 252},
                       "n_greeks": 765, "ratio_greeks_over_price_mem": ratio,
                       "growth_greeks_mem": growth,
                       "peak_rss_mib": {f"{m}_{p}": r["peak_rss_mib"] for (m, p), r in out.items()},
                       "price_s": out[("price", lo)]["seconds"],
                       "greeks_s": out[("greeks", lo)]["seconds"],
                       "ratio": out[("greeks", lo)]["seconds"] / out[("price", lo)]["seconds"],
                       "env": C.environment()})


if __name__ == "__main__":
    main()
