"""W4 -- Dupire local volatility, bucketed vega (WORKLOADS.md W4).

S0 = 100, r = 0.02, T = 3, 156 weekly steps, 50,000 paths; local vol on 20
spot levels (equally spaced in [50, 200]) x 12 times (equally spaced in (0, 3])
= 240 nodes, bilinear, flat extrapolation; a European call K = 100 and an
up-and-out call K = 100, B = 150 (smoothed knock-out, width 0.005 in log-spot)
from the same paths.  Greeks: d/dS0 and d/d(every node) = 241 per product.

* aadrisk: :class:`aadrisk.mc.LocalVol` (the grid read with ``gather`` at the
  path's spot bucket) under :class:`aadrisk.mc.MonteCarlo`; both products are
  outputs of one program, swept together by one vector-adjoint reverse sweep.
* JAX peer (if installed): the same scheme with ``jnp`` indexing,
  ``jax.checkpoint`` on the step, ``jacrev`` of the two means.

The local vol surface: 0.15 + 0.05 * exp(-t) + 0.1 * (log(S / 100))^2 (a smile).
Last line: JSON.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

from aadrisk.mc import LocalVol, MonteCarlo, local_vol_time_weights  # noqa: E402
from aadrisk.mc.payoffs import PAYOFFS  # noqa: E402

S0, R, T, N, K, B, WIDTH = 100.0, 0.02, 3.0, 156, 100.0, 150.0, 0.005
SPOTS = np.linspace(50.0, 200.0, 20)
TIMES = np.linspace(0.25, 3.0, 12)
LV = 0.15 + 0.05 * np.exp(-TIMES)[:, None] + 0.1 * np.log(SPOTS / 100.0)[None, :] ** 2


def setup(spots=SPOTS, times=TIMES, lv=LV, n=N, expiry=T, strike=K, barrier=B):
    model = LocalVol(times=tuple(times), spots=tuple(spots))
    mc = MonteCarlo(model, {"european": PAYOFFS["european"],
                            "up_and_out": PAYOFFS["barrier"]}, n_steps=n)
    inputs = {"spot": S0, "div": 0.0, "_dt": np.full(n, expiry / n), "_r": np.full(n, R),
              **local_vol_time_weights(times, np.arange(n) * expiry / n),
              "european.strike": strike, "european.phi": 1.0, "up_and_out.strike": strike,
              "up_and_out.phi": 1.0, "up_and_out.barrier": barrier, "up_and_out.is_up": 1.0,
              "up_and_out.is_in": 0.0}
    inputs.update({name: float(v) for name, v in zip(model.node_names, np.ravel(lv))})
    return model, mc, inputs


def jax_jobs(jax, paths, seed, spots=SPOTS, times=TIMES, lv=LV, n=N, expiry=T, strike=K,
             barrier=B, products=("european", "up_and_out")):
    import jax.numpy as jnp
    from jax import lax

    key = jax.random.PRNGKey(seed)
    dt = expiry / n
    w = local_vol_time_weights(times, np.arange(n) * dt)
    ti, tw = jnp.asarray(w["_ti"], dtype=jnp.int32), jnp.asarray(w["_tw"])
    s0g, dsg, ns = float(spots[0]), float(spots[1] - spots[0]), len(spots)

    def means(p):
        s_init, grid = p
        z = jax.random.normal(key, (n, paths))

        def sigma(s, i_t, w_t):
            u = jnp.clip((s - s0g) / dsg, 0.0, ns - 1.0)
            i = jnp.minimum(jnp.floor(u), ns - 2.0).astype(jnp.int32)
            a = u - i
            lo = (1 - a) * grid[i_t, i] + a * grid[i_t, i + 1]
            j_t = jnp.minimum(i_t + 1, grid.shape[0] - 1)
            hi = (1 - a) * grid[j_t, i] + a * grid[j_t, i + 1]
            return lo + w_t * (hi - lo)

        @jax.checkpoint
        def step(c, xs):
            s, alive = c
            i_t, w_t, zz = xs
            v = sigma(s, i_t, w_t)
            s = s * jnp.exp((R - 0.5 * v * v) * dt + v * jnp.sqrt(dt) * zz)
            return (s, alive * jax.nn.sigmoid(-jnp.log(s / barrier) / WIDTH)), None

        (s, alive), _ = lax.scan(step, (jnp.full(paths, s_init), jnp.ones(paths)), (ti, tw, z))
        df = jnp.exp(-R * expiry)
        call = jnp.maximum(s - strike, 0.0)
        out = {"european": jnp.mean(df * call), "up_and_out": jnp.mean(df * call * alive)}
        return jnp.stack([out[k] for k in products])

    p = (jnp.float64(S0), jnp.asarray(lv))
    price = jax.jit(means)
    greeks = jax.jit(jax.jacrev(means))
    return ({"jax_price": lambda: price(p).block_until_ready(),
             "jax": lambda: jax.block_until_ready(greeks(p))}, np.asarray(price(p)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    model, mc, inputs = setup()
    kw = dict(paths=args.paths, seed=args.seed)
    wrt = ["spot", *model.node_names]
    jobs = {"aad_price": lambda: mc.value(inputs, **kw),
            "aad_greeks": lambda: mc.grad(inputs, wrt=wrt, **kw)}
    jax = C.load_jax()
    jp = None
    if jax is not None:
        more, jp = jax_jobs(jax, args.paths, args.seed)
        jobs.update(more)
    res = mc.grad(inputs, wrt=wrt, **kw)
    print(f"W4: {args.paths:,} paths x {N} steps, local vol 20 x 12 = 240 nodes, 2 products, "
          f"241 Greeks each, threads = {C.n_cores()}")
    for k, name in enumerate(("european", "up_and_out")):
        g = res.grad[name]
        vegas = np.array([g[nm] for nm in model.node_names])
        print(f"  {name:11s} price {res.value[name]:.5f} +- {res.stderr[name]:.5f}"
              + (f" | JAX {jp[k]:.5f}" if jp is not None else "")
              + f" | delta {g['spot']:.5f} | sum of node vegas {vegas.sum():.4f}, "
              f"{np.count_nonzero(vegas)} nodes non-zero")
    t = C.bench(jobs, args.repeats)
    C.report_aad_vs_jax(t, workload="W4", size={"paths": args.paths, "steps": N},
                        n_greeks=2 * 241, jax_target="<= 0.5")


if __name__ == "__main__":
    main()
