"""Equity options on the full market: BSM European, digital, barrier, geometric Asian,
Heston and SABR -- one engine per product (see :mod:`aadrisk.risk.registry`).

All are priced with the curve's zero rate to the expiry ``r = -ln DF(T) / T``
(so the payoff at expiry is discounted with the curve's DF and the forward is
``S e^{-qT} / DF(T)``) and, for the Black-type products, the surface vol at
(expiry, strike).  All trades of one product are evaluated by ONE
``Program.hvp`` call along spot: the tape inputs are the gathered pillar zeros
of the expiry DF (``zl``, ``zr``) and the four corner vols of the trade's
surface cell; their per-trade adjoints are scattered back to pillar and node
labels.  Second order from the same sweep: ``gamma`` (d2V/dS2) and, for every
other label, the spot cross-gamma d2V/dS dX.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np

from ... import math as am
from ... import tape
from ...market.bootstrap import rowwise_matmul
from ...market.snapshot import MarketData
from ...market.vol_surface import CORNERS, interpolated_vol
from ...models.asian import geometric_asian_discrete_price, geometric_asian_price
from ...models.barrier import barrier_price
from ...models.black import asset_or_nothing_price, cash_or_nothing_price
from ...models.black_scholes import bsm_price
from ...models.heston import heston_price
from ...models.sabr import sabr_price
from .. import _validate as v
from ..errors import TradeError
from ..columns import columns_of, factorize, groups
from ..instruments import Choice, EuropeanOption, OptionType
from ..registry import UNITS, Evaluation, ProductEngine, Rows, register_engine
from . import _equity_fast

__all__ = ["PayoffKind", "DigitalOption", "BarrierOption", "GeometricAsianOption",
           "HestonOption", "SabrOption", "HESTON_PARAMS", "SABR_PARAMS", "MODEL_PRODUCTS",
           "check_spot_market", "discount_rows", "model_slices"]


# ----------------------------------------------------------------------------- products
class PayoffKind(Choice):
    """Digital payoff: ``cash`` (pays ``cash``) or ``asset`` (pays ``S_T``)."""

    CASH = "cash"
    ASSET = "asset"


BARRIER_TYPES = ("down_in", "down_out", "up_in", "up_out")


def _barrier_type(value):
    if isinstance(value, str):
        s = value.strip().lower().replace("-and-", "_").replace("-", "_")
        if s in BARRIER_TYPES:
            return s
    raise ValueError(f"must be one of {', '.join(BARRIER_TYPES)}")


def _n_fixings(value):
    x = v.non_negative(value)
    if x != int(x):
        raise ValueError("must be a whole number >= 0 (0 = continuous average)")
    return int(x)


_BASE = EuropeanOption.validators


@dataclasses.dataclass(frozen=True)
class HestonOption(EuropeanOption):
    """European call/put priced under Heston with the market's ``model/heston/<U>/*`` params."""

    product_type: ClassVar[str] = "heston_option"


@dataclasses.dataclass(frozen=True)
class SabrOption(EuropeanOption):
    """European call/put priced by Black-76 with the SABR lognormal vol (Hagan et al. 2002)
    from the market's ``model/sabr/<U>/*`` params (one smile per underlying)."""

    product_type: ClassVar[str] = "sabr_option"


@dataclasses.dataclass(frozen=True)
class DigitalOption(EuropeanOption):
    """Cash-or-nothing (pays ``cash`` ccy) or asset-or-nothing (pays ``S_T``) European digital."""

    product_type: ClassVar[str] = "digital_option"
    payoff: PayoffKind = PayoffKind.CASH
    cash: float = 1.0
    validators: ClassVar[Mapping[str, Callable]] = {**_BASE, "payoff": PayoffKind.parse,
                                                    "cash": v.number}


@dataclasses.dataclass(frozen=True)
class BarrierOption(EuropeanOption):
    """Single-barrier European option, continuously monitored; ``rebate`` in ccy."""

    product_type: ClassVar[str] = "barrier_option"
    barrier: float
    barrier_type: str
    rebate: float = 0.0
    validators: ClassVar[Mapping[str, Callable]] = {**_BASE, "barrier": v.positive,
                                                    "barrier_type": _barrier_type,
                                                    "rebate": v.non_negative}


