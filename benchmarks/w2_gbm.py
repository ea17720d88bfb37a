"""W2 -- GBM Monte Carlo, three payoffs, term-structure vol (WORKLOADS.md W2).

On :mod:`aadrisk.mc` (GBM with one vol per step, the built-in European, Asian and
barrier payoffs as outputs of one program): S0 = 100, r = 0.03, q = 0.01, T = 1, 252 daily exact log-Euler
steps, vol per step 0.2 + 0.05 sin(t_i), 100,000 paths; from the same paths a
European call K = 100, a daily arithmetic-average Asian call K = 100 and a
down-and-out call K = 100, B = 85 with a smoothed knock-out (sigmoid in
log(S/B) of width 0.005, i.e. about 0.5 % of spot).  Greeks: d/dS0, d/dr,
d/dq and d/dsigma_i for the 252 step vols = 255 per payoff.

* aadrisk price only: ``MonteCarlo.value``; price + Greeks: ``MonteCarlo.grad``
  (one vector-adjoint reverse sweep carries the three payoffs).
* JAX peer (if installed): ``lax.scan`` with ``jax.checkpoint`` on the step,
  normals from ``jax.random`` drawn inside the jitted function; price = jit of the three means; Greeks = jit of
  ``jacrev`` of the three means w.r.t. (S0, r, q, vols).

The random numbers differ between the engines (Philox vs threefry), so the
prices agree to Monte Carlo error, not bit for bit.  Last line: JSON.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

from aadrisk.mc import GBM, MonteCarlo  # noqa: E402
from aadrisk.mc.payoffs import PAYOFFS  # noqa: E402

S0, R, Q, T, N, K, B, WIDTH = 100.0, 0.03, 0.01, 1.0, 252, 100.0, 85.0, 0.005
DT = T / N
VOLS = 0.2 + 0.05 * np.sin(np.arange(1, N + 1) * DT)


def w2_mc():
    """(MonteCarlo, inputs) of W2 on aadrisk.mc."""
    mc = MonteCarlo(GBM(), {"european": PAYOFFS["european"], "asian": PAYOFFS["asian"],
                            "down_and_out": PAYOFFS["barrier"]}, n_steps=N)
    inputs = {"spot": S0, "div": Q, "_dt": np.full(N, DT), "_r": np.full(N, R), "_vol": VOLS,
              "european.strike": K, "european.phi": 1.0, "asian.strike": K, "asian.phi": 1.0,
              "down_and_out.strike": K, "down_and_out.phi": 1.0, "down_and_out.barrier": B,
              "down_and_out.is_up": 0.0, "down_and_out.is_in": 0.0}
    return mc, inputs


def jax_jobs(jax, paths, seed):
    import jax.numpy as jnp
    from jax import lax

    key = jax.random.PRNGKey(seed)

    def means(p):  # normals drawn inside the jitted function: both engines pay for them
        s0, r, q, vols = p
        z = jax.random.normal(key, (N, paths))

        @jax.checkpoint
        def step(c, xz):
            s, a, alive = c
            v, zt = xz
            s = s * jnp.exp((r - q - 0.5 * v * v) * DT + v * jnp.sqrt(DT) * zt)
            return (s, a + s, alive * jax.nn.sigmoid(jnp.log(s / B) / WIDTH)), None

        init = (jnp.full(paths, s0), jnp.zeros(paths), jnp.ones(paths))
        (s, a, alive), _ = lax.scan(step, init, (vols, z))
        df = jnp.exp(-r * T)
        call = jnp.maximum(s - K, 0.0)
        return jnp.stack([jnp.mean(df * call), jnp.mean(df * jnp.maximum(a / N - K, 0.0)),
                          jnp.mean(df * call * alive)])

    p = (jnp.float64(S0), jnp.float64(R), jnp.float64(Q), jnp.asarray(VOLS))
    price = jax.jit(means)
    greeks = jax.jit(jax.jacrev(means))
    return ({"jax_price": lambda: price(p).block_until_ready(),
             "jax": lambda: jax.block_until_ready(greeks(p))}, price(p))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    mc, inputs = w2_mc()
    prog = mc.program
    kw = dict(paths=args.paths, seed=args.seed)
    wrt = ["spot", "div", "_r", "_vol"]
    jobs = {"aad_price": lambda: mc.value(inputs, **kw),
            "aad_greeks": lambda: mc.grad(inputs, wrt=wrt, **kw)}
    jax = C.load_jax()
    jax_prices = None
    if jax is not None:
        more, jax_prices = jax_jobs(jax, args.paths, args.seed)
        jobs.update(more)
    print(f"W2: {args.paths:,} paths x {N} steps, 3 payoffs, 255 Greeks each, "
          f"threads = {C.n_cores()}")
    res = mc.grad(inputs, wrt=wrt, **kw)
    for name in prog.output_names:
        g = res.grad[name]
        jp = f" | JAX {float(jax_prices[prog.output_names.index(name)]):.5f}" if (
            jax_prices is not None) else ""
        print(f"  {name:13s} price {res.value[name]:.5f} +- {res.stderr[name]:.5f}{jp} | "
              f"delta {g['spot']:.5f} +- {res.grad_stderr[name]['spot']:.5f}, "
              f"sum of 252 vegas {np.sum(g['_vol']):.4f}, d/dr {np.sum(g['_r']):.4f}")
    t = C.bench(jobs, args.repeats)
    C.report_aad_vs_jax(t, workload="W2", size={"paths": args.paths, "steps": N},
                        n_greeks=3 * 255, jax_target="<= 1, goal 0.5")


if __name__ == "__main__":
    main()
