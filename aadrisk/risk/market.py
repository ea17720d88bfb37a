"""Market snapshot: valuation date, per-underlying quotes and flat rates; Act/365F.

Examples
--------
>>> import datetime as dt
>>> mkt = MarketSnapshot.from_mapping({
...     "valuation_date": "2024-06-28",
...     "rates": {"USD": 0.05},
...     "underlyings": {"SPX": {"spot": 5460.0, "vol": 0.14, "div_yield": 0.013,
...                             "currency": "USD"}}})
>>> mkt.quote("SPX").spot, mkt.rate_for("SPX")
(5460.0, 0.05)
>>> year_fraction(dt.date(2024, 6, 28), dt.date(2025, 6, 28))
1.0
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import types
from collections.abc import Mapping

from . import _validate as v
from .errors import MarketError

#: Days per year of the Act/365 Fixed day count.
DAYS_PER_YEAR = 365.0


def year_fraction(start: dt.date, end: dt.date) -> float:
    """Act/365 Fixed year fraction from ``start`` to ``end`` (negative if ``end`` is earlier)."""
    return (end - start).days / DAYS_PER_YEAR


@dataclasses.dataclass(frozen=True)
class UnderlyingQuote:
    """Market data of one underlying.

    Parameters
    ----------
    spot : float
        Spot price in ``currency`` per unit (> 0).
    vol : float
        Flat lognormal (Black) volatility per sqrt(year), 0.2 = 20 % (> 0).
    div_yield : float
        Continuously compounded dividend (or repo / carry) yield per year.
    currency : str, optional
        Currency of the underlying; selects its rate in :attr:`MarketSnapshot.rates`.
    """

    spot: float
    vol: float
    div_yield: float = 0.0
    currency: str | None = None


@dataclasses.dataclass(frozen=True)
class MarketSnapshot:
    """Everything the BSM pricer needs from the market, as of one valuation date.

    Parameters
    ----------
    valuation_date : datetime.date
        Pricing date; times to expiry are Act/365F from it.
    underlyings : mapping of str to UnderlyingQuote
        Quote per underlying name.
    rates : mapping of str to float
        Flat continuously compounded risk-free rate per currency, per year.
    rate : float, optional
        A single rate used for every underlying whose currency is not in
        ``rates`` (or that has no currency).

    Build it from JSON-like data with :meth:`from_mapping`; every underlying
    must resolve to a rate, checked at construction.
    """

    valuation_date: dt.date
    underlyings: Mapping[str, UnderlyingQuote]
    rates: Mapping[str, float] = dataclasses.field(default_factory=dict)
    rate: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "underlyings", types.MappingProxyType(dict(self.underlyings)))
        object.__setattr__(self, "rates", types.MappingProxyType(dict(self.rates)))
        for name, q in self.underlyings.items():
            if self.rate is None and q.currency not in self.rates:
                raise MarketError(f"market: underlying {name!r} has currency {q.currency!r} "
                                  f"with no rate; give 'rates' for it or a single 'rate'")

    def quote(self, underlying: str) -> UnderlyingQuote:
        """Quote of ``underlying``; ``KeyError`` if the market has none."""
        return self.underlyings[underlying]

    def rate_for(self, underlying: str) -> float:
        """Flat rate of the currency of ``underlying``, per year, continuous compounding."""
        ccy = self.underlyings[underlying].currency
        if ccy in self.rates:
            return self.rates[ccy]
        return self.rate

    def currency_of(self, underlying: str) -> str:
        """Currency of ``underlying`` ('' when the market does not say)."""
        return self.underlyings[underlying].currency or ""

    @classmethod
    def from_mapping(cls, raw: object) -> "MarketSnapshot":
        """Parse the JSON ``market`` object (see docs/formats.md); ``MarketError`` if malformed.

        Accepts the market object itself or a document ``{"market": {...}}``.
        """
        if isinstance(raw, Mapping) and "market" in raw and "underlyings" not in raw:
            raw = raw["market"]
        if not isinstance(raw, Mapping):
            raise MarketError(f"market must be a JSON object, got {type(raw).__name__}")
        known = {"valuation_date", "underlyings", "rates", "rate"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise MarketError(f"market: unknown field(s) {unknown}; expected {sorted(known)}")

        def field(where, name, value, conv):
            try:
                return conv(value)
            except ValueError as exc:
                raise MarketError(f"market: {where}{name!r} = {value!r}: {exc}") from None

        if "valuation_date" not in raw:
            raise MarketError("market: missing 'valuation_date'")
        vdate = field("", "valuation_date", raw["valuation_date"], v.date)
        rate = raw.get("rate")
        if rate is not None:
            rate = field("", "rate", rate, v.number)
        rates_raw = raw.get("rates", {})
        if not isinstance(rates_raw, Mapping):
            raise MarketError(f"market: 'rates' must map currency -> rate, got {rates_raw!r}")
        rates = {str(c): field("rates: ", c, r, v.number) for c, r in rates_raw.items()}
        if rate is None and not rates:
            raise MarketError("market: give a single 'rate' or 'rates' per currency")
        und_raw = raw.get("underlyings")
        if not isinstance(und_raw, Mapping) or not und_raw:
            raise MarketError("market: 'underlyings' must be a non-empty object "
                              "name -> {spot, vol, div_yield, currency}")
        quotes = {}
        convs = {"spot": v.positive, "vol": v.positive, "div_yield": v.number,
                 "currency": v.text}
        for name, q in und_raw.items():
            where = f"underlying {name!r}: "
            if not isinstance(q, Mapping):
                raise MarketError(f"market: {where}must be an object, got {q!r}")
            unknown = sorted(set(q) - set(convs))
            if unknown:
                raise MarketError(f"market: {where}unknown field(s) {unknown}; "
                                  f"expected {sorted(convs)}")
            for req in ("spot", "vol"):
                if req not in q:
                    raise MarketError(f"market: {where}missing {req!r}")
            kw = {k: field(where, k, q[k], convs[k]) for k in q}
            quotes[str(name)] = UnderlyingQuote(**kw)
        return cls(valuation_date=vdate, underlyings=quotes, rates=rates, rate=rate)