@dataclasses.dataclass(frozen=True)
class GeometricAsianOption(EuropeanOption):
    """Geometric average price option: continuous average (``n_fixings=0``) or ``n`` fixings."""

    product_type: ClassVar[str] = "geometric_asian"
    n_fixings: int = 0
    validators: ClassVar[Mapping[str, Callable]] = {**_BASE, "n_fixings": _n_fixings}


#: Heston parameter names in the market (``model/heston/<U>/<name>``), in pricer order
HESTON_PARAMS = ("v0", "kappa", "theta", "xi", "rho")
#: SABR parameter names in the market (``model/sabr/<U>/<name>``)
SABR_PARAMS = ("alpha", "beta", "nu", "rho")
#: products priced under a model whose parameters are market inputs: product -> (model, params)
MODEL_PRODUCTS = {"heston_option": ("heston", HESTON_PARAMS),
                  "sabr_option": ("sabr", SABR_PARAMS)}


# ----------------------------------------------------------------------------- programs
# The expiry time T is an active input (theta = -dV/dT).  Everything outside the tape that
# depends on T is passed as its Taylor expansion around the trade's own time ``t_ref``
# (== T in value): the DF interpolation coefficients da, db (degree <= 2 in T, exact within
# the segment), the surface's slice weight alpha and the flat-extrapolation times t0, t1
# (linear), and the model-slice weight ``m_w``; so dV/dT on the tape is exact.
_TIME = ["t_ref", "da1", "da2", "db1", "db2", "dalpha", "dt0", "dt1"]
_COMMON = ["spot", "div", "zl", "zr", "da", "db", *CORNERS, "lam", "alpha", "t0", "t1",
           "expiry", "strike", "is_call", *_TIME]
_ACTIVE = ["spot", "div", "zl", "zr", *CORNERS, "expiry"]


def _rate(kw):
    """Zero rate to expiry ``-ln DF(T) / T`` with the DF coefficients as functions of T."""
    T = kw["expiry"]
    d = T - kw["t_ref"]
    da = kw["da"] + d * (kw["da1"] + d * kw["da2"])
    db = kw["db"] + d * (kw["db1"] + d * kw["db2"])
    return (da * kw["zl"] + db * kw["zr"]) / T


def _market(kw):
    T = kw["expiry"]
    d = T - kw["t_ref"]
    vol = interpolated_vol(**{k: kw[k] for k in (*CORNERS, "lam")},
                           alpha=kw["alpha"] + d * kw["dalpha"], t0=kw["t0"] + d * kw["dt0"],
                           t1=kw["t1"] + d * kw["dt1"], expiry=T)
    return kw["spot"], kw["strike"], T, vol, _rate(kw), kw["div"], kw["is_call"]


def _european(**kw):
    S, K, T, vol, r, q, c = _market(kw)
    return bsm_price(spot=S, strike=K, expiry=T, vol=vol, rate=r, div=q, is_call=c)


def _digital(**kw):
    S, K, T, vol, r, q, c = _market(kw)
    cash = cash_or_nothing_price(spot=S, strike=K, expiry=T, vol=vol, rate=r, div=q,
                                 is_call=c, cash=kw["cash"])
    asset = asset_or_nothing_price(spot=S, strike=K, expiry=T, vol=vol, rate=r, div=q,
                                   is_call=c)
    return am.where(kw["is_cash"] > 0.5, cash, asset)


def _barrier(**kw):
    S, K, T, vol, r, q, c = _market(kw)
    return barrier_price(spot=S, strike=K, barrier=kw["barrier"], rebate=kw["rebate"],
                         expiry=T, vol=vol, rate=r, div=q, is_call=c, is_down=kw["is_down"],
                         is_in=kw["is_in"])


def _asian(**kw):
    S, K, T, vol, r, q, c = _market(kw)
    disc = geometric_asian_discrete_price(spot=S, strike=K, expiry=T, vol=vol, rate=r, div=q,
                                          is_call=c, n_fixings=kw["n_fix"])
    cont = geometric_asian_price(spot=S, strike=K, expiry=T, vol=vol, rate=r, div=q, is_call=c)
    return am.where(kw["is_discrete"] > 0.5, disc, cont)


