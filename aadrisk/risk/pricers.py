"""Pricer registry: product type -> how to build its inputs and which program prices it.

A pricer turns a list of instruments of one product type plus a
:class:`~aadrisk.risk.market.MarketSnapshot` into the input arrays of one
recorded :class:`aadrisk.Program`; the engine (:mod:`aadrisk.risk.engine`)
evaluates that program once over all those trades.  To add a product or a
model: write an instrument class (:mod:`aadrisk.risk.instruments`), a pricer
following :class:`Pricer`, and call :func:`register_pricer`.

Every program must name its risk-factor inputs ``spot``, ``vol``, ``expiry``
(years) and ``rate``: the engine reads delta, gamma, vega, theta and rho from
their derivatives.

Examples
--------
>>> bsm_program() is bsm_program()   # recorded once per process
True
>>> sorted(PRICERS)
['european_option']
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .. import tape
from ..models.black_scholes import bsm_price
from .errors import TradeError
from .instruments import EuropeanOption
from .market import MarketSnapshot, year_fraction

#: Program inputs the engine differentiates: spot (delta, gamma), vol (vega),
#: expiry in years (theta = -dV/dT) and rate (rho).
RISK_FACTORS = ("spot", "vol", "expiry", "rate")


@runtime_checkable
class Pricer(Protocol):
    """What the engine needs from a pricer of one product type.

    Attributes
    ----------
    model : str
        Short model name shown in reports (``"bsm"``).
    input_columns : mapping of str to str
        Program input name -> report column name for the market inputs worth
        showing per trade (``{"expiry": "years_to_expiry", ...}``).
    """

    model: str
    input_columns: Mapping[str, str]

    def program(self) -> tape.Program:
        """The recorded pricing program (cache it: record once per process)."""

    def check(self, trade, market: MarketSnapshot) -> None:
        """Raise :class:`TradeError` if ``trade`` cannot be priced in ``market``."""

    def inputs(self, trades: Sequence, market: MarketSnapshot) -> dict[str, np.ndarray]:
        """Per-trade input arrays (one element per trade) for :meth:`program`."""


@functools.lru_cache(maxsize=None)
def bsm_program() -> tape.Program:
    """:func:`aadrisk.models.bsm_price` recorded once (cached for the process)."""
    return tape.record(bsm_price, name="bsm_price")


class BsmEuropeanPricer:
    """Black-Scholes-Merton pricer of :class:`EuropeanOption` (flat vol, rate, dividend yield)."""

    model = "bsm"
    input_columns = {"spot": "spot", "vol": "vol", "div": "div_yield", "rate": "rate",
                     "expiry": "years_to_expiry"}

    def program(self) -> tape.Program:
        return bsm_program()

    def check(self, trade: EuropeanOption, market: MarketSnapshot) -> None:
        if trade.underlying not in market.underlyings:
            raise TradeError(trade.trade_id, "underlying", trade.underlying,
                             f"not in the market snapshot (has {sorted(market.underlyings)})")
        if trade.expiry < market.valuation_date:
            raise TradeError(trade.trade_id, "expiry", trade.expiry.isoformat(),
                             f"is before the valuation date "
                             f"{market.valuation_date.isoformat()} (expired)")
        if trade.expiry == market.valuation_date:
            raise TradeError(trade.trade_id, "expiry", trade.expiry.isoformat(),
                             "is the valuation date: no time to expiry left "
                             "(expiring options are not priced)")

    def inputs(self, trades: Sequence[EuropeanOption],
               market: MarketSnapshot) -> dict[str, np.ndarray]:
        quotes = [market.quote(t.underlying) for t in trades]
        return {
            "spot": np.array([q.spot for q in quotes]),
            "strike": np.array([t.strike for t in trades]),
            "expiry": np.array([year_fraction(market.valuation_date, t.expiry) for t in trades]),
            "vol": np.array([q.vol for q in quotes]),
            "rate": np.array([market.rate_for(t.underlying) for t in trades]),
            "div": np.array([q.div_yield for q in quotes]),
            "is_call": np.array([1.0 if t.is_call else 0.0 for t in trades]),
        }


#: Product type -> pricer.  Extend with :func:`register_pricer`.
PRICERS: dict[str, Pricer] = {EuropeanOption.product_type: BsmEuropeanPricer()}


def register_pricer(product_type: str, pricer: Pricer) -> None:
    """Use ``pricer`` for instruments whose ``product_type`` is ``product_type``."""
    if not isinstance(pricer, Pricer):
        raise TypeError(f"{pricer!r} does not implement the Pricer protocol")
    PRICERS[product_type] = pricer


def pricer_for(trade) -> Pricer:
    """The registered pricer of ``trade``'s product type (``KeyError`` if none)."""
    return PRICERS[trade.product_type]
