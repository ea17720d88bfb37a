"""Rates products on the full market: swaps, FRAs, caps/floors, swaptions and fixed-rate bonds
-- one engine per product (see :mod:`aadrisk.risk.registry`).

Curves
------
A trade of currency ``CCY`` is discounted on ``discount`` (default: the market's
discount curve of ``CCY``, ``discount_curves.<CCY>`` or its only curve) and its
floating rate is forecast on ``forecast`` (default: the one curve of the market
that is bootstrapped with ``"discount": <discount curve>``, i.e. the forecast
curve of an OIS-discounted set; else the discount curve itself).  Both must be
bootstrapped together (one :class:`~aadrisk.market.bootstrap.CurveSet`).
Schedule conventions a trade does not give (fixed/float tenor and day count,
business-day convention, FRA day count) are the forecast curve's
``conventions``; the holidays are those of the forecast and discount curves.
Rates products need bootstrapped curves (a flat ``rates.<CCY>`` is refused).

Pricing (market layer; QuantLib-tested there): :mod:`aadrisk.market.rates`
(swaps, FRAs), :mod:`aadrisk.market.rate_options` (caps/floors per caplet and
European swaptions on the annuity, Black-76 or Bachelier),
:mod:`aadrisk.market.bonds`.  All trades of one product and one curve set (and,
for options, one model) are ONE batched reverse sweep; ``dV/dz`` per pillar is
chained with the bootstrap's IFT Jacobian into ``dV/dq`` for every par quote of
the curves the trade uses and the curves they are discounted on (greek ``par``,
labels ``curve/<CURVE>/<kind>/<tenor>``; the other quotes of the curve set have
exactly zero delta and are left out); the pillar sensitivities go to
``zero_rows`` (``zero/<CURVE>/<tenor>``).

Vols (caps/floors, swaptions)
-----------------------------
From the market's ``rate_vols`` (:mod:`aadrisk.market.rate_vols`): a trade names
``vol_surface`` (default: the one entry of its currency and kind), the vol of
each caplet is interpolated at its fixing time on a caplet term structure, a
swaption's on an ATM expiry x tenor matrix; the vega of each node the trade
touches is ``dV/dvol . w`` (labels ``vol/<NAME>/<EXPIRY>[/<TENOR>]``).  The model
(Black or Bachelier) is the entry's.  A trade may instead give its own flat
``vol`` (and ``model``, default ``black``): its vega is labelled
``capvol/<TRADE>`` / ``swaptionvol/<TRADE>`` as in the market layer.  Greek kind
``vega`` for lognormal vols (ccy per 1.00 vol), ``normal_vega`` for normal vols
(ccy per 1.00 of normal vol in rate per sqrt(year); x 1e-4 = per bp of vol).

Values are per unit of ``quantity`` (default 1): the PV of the trade's
``notional`` (face for bonds) in its currency.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np

from ...market import bonds as mb
from ...market import rate_options as mro
from ...market import rates as mr
from ...market.dates import CONVENTIONS, DAY_COUNTS, parse_tenor
from ...market.rate_vols import tenor_years
from ...market.snapshot import MarketData
from .. import _validate as v
from ..errors import TradeError
from ..instruments import validate_fields
from ..registry import Evaluation, ProductEngine, Rows, register_engine

__all__ = ["SwapTrade", "FraTrade", "CapFloorTrade", "SwaptionTrade", "BondTrade",
           "RATES_PRODUCTS", "resolve_curves", "vol_source"]


# ----------------------------------------------------------------------------- validators
def _opt(conv):
    def f(x):
        return None if x is None else conv(x)
    return f


def _tenor(x):
    if not isinstance(x, str):
        raise ValueError("must be a tenor string like '3M' or '5Y'")
    try:
        n, unit = parse_tenor(x)
    except ValueError:
        raise ValueError("must be a tenor like '3M' or '5Y'") from None
    if n <= 0:
        raise ValueError("must be a positive tenor")
    return f"{n}{unit}"


def _fra_tenor(x):
    parts = str(x).lower().split("x") if isinstance(x, str) else []
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or \
            int(parts[0]) >= int(parts[1]):
        raise ValueError("must be 'AxB' in months with A < B, e.g. '3x6'")
    return f"{int(parts[0])}x{int(parts[1])}"


def _frequency(x):
    s = _tenor(x)
    n, unit = parse_tenor(s)
    months = {"M": n, "Y": 12 * n}.get(unit)
    if not months or 12 % months:
        raise ValueError("must divide a year in months: 1M, 2M, 3M, 4M, 6M or 1Y")
    return s


def _bool(x):
    if isinstance(x, bool):
        return x
    raise ValueError("must be true or false")


def _lag(x):
    if isinstance(x, bool) or not isinstance(x, (int, float)) or x != int(x) or x < 0:
        raise ValueError("must be a whole number of business days >= 0")
    return int(x)


def _day_count(x):
    s = str(x).strip().upper() if isinstance(x, str) else None
    if s not in DAY_COUNTS:
        raise ValueError(f"must be one of {', '.join(DAY_COUNTS)}")
    return s


def _convention(x):
    s = str(x).strip().upper() if isinstance(x, str) else None
    if s not in CONVENTIONS:
        raise ValueError(f"must be one of {', '.join(CONVENTIONS)}")
    return s


def _cap_floor(x):
    s = x.strip().lower() if isinstance(x, str) else None
    if s not in ("cap", "floor"):
        raise ValueError("must be 'cap' or 'floor'")
    return s


def _model(x):
    s = x.strip().lower() if isinstance(x, str) else None
    if s not in mro.MODELS:
        raise ValueError(f"must be one of {', '.join(mro.MODELS)}")
    return s


_COMMON = {"currency": v.text, "notional": v.positive, "quantity": v.number,
           "forecast": _opt(v.text), "discount": _opt(v.text)}
_SCHED = {"convention": _opt(_convention), "fixed_tenor": _opt(_tenor),
          "fixed_dc": _opt(_day_count), "float_tenor": _opt(_tenor), "float_dc": _opt(_day_count)}
_VOL = {"vol_surface": _opt(v.text), "vol": _opt(v.positive), "model": _opt(_model)}
_LAG_EOM = {"payment_lag": _lag, "eom": _bool}


class _RatesInstrument:
    """Validation on construction (as :class:`~aadrisk.risk.instruments.EuropeanOption`)."""

    validators: ClassVar[Mapping[str, Callable]] = {}

    def __post_init__(self):
        validate_fields(self)

    @classmethod
    def fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]


@dataclasses.dataclass(frozen=True)
class SwapTrade(_RatesInstrument):
    """Fixed-float swap: ``payer`` pays ``fixed_rate`` on ``notional`` for ``tenor`` from
    ``start`` (default the valuation date), receives the forecast float rate."""

    product_type: ClassVar[str] = "swap"
    trade_id: str
    currency: str
    tenor: str
    fixed_rate: float
    notional: float
    payer: bool = True
    start: dt.date | None = None
    fixed_tenor: str | None = None
    fixed_dc: str | None = None
    float_tenor: str | None = None
    float_dc: str | None = None
    convention: str | None = None
    forecast: str | None = None
    discount: str | None = None
    payment_lag: int = 0
    eom: bool = False
    quantity: float = 1.0
    validators: ClassVar[Mapping[str, Callable]] = {
        **_COMMON, **_SCHED, **_LAG_EOM, "tenor": _tenor, "fixed_rate": v.number,
        "payer": _bool, "start": _opt(v.date)}


@dataclasses.dataclass(frozen=True)
class FraTrade(_RatesInstrument):
    """FRA ``'AxB'`` (months from the valuation date): ``payer`` pays ``rate``, receives
    the forecast rate, settled at the end date."""

    product_type: ClassVar[str] = "fra"
    trade_id: str
    currency: str
    tenor: str
    rate: float
    notional: float
    payer: bool = True
    day_count: str | None = None
    convention: str | None = None
    forecast: str | None = None
    discount: str | None = None
    quantity: float = 1.0
    validators: ClassVar[Mapping[str, Callable]] = {
        **_COMMON, "tenor": _fra_tenor, "rate": v.number, "payer": _bool,
        "day_count": _opt(_day_count), "convention": _opt(_convention)}


@dataclasses.dataclass(frozen=True)
class CapFloorTrade(_RatesInstrument):
    """Cap or floor (``option_type``) struck at ``strike`` on the float rate for ``tenor``
    from ``start``; caplets every ``float_tenor`` (first period dropped when it fixes on
    the valuation date)."""

    product_type: ClassVar[str] = "cap_floor"
    trade_id: str
    currency: str
    option_type: str
    tenor: str
    strike: float
    notional: float
    start: dt.date | None = None
    float_tenor: str | None = None
    float_dc: str | None = None
    convention: str | None = None
    vol_surface: str | None = None
    vol: float | None = None
    model: str | None = None
    forecast: str | None = None
    discount: str | None = None
    payment_lag: int = 0
    eom: bool = False
    quantity: float = 1.0
    validators: ClassVar[Mapping[str, Callable]] = {
        **_COMMON, **_VOL, **_LAG_EOM, "option_type": _cap_floor, "tenor": _tenor,
        "strike": v.number,
        "start": _opt(v.date), "float_tenor": _opt(_tenor), "float_dc": _opt(_day_count),
        "convention": _opt(_convention)}


@dataclasses.dataclass(frozen=True)
class SwaptionTrade(_RatesInstrument):
    """European swaption: at ``expiry`` (a tenor from the valuation date, adjusted) enter a
    ``tenor`` swap paying (``payer``) or receiving ``strike``; physical settlement."""

    product_type: ClassVar[str] = "swaption"
    trade_id: str
    currency: str
    expiry: str
    tenor: str
    strike: float
    notional: float
    payer: bool = True
    fixed_tenor: str | None = None
    fixed_dc: str | None = None
    float_tenor: str | None = None
    float_dc: str | None = None
    convention: str | None = None
    vol_surface: str | None = None
    vol: float | None = None
    model: str | None = None
    forecast: str | None = None
    discount: str | None = None
    payment_lag: int = 0
    eom: bool = False
    quantity: float = 1.0
    validators: ClassVar[Mapping[str, Callable]] = {
        **_COMMON, **_SCHED, **_VOL, **_LAG_EOM, "expiry": _tenor, "tenor": _tenor,
        "strike": v.number, "payer": _bool}


@dataclasses.dataclass(frozen=True)
class BondTrade(_RatesInstrument):
    """Fixed-coupon bullet bond (:class:`aadrisk.market.bonds.FixedRateBond`); ``notional``
    is the face; PV from the discount curve."""

    product_type: ClassVar[str] = "bond"
    trade_id: str
    currency: str
    issue: dt.date
    maturity: dt.date
    coupon: float
    notional: float = 100.0
    frequency: str = "6M"
    day_count: str = "30/360"
    convention: str = "U"
    payment_convention: str = "F"
    discount: str | None = None
    eom: bool = False
    quantity: float = 1.0
    validators: ClassVar[Mapping[str, Callable]] = {
        "currency": v.text, "notional": v.positive, "quantity": v.number, "eom": _bool,
        "discount": _opt(v.text), "issue": v.date, "maturity": v.date, "coupon": v.number,
        "frequency": _frequency, "day_count": _day_count, "convention": _convention,
        "payment_convention": _convention}


RATES_PRODUCTS = {c.product_type: c for c in (SwapTrade, FraTrade, CapFloorTrade,
                                               SwaptionTrade, BondTrade)}


# ----------------------------------------------------------------------------- curves
def _curve_problem(tid, fld, name, m):
    prob = m.problems.get(f"curve/{name}")
    if prob is not None:
        raise TradeError(tid, fld, name, f"bad market data: {prob}")
    if name not in m.curve_sets:
        raise TradeError(tid, fld, name, f"no such bootstrapped curve in the market "
                         f"(curves: {sorted(m.curve_sets)})")


def resolve_curves(trade, m: MarketData, forecast: bool = True):
    """``(curve set, forecast curve, discount curve)`` of a rates trade, or TradeError."""
    tid, ccy = trade.trade_id, trade.currency
    dc = trade.discount or m.curve_of.get(ccy)
    if dc is None:
        prob = m.problems.get(f"discount/{ccy}")
        if prob is not None:
            raise TradeError(tid, "currency", ccy, f"bad market data: {prob}")
        if ccy in m.discounts:
            raise TradeError(tid, "currency", ccy, f"the market has only a flat rate for {ccy}; "
                             "rates products need a bootstrapped curve (curves section)")
        raise TradeError(tid, "currency", ccy, f"no curve for currency {ccy!r} in the market "
                         f"(curves for: {sorted(m.curve_of)})")
    _curve_problem(tid, "discount" if trade.discount else "curve", dc, m)
    cs = m.curve_sets[dc]
    if not forecast:
        return cs, dc, dc
    fc = getattr(trade, "forecast", None)
    if fc:
        _curve_problem(tid, "forecast", fc, m)
        if m.curve_sets[fc] is not cs:
            raise TradeError(tid, "forecast", fc, f"is not bootstrapped with the discount curve "
                             f"{dc!r} (give it \"discount\": \"{dc}\" in the market)")
        return cs, fc, dc
    cands = sorted(n for n, d in m.curve_discount.items() if d == dc and n != dc)
    if len(cands) == 1:
        _curve_problem(tid, "curve", cands[0], m)
    if len(cands) > 1:
        raise TradeError(tid, "forecast", None, f"several curves forecast on discount curve "
                         f"{dc!r}: {cands}; name one in 'forecast'")
    return cs, (cands[0] if cands else dc), dc


def _conventions(cs, fc, dc):
    specs = {s.name: s for s in cs.builder.specs}
    conv = specs[fc].conventions
    return conv, frozenset(conv.holidays) | frozenset(specs[dc].conventions.holidays)


def _market_trade(t, m: MarketData):
    """The market-layer trade (explicit curves and conventions) and its curve set."""
    if isinstance(t, BondTrade):
        cs, _, dc = resolve_curves(t, m, forecast=False)
        hol = _conventions(cs, dc, dc)[1]
        return cs, dc, mb.FixedRateBond(t.trade_id, t.issue, t.maturity, t.coupon, t.notional,
                                        t.frequency, t.day_count, t.convention,
                                        t.payment_convention, hol, dc, t.eom)
    cs, fc, dc = resolve_curves(t, m)
    c, hol = _conventions(cs, fc, dc)
    conv = t.convention or c.convention
    if isinstance(t, SwapTrade):
        return cs, fc, mr.Swap(t.trade_id, t.tenor, t.fixed_rate, t.notional, t.payer, t.start,
                               t.fixed_tenor or c.fixed_tenor, t.fixed_dc or c.fixed_dc,
                               t.float_tenor or c.float_tenor, t.float_dc or c.float_dc, conv,
                               hol, fc, dc, t.payment_lag, t.eom)
    if isinstance(t, FraTrade):
        return cs, fc, mr.FRA(t.trade_id, t.tenor, t.rate, t.notional, t.payer,
                              t.day_count or c.depo_dc, conv, hol, fc, dc)
    if isinstance(t, CapFloorTrade):
        return cs, fc, mro.CapFloor(t.trade_id, t.tenor, t.strike, t.notional, t.vol or 1.0,
                                    t.option_type == "cap", _model_of(t, m), t.start,
                                    t.float_tenor or c.float_tenor, t.float_dc or c.float_dc,
                                    conv, hol, fc, dc, t.payment_lag, t.eom)
    return cs, fc, mro.Swaption(t.trade_id, t.expiry, t.tenor, t.strike, t.notional,
                                t.vol or 1.0, t.payer, _model_of(t, m),
                                t.fixed_tenor or c.fixed_tenor, t.fixed_dc or c.fixed_dc,
                                t.float_tenor or c.float_tenor, t.float_dc or c.float_dc, conv,
                                hol, fc, dc, t.payment_lag, t.eom)


# ----------------------------------------------------------------------------- vols
_KIND = {"cap_floor": "caplet", "swaption": "swaption"}


def vol_source(t, m: MarketData):
    """The trade's :class:`~aadrisk.market.rate_vols.RateVolSurface`, or None for a flat
    per-trade ``vol``; TradeError when the market has none (or a bad one)."""
    if t.vol is not None:
        if t.vol_surface:
            raise TradeError(t.trade_id, "vol", t.vol, "give either a flat 'vol' or a market "
                             "'vol_surface', not both")
        return None
    kind = _KIND[t.product_type]
    name = t.vol_surface
    if name is None:
        cands = sorted(n for n, (k, c) in m.rate_vol_meta.items()
                       if k == kind and c == t.currency)
        if len(cands) != 1:
            raise TradeError(t.trade_id, "vol_surface", None,
                             f"{'no' if not cands else 'several'} {kind} vols for {t.currency} "
                             f"in the market's rate_vols ({cands or sorted(m.rate_vol_meta)}); "
                             "name one in 'vol_surface' or give a flat 'vol'")
        name = cands[0]
    prob = m.problems.get(f"vol/{name}")
    if prob is not None:
        raise TradeError(t.trade_id, "vol_surface", name, f"bad market data: {prob}")
    src = m.rate_vols.get(name)
    if src is None:
        raise TradeError(t.trade_id, "vol_surface", name, f"no such entry in the market's "
                         f"rate_vols (have: {sorted(m.rate_vols)})")
    if src.kind != kind:
        raise TradeError(t.trade_id, "vol_surface", name, f"is a {src.kind} vol entry; "
                         f"{t.product_type} needs {kind} vols")
    if t.model is not None and t.model != src.model:
        raise TradeError(t.trade_id, "model", t.model, f"the vols of {name!r} are {src.model}")
    return src


def _model_of(t, m):
    src = vol_source(t, m)
    return src.model if src is not None else (t.model or "black")


_VEGA = {"black": "vega", "bachelier": "normal_vega"}


# ----------------------------------------------------------------------------- checks
def _check(trade, m: MarketData):
    cs, _, mt = _market_trade(trade, m)   # raises TradeError for curve / vol problems
    tid, val = trade.trade_id, m.valuation_date
    try:
        if isinstance(trade, SwapTrade):
            if trade.start is not None and trade.start < val:
                raise TradeError(tid, "start", trade.start.isoformat(),
                                 f"is before the valuation date {val.isoformat()}")
            mr._legs(mt, val, mt.forecast, mt.discount)
        elif isinstance(trade, FraTrade):
            mr._legs(mt, val, mt.forecast, mt.discount)
        elif isinstance(trade, CapFloorTrade):
            if trade.start is not None and trade.start < val:
                raise TradeError(tid, "start", trade.start.isoformat(),
                                 f"is before the valuation date {val.isoformat()}")
            if mt.model == "black" and trade.strike <= 0:
                raise TradeError(tid, "strike", trade.strike, "Black caps/floors need a "
                                 "positive strike (use bachelier vols)")
            try:
                mro.cap_periods(mt, cs)
            except ValueError as exc:
                if "no caplet" not in str(exc):
                    raise
                raise TradeError(tid, "tenor", trade.tenor, f"no caplet fixes after the "
                                 f"valuation date (the first period, fixing today, is dropped; "
                                 f"float_tenor {mt.float_tenor})") from None
        elif isinstance(trade, SwaptionTrade):
            if mt.model == "black" and trade.strike <= 0:
                raise TradeError(tid, "strike", trade.strike, "Black swaptions need a positive "
                                 "strike (use bachelier vols)")
            if mt.underlying(val).start <= val:
                raise TradeError(tid, "expiry", trade.expiry, "the swaption must expire after "
                                 "the valuation date")
        else:
            if trade.maturity <= val:
                raise TradeError(tid, "maturity", trade.maturity.isoformat(),
                                 f"is not after the valuation date {val.isoformat()}")
            if trade.issue >= trade.maturity:
                raise TradeError(tid, "issue", trade.issue.isoformat(),
                                 "is not before the maturity")
            mb.bond_cashflows(mt, val)
    except TradeError:
        raise
    except ValueError as exc:
        raise TradeError(tid, "product", trade.product_type, str(exc)) from None


# ----------------------------------------------------------------------------- evaluation
def _groups(trades, m, extra=lambda mt: ()):
    """Trades grouped by (curve set[, model]): key -> (cs, indices, market trades)."""
    out = {}
    und = []
    for i, t in enumerate(trades):
        cs, name, mt = _market_trade(t, m)
        und.append(name)
        key = (id(cs),) + tuple(extra(mt))
        g = out.setdefault(key, (cs, [], []))
        g[1].append(i)
        g[2].append(mt)
    return out, und


def _curve_rows(rows, zero_rows, cs, idx, dvdz, mts):
    """Par rows for the quotes of the curves a trade uses (forecast, discount) and of the
    curves those are discounted on -- every other quote of the set has exactly zero
    delta -- and the matching pillar rows."""
    masks = {}
    qm = np.zeros((len(idx), len(cs.quote_labels)), dtype=bool)
    for r, mt in enumerate(mts):
        key = (getattr(mt, "forecast", None), mt.discount)
        if key not in masks:
            masks[key] = cs.label_masks(key)[0]
        qm[r] = masks[key]
    rows.add_matrix(idx, cs.quote_labels, "par", cs.par_sensitivities(dvdz), qm)
    zero_rows.add_matrix(idx, cs.pillar_labels, "zero", dvdz, qm)


def _eval_linear(trades, m, greeks=True):
    groups, und = _groups(trades, m)
    n = len(trades)
    value, rows, zero_rows = np.zeros(n), Rows(), Rows()
    for cs, ix, mts in groups.values():
        ix = np.array(ix)
        pb = mr.prepare_book(mts, cs)
        if greeks:
            v, dvdz, th = mr.zero_deltas(pb, cs.zeros, theta=True)
            _curve_rows(rows, zero_rows, cs, ix, dvdz, mts)
            rows.add(ix, "time", "theta", th)
        else:
            v = mr.price_book(pb, cs.zeros)
        value[ix] = v
    return value, und, rows, zero_rows


def _eval_bonds(trades, m, greeks=True):
    groups, und = _groups(trades, m)
    n = len(trades)
    value, rows, zero_rows = np.zeros(n), Rows(), Rows()
    for cs, ix, mts in groups.values():
        ix = np.array(ix)
        r = mb.risk_bonds(mts, cs)
        value[ix] = r.prices["pv"].to_numpy()
        if greeks:
            _curve_rows(rows, zero_rows, cs, ix, r.dv_dz, mts)
            rows.add(ix, "time", "theta", r.theta)
    return value, und, rows, zero_rows


def _by_source(sub):
    """{id: (vol source, row indices)} of the trades priced on market rate vols."""
    out = {}
    for r, s in enumerate(sub):
        if s is not None:
            out.setdefault(id(s), (s, []))[1].append(r)
    return [(s, np.array(rs)) for s, rs in out.values()]


def _eval_options(trades, m, greeks=True):
    """Caps/floors and swaptions: one reverse sweep per (curve set, model); the vols looked
    up per vol source (vectorised), vegas scattered onto the nodes, theta including the
    vols' roll down their expiry axis."""
    groups, und = _groups(trades, m, extra=lambda mt: (mt.model,))
    n = len(trades)
    value, rows, zero_rows = np.zeros(n), Rows(), Rows()
    models = [""] * n
    srcs = [vol_source(t, m) for t in trades]
    val = m.valuation_date
    for key, (cs, ix, mts) in groups.items():
        model = key[1]
        ix = np.array(ix)
        sub = [srcs[i] for i in ix]
        by_src = _by_source(sub)
        if isinstance(mts[0], mro.CapFloor):
            tenors = None

            def vols(T, mask, mts=mts, by_src=by_src):
                out = np.repeat(np.array([mt.vol for mt in mts])[:, None], T.shape[1], 1)
                for s, rs in by_src:
                    nodes, w = s.lookup(T[rs])
                    out[rs] = np.where(mask[rs], s.vol(nodes, w), out[rs])
                return out
            v, dvdz, gv, T, mask, th = mro._run_caps(mts, cs, vols, theta=True)
            flat_lab = "capvol/"
        else:
            tenors = np.array([tenor_years(mt.tenor) for mt in mts])
            T1 = np.array([mr._time(cs, mt.underlying(val).start) for mt in mts])
            vv = np.array([mt.vol for mt in mts], dtype=float)
            for s, rs in by_src:
                vv[rs] = s.vol(*s.lookup(T1[rs], tenors[rs]))
            v, dvdz, gv, _, th = mro._run_swaptions(mts, cs, vv, theta=True)
            gv = np.asarray(gv, dtype=float)[:, None] * np.ones((len(ix), 1))
            T, mask = T1[:, None], np.ones((len(ix), 1), dtype=bool)
            flat_lab = "swaptionvol/"
        for s, rs in by_src:          # the vols roll down their expiry axis as time passes
            slope = s.time_slope(T[rs]) if tenors is None else \
                s.time_slope(T[rs, 0], tenors[rs])[:, None]
            th[rs] -= np.sum(gv[rs] * slope * mask[rs], axis=1)
        value[ix] = v
        for i in ix:
            models[i] = model
        if not greeks:
            continue
        greek = _VEGA[model]
        _curve_rows(rows, zero_rows, cs, ix, dvdz, mts)
        rows.add(ix, "time", "theta", th)
        flat = [r for r, s in enumerate(sub) if s is None]
        if flat:
            rows.add(ix[flat], [flat_lab + mts[r].trade_id for r in flat], greek,
                     gv[flat].sum(1))
        for s, rs in by_src:
            if tenors is None:
                nodes, w = s.lookup(T[rs])
            else:
                nodes, w = s.lookup(T[rs, 0], tenors[rs])
                nodes, w = nodes[:, None, :], w[:, None, :]
            w = w * mask[rs][..., None]
            touched = np.zeros((len(rs), len(s.labels)), dtype=bool)
            np.logical_or.at(touched, (np.broadcast_to(np.arange(len(rs))[:, None, None],
                                                       nodes.shape), nodes), w > 0)
            rows.add_matrix(ix[rs], s.labels, greek, s.scatter(gv[rs], nodes, w), touched)
    return value, und, rows, zero_rows, models


