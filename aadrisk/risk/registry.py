"""Product engines: how each product of a book is validated, priced and risked.

An engine is a frozen record of functions for one ``product`` name of a book:

* ``instrument``: the frozen dataclass a trade is parsed into
  (:func:`aadrisk.risk.instruments.parse_trade` with :data:`INSTRUMENTS`);
* ``check(trade, market)``: raise :class:`~aadrisk.risk.errors.TradeError`
  when the market lacks (or has bad) data the trade needs;
* ``evaluate(trades, market)``: ONE batched evaluation of all trades of the
  product: an :class:`Evaluation` with unit prices (and standard errors for
  Monte Carlo) and the long rows (trade index, label, greek, unit value);
* ``price(trades, market)``: unit prices only (revaluation in scenarios and
  P&L explain).

:func:`aadrisk.risk.greeks.greek_vectors` groups a book by product, calls the
engines, scales by quantity and assembles the report. New products plug in
with :func:`register_engine` (the equity, Monte Carlo and rates products of
:mod:`aadrisk.risk.products` do).

Examples
--------
>>> rows = Rows()
>>> rows.add([0, 1], "spot/X", "delta", [0.5, 0.25])
>>> rows.add([0], ["vol/X"], "vega", [40.0])
>>> idx, labels, greeks, values, _ = rows.arrays()
>>> idx.tolist(), labels.tolist(), greeks.tolist()
([0, 0, 1], ['spot/X', 'vol/X', 'spot/X'], ['delta', 'vega', 'delta'])
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = ["ProductEngine", "Evaluation", "Rows", "ENGINES", "INSTRUMENTS", "UNITS",
           "register_engine", "filled", "factorize", "recode", "object_array"]

#: greek kind -> unit of the raw value (quantity-scaled). Engines add their own kinds.
UNITS: dict[str, str] = {
    "delta": "ccy per 1 ccy of spot",
    "gamma": "ccy per (1 ccy of spot)^2",
    "div": "ccy per 1.00 div yield",
    "rate": "ccy per 1.00 rate",
    "par": "ccy per 1.00 par rate",
    "zero": "ccy per 1.00 zero rate",
    "vega": "ccy per 1.00 vol",
    "cross_gamma": "ccy per 1 ccy of spot per 1.00 of the label's input",
    "model": "ccy per 1.00 of the model parameter",
    "theta": "ccy per year of calendar time (dV/dt, valuation date moving forward)",
}
#: greek kinds shown per bp (x 1e-4) and per vol point (x 1e-2) in the scaled columns
RATE_LIKE = {"div", "rate", "par", "zero"}
VOL_LIKE = {"vega"}


def filled(n: int, value) -> np.ndarray:
    """An object array of ``n`` references to ``value`` (what ``np.full(n, value,
    dtype=object)`` gives, an order of magnitude faster for large ``n``)."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def _per_row(value, n: int) -> np.ndarray:
    """``value`` as ``n`` floats (one number broadcast, or one per row)."""
    val = np.asarray(value, dtype=float)
    return val if val.shape == (n,) else np.broadcast_to(val, (n,)).ravel()


def factorize(values) -> tuple[np.ndarray, list]:
    """(codes, distinct values in order of first appearance) of a sequence of hashables.

    Examples
    --------
    >>> codes, uniq = factorize(["b", "a", "b"])
    >>> codes.tolist(), uniq
    ([0, 1, 0], ['b', 'a'])
    """
    index = dict.fromkeys(values)
    for k, x in enumerate(index):
        index[x] = k
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))
    return codes, list(index)


def recode(table: Sequence[str], into: dict) -> np.ndarray:
    """Where each string of ``table`` is in the shared table ``into`` (string -> code;
    new strings are added): index it with codes into ``table`` to re-point them."""
    n0, n = len(into), len(table)
    if into.keys().isdisjoint(table):               # all new (e.g. the first table)
        into.update(zip(table, range(n0, n0 + n)))
        if len(into) == n0 + n:                     # and distinct: codes in order
            return np.arange(n0, n0 + n, dtype=np.int64)
        for v in table:                             # repeated strings: as below
            into.pop(v, None)
    return np.fromiter((into.setdefault(v, len(into)) for v in table), dtype=np.int64,
                       count=n)


def object_array(strings: Sequence) -> np.ndarray:
    """``strings`` as a 1-d object array (no nested-sequence guessing)."""
    out = np.empty(len(strings), dtype=object)
    out[:] = list(strings)
    return out


def _coded(x, n: int) -> tuple[np.ndarray, list]:
    """One string (broadcast) or ``n`` strings as (codes, distinct strings)."""
    if isinstance(x, str):
        return np.zeros(n, dtype=np.int64), [x]
    return factorize(np.asarray(x, dtype=object).ravel().tolist())


def _merged(parts: list) -> tuple[np.ndarray, list]:
    """Several (codes, table) as codes into one table of distinct strings."""
    if len(parts) == 1:
        return parts[0]
    table: dict = {}
    codes = [recode(t, table)[c] for c, t in parts]
    return np.concatenate(codes), list(table)