def _params(kw, params):
    """Model parameters at the trade's expiry: ``w p_0 + (1 - w) p_1`` between the two
    neighbouring expiry slices (``w`` linear in T; flat parameters: p_0 = p_1)."""
    w = kw["m_w"] + (kw["expiry"] - kw["t_ref"]) * kw["m_dw"]
    return {p: w * kw[f"h_{p}0"] + (1.0 - w) * kw[f"h_{p}1"] for p in params}


def _heston(**kw):
    T = kw["expiry"]
    h = _params(kw, HESTON_PARAMS)
    return heston_price(spot=kw["spot"], strike=kw["strike"], expiry=T, rate=_rate(kw),
                        div=kw["div"], v0=h["v0"], kappa=h["kappa"], theta=h["theta"],
                        sigma=h["xi"], rho=h["rho"], is_call=kw["is_call"])


def _sabr(**kw):
    T = kw["expiry"]
    rate = _rate(kw)
    df = am.exp(-rate * T)
    fwd = kw["spot"] * am.exp(-kw["div"] * T) / df
    h = _params(kw, SABR_PARAMS)
    return sabr_price(forward=fwd, strike=kw["strike"], expiry=T, alpha=h["alpha"],
                      beta=h["beta"], nu=h["nu"], rho=h["rho"], discount=df,
                      is_call=kw["is_call"])


def model_slices(m: MarketData, model: str, und: str, T):
    """Where trades of expiry times ``T`` sit on the model's expiry slices of ``und``:
    ``(labels0, labels1, w, dw)`` -- the label prefixes ``model/<model>/<und>[/<EXPIRY>]``
    of the left and right slice, the weight of the left one (linear in time between two
    slices, flat outside) and its derivative in T.  Flat parameters: one slice, w = 1."""
    T = np.asarray(T, dtype=float)
    base = f"model/{model}/{und}"
    sl = m.model_slices.get((model, und))
    if sl is None:
        lab = np.full(T.shape, base, dtype=object)
        return lab, lab.copy(), np.ones_like(T), np.zeros_like(T)
    names, times = sl
    if len(times) == 1:
        lab = np.full(T.shape, f"{base}/{names[0]}", dtype=object)
        return lab, lab.copy(), np.ones_like(T), np.zeros_like(T)
    # an expiry on a slice uses the segment to its left (same parameters; the one-sided
    # time derivative as the valuation date moves forward: theta's)
    i = np.clip(np.searchsorted(times, T, side="left") - 1, 0, len(times) - 2)
    gap = times[i + 1] - times[i]
    inside = (T > times[0]) & (T <= times[-1])
    w = np.where(T <= times[0], 1.0, np.where(T > times[-1], 0.0, (times[i + 1] - T) / gap))
    dw = np.where(inside, -1.0 / gap, 0.0)
    lab = np.array([f"{base}/{n}" for n in names], dtype=object)
    return lab[i], lab[i + 1], w, dw


def _model_inputs(product):
    model, params = MODEL_PRODUCTS[product]

    def extra(c, m, T):
        n = len(c)
        out = {"m_w": np.ones(n), "m_dw": np.zeros(n)}
        l0, l1 = np.empty(n, dtype=object), np.empty(n, dtype=object)
        codes, uniq = factorize(c["underlying"])
        for u, idx in zip(uniq, groups(codes, len(uniq))):
            a, b, w, dw = model_slices(m, model, u, T[idx])
            l0[idx], l1[idx], out["m_w"][idx], out["m_dw"][idx] = a, b, w, dw
        for p in params:
            out[f"h_{p}0"] = np.array([m.models[f"{lab}/{p}"] for lab in l0])
            out[f"h_{p}1"] = np.array([m.models[f"{lab}/{p}"] for lab in l1])
        out["_labels"] = (l0, l1)
        return out
    return extra


def _extra_digital(c):
    return {"is_cash": np.array([1.0 if p is PayoffKind.CASH else 0.0 for p in c["payoff"]]),
            "cash": np.array(c["cash"], dtype=float)}


