"""W1 -- analytic book: Black-Scholes-Merton closed form over 1,000,000 European options.

Workload (``WORKLOADS.md``): calls and puts with spot and strike in [50, 150],
vol in [0.05, 0.6], rate in [0, 0.08], dividend yield in [0, 0.05], maturity
in [0.05, 5] years, all uniform, float64, fixed seed.  Per option: price,
delta, vega, rho, theta (= -dV/dexpiry) and gamma.

Engines timed in the same process, round-robin:

* aadrisk pricing only: ``Program.value`` of the recorded ``bsm_price``;
* aadrisk price + Greeks: ONE ``Program.hvp`` call, direction ``{"spot": 1}``,
  ``wrt=["spot", "vol", "rate", "expiry"]``: value, reverse gradient and
  gamma = ``hvp["spot"]`` (forward over reverse);
* JAX (jit, float64, if installed): price = jit of the vectorised formula;
  Greeks = one jitted function: ``value_and_grad`` of the summed price with
  respect to (spot, vol, rate, expiry) (options are independent, so the
  gradient of the sum is the per-option gradient), with a ``jvp`` of that
  gradient along spot for gamma (forward over reverse);
* NumPy: vectorised closed-form price and Greeks (normal CDF from
  ``scipy.special.ndtr``);
* bump-and-revalue with the aadrisk pricer: central differences, two
  revaluations per first-order Greek plus the base price for gamma (9 calls).

Cold-compile time (``first_call_s``) is measured in a fresh subprocess with an
empty ``NUMBA_CACHE_DIR``; a second fresh process with the then-filled cache
gives the warm-cache start-up time.

Run: ``python benchmarks/w1_analytic_book.py`` (``--help`` for options).
The last line printed is the JSON summary.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

N_OPTIONS = 1_000_000
SEED = 20240611
WRT = ["spot", "vol", "rate", "expiry"]
GREEKS = ["delta", "vega", "rho", "theta", "gamma"]
# bump sizes: relative for spot (gamma needs h well above round-off), absolute otherwise
H_SPOT_REL, H_VOL, H_RATE, H_EXPIRY = 1e-4, 1e-4, 1e-4, 1e-4


def make_book(n: int, seed: int = SEED) -> dict:
    """The W1 book as the per-element inputs of ``bsm_price`` (float64 arrays)."""
    rng = np.random.default_rng(seed)
    return {
        "spot": rng.uniform(50.0, 150.0, n),
        "strike": rng.uniform(50.0, 150.0, n),
        "vol": rng.uniform(0.05, 0.6, n),
        "rate": rng.uniform(0.0, 0.08, n),
        "div": rng.uniform(0.0, 0.05, n),
        "expiry": rng.uniform(0.05, 5.0, n),
        "is_call": (rng.random(n) < 0.5).astype(np.float64),
    }


# -- aadrisk -------------------------------------------------------------------------------

def record_program():
    import aadrisk as ad
    from aadrisk.models import bsm_price

    return ad.record(bsm_price)


def aad_price(prog, book, threads):
    return prog.value(book, threads=threads).value


def aad_greeks(prog, book, threads):
    """Price and the five Greeks from one forward-over-reverse sweep."""
    res = prog.hvp(book, {"spot": 1.0}, wrt=WRT, threads=threads)
    g = res.grad
    return {"price": res.value, "delta": g["spot"], "vega": g["vol"], "rho": g["rate"],
            "theta": -g["expiry"], "gamma": res.hvp["spot"]}


def bump_greeks(prog, book, threads):
    """Central bump-and-revalue with the aadrisk pricer: 1 + 2 x 4 = 9 valuations."""
    def v(**bumped):
        return prog.value({**book, **bumped}, threads=threads).value

    S, vol, r, T = book["spot"], book["vol"], book["rate"], book["expiry"]
    hs = H_SPOT_REL * S
    v0 = v()
    su, sd = v(spot=S + hs), v(spot=S - hs)
    vu, vd = v(vol=vol + H_VOL), v(vol=vol - H_VOL)
    ru, rd = v(rate=r + H_RATE), v(rate=r - H_RATE)
    tu, td = v(expiry=T + H_EXPIRY), v(expiry=T - H_EXPIRY)
    return {"price": v0, "delta": (su - sd) / (2 * hs), "vega": (vu - vd) / (2 * H_VOL),
            "rho": (ru - rd) / (2 * H_RATE), "theta": -(tu - td) / (2 * H_EXPIRY),
            "gamma": (su - 2 * v0 + sd) / (hs * hs)}


# -- NumPy closed form ---------------------------------------------------------------------

def numpy_price(book, ndtr):
    S, K, T, sig = book["spot"], book["strike"], book["expiry"], book["vol"]
    r, q, th = book["rate"], book["div"], 2.0 * book["is_call"] - 1.0
    sd = sig * np.sqrt(T)
    d1 = (np.log(S / K) + (r - q) * T) / sd + 0.5 * sd
    d2 = d1 - sd
    return th * (S * np.exp(-q * T) * ndtr(th * d1) - K * np.exp(-r * T) * ndtr(th * d2))


def numpy_greeks(book, ndtr):
    """Vectorised closed-form price, delta, vega, rho, theta (= -dV/dT) and gamma."""
    S, K, T, sig = book["spot"], book["strike"], book["expiry"], book["vol"]
    r, q, th = book["rate"], book["div"], 2.0 * book["is_call"] - 1.0
    sqT = np.sqrt(T)
    sd = sig * sqT
    d1 = (np.log(S / K) + (r - q) * T) / sd + 0.5 * sd
    d2 = d1 - sd
    dq = np.exp(-q * T)
    dr = np.exp(-r * T)
    n1 = ndtr(th * d1)
    n2 = ndtr(th * d2)
    pdf1 = np.exp(-0.5 * d1 * d1) * (1.0 / np.sqrt(2.0 * np.pi))
    sdq = S * dq
    kdr = K * dr
    return {
        "price": th * (sdq * n1 - kdr * n2),
        "delta": th * dq * n1,
        "vega": sdq * pdf1 * sqT,
        "rho": th * K * T * dr * n2,
        "theta": -sdq * pdf1 * sig / (2.0 * sqT) + th * q * sdq * n1 - th * r * kdr * n2,
        "gamma": dq * pdf1 / (S * sd),
    }


# -- JAX -------------------------------------------------------------------------------------

def jax_functions(jax):
    """``(price_fn, greeks_fn)``, both jitted; arguments (S, K, T, vol, r, q, is_call)."""
    import jax.numpy as jnp
    from jax.scipy.special import ndtr

    def price(S, K, T, sig, r, q, c):
        th = 2.0 * c - 1.0
        sd = sig * jnp.sqrt(T)
        d1 = (jnp.log(S / K) + (r - q) * T) / sd + 0.5 * sd
        d2 = d1 - sd
        return th * (S * jnp.exp(-q * T) * ndtr(th * d1) - K * jnp.exp(-r * T) * ndtr(th * d2))

    def total(S, sig, r, T, K, q, c):
        p = price(S, K, T, sig, r, q, c)
        return jnp.sum(p), p

    value_and_grad = jax.value_and_grad(total, argnums=(0, 1, 2, 3), has_aux=True)

    def greeks(S, K, T, sig, r, q, c):
        def prices_and_grads(S_):
            (_, p), g = value_and_grad(S_, sig, r, T, K, q, c)
            return p, g

        (p, g), (_, g_dot) = jax.jvp(prices_and_grads, (S,), (jnp.ones_like(S),))
        return {"price": p, "delta": g[0], "vega": g[1], "rho": g[2], "theta": -g[3],
                "gamma": g_dot[0]}

    return jax.jit(price), jax.jit(greeks)


# -- checks ----------------------------------------------------------------------------------

def compare(name, got, ref, sample):
    """Print the largest errors of ``got`` against the closed form ``ref``."""
    worst = {}
    parts = []
    for k in ["price"] + GREEKS:
        a, b = np.asarray(got[k]), ref[k]
        abs_err = float(np.max(np.abs(a - b)))
        rel_err = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1.0)))
        worst[k] = rel_err
        parts.append(f"{k} {abs_err:.2e}/{rel_err:.2e}")
    print(f"  {name:<8} max |err| / max |err|/max(|ref|,1) vs closed form over {sample}: "
          + ", ".join(parts))
    return worst


# -- child processes (first call) ------------------------------------------------------------

def child_first_call(n, threads):
    """Fresh-process timings: import, record, first and second hvp call."""
    t0 = time.perf_counter()
    import aadrisk  # noqa: F401
    from aadrisk.models import bsm_price  # noqa: F401
    t_import = time.perf_counter() - t0
    book = make_book(n)
    t_record, prog = C.timed(record_program)
    t_first, _ = C.timed(lambda: aad_greeks(prog, book, threads))
    t_second, _ = C.timed(lambda: aad_greeks(prog, book, threads))
    C.child_reply({"import_s": t_import, "record_s": t_record, "first_call_s": t_first,
                   "second_call_s": t_second,
                   "start_to_result_s": t_import + t_record + t_first})


def measure_first_calls(n, threads):
    """Cold compile (empty cache) then warm-cache start, each in a fresh process."""
    cache = C.empty_cache_dir("w1")
    try:
        argv = [os.path.abspath(__file__), "--child", "--n", str(n), "--threads", str(threads)]
        env = {"NUMBA_CACHE_DIR": cache}
        cold = C.run_child(argv, env_extra=env)
        warm = C.run_child(argv, env_extra=env)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return cold, warm


# -- main ------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=N_OPTIONS, help="options in the book")
    ap.add_argument("--repeats", type=int, default=7, help="timed repeats (>= 5)")
    ap.add_argument("--threads", type=int, default=C.n_cores(), help="aadrisk worker threads")
    ap.add_argument("--no-cold", action="store_true",
                    help="skip the cold-compile / warm-start subprocesses")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    n, threads = args.n, args.threads
    if args.child:
        return child_first_call(n, threads)

    print(f"W1 analytic book: {n:,} European options (calls and puts), float64, seed {SEED}, "
          f"aadrisk threads = {threads} (cores: {C.n_cores()})")
    book = make_book(n)
    print(f"  calls {int(book['is_call'].sum()):,}, puts {n - int(book['is_call'].sum()):,}")

    prog = record_program()
    print(f"  {prog}")
    print(f"  measured aadrisk: {C.aadrisk_source()}")
    jax = C.load_jax()
    ndtr = C.load_ndtr()

    jobs = {
        "aad_price": lambda: aad_price(prog, book, threads),
        "aad_greeks": lambda: aad_greeks(prog, book, threads),
        "bump": lambda: bump_greeks(prog, book, threads),
    }
    if ndtr is not None:
        jobs["numpy_price"] = lambda: numpy_price(book, ndtr)
        jobs["numpy"] = lambda: numpy_greeks(book, ndtr)
    if jax is not None:
        jprice, jgreeks = jax_functions(jax)
        order = ["spot", "strike", "expiry", "vol", "rate", "div", "is_call"]
        jargs = [jax.device_put(book[k]) for k in order]
        jobs["jax_price"] = lambda: jprice(*jargs).block_until_ready()
        jobs["jax"] = lambda: jax.block_until_ready(jgreeks(*jargs))

    # correctness against the closed form (the whole book when SciPy's ndtr is there)
    print("\nCheck against the closed form (NumPy formulas):")
    if ndtr is not None:
        idx, cdf, desc = slice(None), ndtr, f"all {n:,} options"
    else:  # scalar CDF is slow: check a random sample
        import math
        idx = np.sort(np.random.default_rng(1).choice(n, size=min(n, 20_000), replace=False))
        cdf = np.vectorize(lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0)))
        desc = f"{len(idx):,} sampled options"

    def sub(d):
        return {k: np.asarray(v)[idx] for k, v in d.items()}

    ref = numpy_greeks(sub(book), cdf)
    got_aad = sub(aad_greeks(prog, book, threads))
    errs = {"aadrisk": compare("aadrisk", got_aad, ref, desc),
            "bump": compare("bump", sub(bump_greeks(prog, book, threads)), ref, desc)}
    if jax is not None:
        errs["jax"] = compare("jax", sub(jgreeks(*jargs)), ref, desc)
    book_s = sub(book)
    m = len(book_s["spot"])
    print("  sample options (aadrisk hvp | closed form):")
    for i in sorted({0, 1, 2, m // 2, m - 1}):
        kind = "call" if book_s["is_call"][i] else "put"
        print(f"   {kind:<4} S={book_s['spot'][i]:7.3f} K={book_s['strike'][i]:7.3f} "
              f"T={book_s['expiry'][i]:.3f} vol={book_s['vol'][i]:.3f} "
              f"r={book_s['rate'][i]:.4f} q={book_s['div'][i]:.4f}")
        for k in ["price"] + GREEKS:
            print(f"       {k:<6} {got_aad[k][i]: .12g} | {ref[k][i]: .12g}")
    del got_aad, ref

    print(f"\nTiming: warm-up call first (excluded), then {max(args.repeats, C.MIN_REPEATS)} "
          "repeats of each job round-robin; medians.")
    res = C.bench(jobs, args.repeats)
    for name, rec in res.items():
        print(f"  {name:<12} first call {rec['first_call_s']:8.3f} s | median {C.spread(rec)}"
              f" | {n / rec['median_s']:,.0f} options/s")

    price_s = res["aad_price"]["median_s"]
    greeks_s = res["aad_greeks"]["median_s"]
    med = {k: v["median_s"] for k, v in res.items()}
    print("\nThroughput (medians):")
    print(f"  aadrisk price only      : {n / price_s:14,.0f} options/s")
    print(f"  aadrisk price + 5 Greeks: {n / greeks_s:14,.0f} options/s")
    print("Ratios (same run):")
    print(f"  greeks_s / price_s (aadrisk)      : {greeks_s / price_s:.3f}")
    ratios = {"greeks_over_price": greeks_s / price_s,
              "bump_over_aadrisk_greeks": med["bump"] / greeks_s}
    print(f"  bump / aadrisk greeks             : {med['bump'] / greeks_s:.3f}")
    if "jax" in med:
        ratios["aadrisk_over_jax_greeks"] = greeks_s / med["jax"]
        ratios["aadrisk_over_jax_price"] = price_s / med["jax_price"]
        ratios["jax_greeks_over_price"] = med["jax"] / med["jax_price"]
        print(f"  aadrisk / JAX, price + Greeks     : {greeks_s / med['jax']:.3f}")
        print(f"  aadrisk / JAX, price only         : {price_s / med['jax_price']:.3f}")
        print(f"  JAX greeks / JAX price            : {med['jax'] / med['jax_price']:.3f}")
    else:
        print("  aadrisk / JAX                     : not measured (JAX absent)")
    if "numpy" in med:
        ratios["aadrisk_over_numpy_greeks"] = greeks_s / med["numpy"]
        ratios["aadrisk_over_numpy_price"] = price_s / med["numpy_price"]
        print(f"  aadrisk / NumPy, price + Greeks   : {greeks_s / med['numpy']:.3f}")
        print(f"  aadrisk / NumPy, price only       : {price_s / med['numpy_price']:.3f}")

    cold = warm = None
    if not args.no_cold:
        print("\nFirst call in fresh processes (import + record + first hvp on the full book):")
        cold, warm = measure_first_calls(n, threads)
        for label, r in (("cold compile (empty NUMBA_CACHE_DIR)", cold),
                         ("warm cache (second process)", warm)):
            print(f"  {label:<38}: import {r['import_s']:.2f} s, record {r['record_s']:.3f} s, "
                  f"first hvp {r['first_call_s']:.2f} s, second hvp {r['second_call_s']:.3f} s"
                  f" -> start to result {r['start_to_result_s']:.2f} s")

    peers = {k: med.get(k) for k in ("jax", "jax_price", "numpy", "numpy_price", "bump")}
    print_first = {k: res[k]["first_call_s"] for k in res}
    summary = {
        "workload": "W1",
        "size": {"options": n},
        "n_greeks": 5,
        "price_s": price_s,
        "greeks_s": greeks_s,
        "ratio": greeks_s / price_s,
        "first_call_s": cold["first_call_s"] if cold else None,
        "first_call_detail": {
            "cold_compile": cold,
            "warm_cache_second_process": warm,
            "in_process_warmup_s": print_first,
        },
        "options_per_s": {"price": n / price_s, "price_greeks": n / greeks_s},
        "peers": peers,
        "ratios": ratios,
        "max_rel_err_vs_closed_form": errs,
        "threads": threads,
        "repeats": len(res["aad_price"]["times_s"]),
        "env": C.environment(),
    }
    C.print_json_last(summary)


if __name__ == "__main__":
    main()
