"""Caps, floors and European swaptions priced on the AAD tape, vectorised over a book.

Caps and floors
---------------
A cap (floor) is a strip of caplets (floorlets) on the float periods
``[s_k, e_k]`` of ``schedule(start, start + tenor, float_tenor)``; caplet ``k``
fixes at ``s_k`` (no fixing lag), pays at ``e_k`` (no payment lag) and is worth

    N tau_k DF_d(e_k) B(F_k, K, T_k, sigma, w),   F_k = (DF_f(s_k) / DF_f(e_k) - 1) / tau_k

with ``tau_k`` the accrual on ``float_dc`` (also the forward's), paid at ``e_k``
(or ``payment_lag`` business days later), ``T_k`` the
fixing time in years (Act/365F from the valuation date), ``B`` Black-76
(:func:`~aadrisk.models.black.black_price`, lognormal vol per sqrt(year)) or
Bachelier (:func:`~aadrisk.models.black.bachelier_price`, normal vol in rate
per sqrt(year)) with ``w = 1`` (call on the rate) for a cap and ``0`` for a
floor.  A caplet that fixes on (or before) the valuation date is **not**
included: the first period of a spot-starting cap is dropped, the market
convention (its rate is known; QuantLib would need a fixing for it).

European swaptions
------------------
A swaption expiring at ``x = adjust(val + expiry)`` exercises into the swap
``Swap(start=x, tenor)`` (physical settlement; schedules and conventions as
:class:`~aadrisk.market.rates.Swap`).  With annuity ``A = sum_j tau_j
DF_d(pay_j)`` over the fixed schedule and float PV ``P`` (the float leg per
unit notional, telescoped on a single curve), the forward swap rate is
``S = P / A`` and the price ``N A B(S, K, T, sigma, w)``, ``w = 1`` for a payer
(a call on the swap rate), ``T`` the expiry time (Act/365F).

Design
------
As :mod:`aadrisk.market.rates`: everything except rates is laid out once with
NumPy into *slots* padded to a common count per book (caplets per cap; fixed
and float cashflows per swaption, from :func:`~aadrisk.market.rates.prepare_book`
on the underlying unit swaps), each discount factor ``exp(-(a zL + b zR))``
with the pillar zeros gathered per slot; one reverse sweep gives ``dV/dzL``,
``dV/dzR`` (scattered onto the pillars: ``dV/dz``) and ``dV/dsigma``;
``dV/dq = dV/dz . dz/dq`` by the bootstrap's IFT Jacobian.  Black and
Bachelier trades are separate programs (no ``where`` across models).  Padding
caplets have zero notional, unit discount factors and an at-the-money
constant forward, so they are finite and contribute nothing.

Labels and units (long frame ``trade, label, value, unit``):

* par-quote deltas ``'curve/<CURVE>/<kind>/<tenor>'``, ``'ccy per 1.00 rate'``;
* vega ``'capvol/<TRADE>'`` (caps and floors) or ``'swaptionvol/<TRADE>'``
  (swaptions): the trade's own flat vol; unit ``'ccy per 1.00 lognormal vol'``
  (Black; 0.01 = 1 vol point) or ``'ccy per 1.00 normal vol'`` (Bachelier;
  1e-4 = 1 bp per sqrt(year)).

Examples
--------
>>> from datetime import date
>>> from aadrisk.market.bootstrap import CurveSpec, Quote, bootstrap
>>> cs = bootstrap([CurveSpec("USD", [Quote("depo", "6M", 0.05), Quote("swap", "2Y", 0.045),
...                                   Quote("swap", "5Y", 0.04)])], date(2024, 1, 15))
>>> book = [CapFloor("C1", "3Y", strike=0.04, notional=1e6, vol=0.3),
...         Swaption("X1", "1Y", "3Y", strike=0.04, notional=1e6, vol=0.01, model="bachelier")]
>>> r = risk_rate_options(book, cs)
>>> [round(float(p), 2) for p in r.prices["price"]]
[15142.19, 8781.13]
>>> r.greeks[r.greeks["trade"] == "X1"][["label", "unit"]].iloc[-1].tolist()
['swaptionvol/X1', 'ccy per 1.00 normal vol']
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from .._lazy import pandas as pd

from .. import record
from ..models.black import bachelier_price, black_price
from .curves import scatter_pillars, tape_df
from .dates import add_business_days, add_tenor, adjust, schedule, year_fraction
from .rates import (RatesRisk, Swap, _coeffs_dt, _inputs, _time, coeff_names, prepare_book,
                    slot_theta, swap_end)

__all__ = ["CapFloor", "Swaption", "RateOptionRisk", "risk_rate_options",
           "price_rate_options", "MODELS"]

MODELS = ("black", "bachelier")
_PRICER = {"black": black_price, "bachelier": bachelier_price}
_VOL_UNIT = {"black": "ccy per 1.00 lognormal vol", "bachelier": "ccy per 1.00 normal vol"}


@dataclass(frozen=True)
class CapFloor:
    """A cap (``is_cap`` True) or floor on the float rate, flat vol.

    ``tenor`` from ``start`` (default the valuation date); ``strike`` per year;
    ``notional`` in currency units (negative for a short position); ``vol`` per
    sqrt(year), lognormal for ``model='black'``, normal (rate units) for
    ``'bachelier'``; periods every ``float_tenor`` accruing ``float_dc``,
    dates adjusted by ``convention`` with weekends and ``holidays``;
    ``forecast`` / ``discount`` curve names as for :class:`~aadrisk.market.rates.Swap`.
    """

    trade_id: str
    tenor: str
    strike: float
    notional: float
    vol: float
    is_cap: bool = True
    model: str = "black"
    start: date | None = None
    float_tenor: str = "3M"
    float_dc: str = "ACT/360"
    convention: str = "MF"
    holidays: frozenset = frozenset()
    forecast: str | None = None
    discount: str | None = None
    payment_lag: int = 0
    eom: bool = False


@dataclass(frozen=True)
class Swaption:
    """A European swaption: at ``expiry`` (tenor from the valuation date, adjusted)
    enter a ``tenor`` swap paying (``payer`` True) or receiving the fixed ``strike``.

    ``notional`` in currency units (negative: short); ``vol`` as for
    :class:`CapFloor`; the underlying swap's legs as :class:`~aadrisk.market.rates.Swap`.
    """

    trade_id: str
    expiry: str
    tenor: str
    strike: float
    notional: float
    vol: float
    payer: bool = True
    model: str = "black"
    fixed_tenor: str = "1Y"
    fixed_dc: str = "30/360"
    float_tenor: str = "3M"
    float_dc: str = "ACT/360"
    convention: str = "MF"
    holidays: frozenset = frozenset()
    forecast: str | None = None
    discount: str | None = None
    payment_lag: int = 0
    eom: bool = False

    def underlying(self, valuation_date: date) -> Swap:
        """The unit underlying swap (notional 1, fixed rate 1, payer) starting at expiry."""
        x = adjust(add_tenor(valuation_date, self.expiry), self.convention, self.holidays)
        return Swap(self.trade_id, self.tenor, 1.0, 1.0, True, x, self.fixed_tenor,
                    self.fixed_dc, self.float_tenor, self.float_dc, self.convention,
                    self.holidays, self.forecast, self.discount, self.payment_lag, self.eom)


@dataclass
class RateOptionRisk(RatesRisk):
    """:class:`~aadrisk.market.rates.RatesRisk` plus ``vega`` (n,): ``dV/dsigma`` per trade
    (currency per 1.00 of the trade's vol); ``greeks`` holds deltas and vega rows."""

    vega: np.ndarray = None


_PROGRAMS: dict = {}


def _cap_fn(K, model):
    price = _PRICER[model]

    def fn(**kw):
        pv = 0.0
        for k in range(K):
            d = {w: tape_df(kw[f"{w}a{k}"], kw[f"{w}zl{k}"], kw[f"{w}b{k}"], kw[f"{w}zr{k}"])
                 for w in "sep"}
            fwd = (d["s"] / d["e"] - 1.0) / kw[f"tau{k}"] + kw[f"fadd{k}"]
            pv = pv + kw[f"n{k}"] * price(forward=fwd, strike=kw["strike"], expiry=kw[f"t{k}"],
                                          vol=kw[f"vol{k}"], discount=d["p"], is_call=kw["w"])
        return pv
    names = ["strike", "w"]
    names += [f"{p}{k}" for k in range(K) for p in ("n", "tau", "fadd", "t", "vol")]
    names += [f"{w}{p}{k}" for k in range(K) for w in "sep" for p in ("a", "b", "zl", "zr")]
    return fn, names


def _swaption_fn(J, K, model):
    price = _PRICER[model]

    def fn(**kw):
        ann, flt = 0.0, 0.0
        for j in range(J):
            df = tape_df(kw[f"a{j}"], kw[f"zl{j}"], kw[f"b{j}"], kw[f"zr{j}"])
            ann = ann + kw[f"ca{j}"] * df
            flt = flt + kw[f"cf{j}"] * df
        for k in range(K):
            d = {w: tape_df(kw[f"{w}a{k}"], kw[f"{w}zl{k}"], kw[f"{w}b{k}"], kw[f"{w}zr{k}"])
                 for w in "sep"}
            flt = flt + kw[f"fc{k}"] * (d["s"] / d["e"] - 1.0) * d["p"]
        return kw["notional"] * ann * price(forward=flt / ann, strike=kw["strike"],
                                            expiry=kw["t"], vol=kw["vol"], discount=1.0,
                                            is_call=kw["w"])
    names = ["notional", "strike", "vol", "w", "t"]
    names += [f"{p}{j}" for j in range(J) for p in ("ca", "cf", "a", "b", "zl", "zr")]
    names += [f"fc{k}" for k in range(K)]
    names += [f"{w}{p}{k}" for k in range(K) for w in "sep" for p in ("a", "b", "zl", "zr")]
    return fn, names


def _program(kind, model, *dims):
    key = (kind, model) + dims
    if key not in _PROGRAMS:
        fn, names = (_cap_fn if kind == "cap" else _swaption_fn)(*dims, model)
        _PROGRAMS[key] = record(fn, inputs=names, name=f"{kind} {model} {dims}")
    return _PROGRAMS[key]


def _check(tr):
    if tr.model not in MODELS:
        raise ValueError(f"trade {tr.trade_id}: unknown model {tr.model!r}; known: "
                         f"{', '.join(MODELS)}")
    if not tr.vol > 0:
        raise ValueError(f"trade {tr.trade_id}: vol must be positive, got {tr.vol}")


def cap_periods(tr, cs):
    """``(forecast curve, discount curve, [(fixing start, end), ...])`` of a cap/floor's
    caplets on curve set ``cs`` (ValueError naming the trade when it has none)."""
    val = cs.valuation_date
    names = list(cs.curves)
    _check(tr)
    fc, dc = tr.forecast or names[-1], tr.discount or names[0]
    for c in (fc, dc):
        if c not in cs.curves:
            raise ValueError(f"trade {tr.trade_id}: curve {c!r} is not in the curve set "
                             f"{names}")
    start = tr.start or val
    if start < val:
        raise ValueError(f"trade {tr.trade_id}: start {start} is before the valuation date")
    sch = schedule(start, swap_end(start, tr.tenor, tr.eom, tr.holidays), tr.float_tenor,
                   tr.convention, tr.holidays, eom=tr.eom)
    per_ = [(s, e) for s, e in zip(sch[:-1], sch[1:]) if s > val]
    if not per_:
        raise ValueError(f"trade {tr.trade_id}: no caplet fixes after the valuation date")
    return fc, dc, per_


def _cap_layout(book, cs):
    """Inputs (without zeros) and pillar index arrays of caps/floors, padded."""
    per = [(tr, *cap_periods(tr, cs)) for tr in book]
    n, K = len(book), max(len(p[3]) for p in per)
    inp = {"strike": np.array([float(t.strike) for t in book]),
           "w": np.array([1.0 if t.is_cap else 0.0 for t in book])}
    nn, tau, fadd = np.zeros((n, K)), np.ones((n, K)), np.zeros((n, K))
    tt = np.ones((n, K))
    idx = np.zeros((n, K, 3, 2), dtype=np.int64)
    co = np.zeros((n, K, 3, 2))
    sl = np.zeros((n, K, 3, 2))
    req = {}          # curve -> ([(trade, caplet, which)], dates): one call per curve
    for i, (tr, fc, dc, ps) in enumerate(per):
        m = len(ps)
        nn[i, :m] = float(tr.notional) * np.array([year_fraction(s, e, tr.float_dc) for s, e in ps])
        tau[i, :m] = nn[i, :m] / float(tr.notional)
        if tr.strike <= 0 and tr.model == "black":
            raise ValueError(f"trade {tr.trade_id}: Black needs a positive strike")
        fadd[i, m:] = tr.strike      # padding caplets: forward = strike, notional 0
        tt[i, :m] = [_time(cs, s) for s, _ in ps]
        pays = [add_business_days(p[1], tr.payment_lag, tr.holidays) for p in ps]
        for w, (cur, ds) in enumerate(((fc, [p[0] for p in ps]), (fc, [p[1] for p in ps]),
                                       (dc, pays))):
            r = req.setdefault(cur, ([], []))
            r[0].extend((i, k, w) for k in range(m))
            r[1].extend(ds)
    for cur, (pos, ds) in req.items():
        ii, kk, ww = np.array(pos).T
        idx[ii, kk, ww], co[ii, kk, ww], sl[ii, kk, ww] = _coeffs_dt(cs, cur, ds)
    mask = np.arange(K)[None, :] < np.array([len(p[3]) for p in per])[:, None]
    for k in range(K):
        inp.update({f"n{k}": nn[:, k], f"tau{k}": tau[:, k], f"fadd{k}": fadd[:, k],
                    f"t{k}": tt[:, k]})
        for w, ch in enumerate("sep"):
            inp[f"{ch}a{k}"], inp[f"{ch}b{k}"] = co[:, k, w, 0], co[:, k, w, 1]
    inp["_slopes"] = sl
    return inp, idx, K, tt, mask


def _run_caps(book, cs, vols=None, theta=False):
    """Caps/floors of one model: ``(value (n,), dV/dz (n, P), dV/dvol_k (n, K), T (n, K),
    mask (n, K))`` from one reverse sweep.

    ``vols(T, mask)`` gives the caplet vols (n, K) from the fixing times (padding
    caplets: any positive vol); default: each trade's own flat ``vol``.
    ``dV/dvol_k`` is per caplet (zero on padding); the flat-vol vega is its row sum.
    ``theta=True`` appends ``dV/dt`` (n,) with the caplet vols held (the caller adds
    ``-sum_k dV/dvol_k dvol_k/dT_k`` for vols that move along their term structure).
    """
    inp, idx, K, tt, mask = _cap_layout(book, cs)
    sl = inp.pop("_slopes")
    if vols is None:
        vk = np.repeat(np.array([float(t.vol) for t in book])[:, None], K, 1)
    else:
        vk = np.asarray(vols(tt, mask), dtype=float)
    zg = np.asarray(cs.zeros)[idx]
    for k in range(K):
        inp[f"vol{k}"] = vk[:, k]
        for w, ch in enumerate("sep"):
            inp[f"{ch}zl{k}"], inp[f"{ch}zr{k}"] = zg[:, k, w, 0], zg[:, k, w, 1]
    wrt = [f"vol{k}" for k in range(K)]
    wrt += [f"{ch}z{s}{k}" for k in range(K) for ch in "sep" for s in "lr"]
    if theta:
        wrt += [f"t{k}" for k in range(K)]
        wrt += [f"{ch}{p}{k}" for k in range(K) for ch in "sep" for p in "ab"]
    res = _program("cap", book[0].model, K).grad(inp, wrt=wrt)
    n = len(book)
    g = np.stack([np.stack([np.stack([res.grad[f"{ch}zl{k}"], res.grad[f"{ch}zr{k}"]], -1)
                            for ch in "sep"], 1) for k in range(K)], 1)
    rows = np.broadcast_to(np.arange(n)[:, None, None, None], idx.shape)
    gv = np.stack([np.broadcast_to(res.grad[f"vol{k}"], (n,)) for k in range(K)], 1) * mask
    out = (np.asarray(res.value, dtype=float), scatter_pillars(n, len(cs.zeros), rows, idx, g),
           gv, tt, mask)
    if theta:
        th = np.zeros(n)
        for k in range(K):
            th -= res.grad[f"t{k}"] * mask[:, k]
            for w, ch in enumerate("sep"):
                th -= res.grad[f"{ch}a{k}"] * sl[:, k, w, 0] + res.grad[f"{ch}b{k}"] * sl[:, k, w, 1]
        out = out + (th,)
    return out


def _run_swaptions(book, cs, vols=None, theta=False):
    """Swaptions of one model: ``(value, dV/dz (n, P), dV/dvol (n,), T (n,))``; ``vols``
    (n,) overrides the trades' own flat vols; ``theta=True`` appends ``dV/dt`` (n,) with
    the vols held."""
    val = cs.valuation_date
    for tr in book:
        _check(tr)
    unders = [tr.underlying(val) for tr in book]
    if any(u.start <= val for u in unders):
        raise ValueError("swaption expiry must be after the valuation date")
    pb = prepare_book(unders, cs)
    J, K = pb.names["J"], pb.names["K"]
    inp = _inputs(pb, cs.zeros)
    for j in range(J):
        c = inp.pop(f"c{j}")
        inp[f"ca{j}"] = np.where(pb.fixed_mask[:, j], -c, 0.0)
        inp[f"cf{j}"] = np.where(pb.fixed_mask[:, j], 0.0, c)
    inp.update(notional=np.array([float(t.notional) for t in book]),
               strike=np.array([float(t.strike) for t in book]),
               vol=(np.array([float(t.vol) for t in book]) if vols is None
                    else np.asarray(vols, dtype=float)),
               w=np.array([1.0 if t.payer else 0.0 for t in book]),
               t=np.array([_time(cs, u.start) for u in unders]))
    wrt = ["vol"] + [f"z{s}{j}" for j in range(J) for s in "lr"]
    wrt += [f"{ch}z{s}{k}" for k in range(K) for ch in "sep" for s in "lr"]
    if theta:
        wrt += ["t"] + coeff_names(pb)
    res = _program("swaption", book[0].model, J, K).grad(inp, wrt=wrt)
    n = len(book)
    rows = np.arange(n)[:, None]
    g = np.stack([np.stack([res.grad[f"zl{j}"], res.grad[f"zr{j}"]], -1) for j in range(J)], 1)
    out = scatter_pillars(n, len(cs.zeros), np.broadcast_to(rows[:, :, None], pb.si.shape),
                          pb.si, g)
    if K:
        gf = np.stack([np.stack([np.stack([res.grad[f"{ch}zl{k}"], res.grad[f"{ch}zr{k}"]], -1)
                                 for ch in "sep"], 1) for k in range(K)], 1)
        scatter_pillars(n, len(cs.zeros), np.broadcast_to(rows[:, :, None, None], pb.fi.shape),
                        pb.fi, gf, out=out)
    ret = (np.asarray(res.value, dtype=float), out, res.grad["vol"], inp["t"])
    if theta:
        ret = ret + (slot_theta(pb, res.grad) - res.grad["t"],)
    return ret


def _groups(book):
    """Indices of the book grouped by (product, model), in a stable order."""
    out = {}
    for i, tr in enumerate(book):
        if not isinstance(tr, (CapFloor, Swaption)):
            raise TypeError(f"not a rate option: {tr!r}")
        out.setdefault((type(tr).__name__, tr.model), []).append(i)
    return out


def risk_rate_options(book, curve_set) -> RateOptionRisk:
    """Prices, par-quote deltas and vegas of a book of caps/floors and swaptions.

    Returns
    -------
    RateOptionRisk
        ``prices`` (trade, price) in currency units; ``greeks`` the long frame
        of par-quote deltas (ccy per 1.00 rate) followed, per trade, by its vega
        row (label ``'capvol/<TRADE>'`` or ``'swaptionvol/<TRADE>'``);
        ``dv_dq`` (n, Q), ``dv_dz`` (n, P), ``vega`` (n,).
    """
    book = list(book)
    n, P = len(book), len(curve_set.zeros)
    v, dvdz, vega = np.zeros(n), np.zeros((n, P)), np.zeros(n)
    for (kind, _), ix in _groups(book).items():
        sub = [book[i] for i in ix]
        if kind == "CapFloor":
            v[ix], dvdz[ix], gv, _, _ = _run_caps(sub, curve_set)
            vega[ix] = gv.sum(1)
        else:
            v[ix], dvdz[ix], vega[ix], _ = _run_swaptions(sub, curve_set)
    dvdq = curve_set.par_sensitivities(dvdz)
    ids = [t.trade_id for t in book]
    Q = len(curve_set.quote_labels)
    vlab = [("capvol/" if isinstance(t, CapFloor) else "swaptionvol/") + t.trade_id for t in book]
    full = np.concatenate([dvdq, vega[:, None]], 1)
    greeks = pd.DataFrame({
        "trade": np.repeat(np.asarray(ids, dtype=object), Q + 1),
        "label": np.concatenate([list(curve_set.quote_labels) + [lab] for lab in vlab]
                                or [np.array([], dtype=object)]),
        "value": full.ravel(),
        "unit": np.concatenate([["ccy per 1.00 rate"] * Q + [_VOL_UNIT[t.model]] for t in book]
                               or [np.array([], dtype=object)])})
    return RateOptionRisk(pd.DataFrame({"trade": ids, "price": v}), greeks, dvdq, dvdz,
                          list(curve_set.quote_labels), list(curve_set.pillar_labels), vega)


def price_rate_options(book, curve_set) -> np.ndarray:
    """Present values (currency units) of caps/floors and swaptions (same pass as the risk)."""
    return risk_rate_options(book, curve_set).prices["price"].to_numpy()