def _extra_barrier(c):
    kinds = c["barrier_type"]
    return {"barrier": np.array(c["barrier"], dtype=float),
            "rebate": np.array(c["rebate"], dtype=float),
            "is_down": np.array([1.0 if k.startswith("down") else 0.0 for k in kinds]),
            "is_in": np.array([1.0 if k.endswith("_in") else 0.0 for k in kinds])}


def _extra_asian(c):
    n = np.array(c["n_fixings"], dtype=float)
    return {"n_fix": np.where(n > 0, n, 1.0), "is_discrete": (n > 0).astype(float)}


#: product -> (pricing fn, extra input names, extra inputs builder, model name)
_PRICING = {
    "european_option": (_european, [], lambda c: {}, "bsm"),
    "digital_option": (_digital, ["is_cash", "cash"], _extra_digital, "bsm-digital"),
    "barrier_option": (_barrier, ["barrier", "rebate", "is_down", "is_in"], _extra_barrier,
                       "bsm-barrier"),
    "geometric_asian": (_asian, ["n_fix", "is_discrete"], _extra_asian, "bsm-geometric-asian"),
    "heston_option": (_heston, ["m_w", "m_dw"] + [f"h_{p}{s}" for p in HESTON_PARAMS
                                                   for s in "01"],
                      _model_inputs("heston_option"), "heston"),
    "sabr_option": (_sabr, ["m_w", "m_dw"] + [f"h_{p}{s}" for p in SABR_PARAMS for s in "01"],
                    _model_inputs("sabr_option"), "sabr-black76"),
}
_USES_VOL = {p for p in _PRICING if p not in MODEL_PRODUCTS}


@functools.lru_cache(maxsize=None)
def program(product: str) -> tape.Program:
    """The recorded pricing program of ``product`` (once per process)."""
    fn, extra, _, _ = _PRICING[product]
    return tape.record(fn, inputs=_COMMON + extra, name=f"greeks {product}")


# ----------------------------------------------------------------------------- checks
def spot_market_problem(u: str, m: MarketData, *, needs_vol: bool = True):
    """``(field, value, reason)`` of the first thing ``m`` lacks (or has bad) for a trade
    on underlying ``u`` -- spot, div, discounting (and vol) -- or None."""
    if u not in m.spots and f"spot/{u}" not in m.problems:
        return ("underlying", u, f"no spot in the market (spot/{u}; "
                f"underlyings: {sorted(m.spots)})")
    for key, fld in ((f"spot/{u}", "spot"), (f"div/{u}", "div_yield")):
        if key in m.problems:
            return (fld, key, f"bad market data: {m.problems[key]}")
    if needs_vol:
        if f"vol/{u}" in m.problems:
            return ("vol_surface", f"vol/{u}", f"bad market data: {m.problems[f'vol/{u}']}")
        if u not in m.vols:
            return ("vol_surface", u, f"no vol surface or flat vol for {u!r} in "
                    f"the market (have: {sorted(m.vols)})")
    ccy = m.currencies.get(u)
    prob = m.discount_problem(ccy)
    if prob is not None:
        name = m.curve_of.get(ccy)
        return ("curve" if name else "currency", name or ccy, f"bad market data: {prob}")
    if m.discount_for(ccy) is None:
        return ("currency", ccy, f"no discount curve or rate for currency {ccy!r} "
                f"of {u!r} (curves for: {sorted(m.discounts)})")
    return None


def _expiry_error(tid, expiry, m: MarketData) -> TradeError:
    return TradeError(tid, "expiry", expiry.isoformat(),
                      f"is not after the valuation date {m.valuation_date.isoformat()}")


def check_spot_market(trade, m: MarketData, *, needs_vol: bool = True) -> None:
    """Raise TradeError unless ``m`` has the spot, div, discounting (and vol) of the trade.

    Shared by every product on one underlying (analytic and Monte Carlo).
    """
    prob = spot_market_problem(trade.underlying, m, needs_vol=needs_vol)
    if prob is not None:
        raise TradeError(trade.trade_id, *prob)
    if trade.expiry <= m.valuation_date:
        raise _expiry_error(trade.trade_id, trade.expiry, m)


