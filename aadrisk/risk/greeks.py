"""Full labelled Greek vectors of equity-style trades on a full market snapshot.

For every trade: its price and the derivative with respect to **every** market
input it depends on -- ``spot/<U>`` (delta, and gamma d2V/dS2), ``div/<U>``,
every par quote of its currency's discount curve ``curve/<C>/<kind>/<tenor>``
(through the bootstrap's IFT Jacobian; ``rate/<CCY>`` on a flat market) and
every vol node it touches ``vol/<U>/<EXPIRY>/<STRIKE>`` (``vol/<U>`` flat).
Second order from the same sweep: ``gamma`` (d2V/dS2) and, for every other
label X of the trade, the spot cross-gamma d2V/dS dX (greek ``cross_gamma``:
vanna for vol nodes).

Products (``product`` in a book) are the engines of
:mod:`aadrisk.risk.registry` (:data:`GREEK_PRODUCTS`): the equity options of
:mod:`aadrisk.risk.products.equity` (``european_option``, ``digital_option``,
``barrier_option``, ``geometric_asian``, ``heston_option``, ``sabr_option``)
and those other modules of :mod:`aadrisk.risk.products` register.  Trades are
grouped by product; each group is ONE batched tape evaluation.

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
 ['div/XYZ', 'cross_gamma'], ['time', 'theta'], ['rate/USD', 'rate'],
 ['rate/USD', 'cross_gamma'], ['vol/XYZ', 'vega'], ['vol/XYZ', 'cross_gamma']]
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

import numpy as np
from .._lazy import pandas as pd

from ..market.snapshot import MarketData
from . import products as _products  # noqa: F401  (registers the product engines)
from ._kernels import rows_of, scaled_rows
from .errors import TradeError, errors_frame
from .columns import BookColumns, TradeColumns, vet_book
from .instruments import parse_trade
from .products.equity import (HESTON_PARAMS, MODEL_PRODUCTS, SABR_PARAMS, BarrierOption,
                              DigitalOption, GeometricAsianOption, HestonOption, PayoffKind,
                              SabrOption)
from .registry import (ENGINES, INSTRUMENTS, RATE_LIKE, UNITS, VOL_LIKE, filled,
                       object_array, recode)

__all__ = ["DigitalOption", "BarrierOption", "GeometricAsianOption", "GREEK_PRODUCTS",
           "HestonOption", "HESTON_PARAMS", "SabrOption", "SABR_PARAMS", "MODEL_PRODUCTS",
           "GreekReport", "greek_vectors", "parse_greek_trade", "UNITS", "price_book",
           "PayoffKind", "SECOND_ORDER", "GreekArrays", "greek_arrays",
           "scaled_columns"]

#: product name -> instrument class of every registered engine (a live view)
GREEK_PRODUCTS = INSTRUMENTS
SECOND_ORDER = ("gamma", "cross_gamma")


def parse_greek_trade(raw, position=None):
    """Like :func:`aadrisk.risk.parse_trade` over :data:`GREEK_PRODUCTS`: (trade, errors)."""
    return parse_trade(raw, position, products=GREEK_PRODUCTS)


def price_book(trades, m: MarketData) -> np.ndarray:
    """Unit prices of already validated instruments (value-only evaluation; for revaluation)."""
    out = np.empty(len(trades))
    by = {}
    for i, t in enumerate(trades):
        by.setdefault(t.product_type, []).append(i)
    for product, idx in by.items():
        out[idx] = ENGINES[product].price([trades[i] for i in idx], m)
    return out


def _long(qty, pos, rows) -> dict[str, np.ndarray]:
    """Long Greek rows of one product group as arrays (values scaled by quantity): book
    position, label and greek codes into this group's tables (``_labels``, ``_kinds``),
    value, stderr. The other columns come from the row's trade (:class:`LongRows`)."""
    idx, (lc, labels), (gc, kinds), values, errs = rows.coded()
    at, value, stderr = scaled_rows(idx, pos, qty, values, errs, ordered=True)  # (coded())
    return {"_pos": at, "value": value, "stderr": stderr,
            "label_code": lc, "greek_code": gc, "_labels": labels, "_kinds": kinds,
            "_idx": idx}


