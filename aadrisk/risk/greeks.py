"""Full labelled Greek vectors of equity-style trades on a full market snapshot.

For every trade: its price and the derivative with respect to **every** market
input it depends on -- ``spot/<U>`` (delta, and gamma d2V/dS2), ``div/<U>``,
every par quote of its currency's discount curve ``curve/<C>/<kind>/<tenor>``
(through the bootstrap's IFT Jacobian; ``rate/<CCY>`` on a flat market) and
every vol node it touches ``vol/<U>/<EXPIRY>/<STRIKE>`` (``vol/<U>`` flat).
Second order from the same sweep: ``gamma`` (d2V/dS2) and, for every other
label X of the trade, the spot cross-gamma d2V/dS dX (greek ``cross_gamma``:
vanna for vol nodes).

Products (``product`` in a book): ``european_option`` (BSM),
``digital_option`` (cash- or asset-or-nothing), ``barrier_option`` (single
barrier, continuous monitoring, Reiner-Rubinstein) and ``geometric_asian``
(continuous or ``n_fixings`` discrete geometric average).  All are priced
with the curve's zero rate to the expiry ``r = -ln DF(T) / T`` (so the payoff
at expiry is discounted with the curve's DF and the forward is
``S e^{-qT} / DF(T)``) and the surface vol at (expiry, strike).

All trades of one product are evaluated by ONE ``Program.hvp`` call along
spot: the tape inputs are the gathered pillar zeros of the expiry DF
(``zl``, ``zr``) and the four corner vols of the trade's surface cell; their
per-trade adjoints are scattered back to pillar and node labels.

Units (raw derivatives, multiplied by quantity): see docs/labels.md.

Examples
--------
>>> from aadrisk.market.snapshot import MarketData
>>> m = MarketData.from_mapping({"valuation_date": "2024-06-28", "rates": {"USD": 0.05},
...     "underlyings": {"XYZ": {"spot": 100.0, "vol": 0.2, "currency": "USD"}}})
>>> r = greek_vectors([{"trade_id": "C", "underlying": "XYZ", "option_type": "call",
...     "strike": 100.0, "expiry": "2025-06-28", "quantity": 1}], m)
>>> r.greeks[["label", "greek"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
[['spot/XYZ', 'delta'], ['spot/XYZ', 'gamma'], ['div/XYZ', 'div'],
 ['div/XYZ', 'cross_gamma'], ['rate/USD', 'rate'], ['rate/USD', 'cross_gamma'],
 ['vol/XYZ', 'vega'], ['vol/XYZ', 'cross_gamma']]
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import math as am
from .. import tape
from ..market.snapshot import MarketData
from ..market.vol_surface import CORNERS, interpolated_vol
from ..models.asian import geometric_asian_discrete_price, geometric_asian_price
from ..models.barrier import barrier_price
from ..models.black import asset_or_nothing_price, cash_or_nothing_price
from ..models.black_scholes import bsm_price
from ..models.heston import heston_price
from ..models.sabr import sabr_price
from . import _validate as v
from .errors import TradeError, errors_frame
from .instruments import EuropeanOption, parse_trade

__all__ = ["DigitalOption", "BarrierOption", "GeometricAsianOption", "GREEK_PRODUCTS",
           "HestonOption", "HESTON_PARAMS", "SabrOption", "SABR_PARAMS", "MODEL_PRODUCTS",
           "GreekReport", "greek_vectors", "parse_greek_trade", "UNITS", "price_book"]

#: greek kind -> unit of the raw value (quantity-scaled).
UNITS = {
    "delta": "ccy per 1 ccy of spot",
    "gamma": "ccy per (1 ccy of spot)^2",
    "div": "ccy per 1.00 div yield",
    "rate": "ccy per 1.00 rate",
    "par": "ccy per 1.00 par rate",
    "zero": "ccy per 1.00 zero rate",
    "vega": "ccy per 1.00 vol",
    "cross_gamma": "ccy per 1 ccy of spot per 1.00 of the label's input",
    "model": "ccy per 1.00 of the model parameter",
}
SECOND_ORDER = ("gamma", "cross_gamma")


# ----------------------------------------------------------------------------- products
class PayoffKind(str, enum.Enum):
    """Digital payoff: ``cash`` (pays ``cash``) or ``asset`` (pays ``S_T``)."""

    CASH = "cash"
    ASSET = "asset"

    @classmethod
    def parse(cls, value):
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        raise ValueError("must be 'cash' or 'asset'")


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


#: product name -> instrument class (this module's registry; ``aadrisk.risk.PRODUCTS``
#: is left as it is).
GREEK_PRODUCTS: dict[str, type] = {
    EuropeanOption.product_type: EuropeanOption, DigitalOption.product_type: DigitalOption,
    BarrierOption.product_type: BarrierOption,
    GeometricAsianOption.product_type: GeometricAsianOption,
    HestonOption.product_type: HestonOption, SabrOption.product_type: SabrOption}

#: Heston parameter names in the market (``model/heston/<U>/<name>``), in pricer order
HESTON_PARAMS = ("v0", "kappa", "theta", "xi", "rho")
#: SABR parameter names in the market (``model/sabr/<U>/<name>``)
SABR_PARAMS = ("alpha", "beta", "nu", "rho")
#: products priced under a model whose parameters are market inputs: product -> (model, params)
MODEL_PRODUCTS = {"heston_option": ("heston", HESTON_PARAMS),
                  "sabr_option": ("sabr", SABR_PARAMS)}


def parse_greek_trade(raw, position=None):
    """Like :func:`aadrisk.risk.parse_trade` over :data:`GREEK_PRODUCTS`: (trade, errors)."""
    return parse_trade(raw, position, products=GREEK_PRODUCTS)


# ----------------------------------------------------------------------------- programs
_COMMON = ["spot", "div", "zl", "zr", "da", "db", *CORNERS, "lam", "alpha", "t0", "t1",
           "expiry", "strike", "is_call"]
_ACTIVE = ["spot", "div", "zl", "zr", *CORNERS]


def _market(kw):
    T = kw["expiry"]
    vol = interpolated_vol(**{k: kw[k] for k in (*CORNERS, "lam", "alpha", "t0", "t1")},
                           expiry=T)
    rate = (kw["da"] * kw["zl"] + kw["db"] * kw["zr"]) / T
    return kw["spot"], kw["strike"], T, vol, rate, kw["div"], kw["is_call"]


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


def _heston(**kw):
    T = kw["expiry"]
    rate = (kw["da"] * kw["zl"] + kw["db"] * kw["zr"]) / T
    return heston_price(spot=kw["spot"], strike=kw["strike"], expiry=T, rate=rate,
                        div=kw["div"], v0=kw["h_v0"], kappa=kw["h_kappa"],
                        theta=kw["h_theta"], sigma=kw["h_xi"], rho=kw["h_rho"],
                        is_call=kw["is_call"])


def _sabr(**kw):
    T = kw["expiry"]
    rate = (kw["da"] * kw["zl"] + kw["db"] * kw["zr"]) / T
    df = am.exp(-rate * T)
    fwd = kw["spot"] * am.exp(-kw["div"] * T) / df
    return sabr_price(forward=fwd, strike=kw["strike"], expiry=T, alpha=kw["h_alpha"],
                      beta=kw["h_beta"], nu=kw["h_nu"], rho=kw["h_rho"], discount=df,
                      is_call=kw["is_call"])


def _model_inputs(product):
    model, params = MODEL_PRODUCTS[product]

    def extra(ts, m):
        return {f"h_{p}": np.array([m.models[f"model/{model}/{t.underlying}/{p}"] for t in ts])
                for p in params}
    return extra


def _extra_digital(ts):
    return {"is_cash": np.array([1.0 if t.payoff is PayoffKind.CASH else 0.0 for t in ts]),
            "cash": np.array([t.cash for t in ts], dtype=float)}


def _extra_barrier(ts):
    return {"barrier": np.array([t.barrier for t in ts], dtype=float),
            "rebate": np.array([t.rebate for t in ts], dtype=float),
            "is_down": np.array([1.0 if t.barrier_type.startswith("down") else 0.0 for t in ts]),
            "is_in": np.array([1.0 if t.barrier_type.endswith("_in") else 0.0 for t in ts])}


def _extra_asian(ts):
    n = np.array([t.n_fixings for t in ts], dtype=float)
    return {"n_fix": np.where(n > 0, n, 1.0), "is_discrete": (n > 0).astype(float)}


#: product -> (pricing fn, extra input names, extra inputs builder, model name)
_PRICING = {
    "european_option": (_european, [], lambda ts: {}, "bsm"),
    "digital_option": (_digital, ["is_cash", "cash"], _extra_digital, "bsm-digital"),
    "barrier_option": (_barrier, ["barrier", "rebate", "is_down", "is_in"], _extra_barrier,
                       "bsm-barrier"),
    "geometric_asian": (_asian, ["n_fix", "is_discrete"], _extra_asian, "bsm-geometric-asian"),
    "heston_option": (_heston, [f"h_{p}" for p in HESTON_PARAMS],
                      _model_inputs("heston_option"), "heston"),
    "sabr_option": (_sabr, [f"h_{p}" for p in SABR_PARAMS], _model_inputs("sabr_option"),
                    "sabr-black76"),
}
_USES_VOL = {p for p in _PRICING if p not in MODEL_PRODUCTS}


@functools.lru_cache(maxsize=None)
def program(product: str) -> tape.Program:
    """The recorded pricing program of ``product`` (once per process)."""
    fn, extra, _, _ = _PRICING[product]
    return tape.record(fn, inputs=_COMMON + extra, name=f"greeks {product}")


# ----------------------------------------------------------------------------- checks
def _check(trade, m: MarketData):
    tid, u = trade.trade_id, trade.underlying
    if u not in m.spots and f"spot/{u}" not in m.problems:
        raise TradeError(tid, "underlying", u, f"no spot in the market (spot/{u}; "
                         f"underlyings: {sorted(m.spots)})")
    for key, fld in ((f"spot/{u}", "spot"), (f"div/{u}", "div_yield")):
        if key in m.problems:
            raise TradeError(tid, fld, key, f"bad market data: {m.problems[key]}")
    if f"vol/{u}" in m.problems:
        raise TradeError(tid, "vol_surface", f"vol/{u}", f"bad market data: {m.problems[f'vol/{u}']}")
    if u not in m.vols:
        raise TradeError(tid, "vol_surface", u, f"no vol surface or flat vol for {u!r} in the "
                         f"market (have: {sorted(m.vols)})")
    ccy = m.currencies.get(u)
    prob = m.discount_problem(ccy)
    if prob is not None:
        name = m.curve_of.get(ccy)
        raise TradeError(tid, "curve" if name else "currency", name or ccy,
                         f"bad market data: {prob}")
    if m.discount_for(ccy) is None:
        raise TradeError(tid, "currency", ccy, f"no discount curve or rate for currency {ccy!r} "
                         f"of {u!r} (curves for: {sorted(m.discounts)})")
    if trade.product_type in MODEL_PRODUCTS:
        model, params = MODEL_PRODUCTS[trade.product_type]
        missing = [p for p in params if f"model/{model}/{u}/{p}" not in m.models]
        if missing:
            raise TradeError(tid, "underlying", u, f"no {model} parameters {missing} "
                             f"(model/{model}/{u}/...) in the market")
    if trade.expiry <= m.valuation_date:
        raise TradeError(tid, "expiry", trade.expiry.isoformat(),
                         f"is not after the valuation date {m.valuation_date.isoformat()}")


# ----------------------------------------------------------------------------- evaluation
def _inputs(product, trades, m: MarketData):
    """Per-trade inputs plus what is needed to scatter adjoints back to labels."""
    n = len(trades)
    T = np.array([m.year_fraction(t.expiry) for t in trades])
    K = np.array([t.strike for t in trades], dtype=float)
    inp = {"spot": np.array([m.spots[t.underlying] for t in trades]),
           "div": np.array([m.divs[t.underlying] for t in trades]),
           "zl": np.zeros(n), "zr": np.zeros(n), "da": np.zeros(n), "db": np.zeros(n),
           "expiry": T, "strike": K,
           "is_call": np.array([1.0 if t.is_call else 0.0 for t in trades])}
    for k in (*CORNERS, "lam", "alpha", "t0", "t1"):
        inp[k] = np.zeros(n)
    groups_d, groups_v = {}, {}
    for i, t in enumerate(trades):
        groups_d.setdefault(m.currencies.get(t.underlying), []).append(i)
        groups_v.setdefault(t.underlying, []).append(i)
    disc = []
    for ccy, idx in groups_d.items():
        src = m.discount_for(ccy)
        idx = np.array(idx)
        iL, iR, a, b = src.coeffs(T[idx])
        inp["zl"][idx], inp["zr"][idx] = src.zeros[iL], src.zeros[iR]
        inp["da"][idx], inp["db"][idx] = a, b
        disc.append((src, idx, iL, iR))
    vols = []
    for u, idx in (groups_v.items() if product in _USES_VOL else ()):
        src = m.vols[u]
        idx = np.array(idx)
        lk = src.surface.lookup(expiry=T[idx], strike=K[idx])
        for k, val in lk.inputs().items():
            if k != "expiry":
                inp[k][idx] = val
        vols.append((src, idx, lk))
    extra = _PRICING[product][2]
    inp.update(extra(trades, m) if product in MODEL_PRODUCTS else extra(trades))
    return inp, disc, vols


def _evaluate(product, trades, m: MarketData):
    inp, disc, vols = _inputs(product, trades, m)
    wrt = _ACTIVE + ([] if product in _USES_VOL else _PRICING[product][1])
    res = program(product).hvp(inp, {"spot": 1.0}, wrt=wrt)
    qty = np.array([t.quantity for t in trades], dtype=float)
    unit = np.asarray(res.value, dtype=float)
    rows = {"trade": [], "product": [], "underlying": [], "currency": [], "label": [],
            "greek": [], "value": []}

    def add(i, label, greek, value):
        t = trades[i]
        rows["trade"].append(t.trade_id)
        rows["product"].append(product)
        rows["underlying"].append(t.underlying)
        rows["currency"].append(m.currencies.get(t.underlying) or "")
        rows["label"].append(label)
        rows["greek"].append(greek)
        rows["value"].append(float(value) * qty[i])

    per_trade = {i: [] for i in range(len(trades))}   # deferred rows, book order per trade
    zero_rows = []
    g, h = res.grad, res.hvp
    for i, t in enumerate(trades):
        per_trade[i] += [(f"spot/{t.underlying}", "delta", g["spot"][i]),
                         (f"spot/{t.underlying}", "gamma", h["spot"][i]),
                         (f"div/{t.underlying}", "div", g["div"][i]),
                         (f"div/{t.underlying}", "cross_gamma", h["div"][i])]
        if product in MODEL_PRODUCTS:
            model, params = MODEL_PRODUCTS[product]
            for p in params:
                lab = f"model/{model}/{t.underlying}/{p}"
                per_trade[i] += [(lab, "model", g[f"h_{p}"][i]),
                                 (lab, "cross_gamma", h[f"h_{p}"][i])]
    for src, idx, iL, iR in disc:
        P = src.zeros.shape[0]
        dvdz = np.zeros((len(idx), P))
        np.add.at(dvdz, (np.arange(len(idx)), iL), g["zl"][idx])
        np.add.at(dvdz, (np.arange(len(idx)), iR), g["zr"][idx])
        dvdq = dvdz @ src.dzdq
        # the same chain on the hvp along spot gives the spot cross-gammas
        d2z = np.zeros((len(idx), P))
        np.add.at(d2z, (np.arange(len(idx)), iL), h["zl"][idx])
        np.add.at(d2z, (np.arange(len(idx)), iR), h["zr"][idx])
        d2q = d2z @ src.dzdq
        kind = "rate" if src.labels[0].startswith("rate/") else "par"
        for r, i in enumerate(idx):
            per_trade[i] += [(lab, kind, dvdq[r, c]) for c, lab in enumerate(src.labels)]
            per_trade[i] += [(lab, "cross_gamma", d2q[r, c]) for c, lab in enumerate(src.labels)]
            if kind == "par":
                zero_rows += [(i, lab, dvdz[r, c]) for c, lab in enumerate(src.zero_labels)]
    for src, idx, lk in vols:
        sens = lk.scatter({c: g[c][idx] for c in CORNERS})
        vanna = lk.scatter({c: h[c][idx] for c in CORNERS})
        nodes = lk.node_index()
        for r, i in enumerate(idx):
            touched = sorted(set(nodes[:, r].tolist()))
            per_trade[i] += [(src.labels[k], "vega", sens[r, k]) for k in touched]
            per_trade[i] += [(src.labels[k], "cross_gamma", vanna[r, k]) for k in touched]
    for i in range(len(trades)):
        for lab, greek, val in per_trade[i]:
            add(i, lab, greek, val)
    greeks = pd.DataFrame(rows)
    zrows = {k: [] for k in rows}
    for i, lab, val in zero_rows:
        t = trades[i]
        for k, x in (("trade", t.trade_id), ("product", product), ("underlying", t.underlying),
                     ("currency", m.currencies.get(t.underlying) or ""), ("label", lab),
                     ("greek", "zero"), ("value", float(val) * qty[i])):
            zrows[k].append(x)
    prices = pd.DataFrame({"trade": [t.trade_id for t in trades], "product": product,
                           "model": _PRICING[product][3],
                           "underlying": [t.underlying for t in trades],
                           "currency": [m.currencies.get(t.underlying) or "" for t in trades],
                           "quantity": qty, "unit_price": unit, "price": qty * unit})
    return prices, greeks, pd.DataFrame(zrows)


def price_book(trades, m: MarketData) -> np.ndarray:
    """Unit prices of already validated instruments (value-only evaluation; for revaluation)."""
    out = np.empty(len(trades))
    by = {}
    for i, t in enumerate(trades):
        by.setdefault(t.product_type, []).append(i)
    for product, idx in by.items():
        ts = [trades[i] for i in idx]
        inp, _, _ = _inputs(product, ts, m)
        out[idx] = np.asarray(program(product).value(inp).value, dtype=float)
    return out


def _scaled(greeks: pd.DataFrame) -> pd.DataFrame:
    greeks = greeks.copy()
    greeks["unit"] = greeks["greek"].map(UNITS)
    rate_like = greeks["greek"].isin(["div", "rate", "par", "zero"])
    greeks["value_per_bp"] = np.where(rate_like, greeks["value"] * 1e-4, np.nan)
    greeks["value_per_vol_point"] = np.where(greeks["greek"] == "vega",
                                             greeks["value"] * 1e-2, np.nan)
    return greeks


_GCOLS = ["trade", "product", "underlying", "currency", "label", "greek", "value", "unit",
          "value_per_bp", "value_per_vol_point"]


@dataclasses.dataclass(frozen=True)
class GreekReport:
    """Prices, labelled Greek vectors and the trades that could not be priced.

    Attributes
    ----------
    prices : DataFrame
        One row per priced trade: trade, product, model, underlying, currency, quantity,
        unit_price, price (= quantity x unit_price, ccy).
    greeks : DataFrame (long)
        trade, product, underlying, currency, label, greek (delta, gamma, div, rate, par,
        vega), value (raw derivative x quantity), unit, and the scaled columns
        ``value_per_bp`` (div / rate / par rows: value x 1e-4) and
        ``value_per_vol_point`` (vega rows: value x 1e-2).
    zero_greeks : DataFrame (long)
        The same layout for ``zero/<CURVE>/<tenor>`` pillar sensitivities (greek ``zero``).
    errors : tuple of TradeError
    """

    valuation_date: dt.date
    prices: pd.DataFrame
    greeks: pd.DataFrame
    zero_greeks: pd.DataFrame
    errors: tuple = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors_frame(self) -> pd.DataFrame:
        return errors_frame(self.errors)

    @property
    def by_label(self) -> pd.DataFrame:
        """Sums of value and the scaled columns per (label, greek, currency, unit)."""
        g = self.greeks.groupby(["label", "greek", "currency", "unit"], sort=True)
        return g[["value", "value_per_bp", "value_per_vol_point"]].sum(min_count=1).reset_index()

    def vector(self, trade_id: str, greek: str | None = None) -> pd.Series:
        """One trade's Greek vector as a Series label -> value (first derivatives unless
        ``greek`` is given, e.g. ``'gamma'`` or ``'cross_gamma'``)."""
        gk = self.greeks[self.greeks["trade"] == trade_id]
        gk = gk[gk["greek"] == greek] if greek else gk[~gk["greek"].isin(SECOND_ORDER)]
        return gk.set_index("label")["value"]


def greek_vectors(book: Iterable[object], market: MarketData | Mapping) -> GreekReport:
    """Price ``book`` and compute each trade's full labelled Greek vector in ``market``.

    Parameters
    ----------
    book : iterable of instruments or JSON-like mappings (products: :data:`GREEK_PRODUCTS`)
    market : MarketData, or a JSON-like market mapping parsed with
        :meth:`MarketData.from_mapping`

    Bad trades and trades whose market data is missing or bad are reported in
    ``errors`` (trade id, field, value, reason); the others are priced.
    """
    if not isinstance(market, MarketData):
        market = MarketData.from_mapping(market)
    errors, valid, seen = [], [], set()
    for pos, item in enumerate(book):
        if isinstance(item, Mapping) or not hasattr(item, "product_type"):
            trade, errs = parse_greek_trade(item, pos)
            if errs:
                errors += errs
                continue
        else:
            trade = item
        if trade.product_type not in _PRICING:
            errors.append(TradeError(trade.trade_id, "product", trade.product_type,
                                     f"no Greek-vector pricer; known: {sorted(_PRICING)}"))
            continue
        if trade.trade_id in seen:
            errors.append(TradeError(trade.trade_id, "trade_id", trade.trade_id,
                                     "duplicate trade id in the book"))
            continue
        seen.add(trade.trade_id)
        try:
            _check(trade, market)
        except TradeError as exc:
            errors.append(exc)
            continue
        valid.append((pos, trade))
    by = {}
    for pos, t in valid:
        by.setdefault(t.product_type, []).append((pos, t))
    P, G, Z = [], [], []
    for product, members in by.items():
        prices, greeks, zeros = _evaluate(product, [t for _, t in members], market)
        pos = {t.trade_id: p for p, t in members}
        for f in (prices, greeks, zeros):
            f.insert(0, "_pos", f["trade"].map(pos) if len(f) else [])
        P.append(prices)
        G.append(greeks)
        Z.append(zeros)
    if P:
        prices = pd.concat(P, ignore_index=True).sort_values("_pos", kind="stable")
        greeks = pd.concat(G, ignore_index=True).sort_values("_pos", kind="stable")
        zeros = pd.concat(Z, ignore_index=True).sort_values("_pos", kind="stable")
        bad_ids = set(prices.loc[~np.isfinite(prices["price"].to_numpy(float)), "trade"])
        bad_ids |= set(greeks.loc[~np.isfinite(greeks["value"].to_numpy(float)), "trade"])
        for tid in [t for _, t in valid if t.trade_id in bad_ids]:
            errors.append(TradeError(tid.trade_id, "price", None, "pricing gave a non-finite "
                                     "price or Greek (inputs out of the model's range?)"))
        prices = prices[~prices["trade"].isin(bad_ids)].drop(columns="_pos")
        greeks = greeks[~greeks["trade"].isin(bad_ids)].drop(columns="_pos")
        zeros = zeros[~zeros["trade"].isin(bad_ids)].drop(columns="_pos")
        greeks, zeros = _scaled(greeks), _scaled(zeros)
    else:
        prices = pd.DataFrame(columns=["trade", "product", "model", "underlying", "currency",
                                       "quantity", "unit_price", "price"])
        greeks = pd.DataFrame(columns=_GCOLS)
        zeros = pd.DataFrame(columns=_GCOLS)
    return GreekReport(market.valuation_date, prices.reset_index(drop=True),
                       greeks[_GCOLS].reset_index(drop=True),
                       zeros.reset_index(drop=True).reindex(columns=_GCOLS), tuple(errors))
