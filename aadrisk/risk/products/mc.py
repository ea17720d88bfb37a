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

Trades on the same underlying, model, expiry, step count, path count and seed
(and, for ``gbm``, strike) share their paths: one recorded program prices them
all, and one reverse sweep carries up to eight of them.  Greeks are pathwise
derivatives averaged over paths: ``spot/<U>`` (delta), ``div/<U>``, every par
quote of the discount curve (the per-step rates' adjoints chained through the
curve's pillar zeros and the bootstrap's IFT Jacobian), every vol node the
per-step vols read (``gbm``) or the Heston parameters (``heston``).  Gamma and
the spot cross-gammas are central differences of these AAD Greeks over spot
+-0.5 % with the same random numbers (the documented fallback for payoffs with
kinks, see docs/monte_carlo.md).  Standard errors: for the price and for the
Greeks read directly off tape inputs (delta, div, model parameters); Greeks
mapped from per-step inputs (curve quotes, vol nodes) have none yet (NaN).
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np

from ... import tape
from ...market.snapshot import MarketData
from ...market.vol_surface import CORNERS, interpolated_vol
from ...mc import GBM, Heston, MonteCarlo
from ...mc.payoffs import PAYOFFS
from .. import _validate as v
from ..errors import TradeError
from ..instruments import EuropeanOption
from ..registry import Evaluation, ProductEngine, Rows, register_engine
from .equity import (BARRIER_TYPES, HESTON_PARAMS, _barrier_type, check_model_params,
                     check_spot_market)

__all__ = ["MonteCarloOption", "MC_MODELS", "GAMMA_BUMP"]

MC_MODELS = ("gbm", "heston")
#: relative spot bump of the gamma / cross-gamma central differences of AAD Greeks
GAMMA_BUMP = 0.005


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
    check_spot_market(trade, m, needs_vol=trade.model == "gbm")
    if trade.model == "heston":
        check_model_params(trade, m, "heston", HESTON_PARAMS)


@functools.lru_cache(maxsize=None)
def _program(model_key, payoffs: tuple, n_steps: int) -> MonteCarlo:
    model = GBM() if model_key[0] == "gbm" else Heston(scheme=model_key[1])
    return MonteCarlo(model, {f"t{i}": PAYOFFS[p] for i, p in enumerate(payoffs)}, n_steps,
                      name=f"mc {model_key[0]} x{len(payoffs)}")


@functools.lru_cache(maxsize=None)
def _total_variance_program() -> tape.Program:
    def w(**kw):
        vol = interpolated_vol(**kw)
        return vol * vol * kw["expiry"]
    return tape.record(w, inputs=[*CORNERS, "lam", "alpha", "t0", "t1", "expiry"],
                       name="total variance")


def _group_key(t, m):
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


def _rates(m, ccy, times):
    """Per-step short rates from the discount curve and what maps their adjoints back."""
    src = m.discount_for(ccy)
    iL, iR, a, b = src.coeffs(times)
    y = a * src.zeros[iL] + b * src.zeros[iR]          # -log DF(t_i), i = 1..N
    dt = np.diff(np.concatenate([[0.0], times]))
    return np.diff(np.concatenate([[0.0], y])) / dt, (src, iL, iR, a, b, dt)


def _curve_sens(g_r, curve):
    """dV/dz per pillar from per-step rate adjoints: r_i = (y_i - y_{i-1}) / dt_i."""
    src, iL, iR, a, b, dt = curve
    gy = g_r / dt
    gy = gy - np.concatenate([gy[1:], [0.0]])
    dvdz = np.zeros(src.zeros.shape[0])
    np.add.at(dvdz, iL, gy * a)
    np.add.at(dvdz, iR, gy * b)
    return dvdz


def _vols(m, trade, times):
    """Per-step forward vols at the trade's strike and the map of their adjoints to nodes."""
    src = m.vols[trade.underlying]
    lk = src.surface.lookup(expiry=times, strike=np.full(times.shape, trade.strike))
    inp = lk.inputs()
    res = _total_variance_program().grad(inp, wrt=list(CORNERS))
    w = np.asarray(res.value, dtype=float)
    dw = np.diff(np.concatenate([[0.0], w]))
    dt = np.diff(np.concatenate([[0.0], times]))
    if np.any(dw <= 0):
        i = int(np.flatnonzero(dw <= 0)[0])
        raise TradeError(trade.trade_id, "vol_surface", trade.underlying,
                         f"total implied variance at strike {trade.strike:g} does not increase "
                         f"between t = {times[i - 1] if i else 0.0:.4f} and {times[i]:.4f} "
                         "(calendar arbitrage): no forward vol")
    sig = np.sqrt(dw / dt)
    return sig, (src, lk, res.grad, sig, dt)


