"""Risk of a book: price and Greeks of every trade from one AAD evaluation per product type.

Greek definitions (per trade, already multiplied by the trade's quantity):

=========  ==================  =============================================
column     definition          unit
=========  ==================  =============================================
price      V                   currency
delta      dV/dS               units of underlying (currency per currency of S)
gamma      d2V/dS2             units of underlying per currency of S
vega       dV/dvol             currency per 1.00 (100 %) of volatility
theta      -dV/dT              currency per year (T = time to expiry, Act/365F)
rho        dV/dr               currency per 1.00 (10 000 bp) of rate
=========  ==================  =============================================

These are raw derivatives.  Report columns that carry their unit in their
name are scaled: ``vega_per_vol_point`` = vega / 100, ``theta_per_day`` =
theta / 365, ``rho_per_bp`` = rho / 10 000.

All trades of a product type are priced by a single forward-over-reverse
sweep (:meth:`aadrisk.Program.hvp` along ``{"spot": 1}``), which gives the
value, every first derivative and gamma at once.

Examples
--------
>>> import datetime as dt
>>> from aadrisk.risk import EuropeanOption, MarketSnapshot, compute_risk
>>> mkt = MarketSnapshot.from_mapping({"valuation_date": "2023-01-01", "rate": 0.05,
...     "underlyings": {"XYZ": {"spot": 100.0, "vol": 0.2}}})
>>> book = [EuropeanOption("C1", "XYZ", "call", 100.0, dt.date(2024, 1, 1), quantity=2),
...         {"trade_id": "BAD", "underlying": "XYZ", "option_type": "call",
...          "strike": -1, "expiry": "2024-01-01", "quantity": 1}]
>>> report = compute_risk(book, mkt)   # T = 365 days = 1 year; 2 x the textbook 10.4506
>>> report.trades[["trade_id", "price", "delta", "gamma"]].round(6).to_dict("records")
[{'trade_id': 'C1', 'price': 20.901167, 'delta': 1.273661, 'gamma': 0.037524}]
>>> [str(e) for e in report.errors]
["trade 'BAD': field 'strike' = -1: must be a positive number"]
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Mapping

import numpy as np
from .._lazy import pandas as pd

from .errors import TradeError, errors_frame
from .instruments import parse_trade
from .market import DAYS_PER_YEAR, MarketSnapshot
from .pricers import RISK_FACTORS, pricer_for

#: Raw Greek columns (quantity-scaled derivatives), in report order.
GREEKS = ("price", "delta", "gamma", "vega", "theta", "rho")

#: Scaled report column -> (raw column, divisor).
SCALED = {
    "vega_per_vol_point": ("vega", 100.0),
    "theta_per_day": ("theta", DAYS_PER_YEAR),
    "rho_per_bp": ("rho", 10_000.0),
}

#: Column -> unit, for report headers and documentation.
UNITS = {
    "price": "ccy",
    "delta": "dV/dS",
    "gamma": "d2V/dS2",
    "vega": "ccy per 1.00 vol",
    "theta": "ccy/year",
    "rho": "ccy per 1.00 rate",
    "vega_per_vol_point": "ccy/vol pt",
    "theta_per_day": "ccy/day",
    "rho_per_bp": "ccy/bp",
}

#: Columns summed in totals.
SUMMED = GREEKS + tuple(SCALED)


@dataclasses.dataclass(frozen=True)
class RiskReport:
    """Per-trade risk, totals and the trades that could not be priced.

    Attributes
    ----------
    valuation_date : datetime.date
    trades : pandas.DataFrame
        One row per priced trade, in book order: the trade's fields, the market
        inputs used (``spot``, ``vol``, ``div_yield``, ``rate``,
        ``years_to_expiry``), ``unit_price`` (one unit of underlying) and the
        quantity-scaled :data:`GREEKS` and :data:`SCALED` columns.
    errors : tuple of TradeError
        One entry per problem found; a trade with errors is not priced.
    """

    valuation_date: dt.date
    trades: pd.DataFrame
    errors: tuple[TradeError, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every trade was priced."""
        return not self.errors

    @property
    def errors_frame(self) -> pd.DataFrame:
        """The errors as a DataFrame with columns trade_id, field, value, message."""
        return errors_frame(self.errors)

    @property
    def failed_trade_ids(self) -> list[str]:
        """Distinct ids of the trades that were not priced, in order of first error."""
        return list(dict.fromkeys(e.trade_id for e in self.errors))

    @property
    def by_underlying(self) -> pd.DataFrame:
        """Sums of :data:`SUMMED` per (underlying, currency), with the trade count."""
        t = self.trades
        if t.empty:
            return pd.DataFrame(columns=["underlying", "currency", "n_trades", *SUMMED])
        g = t.groupby(["underlying", "currency"], sort=True, dropna=False)
        out = g[list(SUMMED)].sum()
        out.insert(0, "n_trades", g.size())
        return out.reset_index()

    @property
    def totals(self) -> pd.DataFrame:
        """Sums of :data:`SUMMED` per currency (index), with the trade count.

        ``delta`` and ``gamma`` are summed only when the currency has a single
        underlying (deltas of different underlyings do not add up); otherwise
        NaN -- see :attr:`by_underlying`.
        """
        t = self.trades
        if t.empty:
            return pd.DataFrame(columns=["n_trades", *SUMMED]).rename_axis("currency")
        g = t.groupby("currency", sort=True, dropna=False)
        out = g[list(SUMMED)].sum()
        mixed = g["underlying"].nunique() > 1
        out.loc[mixed, ["delta", "gamma"]] = np.nan
        out.insert(0, "n_trades", g.size())
        return out

    def raise_for_errors(self) -> None:
        """Raise the first :class:`TradeError` if any trade failed."""
        if self.errors:
            raise self.errors[0]