def model_params_problem(u: str, m: MarketData, model: str, params):
    """``(field, value, reason)`` unless ``model/<model>/<u>/<p>`` is in the market for
    every ``p`` (or, per expiry, on every slice); None when all are there."""
    prob = m.problems.get(f"model/{model}/{u}")
    if prob is not None:
        return ("underlying", u, f"bad market data: {prob}")
    sl = m.model_slices.get((model, u))
    keys = [f"model/{model}/{u}/{e}" for e in sl[0]] if sl else [f"model/{model}/{u}"]
    bad = [f"{k}/{p}" for k in keys for p in params if f"{k}/{p}" in m.problems]
    if bad:
        return ("underlying", u, f"bad market data: {m.problems[bad[0]]}")
    missing = sorted({p for k in keys for p in params if f"{k}/{p}" not in m.models})
    if missing:
        return ("underlying", u, f"no {model} parameters {missing} "
                f"(model/{model}/{u}/...) in the market")
    return None


def check_model_params(trade, m: MarketData, model: str, params) -> None:
    """Raise TradeError unless ``model/<model>/<U>/<p>`` is in the market for every ``p``
    (or, for a model given per expiry, ``model/<model>/<U>/<EXPIRY>/<p>`` on every slice)."""
    prob = model_params_problem(trade.underlying, m, model, params)
    if prob is not None:
        raise TradeError(trade.trade_id, *prob)


def _check(trade, m: MarketData):
    check_spot_market(trade, m, needs_vol=trade.product_type not in MODEL_PRODUCTS)
    if trade.product_type in MODEL_PRODUCTS:
        check_model_params(trade, m, *MODEL_PRODUCTS[trade.product_type])


def _problems(product, uniq, m: MarketData):
    """(spot-market problem, model problem) of each distinct underlying."""
    needs_vol = product not in MODEL_PRODUCTS
    spot = [spot_market_problem(u, m, needs_vol=needs_vol) for u in uniq]
    model = [model_params_problem(u, m, *MODEL_PRODUCTS[product]) if product in MODEL_PRODUCTS
             else None for u in uniq]
    return spot, model


def _check_columns(product, cols, m: MarketData) -> list:
    """``[(index, TradeError), ...]``: what :func:`_check` raises, for every trade of
    ``cols`` (checks per distinct underlying, then per trade in the same order)."""
    codes, uniq = cols.factorized("underlying")
    spot, model = _problems(product, uniq, m)
    vd = m.valuation_date
    if spot.count(None) == len(spot) and model.count(None) == len(model) and \
            all(e > vd for e in cols.factorized("expiry")[1]):
        return []                                   # the usual case: nothing to report
    out = []
    for i, (k, tid, expiry) in enumerate(zip(codes.tolist(), cols.trade_id, cols["expiry"])):
        if spot[k] is not None:
            out.append((i, TradeError(tid, *spot[k])))
        elif expiry <= vd:
            out.append((i, _expiry_error(tid, expiry, m)))
        elif model[k] is not None:
            out.append((i, TradeError(tid, *model[k])))
    return out