def _vol_sens(g_sig, vmap):
    src, lk, dwdc, sig, dt = vmap
    gw = g_sig / (2.0 * sig * dt)                       # d sigma_i / d w_i
    gw = gw - np.concatenate([gw[1:], [0.0]])          # sigma_{i+1} reads -w_i
    sens = lk.scatter({c: gw * dwdc[c] for c in CORNERS})   # (steps, nodes)
    return sens.sum(axis=0), lk


def _group_inputs(trades, m):
    t0 = trades[0]
    key = _group_key(t0, m)
    n = key[4]
    T = m.year_fraction(t0.expiry)
    times = T * np.arange(1, n + 1) / n
    ccy = m.currencies.get(t0.underlying)
    r, curve = _rates(m, ccy, times)
    inp = {"spot": m.spots[t0.underlying], "div": m.divs[t0.underlying],
           "_dt": np.full(n, T / n), "_r": r}
    vmap = None
    if t0.model == "gbm":
        inp["_vol"], vmap = _vols(m, t0, times)
    else:
        inp.update({p: m.models[f"model/heston/{t0.underlying}/{p}"] for p in HESTON_PARAMS})
    for i, t in enumerate(trades):
        inp.update(_trade_params(i, t))
    mc = _program((t0.model, t0.scheme), tuple(t.payoff for t in trades), n)
    return mc, inp, curve, vmap


def _evaluate_group(trades, m, rows, zero_rows, idx):
    t0 = trades[0]
    mc, inp, curve, vmap = _group_inputs(trades, m)
    direct = ["spot", "div"] + (list(HESTON_PARAMS) if t0.model == "heston" else [])
    wrt = direct + ["_r"] + (["_vol"] if vmap else [])
    run = functools.partial(mc.grad, paths=t0.paths, seed=t0.seed, wrt=wrt)
    res = run(inp)
    h = GAMMA_BUMP * inp["spot"]
    up, dn = run({**inp, "spot": inp["spot"] + h}), run({**inp, "spot": inp["spot"] - h})
    u = t0.underlying
    labels = {"spot": f"spot/{u}", "div": f"div/{u}",
              **{p: f"model/heston/{u}/{p}" for p in HESTON_PARAMS}}
    kinds = {"spot": "delta", "div": "div", **{p: "model" for p in HESTON_PARAMS}}
    price, se = np.empty(len(trades)), np.empty(len(trades))
    src = curve[0]
    kind = "rate" if src.labels[0].startswith("rate/") else "par"
    for i, t in enumerate(trades):
        o = f"t{i}"
        g, gs, gu, gd = res.grad[o], res.grad_stderr[o], up.grad[o], dn.grad[o]
        price[i], se[i] = res.value[o], res.stderr[o]
        j = idx[i]
        rows.add([j], labels["spot"], "gamma", (gu["spot"] - gd["spot"]) / (2 * h))
        for name in direct:
            rows.add([j], labels[name], kinds[name], g[name], gs[name])
            if name != "spot":
                rows.add([j], labels[name], "cross_gamma", (gu[name] - gd[name]) / (2 * h))
        dvdz = _curve_sens(np.asarray(g["_r"]), curve)
        d2z = _curve_sens((np.asarray(gu["_r"]) - np.asarray(gd["_r"])) / (2 * h), curve)
        rows.add_matrix([j], src.labels, kind, (dvdz @ src.dzdq)[None, :])
        rows.add_matrix([j], src.labels, "cross_gamma", (d2z @ src.dzdq)[None, :])
        if kind == "par":
            zero_rows.add_matrix([j], src.zero_labels, "zero", dvdz[None, :])
        if vmap:
            vega, lk = _vol_sens(np.asarray(g["_vol"]), vmap)
            vanna, _ = _vol_sens((np.asarray(gu["_vol"]) - np.asarray(gd["_vol"])) / (2 * h),
                                 vmap)
            touched = np.zeros(len(vmap[0].labels), dtype=bool)
            touched[np.unique(lk.node_index())] = True
            rows.add_matrix([j], vmap[0].labels, "vega", vega[None, :], touched[None, :])
            rows.add_matrix([j], vmap[0].labels, "cross_gamma", vanna[None, :],
                            touched[None, :])
    return price, se


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
        mc, inp, _, _ = _group_inputs(ts, m)
        res = mc.value(inp, paths=ts[0].paths, seed=ts[0].seed)
        out[members] = [res.value[f"t{k}"] for k in range(len(ts))]
    return out


register_engine(ProductEngine(product="mc_option", instrument=MonteCarloOption,
                              model="mc", check=_check, evaluate=_evaluate, price=_price))