def compute_risk(book: Iterable[object], market: MarketSnapshot) -> RiskReport:
    """Price ``book`` in ``market`` and compute its Greeks; bad trades are reported, not fatal.

    Parameters
    ----------
    book : iterable of instruments or mappings
        Instruments (e.g. :class:`~aadrisk.risk.EuropeanOption`) or JSON-like
        mappings parsed with :func:`~aadrisk.risk.parse_trade`.
    market : MarketSnapshot

    Returns
    -------
    RiskReport
        ``trades`` holds every trade that passed validation (in book order);
        every problem (bad field, unknown underlying, expired trade, duplicate
        trade id, non-finite result) is in ``errors``, naming the trade, the
        field and the value.
    """
    errors: list[TradeError] = []
    valid: list[tuple[int, object]] = []
    seen: set[str] = set()
    for pos, item in enumerate(book):
        if isinstance(item, Mapping) or not hasattr(item, "product_type"):
            trade, errs = parse_trade(item, pos)
            if errs:
                errors += errs
                continue
        else:
            trade = item
        if trade.trade_id in seen:
            errors.append(TradeError(trade.trade_id, "trade_id", trade.trade_id,
                                     "duplicate trade id in the book"))
            continue
        seen.add(trade.trade_id)
        try:
            pricer = pricer_for(trade)
        except (KeyError, AttributeError):
            errors.append(TradeError(trade.trade_id, "product",
                                     getattr(trade, "product_type", type(trade).__name__),
                                     "no pricer registered for this product"))
            continue
        try:
            pricer.check(trade, market)
        except TradeError as exc:
            errors.append(exc)
            continue
        valid.append((pos, trade))

    groups: dict[int, list] = {}
    for pos, trade in valid:
        groups.setdefault(id(pricer_for(trade)), []).append((pos, trade))
    frames = []
    for members in groups.values():
        trades = [t for _, t in members]
        frame = _evaluate(pricer_for(trades[0]), trades, market)
        frame.insert(0, "_pos", [p for p, _ in members])
        frames.append(frame)

    if frames:
        table = pd.concat(frames, ignore_index=True).sort_values("_pos", kind="stable")
        table = table.drop(columns="_pos").reset_index(drop=True)
        bad = ~np.isfinite(table[list(GREEKS)].to_numpy(dtype=float)).all(axis=1)
        for _, row in table[bad].iterrows():
            col = next(c for c in GREEKS if not np.isfinite(row[c]))
            errors.append(TradeError(row["trade_id"], col, row[col],
                                     "pricing gave a non-finite result (inputs out of the "
                                     "model's range?)"))
        table = table[~bad].reset_index(drop=True)
    else:
        table = _empty_table()
    return RiskReport(valuation_date=market.valuation_date, trades=table, errors=tuple(errors))


def _evaluate(pricer, trades: list, market: MarketSnapshot) -> pd.DataFrame:
    """One batched forward-over-reverse evaluation of ``pricer`` over ``trades``."""
    inputs = pricer.inputs(trades, market)
    res = pricer.program().hvp(inputs, {"spot": 1.0}, wrt=list(RISK_FACTORS))
    qty = np.array([t.quantity for t in trades], dtype=float)
    unit = {
        "price": np.asarray(res.value, dtype=float),
        "delta": res.grad["spot"],
        "gamma": res.hvp["spot"],
        "vega": res.grad["vol"],
        "theta": -res.grad["expiry"],
        "rho": res.grad["rate"],
    }
    rows = []
    for t in trades:
        d = {"trade_id": t.trade_id, "product": t.product_type, "model": pricer.model,
             "currency": market.currency_of(t.underlying)}
        for f in dataclasses.fields(t):
            if f.name != "trade_id":
                val = getattr(t, f.name)
                d[f.name] = val.value if isinstance(val, enum.Enum) else val
        rows.append(d)
    frame = pd.DataFrame(rows)
    for name, col in pricer.input_columns.items():
        frame[col] = inputs[name]
    frame["unit_price"] = unit["price"]
    for g in GREEKS:
        frame[g] = qty * unit[g]
    for col, (raw, div) in SCALED.items():
        frame[col] = frame[raw] / div
    return frame


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame(columns=["trade_id", "product", "model", "currency", "underlying",
                                 "unit_price", *SUMMED])