# ----------------------------------------------------------------------------- evaluation
def _inputs(product, trades, m: MarketData):
    """Per-trade inputs plus what is needed to scatter adjoints back to labels
    (``trades``: instruments or :class:`~aadrisk.risk.columns.TradeColumns`)."""
    c = columns_of(trades)
    n = len(c)
    e_codes, dates = factorize(c["expiry"])
    T = np.array([m.year_fraction(d) for d in dates], dtype=float)[e_codes]
    K = np.array(c["strike"], dtype=float)
    u_codes, uniq = factorize(c["underlying"])
    inp = {"spot": np.array([m.spots[u] for u in uniq], dtype=float)[u_codes],
           "div": np.array([m.divs[u] for u in uniq], dtype=float)[u_codes],
           "zl": np.zeros(n), "zr": np.zeros(n), "da": np.zeros(n), "db": np.zeros(n),
           "expiry": T, "strike": K, "t_ref": T.copy(),
           "is_call": np.array([1.0 if o is OptionType.CALL else 0.0
                                for o in c["option_type"]])}
    for k in (*CORNERS, "lam", "alpha", "t0", "t1", *_TIME[1:]):
        inp[k] = np.zeros(n)
    c_codes, ccys = factorize([m.currencies.get(u) for u in uniq])
    c_codes = c_codes[u_codes]
    disc = []
    for ccy, idx in zip(ccys, groups(c_codes, len(ccys))):
        src = m.discount_for(ccy)
        iL, iR, a, b, a1, b1, a2, b2 = src.coeffs_dt(T[idx])
        inp["zl"][idx], inp["zr"][idx] = src.zeros[iL], src.zeros[iR]
        inp["da"][idx], inp["db"][idx] = a, b
        inp["da1"][idx], inp["da2"][idx], inp["db1"][idx], inp["db2"][idx] = a1, a2, b1, b2
        disc.append((src, idx, iL, iR))
    vols = []
    for u, idx in (zip(uniq, groups(u_codes, len(uniq))) if product in _USES_VOL else ()):
        src = m.vols[u]
        lk = src.surface.lookup(expiry=T[idx], strike=K[idx], side="left")
        for k, val in lk.inputs().items():
            if k != "expiry":
                inp[k][idx] = val
        inp["dalpha"][idx], inp["dt0"][idx], inp["dt1"][idx] = lk.time_derivatives()
        vols.append((src, idx, lk))
    extra = _PRICING[product][2]
    inp.update(extra(c, m, T) if product in MODEL_PRODUCTS else extra(c))
    return inp, disc, vols, (u_codes, uniq)


def discount_rows(rows: Rows, zero_rows: Rows, src, idx, iL, iR, g_l, g_r, h_l=None,
                  h_r=None) -> None:
    """Scatter adjoints of the gathered pillar zeros (``zl``, ``zr``) to quote labels.

    ``dV/dq = dV/dz . dz/dq`` with the bootstrap's IFT Jacobian; the same chain on
    the hvp along spot (``h_l``, ``h_r``) gives the spot cross-gammas.  Zero-rate
    (pillar) rows go to ``zero_rows`` when the source is a bootstrapped curve.  Only the
    quotes that can move the discount curve are reported (its own and those of the
    curves it is discounted on; the rest of its curve set has exactly zero delta).
    """
    n, P = len(idx), src.zeros.shape[0]
    r = np.arange(n)
    dvdz = np.zeros((n, P))
    np.add.at(dvdz, (r, iL), g_l)
    np.add.at(dvdz, (r, iR), g_r)
    kind = "rate" if src.labels[0].startswith("rate/") else "par"
    qm = None if src.quote_mask is None else np.broadcast_to(src.quote_mask, (n, len(src.labels)))
    zm = None if src.zero_mask is None else np.broadcast_to(src.zero_mask, (n, P))
    rows.add_matrix(idx, src.labels, kind, rowwise_matmul(dvdz, src.dzdq), qm)
    if h_l is not None:
        d2z = np.zeros((n, P))
        np.add.at(d2z, (r, iL), h_l)
        np.add.at(d2z, (r, iR), h_r)
        rows.add_matrix(idx, src.labels, "cross_gamma", rowwise_matmul(d2z, src.dzdq), qm)
    if kind == "par":
        zero_rows.add_matrix(idx, src.zero_labels, "zero", dvdz, zm)


def vol_rows(rows: Rows, src, idx, lk, grads, second=None) -> None:
    """Scatter corner-vol adjoints to the node labels each trade touches (vega, vanna)."""
    nodes = lk.node_index()                         # (4, n) node index per corner
    mask = np.zeros((len(idx), len(src.labels)), dtype=bool)
    r = np.arange(len(idx))
    for c in range(nodes.shape[0]):
        mask[r, nodes[c]] = True
    rows.add_matrix(idx, src.labels, "vega", lk.scatter(grads), mask)
    if second is not None:
        rows.add_matrix(idx, src.labels, "cross_gamma", lk.scatter(second), mask)


