"""Monte Carlo options in books: product ``mc_option`` (see :mod:`aadrisk.risk.registry`).

A trade names a payoff of :data:`aadrisk.mc.payoffs.PAYOFFS` (``european``,
``digital``, ``asian``, ``geometric_asian``, ``barrier``, ``lookback``) and a model:

* ``gbm``: GBM whose per-step vols reproduce the market's implied vol at the
  trade's strike for every step date (forward variances of the surface's total
  variance ``w(t) = sigma(t, K)^2 t``; a decreasing ``w`` -- calendar arbitrage at
  that strike -- is an error naming the dates); per-step short rates from the
  discount curve; the dividend yield flat.
* ``heston``: the market's ``model/heston/<U>/*`` parameters, full-truncation
  Euler (``scheme: euler``) or Andersen QE (``scheme: qe``).
* ``local_vol``: Dupire local vol from the market's implied surface
  (:func:`aadrisk.models.local_vol.dupire_local_vol`) on a grid of 12 times per
  year x 31 spot levels; the grid is the surface's linearisation on the tape
  (values and exact Jacobian to the implied nodes), so its vegas land on the
  implied-vol nodes ``vol/<U>/<EXPIRY>/<STRIKE>`` a trader quotes.

Trades on the same underlying, model, expiry, step count, path count and seed
(and, for ``gbm``, strike) share their paths: one recorded program prices them
all, and one reverse sweep carries up to eight of them.  Greeks are pathwise
derivatives averaged over paths, each with its standard error: ``spot/<U>``
(delta), ``div/<U>``, every par quote of the discount curve, every vol node the
per-step vols read (``gbm``) or the Heston parameters (``heston``).  The per-step
rates and vols are computed on the tape before the loop from the curve's quote
shifts (pillar zeros ``z0 + dz/dq . dq``: the bootstrap's IFT Jacobian) and the
surface's node vols, and read in the loop with ``gather``; so these labels are
inputs of the program and their Greeks come straight out of the reverse sweep.
Zero-rate (pillar) sensitivities likewise.  Gamma and the spot cross-gammas are
central differences of the AAD Greeks over spot +-0.5 % with the same random
numbers (the documented fallback for payoffs with kinks, see docs/monte_carlo.md).
Theta (label ``time``, -dV/dT per year, the market held fixed as for the analytic
products) is a central difference of prices over the time to expiry +- one day,
same random numbers and step count.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np

from ... import math as am
from ... import tape
from ...market.snapshot import MarketData
from ...market.vol_surface import CORNERS, interpolated_vol
from ...mc import GBM, Heston, LocalVol, MonteCarlo, local_vol_time_weights
from ...models.local_vol import dupire_local_vol
from ...mc.payoffs import PAYOFFS
from .. import _validate as v
from ..errors import TradeError
from ..instruments import EuropeanOption
from ..registry import Evaluation, ProductEngine, Rows, register_engine
from .equity import (BARRIER_TYPES, HESTON_PARAMS, _barrier_type, check_model_params,
                     check_spot_market)

__all__ = ["MonteCarloOption", "MC_MODELS", "GAMMA_BUMP", "THETA_BUMP"]

MC_MODELS = ("gbm", "heston", "local_vol")
#: local-vol grid of a ``local_vol`` trade: times per year (to expiry) and spot levels
#: (spots equally spaced over +-LV_WIDTH_SD standard deviations at LV_GRID_VOL in log-spot)
LV_TIMES_PER_YEAR, LV_SPOTS, LV_WIDTH_SD, LV_GRID_VOL = 12, 31, 4.0, 0.3
#: paths per block, fixed: a trade's mean over paths is then summed in the same order
#: whatever other trades share its program (so results never depend on the chunking)
MC_BLOCK = 256
#: relative spot bump of the gamma / cross-gamma central differences of AAD Greeks
GAMMA_BUMP = 0.005
#: time-to-expiry bump (years, one day) of theta's central difference of prices
THETA_BUMP = 1.0 / 365.0


def _choice(options):
    def conv(value):
        if isinstance(value, str) and value.strip().lower() in options:
            return value.strip().lower()
        raise ValueError(f"must be one of {', '.join(options)}")
    return conv


def _count(lo, hi):
    def conv(value):
        x = v.number(value)
        if x != int(x) or not lo <= x <= hi:
            raise ValueError(f"must be a whole number in [{lo:,}, {hi:,}]")
        return int(x)
    return conv


@dataclasses.dataclass(frozen=True)
class MonteCarloOption(EuropeanOption):
    """A payoff on one underlying priced by Monte Carlo (see the module notes)."""

    product_type: ClassVar[str] = "mc_option"
    payoff: str = "european"
    model: str = "gbm"
    scheme: str = "euler"
    barrier: float = 0.0
    barrier_type: str = "down_out"
    steps_per_year: int = 52
    paths: int = 20_000
    seed: int = 1
    validators: ClassVar[Mapping[str, Callable]] = {
        **EuropeanOption.validators, "payoff": _choice(tuple(PAYOFFS)),
        "model": _choice(MC_MODELS), "scheme": _choice(("euler", "qe")),
        "barrier": v.non_negative, "barrier_type": _barrier_type,
        "steps_per_year": _count(1, 3650), "paths": _count(100, 10_000_000),
        "seed": _count(0, 2**62)}

    def __post_init__(self):
        super().__post_init__()
        if self.payoff == "barrier" and not self.barrier > 0:
            raise TradeError(self.trade_id, "barrier", self.barrier,
                             f"a barrier payoff needs a positive barrier ({BARRIER_TYPES})")


def _check(trade, m: MarketData):
    check_spot_market(trade, m, needs_vol=trade.model in ("gbm", "local_vol"))
    if trade.model == "local_vol":
        surf = m.vols[trade.underlying].surface
        if len(surf.expiries) < 2 or len(surf.strikes) < 3:
            raise TradeError(trade.trade_id, "model", "local_vol", f"the vol surface of "
                             f"{trade.underlying} needs >= 2 expiries and >= 3 strikes for "
                             f"Dupire (has {len(surf.expiries)} x {len(surf.strikes)})")
    if trade.model == "heston":
        check_model_params(trade, m, "heston", HESTON_PARAMS)


def _group_key(t, m):
    """Trades with equal keys share their paths (one program, one set of draws)."""
    n = max(1, int(round(t.steps_per_year * m.year_fraction(t.expiry))))
    return (t.underlying, t.model, t.scheme if t.model == "heston" else "", t.expiry, n,
            t.paths, t.seed, t.strike if t.model == "gbm" else 0.0)


def _trade_params(i, t):
    p = {f"t{i}.strike": t.strike, f"t{i}.phi": 1.0 if t.is_call else -1.0}
    if t.payoff == "barrier":
        p.update({f"t{i}.barrier": t.barrier,
                  f"t{i}.is_up": 1.0 if t.barrier_type.startswith("up") else 0.0,
                  f"t{i}.is_in": 1.0 if t.barrier_type.endswith("_in") else 0.0})
    return p


def _rate_table(src, times):
    """Builder of the per-step short rates on the tape from quote and zero shifts.

    Pillar zeros ``z = z0 + dz + (dz/dq) dq`` (inputs ``dz<p>``, ``dq<j>`` at 0: exact
    first derivatives through the bootstrap's IFT Jacobian), ``y_i = -log DF(t_i)``
    interpolated from them, ``r_i = (y_i - y_{i-1}) / dt``.
    """
    iL, iR, a, b = src.coeffs(times)
    dt = np.diff(np.concatenate([[0.0], times]))
    P, Q = src.dzdq.shape

    def build(kw):
        z = []
        for p in range(P):
            zp = src.zeros[p] + kw[f"dz{p}"]
            for q in np.flatnonzero(src.dzdq[p]):
                zp = zp + src.dzdq[p, q] * kw[f"dq{q}"]
            z.append(zp)
        out, prev = [], 0.0
        for k in range(len(times)):
            y = a[k] * z[iL[k]] + b[k] * z[iR[k]]
            out.append((y - prev) / dt[k])
            prev = y
        return out
    return build, P, Q


def _vol_table(trade, src, times):
    """Builder of per-step forward vols at the trade's strike from the surface's node inputs
    ``vn<k>`` (their Greeks are the bucketed vegas), and the nodes it reads."""
    lk = src.surface.lookup(expiry=times, strike=np.full(times.shape, trade.strike))
    inp = lk.inputs()
    nodes = lk.node_index()                                    # (4, steps)
    w = np.asarray([float(interpolated_vol(**{c: inp[c][k] for c in inp})) ** 2 * times[k]
                    for k in range(len(times))])
    dw = np.diff(np.concatenate([[0.0], w]))
    if np.any(dw <= 0):
        i = int(np.flatnonzero(dw <= 0)[0])
        raise TradeError(trade.trade_id, "vol_surface", trade.underlying,
                         f"total implied variance at strike {trade.strike:g} does not increase "
                         f"between t = {times[i - 1] if i else 0.0:.4f} and {times[i]:.4f} "
                         "(calendar arbitrage): no forward vol")
    dt = np.diff(np.concatenate([[0.0], times]))

    def build(kw):
        out, prev = [], 0.0
        for k in range(len(times)):
            corners = {c: kw[f"vn{nodes[ci, k]}"] for ci, c in enumerate(CORNERS)}
            vol = interpolated_vol(**corners, lam=inp["lam"][k], alpha=inp["alpha"][k],
                                   t0=inp["t0"][k], t1=inp["t1"][k], expiry=times[k])
            wk = vol * vol * times[k]
            out.append(am.sqrt((wk - prev) / dt[k]))
            prev = wk
        return out
    return build, np.unique(nodes)


def _dupire_grid(t0, m, src, vsrc, T):
    """Local-vol grid of a ``local_vol`` trade from the implied surface (Dupire), as
    ``(times, spots, lv0, J)``: values and their Jacobian to the surface nodes."""
    surf = vsrc.surface
    te = np.asarray(surf.expiries, dtype=float)
    ks = np.asarray(surf.strikes, dtype=float)
    nodes = np.asarray(surf.vols, dtype=float)
    if te.size < 2 or ks.size < 3:
        raise TradeError(t0.trade_id, "model", "local_vol", f"the vol surface of "
                         f"{t0.underlying} needs >= 2 expiries and >= 3 strikes for Dupire")
    S, q = m.spots[t0.underlying], m.divs[t0.underlying]
    fwd = S * np.exp(-q * te) / src.discount(te)
    nt = max(4, int(np.ceil(LV_TIMES_PER_YEAR * T)))
    times = T * np.arange(1, nt + 1) / nt
    # the span never depends on the vols themselves (a Greek must not move the grid)
    half = LV_WIDTH_SD * LV_GRID_VOL * np.sqrt(T)
    spots = np.linspace(S * np.exp(-half), S * np.exp(half), LV_SPOTS)
    names = [f"n{k}" for k in range(nodes.size)]

    def grid(**kw):
        v = [[kw[f"n{i * ks.size + j}"] for j in range(ks.size)] for i in range(te.size)]
        g = dupire_local_vol(times=te, strikes=ks, vols=v, forwards=fwd, spot=S,
                             out_times=times, out_spots=spots)
        return {f"g{k}": x for k, x in enumerate(val for row in g for val in row)}
    prog = tape.record(grid, inputs=names, name="dupire grid")
    K = nodes.size
    res = prog.jvp(dict(zip(names, nodes.ravel())), {n: np.eye(K)[k] for k, n in
                                                     enumerate(names)}, batch=K)
    G = len(times) * len(spots)
    lv0 = np.array([np.asarray(res.value[f"g{g}"], float)[0] for g in range(G)])
    J = np.array([np.asarray(res.tangent[f"g{g}"], float) for g in range(G)])
    if not np.all(np.isfinite(lv0)) or not np.all(np.isfinite(J)):
        raise TradeError(t0.trade_id, "vol_surface", t0.underlying,
                         "Dupire local vol is not finite on this surface (arbitrage?)")
    return times, spots, lv0, J


def _group_program(trades, m, dT=0.0):
    """(MonteCarlo, inputs, curve source, vol source, touched nodes) of a group; ``dT``
    (years) shifts the time to expiry, the step count kept (theta)."""
    t0 = trades[0]
    n = _group_key(t0, m)[4]
    T = m.year_fraction(t0.expiry) + dT
    times = T * np.arange(1, n + 1) / n
    src = m.discount_for(m.currencies.get(t0.underlying))
    rate_build, P, Q = _rate_table(src, times)
    tables = {"_r": rate_build}
    extra = [f"dz{p}" for p in range(P)] + [f"dq{q}" for q in range(Q)]
    inp = {"spot": m.spots[t0.underlying], "div": m.divs[t0.underlying],
           "_dt": np.full(n, T / n), **{k: 0.0 for k in extra}}
    vsrc, touched = None, ()
    if t0.model == "local_vol":
        vsrc = m.vols[t0.underlying]
        lt, ls, lv0, J = _dupire_grid(t0, m, src, vsrc, T)
        touched = np.flatnonzero(np.any(J != 0.0, axis=0))
        shifts = [f"dv{k}" for k in range(J.shape[1])]

        def lv_grid(kw, lv0=lv0, J=J):
            out = []
            for g in range(J.shape[0]):
                x = lv0[g]
                for k in np.flatnonzero(J[g]):
                    x = x + J[g, k] * kw[f"dv{k}"]
                out.append(x)
            return out
        model = LocalVol(times=tuple(lt), spots=tuple(ls), grid_builder=lv_grid)
        extra += shifts
        inp.update({k: 0.0 for k in shifts})
        inp.update(local_vol_time_weights(lt, times - T / n))
    elif t0.model == "gbm":
        vsrc = m.vols[t0.underlying]
        vol_build, touched = _vol_table(t0, vsrc, times)
        tables["_vol"] = vol_build
        nodes = [f"vn{k}" for k in range(len(vsrc.labels))]
        extra += nodes
        inp.update(zip(nodes, np.ravel(vsrc.surface.vols).astype(float)))
        model = GBM()
    else:
        model = Heston(scheme=t0.scheme)
        inp.update({p: m.models[f"model/heston/{t0.underlying}/{p}"] for p in HESTON_PARAMS})
    for i, t in enumerate(trades):
        inp.update(_trade_params(i, t))
    mc = MonteCarlo(model, {f"t{i}": PAYOFFS[t.payoff] for i, t in enumerate(trades)}, n,
                    tables=tables, extra_inputs=extra, name=f"mc {t0.model} x{len(trades)}")
    return mc, inp, src, vsrc, touched


def _evaluate_group(trades, m, rows, zero_rows, idx):
    t0 = trades[0]
    mc, inp, src, vsrc, touched = _group_program(trades, m)
    u = t0.underlying
    direct = {"spot": (f"spot/{u}", "delta"), "div": (f"div/{u}", "div")}
    if t0.model == "heston":
        direct.update({p: (f"model/heston/{u}/{p}", "model") for p in HESTON_PARAMS})
    kind = "rate" if src.labels[0].startswith("rate/") else "par"
    direct.update({f"dq{q}": (lab, kind) for q, lab in enumerate(src.labels)})
    if vsrc is not None:
        pre = "dv" if t0.model == "local_vol" else "vn"
        direct.update({f"{pre}{k}": (vsrc.labels[k], "vega") for k in touched})
    zeros = {f"dz{p}": lab for p, lab in enumerate(src.zero_labels)} if kind == "par" else {}
    wrt = [*direct, *zeros]
    run = functools.partial(mc.grad, paths=t0.paths, seed=t0.seed, wrt=wrt, block=MC_BLOCK)
    res = run(inp)
    h = GAMMA_BUMP * inp["spot"]
    up, dn = run({**inp, "spot": inp["spot"] + h}), run({**inp, "spot": inp["spot"] - h})
    theta = _theta(trades, m)
    price, se = np.empty(len(trades)), np.empty(len(trades))
    for i in range(len(trades)):
        o = f"t{i}"
        g, gs, gu, gd = res.grad[o], res.grad_stderr[o], up.grad[o], dn.grad[o]
        price[i], se[i] = res.value[o], res.stderr[o]
        j = [idx[i]]
        for name, (label, greek) in direct.items():
            rows.add(j, label, greek, g[name], gs[name])
            rows.add(j, label, "gamma" if name == "spot" else "cross_gamma",
                     (gu[name] - gd[name]) / (2 * h))
        for name, label in zeros.items():
            zero_rows.add(j, label, "zero", g[name], gs[name])
        if theta is not None:
            rows.add(j, "time", "theta", theta[i])
    return price, se


def _theta(trades, m):
    """-dV/dT per year (valuation date forward, market fixed): central difference of
    prices over T +- one day with the same random numbers and step count; None when
    the trade expires within two days (no room for the bump)."""
    T = m.year_fraction(trades[0].expiry)
    if T <= 2.0 * THETA_BUMP:
        return None
    vals = []
    for dT in (THETA_BUMP, -THETA_BUMP):
        mc, inp, _, _, _ = _group_program(trades, m, dT)
        res = mc.value(inp, paths=trades[0].paths, seed=trades[0].seed, block=MC_BLOCK)
        vals.append(np.array([res.value[f"t{i}"] for i in range(len(trades))]))
    return -(vals[0] - vals[1]) / (2.0 * THETA_BUMP)


def _evaluate(trades, m: MarketData) -> Evaluation:
    groups = {}
    for i, t in enumerate(trades):
        groups.setdefault(_group_key(t, m), []).append(i)
    rows, zero_rows = Rows(), Rows()
    price, se = np.empty(len(trades)), np.empty(len(trades))
    for members in groups.values():
        # one program per group of at most 8 trades (one vector-adjoint sweep each)
        for k in range(0, len(members), 8):
            idx = members[k:k + 8]
            p, s = _evaluate_group([trades[i] for i in idx], m, rows, zero_rows, idx)
            price[idx], se[idx] = p, s
    und = [t.underlying for t in trades]
    return Evaluation(price, und, [m.currencies.get(u) or "" for u in und], rows, zero_rows,
                      stderr=se, model=[f"mc-{t.model}" for t in trades])


def _price(trades, m: MarketData) -> np.ndarray:
    """Unit prices only (one value sweep per group of shared paths)."""
    groups = {}
    for i, t in enumerate(trades):
        groups.setdefault(_group_key(t, m), []).append(i)
    out = np.empty(len(trades))
    for members in groups.values():
        ts = [trades[i] for i in members]
        mc, inp, _, _, _ = _group_program(ts, m)
        res = mc.value(inp, paths=ts[0].paths, seed=ts[0].seed, block=MC_BLOCK)
        out[members] = [res.value[f"t{k}"] for k in range(len(ts))]
    return out


register_engine(ProductEngine(product="mc_option", instrument=MonteCarloOption,
                              model="mc", check=_check, evaluate=_evaluate, price=_price))