def _recode(parts: list, code: str, table: str, into: dict) -> None:
    """Codes of ``parts`` (long rows of product groups) re-pointed into one table
    ``into`` (string -> code), shared by all groups."""
    for p in parts:
        new = recode(p.pop(table), into)
        if (new != np.arange(new.shape[0])).any():      # else the codes stand
            p[code] = new[p[code]]


def _per_trade(x, n: int) -> np.ndarray:
    """One string (broadcast) or one per trade, as an object array."""
    if isinstance(x, str):
        return filled(n, x)
    if isinstance(x, np.ndarray) and x.dtype == object and x.shape == (n,):
        return x                                    # the engine's own per-trade array
    out = np.empty(n, dtype=object)
    out[:] = list(x)
    return out


def _members(trades):
    """(trade ids, quantities) of a product group (instruments or columns)."""
    if isinstance(trades, TradeColumns):
        return trades.trade_id, np.array(trades["quantity"], dtype=float)
    return (_per_trade([t.trade_id for t in trades], len(trades)),
            np.array([t.quantity for t in trades], dtype=float))


def _evaluate(product, pos, trades, market):
    """Prices and long Greek rows of one product's trades (scaled by quantity), as arrays."""
    n = len(trades)
    engine = ENGINES[product]
    ev = engine.evaluate(trades, market)
    ids, qty = _members(trades)
    unit = np.asarray(ev.unit_price, dtype=float)
    se = np.full(n, np.nan) if ev.stderr is None else np.asarray(ev.stderr, float)
    prices = {"_pos": pos, "trade": ids, "product": _per_trade(product, n),
              "model": _per_trade(ev.model or engine.model, n),
              "underlying": _per_trade(ev.underlying, n),
              "currency": _per_trade(ev.currency, n),
              "quantity": qty, "unit_price": unit, "price": qty * unit,
              "stderr": np.abs(qty) * se}
    return prices, _long(qty, pos, ev.rows), _long(qty, pos, ev.zero_rows)


def _one(trades, k):
    """Trade ``k`` of a group, as a group of one."""
    return trades.take([k]) if isinstance(trades, TradeColumns) else [trades[k]]


def _evaluate_safely(product, pos, trades, market, errors):
    """Arrays of the whole group; if the engine fails on it, trade by trade, so that one
    trade the engine cannot handle lands in ``errors`` and never sinks the others."""
    try:
        return [_evaluate(product, pos, trades, market)]
    except Exception as exc:  # noqa: BLE001  (an engine bug must not lose the book)
        if len(trades) == 1:
            tid = _members(trades)[0][0]
            errors.append(exc if isinstance(exc, TradeError) else TradeError(
                tid, "product", product, f"pricing failed: {type(exc).__name__}: {exc}"))
            return []
    out = []
    for k in range(len(trades)):
        out += _evaluate_safely(product, pos[k:k + 1], _one(trades, k), market, errors)
    return out


def _scaled(greeks: pd.DataFrame) -> pd.DataFrame:
    greeks = greeks.copy()
    greeks["unit"] = greeks["greek"].map(UNITS)
    rate_like = greeks["greek"].isin(sorted(RATE_LIKE))
    greeks["value_per_bp"] = np.where(rate_like, greeks["value"] * 1e-4, np.nan)
    greeks["value_per_vol_point"] = np.where(greeks["greek"].isin(sorted(VOL_LIKE)),
                                             greeks["value"] * 1e-2, np.nan)
    return greeks


_GCOLS = ["trade", "product", "underlying", "currency", "label", "greek", "value", "unit",
          "value_per_bp", "value_per_vol_point", "stderr"]
_PCOLS = ["trade", "product", "model", "underlying", "currency", "quantity", "unit_price",
          "price", "stderr"]


