"""W3 -- Heston Monte Carlo, European call, 7 Greeks (WORKLOADS.md W3).

S0 = 100, K = 100, T = 1, r = 0.02, v0 = 0.04, kappa = 1.5, theta = 0.04,
xi = 0.5, rho = -0.7; full-truncation Euler, 100 steps, 100,000 paths.
Greeks: d/dS0, d/dv0, d/dkappa, d/dtheta, d/dxi, d/drho, d/dr.

* aadrisk: :class:`aadrisk.mc.MonteCarlo` with :class:`aadrisk.mc.Heston`;
  price only = ``value``; price + Greeks = ``grad`` (one reverse sweep).  The
  rate enters as the per-step input ``_r`` (a flat curve): d/dr is the sum of
  its per-step derivatives.
* JAX peer (if installed): ``lax.scan`` with ``jax.checkpoint`` on the step,
  normals drawn inside the jitted function; ``jax.grad`` of the mean payoff.

The Feller ratio 2 kappa theta / xi^2 = 0.48 < 1: the variance hits zero often and
full truncation makes the pathwise derivatives of the variance parameters
one-sided there (see docs/monte_carlo.md); the figures are timings, and the
price is compared with the semi-analytic one in standard errors.  Last line: JSON.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

from aadrisk.mc import Heston, MonteCarlo  # noqa: E402
from aadrisk.mc.payoffs import PAYOFFS  # noqa: E402
from aadrisk.models.heston import heston_price  # noqa: E402

S0, K, T, R = 100.0, 100.0, 1.0, 0.02
P = {"v0": 0.04, "kappa": 1.5, "theta": 0.04, "xi": 0.5, "rho": -0.7}
N = 100
WRT = ["spot", "v0", "kappa", "theta", "xi", "rho", "_r"]


def jax_jobs(jax, paths, seed):
    import jax.numpy as jnp
    from jax import lax

    key = jax.random.PRNGKey(seed)
    dt = T / N

    def price(p):
        s0, v0, k, th, xi, rho, r = p
        z = jax.random.normal(key, (N, 2, paths))

        @jax.checkpoint
        def step(c, zz):
            s, v = c
            vp = jnp.maximum(v, 0.0)
            sv = jnp.sqrt(vp * dt)
            s = s * jnp.exp((r - 0.5 * vp) * dt + sv * zz[0])
            v = v + k * (th - vp) * dt + xi * sv * (rho * zz[0] + jnp.sqrt(1 - rho * rho) * zz[1])
            return (s, v), None

        (s, _), _ = lax.scan(step, (jnp.full(paths, s0), jnp.full(paths, v0)), z)
        return jnp.exp(-r * T) * jnp.mean(jnp.maximum(s - K, 0.0))

    p = tuple(jnp.float64(x) for x in (S0, P["v0"], P["kappa"], P["theta"], P["xi"],
                                        P["rho"], R))
    f = jax.jit(price)
    g = jax.jit(jax.value_and_grad(price))
    return {"jax_price": lambda: f(p).block_until_ready(),
            "jax": lambda: jax.block_until_ready(g(p))}, float(f(p))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    mc = MonteCarlo(Heston(scheme="euler"), {"call": PAYOFFS["european"]}, n_steps=N)
    inputs = {"spot": S0, "div": 0.0, **P, "_dt": np.full(N, T / N), "_r": np.full(N, R),
              "call.strike": K, "call.phi": 1.0}
    kw = dict(paths=args.paths, seed=args.seed)
    jobs = {"aad_price": lambda: mc.value(inputs, **kw),
            "aad_greeks": lambda: mc.grad(inputs, wrt=WRT, **kw)}
    jax = C.load_jax()
    jax_price = None
    if jax is not None:
        more, jax_price = jax_jobs(jax, args.paths, args.seed)
        jobs.update(more)
    res = mc.grad(inputs, wrt=WRT, **kw)
    ref = heston_price(spot=S0, strike=K, expiry=T, rate=R, div=0.0, v0=P["v0"],
                       kappa=P["kappa"], theta=P["theta"], sigma=P["xi"], rho=P["rho"],
                       is_call=True)
    v, se = res.value["call"], res.stderr["call"]
    print(f"W3: {args.paths:,} paths x {N} steps, Heston full-truncation Euler, 7 Greeks, "
          f"threads = {C.n_cores()}")
    print(f"  price {v:.5f} +- {se:.5f}; semi-analytic {ref:.5f}: "
          f"{(v - ref) / se:+.2f} standard errors (Euler bias included)"
          + (f"; JAX {jax_price:.5f}" if jax_price is not None else ""))
    g, gs = res.grad["call"], res.grad_stderr["call"]
    for name in WRT:
        if name == "_r":   # per-step derivatives summed: their stderrs do not add simply
            print(f"  d/d{'rate (sum over steps)':22s} {float(np.sum(g[name])):+.5f}")
            continue
        print(f"  d/d{name:22s} {g[name]:+.5f}  (+- {gs[name]:.5f})")
    t = C.bench(jobs, args.repeats)
    C.report_aad_vs_jax(t, workload="W3", size={"paths": args.paths, "steps": N}, n_greeks=7,
                        jax_target="<= 0.5",
                        extra={"price": v, "stderr": se, "semi_analytic": ref,
                               "diff_in_stderr": (v - ref) / se})


if __name__ == "__main__":
    main()