def _evaluate(kind, trades, m: MarketData) -> Evaluation:
    if kind == "option":
        value, und, rows, zero_rows, models = _eval_options(trades, m)
    else:
        value, und, rows, zero_rows = (_eval_bonds if kind == "bond" else _eval_linear)(trades, m)
        models = None
    return Evaluation(value, und, [t.currency for t in trades], rows, zero_rows, model=models)


def _price(kind, trades, m: MarketData) -> np.ndarray:
    if kind == "option":
        return _eval_options(trades, m, greeks=False)[0]
    return (_eval_bonds if kind == "bond" else _eval_linear)(trades, m, greeks=False)[0]


_UNITS = {"normal_vega": "ccy per 1.00 normal vol (rate per sqrt(year); x 1e-4 = per bp)",
          "theta": "ccy per year of calendar time (dV/dt, valuation date moving forward)"}

for _cls, _kind, _mdl in ((SwapTrade, "linear", "discounting"), (FraTrade, "linear", "discounting"),
                          (CapFloorTrade, "option", "black/bachelier per caplet"),
                          (SwaptionTrade, "option", "black/bachelier on the annuity"),
                          (BondTrade, "bond", "discounting")):
    register_engine(ProductEngine(
        product=_cls.product_type, instrument=_cls, model=_mdl, check=_check,
        evaluate=lambda trades, m, _k=_kind: _evaluate(_k, trades, m),
        price=lambda trades, m, _k=_kind: _price(_k, trades, m), units=_UNITS))
