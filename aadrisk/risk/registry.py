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
           "register_engine", "filled"]

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


class Rows:
    """Long Greek rows collected as arrays: (trade index, label, greek, value[, stderr])."""

    def __init__(self):
        self._parts = []

    def add(self, idx, label, greek, value, stderr=None) -> None:
        """Append rows; ``label`` / ``greek`` are one string or one per row."""
        idx = np.asarray(idx, dtype=np.int64).ravel()
        n = idx.shape[0]
        if n == 0:
            return
        lab = filled(n, label) if isinstance(label, str) \
            else np.asarray(label, dtype=object).ravel()
        grk = filled(n, greek) if isinstance(greek, str) \
            else np.asarray(greek, dtype=object).ravel()
        val = _per_row(value, n)
        err = np.full(n, np.nan) if stderr is None else _per_row(stderr, n)
        self._parts.append((idx, lab, grk, val, err))

    def add_matrix(self, idx, labels, greek, values, mask=None, stderr=None) -> None:
        """Rows from a (trades x labels) matrix; ``mask`` keeps only the True cells."""
        values = np.asarray(values, dtype=float)
        idx = np.asarray(idx, dtype=np.int64)
        keep = np.ones(values.shape, dtype=bool) if mask is None else mask
        r, c = np.nonzero(keep)
        self.add(idx[r], np.asarray(labels, dtype=object)[c], greek, values[r, c],
                 None if stderr is None else np.asarray(stderr, dtype=float)[r, c])

    def arrays(self):
        """(idx, labels, greeks, values, stderrs), stably sorted by trade index."""
        if not self._parts:
            e = np.zeros(0)
            return (e.astype(np.int64), e.astype(object), e.astype(object), e, e)
        cols = [np.concatenate(c) for c in zip(*self._parts)]
        order = np.argsort(cols[0], kind="stable")
        return tuple(c[order] for c in cols)


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