@dataclasses.dataclass(frozen=True)
class GreekReport:
    """Prices, labelled Greek vectors and the trades that could not be priced.

    Attributes
    ----------
    prices : DataFrame
        One row per priced trade: trade, product, model, underlying, currency, quantity,
        unit_price, price (= quantity x unit_price, ccy), stderr (Monte Carlo standard
        error of price, ccy; NaN for closed forms).
    greeks : DataFrame (long)
        trade, product, underlying, currency, label, greek (delta, gamma, div, rate, par,
        vega), value (raw derivative x quantity), unit, and the scaled columns
        ``value_per_bp`` (div / rate / par rows: value x 1e-4) and
        ``value_per_vol_point`` (vega rows: value x 1e-2); ``stderr`` of ``value``
        (Monte Carlo; NaN for closed forms).
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


_RAW_GCOLS = ["_pos", "trade", "product", "underlying", "currency", "label", "greek", "value",
              "stderr"]
_STORED_GCOLS = ["_pos", "value", "stderr", "label_code", "greek_code"]
#: long-row columns taken from the row's trade in ``prices``
_TRADE_GCOLS = ("trade", "product", "underlying", "currency")


class LongRows(Mapping):
    """Long Greek rows as columns: the stored ones (``_pos``, ``row``, ``value``,
    ``stderr``, ``label_code``, ``greek_code``), and ``trade``, ``product``,
    ``underlying``, ``currency`` (from the row's trade in ``prices``) and ``label``,
    ``greek`` (from the codes), built on first access."""

    def __init__(self, cols: dict, prices: dict, labels: tuple, kinds: tuple):
        self._cols = dict(cols)
        self._prices = prices
        self._tables = {"label": ("label_code", labels), "greek": ("greek_code", kinds)}

    def __getitem__(self, c):
        got = self._cols.get(c)
        if got is None:
            if c in _TRADE_GCOLS:
                got = self._prices[c][self._cols["row"]]
            elif c in self._tables:
                code, table = self._tables[c]
                got = object_array(table)[self._cols[code]]
            else:
                raise KeyError(c)
            self._cols[c] = got
        return got

    def __iter__(self):
        yield from dict.fromkeys([*self._cols, *_TRADE_GCOLS, *self._tables])

    def __len__(self) -> int:
        return len(list(iter(self)))


def _concat(parts, cols, order_by="_pos") -> dict[str, np.ndarray]:
    """Columns of several groups joined, stably sorted by book position."""
    if not parts:
        return {c: np.zeros(0, dtype=np.int64 if c in ("_pos", "label_code", "greek_code") else
                            float if c in ("value", "stderr", "quantity", "unit_price", "price")
                            else object) for c in cols}
    out = {c: np.concatenate([p[c] for p in parts]) if len(parts) > 1 else p[c]
           for c in cols for p in parts[:1]}
    key = out[order_by]
    if key.shape[0] < 2 or bool((key[1:] >= key[:-1]).all()):
        return out                                  # already in book order (one product)
    order = np.argsort(key, kind="stable")
    return {c: v[order] for c, v in out.items()}


def _keep(cols: dict, mask: np.ndarray) -> dict:
    return {c: v[mask] for c, v in cols.items()}


@dataclasses.dataclass(frozen=True)
class GreekArrays:
    """What :func:`greek_vectors` reports, as NumPy columns (no DataFrames).

    Attributes
    ----------
    valuation_date : datetime.date
    prices : dict of str -> ndarray
        One entry per priced trade in book order: ``_pos`` (position in the book), trade,
        product, model, underlying, currency (object arrays), quantity, unit_price, price,
        stderr (floats; as in :attr:`GreekReport.prices`).
    greeks, zero_greeks : LongRows (a mapping of str -> ndarray)
        Long rows sorted by book position: ``_pos``, trade, product, underlying, currency,
        label, greek, value (raw derivative x quantity), stderr, and ``row``: the index of
        the row's trade in ``prices``.  The unit and scaled columns are derived by
        :func:`scaled_columns`. Also ``label_code`` and ``greek_code``: each row's label
        and greek as indexes into :attr:`labels` and :attr:`kinds`. The string columns
        are built on first access (a caller that needs only the codes never pays for
        them).
    errors : tuple of TradeError
    labels, kinds : tuple of str
        The distinct labels and greek kinds of both row sets (what the codes index).
    """

    valuation_date: dt.date
    prices: dict
    greeks: dict
    zero_greeks: dict
    errors: tuple = ()
    #: whether any product group was evaluated (an empty report keeps untyped columns)
    evaluated: bool = False
    labels: tuple = ()
    kinds: tuple = ()

    def report(self) -> "GreekReport":
        """The same content as a :class:`GreekReport` (pandas DataFrames)."""
        if not self.evaluated:
            return GreekReport(self.valuation_date, pd.DataFrame(columns=_PCOLS),
                               pd.DataFrame(columns=_GCOLS),
                               pd.DataFrame(columns=_GCOLS), self.errors)
        prices = pd.DataFrame({c: self.prices[c] for c in _PCOLS})
        greeks = _scaled(pd.DataFrame({c: self.greeks[c] for c in _RAW_GCOLS[1:]}))
        zeros = _scaled(pd.DataFrame({c: self.zero_greeks[c] for c in _RAW_GCOLS[1:]}))
        return GreekReport(self.valuation_date, prices[_PCOLS], greeks[_GCOLS],
                           zeros.reindex(columns=_GCOLS), self.errors)


def scaled_columns(kinds) -> tuple[list, np.ndarray, np.ndarray]:
    """(unit, value_per_bp factor, value_per_vol_point factor) of greek kinds: the unit of
    each kind (None if unknown) and 1e-4 / 1e-2 where the scaled column applies, NaN
    elsewhere (multiply by ``value``)."""
    kinds = list(kinds)
    return ([UNITS.get(k) for k in kinds],
            np.array([1e-4 if k in RATE_LIKE else np.nan for k in kinds], dtype=float),
            np.array([1e-2 if k in VOL_LIKE else np.nan for k in kinds], dtype=float))


def _parse_one(item, pos, errs_at):
    """The instrument of a book item the vetting left to the parser, if it parses to a
    product with an engine; else None with its errors in ``errs_at[pos]``."""
    if isinstance(item, Mapping) or not hasattr(item, "product_type"):
        trade, errs = parse_greek_trade(item, pos)
        if errs:
            errs_at[pos] = errs
            return None
    else:
        trade = item
    if trade.product_type not in ENGINES:
        errs_at[pos] = [TradeError(trade.trade_id, "product", trade.product_type,
                                   f"no Greek-vector pricer; known: {sorted(ENGINES)}")]
        return None
    return trade


def _first_ids(pos: np.ndarray, ids: list, errs_at: dict) -> np.ndarray:
    """Mask of the trades whose id has not come earlier in the book (``pos`` order); the
    others get the duplicate-id error."""
    keep = np.ones(len(pos), dtype=bool)
    if len(set(ids)) == len(ids):
        return keep
    order = np.argsort(pos, kind="stable")
    seen = set()
    for k in order.tolist():
        tid = ids[k]
        if tid in seen:
            errs_at[int(pos[k])] = [TradeError(tid, "trade_id", tid,
                                               "duplicate trade id in the book")]
            keep[k] = False
        else:
            seen.add(tid)
    return keep


def _screen(book, market) -> tuple[list, list]:
    """The per-trade checks of :func:`greek_arrays` (parsing, known engine, unique id,
    market data): (product groups ``(product, positions, trades)`` in order of first
    appearance, errors in book order).  Engines that declare ``columnar`` get their
    trades as :class:`TradeColumns` (mappings vetted column by column, see
    :func:`aadrisk.risk.columns.vet_book`); the others lists of instruments."""
    columnar = {p for p, e in ENGINES.items() if e.columnar and e.check_columns is not None}
    fast, slow = vet_book(book, GREEK_PRODUCTS, columnar)
    errs_at: dict[int, list] = {}
    item = book.mapping if isinstance(book, BookColumns) else book.__getitem__
    parsed = [(p, t) for p in slow if (t := _parse_one(item(p), p, errs_at)) is not None]
    # duplicate ids, in book order over vetted and parsed trades
    prods = list(fast)
    pos = np.concatenate([fast[p][0] for p in prods] +
                         [np.array([p for p, _ in parsed], dtype=np.int64)])
    ids = [x for p in prods for x in fast[p][1].trade_id.tolist()] if len(prods) != 1 else \
        fast[prods[0]][1].trade_id.tolist()
    ids += [t.trade_id for _, t in parsed]
    keep = _first_ids(pos, ids, errs_at)
    members: dict[str, list] = {}       # product -> [(positions, TradeColumns or trades)]
    at = 0
    for p in prods:
        ppos, cols = fast[p]
        ok = keep[at:at + len(ppos)].copy()
        at += len(ppos)
        for k, exc in ENGINES[p].check_columns(cols, market):
            if ok[k]:
                errs_at[int(ppos[k])] = [exc]
                ok[k] = False
        if ok.any():
            members.setdefault(p, []).append((ppos[ok], cols.take(ok) if not ok.all()
                                              else cols))
    for (p, t), k in zip(parsed, keep[at:].tolist()):
        if not k:
            continue
        try:
            ENGINES[t.product_type].check(t, market)
        except TradeError as exc:
            errs_at[p] = [exc]
            continue
        members.setdefault(t.product_type, []).append((np.array([p], dtype=np.int64), [t]))
    errors = [e for p in sorted(errs_at) for e in errs_at[p]]
    first = {p: min(int(x[0][0]) for x in parts) for p, parts in members.items()}
    return [_group(p, members[p]) for p in sorted(members, key=first.__getitem__)], errors


def _group(product: str, parts: list) -> tuple:
    """(product, positions, trades) of one product's checked trades, in book order."""
    pos = np.concatenate([p for p, _ in parts])
    order = np.argsort(pos, kind="stable")
    if ENGINES[product].columnar:
        cls = GREEK_PRODUCTS[product]
        cols = [c if isinstance(c, TradeColumns) else TradeColumns.from_instruments(c, cls)
                for _, c in parts]
        trades = TradeColumns.concat(cols)
        if len(parts) > 1:
            trades = trades.take(order)
    else:
        flat = [t for _, c in parts for t in c]
        trades = [flat[k] for k in order.tolist()]
    return product, pos[order], trades


def greek_arrays(book: Iterable[object], market: MarketData | Mapping) -> GreekArrays:
    """:func:`greek_vectors` without DataFrames: the report's columns as NumPy arrays.

    Same parameters, trades, rows, order and errors as :func:`greek_vectors` (which is
    ``greek_arrays(book, market).report()``); for callers that turn the result into
    something else (the HTTP service encodes it to JSON directly).  Trades of columnar
    engines (the equity options) are validated and evaluated as columns.  ``book`` may
    also be a :class:`aadrisk.risk.columns.BookColumns` (mappings held as columns, e.g.
    as a JSON reader checked them): the same result, without a dict per trade.
    """
    if not isinstance(market, MarketData):
        market = MarketData.from_mapping(market)
    book = book if isinstance(book, (list, BookColumns)) else list(book)
    groups, errors = _screen(book, market)
    P, G, Z = [], [], []
    for product, pos, trades in groups:
        for frames in _evaluate_safely(product, pos, trades, market, errors):
            P.append(frames[0])
            G.append(frames[1])
            Z.append(frames[2])
    labels, kinds = {}, {}
    _recode(G + Z, "label_code", "_labels", labels)
    _recode(G + Z, "greek_code", "_kinds", kinds)
    prices = _concat(P, ["_pos", *_PCOLS])
    greeks = _concat(G, _STORED_GCOLS)
    zeros = _concat(Z, _STORED_GCOLS)
    if P:
        bad = ~np.isfinite(prices["price"])
        bad_pos = set(prices["_pos"][bad].tolist())
        finite = np.isfinite(greeks["value"])
        if not finite.all():
            bad_pos |= set(greeks["_pos"][~finite].tolist())
        if bad_pos:
            ids_at = dict(zip(prices["_pos"].tolist(), prices["trade"].tolist()))
            bad_ids = {ids_at[p] for p in bad_pos}
            valid = sorted((int(p), t) for _, pos, trades in groups
                           for p, t in zip(pos.tolist(), _members(trades)[0].tolist()))
            for _, tid in valid:
                if tid in bad_ids:
                    errors.append(TradeError(tid, "price", None, "pricing gave a non-finite "
                                             "price or Greek (inputs out of the model's "
                                             "range?)"))
            drop = np.array(sorted(bad_pos), dtype=np.int64)
            prices, greeks, zeros = (_keep(c, ~np.isin(c["_pos"], drop))
                                     for c in (prices, greeks, zeros))
    for g, parts in ((greeks, G), (zeros, Z)):
        if len(P) == 1 and prices["_pos"] is P[0]["_pos"] and g["_pos"] is parts[0]["_pos"]:
            g["row"] = parts[0]["_idx"]     # one group, as evaluated: its rows' trade indexes
        else:
            g["row"] = rows_of(prices["_pos"], g["_pos"])
    labels, kinds = tuple(labels), tuple(kinds)
    greeks, zeros = (LongRows(g, prices, labels, kinds) for g in (greeks, zeros))
    return GreekArrays(market.valuation_date, prices, greeks, zeros, tuple(errors), bool(P),
                       labels, kinds)


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
    return greek_arrays(book, market).report()
