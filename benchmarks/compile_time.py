"""First-call (compile) time of aadrisk's kernels, cold and with a warm on-disk cache.

For each evaluation mode -- ``value``, ``grad``, ``hvp`` -- of a small program
(``bsm_price`` recorded on the tape, 1,000 options per call):

* cold: a fresh subprocess with an EMPTY ``NUMBA_CACHE_DIR`` imports
  aadrisk, records the program and makes the first call of that mode (which
  compiles the kernels and writes them to the cache); the same process then
  times the first call of the two other modes and the median of 5 further
  calls of the first mode (steady state);
* warm: a second fresh subprocess with the now-filled cache dir: import +
  record + first call.

JAX peer (if installed): a fresh process imports JAX and times the first
call (trace + XLA compile) of jitted value, value_and_grad and
forward-over-reverse functions of the same formula.  JAX keeps no
persistent compile cache by default, so each fresh process pays it again.

Run: ``python benchmarks/compile_time.py``.  The last line printed is the JSON
summary.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

MODES = ("value", "grad", "hvp")
N = 1_000
SEED = 7


def book(n):
    import numpy as np

    rng = np.random.default_rng(SEED)
    return {"spot": rng.uniform(50, 150, n), "strike": rng.uniform(50, 150, n),
            "vol": rng.uniform(0.05, 0.6, n), "rate": rng.uniform(0, 0.08, n),
            "div": rng.uniform(0, 0.05, n), "expiry": rng.uniform(0.05, 5, n),
            "is_call": (rng.random(n) < 0.5).astype(float)}


def call(prog, mode, inputs):
    if mode == "value":
        return prog.value(inputs)
    if mode == "grad":
        return prog.grad(inputs)
    return prog.hvp(inputs, {"spot": 1.0}, wrt=["spot", "vol", "rate", "expiry"])


def child(mode, n):
    inputs = book(n)
    t0 = time.perf_counter()
    import aadrisk as ad
    from aadrisk.models import bsm_price
    t_import = time.perf_counter() - t0
    t_record, prog = C.timed(lambda: ad.record(bsm_price))
    t_first, _ = C.timed(lambda: call(prog, mode, inputs))
    others = {m: C.timed(lambda m=m: call(prog, m, inputs))[0] for m in MODES if m != mode}
    steady = statistics.median(C.timed(lambda: call(prog, mode, inputs))[0]
                               for _ in range(C.MIN_REPEATS))
    C.child_reply({"mode": mode, "nodes": prog.n_nodes, "import_s": t_import, "record_s": t_record,
                   "first_call_s": t_first, "then_first_call_other_modes_s": others,
                   "steady_call_s": steady,
                   "start_to_result_s": t_import + t_record + t_first})


def child_jax(n):
    inputs = book(n)
    t0 = time.perf_counter()
    jax = C.load_jax()
    if jax is None:
        return C.child_reply({"absent": True})
    import jax.numpy as jnp
    from jax.scipy.special import ndtr
    t_import = time.perf_counter() - t0

    def price(S, K, T, sig, r, q, c):
        th = 2.0 * c - 1.0
        sd = sig * jnp.sqrt(T)
        d1 = (jnp.log(S / K) + (r - q) * T) / sd + 0.5 * sd
        return th * (S * jnp.exp(-q * T) * ndtr(th * d1)
                     - K * jnp.exp(-r * T) * ndtr(th * (d1 - sd)))

    def total(S, sig, r, T, K, q, c):
        p = price(S, K, T, sig, r, q, c)
        return jnp.sum(p), p

    vg = jax.value_and_grad(total, argnums=(0, 1, 2, 3), has_aux=True)

    def grad_fn(S, K, T, sig, r, q, c):
        return vg(S, sig, r, T, K, q, c)

    def hvp_fn(S, K, T, sig, r, q, c):
        return jax.jvp(lambda S_: vg(S_, sig, r, T, K, q, c), (S,), (jnp.ones_like(S),))

    args = [jax.device_put(inputs[k]) for k in
            ("spot", "strike", "expiry", "vol", "rate", "div", "is_call")]
    out = {"import_s": t_import}
    for name, fn in (("value", price), ("grad", grad_fn), ("hvp", hvp_fn)):
        jf = jax.jit(fn)
        out[name] = C.timed(lambda: jax.block_until_ready(jf(*args)))[0]
    C.child_reply(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=N, help="options per call")
    ap.add_argument("--child", choices=MODES + ("jax",), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child == "jax":
        return child_jax(args.n)
    if args.child:
        return child(args.child, args.n)

    me = os.path.abspath(__file__)
    print(f"Compile time: bsm_price on the tape, {args.n:,} options per call, threads = "
          f"default ({C.n_cores()} cores). Each line is a fresh process.")
    cold, warm = {}, {}
    print(f"  measured aadrisk: {C.aadrisk_source()}")
    for mode in MODES:
        cache = C.empty_cache_dir(f"ct-{mode}")
        try:
            env = {"NUMBA_CACHE_DIR": cache}
            argv_ = [me, "--child", mode, "--n", str(args.n)]
            wall, cold[mode] = C.timed(lambda: C.run_child(argv_, env_extra=env))
            cold[mode]["process_wall_s"] = wall
            wall, warm[mode] = C.timed(lambda: C.run_child(argv_, env_extra=env))
            warm[mode]["process_wall_s"] = wall
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        for label, r in (("cold (empty cache)", cold[mode]), ("warm (cache filled)", warm[mode])):
            oth = ", ".join(f"{k} {v:.3f} s" for k, v in r["then_first_call_other_modes_s"].items())
            print(f"  {mode:<5} {label:<20}: import {r['import_s']:.2f} s, record "
                  f"{r['record_s']:.4f} s, first {mode} {r['first_call_s']:7.2f} s | then first "
                  f"{oth} | steady {mode} {r['steady_call_s'] * 1e3:.2f} ms | import+record+first "
                  f"{r['start_to_result_s']:.2f} s, process wall {r['process_wall_s']:.2f} s")

    print("\nJAX peer (fresh process, jit trace + compile + first call):")
    jx = C.run_child([me, "--child", "jax", "--n", str(args.n)])
    peers = {}
    if jx.get("absent"):
        print("  JAX absent: not measured")
    else:
        print(f"  import {jx['import_s']:.2f} s, first value {jx['value']:.3f} s, first grad "
              f"{jx['grad']:.3f} s, first hvp {jx['hvp']:.3f} s")
        peers = {f"jax_{m}": jx[m] for m in MODES}
        peers["jax_import"] = jx["import_s"]

    summary = {
        "workload": "compile_time",
        "size": {"options": args.n, "nodes": cold["value"]["nodes"]},
        "first_call_s": cold["value"]["first_call_s"],
        "first_call_s_by_mode": {m: cold[m]["first_call_s"] for m in MODES},
        "warm_cache_first_call_s_by_mode": {m: warm[m]["first_call_s"] for m in MODES},
        "warm_start_to_result_s_by_mode": {m: warm[m]["start_to_result_s"] for m in MODES},
        "import_s": {"cold": cold["value"]["import_s"], "warm": warm["value"]["import_s"]},
        "steady_call_s_by_mode": {m: warm[m]["steady_call_s"] for m in MODES},
        "cold": cold,
        "warm": warm,
        "peers": peers,
        "env": C.environment(),
    }
    C.print_json_last(summary)


if __name__ == "__main__":
    main()