def _evaluate(product, trades, m: MarketData) -> Evaluation:
    fast = _equity_fast.inputs(columns_of(trades), m, _PRICING[product][2]) \
        if product in _USES_VOL else None
    if fast is not None:                # same inputs and rows, by kernels (_equity_fast)
        inp, plan = fast
        res = program(product).hvp(inp, {"spot": 1.0}, wrt=_ACTIVE)
        rows, zero_rows = _equity_fast.long_rows(m, plan, res.grad, res.hvp)
        u_codes, uniq = plan["u_codes"], plan["uniq"]
        und = np.array(uniq, dtype=object)[u_codes]
        ccy = np.array([m.currencies.get(u) or "" for u in uniq], dtype=object)[u_codes]
        return Evaluation(np.asarray(res.value, dtype=float), und, ccy, rows, zero_rows)
    inp, disc, vols, (u_codes, uniq) = _inputs(product, trades, m)
    slice_labels = inp.pop("_labels", None)
    wrt = _ACTIVE + ([] if product in _USES_VOL else
                     [k for k in _PRICING[product][1] if k.startswith("h_")])
    res = program(product).hvp(inp, {"spot": 1.0}, wrt=wrt)
    g, h = res.grad, res.hvp
    n = len(u_codes)
    idx = np.arange(n)
    rows, zero_rows = Rows(), Rows()
    spot, div = [f"spot/{u}" for u in uniq], [f"div/{u}" for u in uniq]
    rows.add_codes(idx, u_codes, spot, "delta", g["spot"])
    rows.add_codes(idx, u_codes, spot, "gamma", h["spot"])
    rows.add_codes(idx, u_codes, div, "div", g["div"])
    rows.add_codes(idx, u_codes, div, "cross_gamma", h["div"])
    rows.add(idx, "time", "theta", -np.asarray(g["expiry"], dtype=float))
    if product in MODEL_PRODUCTS:
        model, params = MODEL_PRODUCTS[product]
        l0, l1 = slice_labels
        same = l0 == l1
        two = ~same
        for p in params:
            g0, g1 = g[f"h_{p}0"], g[f"h_{p}1"]
            h0, h1 = h[f"h_{p}0"], h[f"h_{p}1"]
            lab0 = np.array([f"{x}/{p}" for x in l0], dtype=object)
            lab1 = np.array([f"{x}/{p}" for x in l1], dtype=object)
            rows.add(idx[same], lab0[same], "model", (g0 + g1)[same])
            rows.add(idx[same], lab0[same], "cross_gamma", (h0 + h1)[same])
            rows.add(idx[two], lab0[two], "model", g0[two])
            rows.add(idx[two], lab1[two], "model", g1[two])
            rows.add(idx[two], lab0[two], "cross_gamma", h0[two])
            rows.add(idx[two], lab1[two], "cross_gamma", h1[two])
    for src, ix, iL, iR in disc:
        discount_rows(rows, zero_rows, src, ix, iL, iR, g["zl"][ix], g["zr"][ix],
                      h["zl"][ix], h["zr"][ix])
    for src, ix, lk in vols:
        vol_rows(rows, src, ix, lk, {c: g[c][ix] for c in CORNERS},
                 {c: h[c][ix] for c in CORNERS})
    und = np.array(uniq, dtype=object)[u_codes]
    ccy = np.array([m.currencies.get(u) or "" for u in uniq], dtype=object)[u_codes]
    return Evaluation(np.asarray(res.value, dtype=float), und, ccy, rows, zero_rows)


def _price(product, trades, m: MarketData) -> np.ndarray:
    inp, _, _, _ = _inputs(product, trades, m)
    inp.pop("_labels", None)
    return np.asarray(program(product).value(inp).value, dtype=float)


_CLASSES = {"european_option": EuropeanOption, "digital_option": DigitalOption,
            "barrier_option": BarrierOption, "geometric_asian": GeometricAsianOption,
            "heston_option": HestonOption, "sabr_option": SabrOption}

for _product, (_fn, _extra, _build, _model) in _PRICING.items():
    register_engine(ProductEngine(
        product=_product, instrument=_CLASSES[_product], model=_model, check=_check,
        evaluate=functools.partial(_evaluate, _product),
        price=functools.partial(_price, _product),
        units={"theta": UNITS["theta"]}, columnar=True,
        check_columns=functools.partial(_check_columns, _product)))