class Rows:
    """Long Greek rows collected as arrays: (trade index, label, greek, value[, stderr]).

    Labels and greek kinds are kept as codes into small tables of distinct strings
    (:meth:`coded`); :meth:`arrays` gives them as object arrays of strings.
    """

    def __init__(self):
        self._parts = []
        #: the one part is known to be in trade order (see :meth:`add_coded`)
        self._ordered = False

    def _append(self, idx, lab, grk, value, stderr, ordered=False) -> None:
        n = idx.shape[0]
        val = _per_row(value, n)
        err = np.full(n, np.nan) if stderr is None else _per_row(stderr, n)
        self._ordered = ordered and not self._parts
        self._parts.append((idx, lab, grk, val, err))

    def add(self, idx, label, greek, value, stderr=None) -> None:
        """Append rows; ``label`` / ``greek`` are one string or one per row."""
        idx = np.asarray(idx, dtype=np.int64).ravel()
        n = idx.shape[0]
        if n == 0:
            return
        self._append(idx, _coded(label, n), _coded(greek, n), value, stderr)

    def add_codes(self, idx, codes, labels, greek, value, stderr=None) -> None:
        """Append rows whose labels are ``labels[codes[k]]`` (``labels``: distinct
        strings); ``greek`` is one string."""
        idx = np.asarray(idx, dtype=np.int64).ravel()
        if idx.shape[0] == 0:
            return
        self._append(idx, (np.asarray(codes, dtype=np.int64).ravel(), list(labels)),
                     _coded(greek, idx.shape[0]), value, stderr)

    def add_coded(self, idx, labels, greeks, values, stderr=None, ordered=False) -> None:
        """Append rows given as codes: ``labels`` and ``greeks`` are ``(codes, table)`` with
        ``table`` a list of distinct strings (what :meth:`coded` returns); ``ordered``: the
        caller guarantees ``idx`` non-decreasing (:meth:`coded` then does not check it)."""
        idx = np.asarray(idx, dtype=np.int64).ravel()
        if idx.shape[0] == 0:
            return
        self._append(idx, (np.asarray(labels[0], dtype=np.int64), list(labels[1])),
                     (np.asarray(greeks[0], dtype=np.int64), list(greeks[1])), values, stderr,
                     ordered)

    def add_matrix(self, idx, labels, greek, values, mask=None, stderr=None) -> None:
        """Rows from a (trades x labels) matrix; ``mask`` keeps only the True cells."""
        values = np.asarray(values, dtype=float)
        idx = np.asarray(idx, dtype=np.int64)
        keep = np.ones(values.shape, dtype=bool) if mask is None else mask
        r, c = np.nonzero(keep)
        if r.shape[0] == 0:
            return
        labels = list(labels)
        if len(set(labels)) < len(labels):         # codes must point at distinct strings
            lab = _coded(np.asarray(labels, dtype=object)[c], r.shape[0])
        else:
            lab = (c.astype(np.int64), labels)
        self._append(idx[r], lab, _coded(greek, r.shape[0]), values[r, c],
                     None if stderr is None else np.asarray(stderr, dtype=float)[r, c])

    def coded(self):
        """(idx, (label codes, labels), (greek codes, greeks), values, stderrs), stably
        sorted by trade index; the tables hold distinct strings."""
        if not self._parts:
            e = np.zeros(0)
            z = e.astype(np.int64)
            return z, (z, []), (z, []), e, e
        if len(self._parts) == 1:                   # one part already in trade order
            idx, lab, grk, val, err = self._parts[0]
            if self._ordered or idx.shape[0] < 2 or bool((idx[1:] >= idx[:-1]).all()):
                return idx, lab, grk, val, err
        idx = np.concatenate([p[0] for p in self._parts])
        order = np.argsort(idx, kind="stable")
        lab, grk = (_merged([p[k] for p in self._parts]) for k in (1, 2))
        val, err = (np.concatenate([p[k] for p in self._parts])[order] for k in (3, 4))
        return idx[order], (lab[0][order], lab[1]), (grk[0][order], grk[1]), val, err

    def arrays(self):
        """(idx, labels, greeks, values, stderrs), stably sorted by trade index."""
        idx, (lc, lt), (gc, gt), val, err = self.coded()
        return idx, object_array(lt)[lc], object_array(gt)[gc], val, err


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What an engine returns for its trades (values per UNIT of the trade, not scaled).

    ``underlying`` / ``currency``: one string per trade (for reports and aggregation).
    ``stderr``: Monte Carlo standard error of the unit price (NaN for closed forms).
    ``rows`` / ``zero_rows``: :class:`Rows` of first and second order Greeks, and of
    zero-rate (pillar) sensitivities.
    """

    unit_price: np.ndarray
    underlying: Sequence[str]
    currency: Sequence[str]
    rows: Rows
    zero_rows: Rows = dataclasses.field(default_factory=Rows)
    stderr: np.ndarray | None = None
    model: str | Sequence[str] | None = None


@dataclasses.dataclass(frozen=True)
class ProductEngine:
    """Functions pricing one product (see the module notes)."""

    product: str
    instrument: type
    model: str
    check: Callable
    evaluate: Callable
    price: Callable
    units: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: ``evaluate`` and ``price`` also take :class:`aadrisk.risk.columns.TradeColumns`,
    #: and ``check_columns(columns, market)`` returns ``[(index, TradeError), ...]`` for
    #: the trades ``check`` would refuse (in index order): the book's columnar path
    columnar: bool = False
    check_columns: Callable | None = None


#: product name -> engine
ENGINES: dict[str, ProductEngine] = {}
#: product name -> instrument class (the registry :func:`parse_trade` reads)
INSTRUMENTS: dict[str, type] = {}


def register_engine(engine: ProductEngine) -> ProductEngine:
    """Register ``engine`` under its product name (and its greek kinds' units)."""
    ENGINES[engine.product] = engine
    INSTRUMENTS[engine.product] = engine.instrument
    UNITS.update(engine.units)
    return engine
