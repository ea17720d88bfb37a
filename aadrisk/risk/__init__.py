"""Risk of option books: instruments, market snapshots, pricers and the risk engine.

Library Greeks are raw derivatives (``vega`` = dV/dvol per 1.00 of vol,
``theta`` = -dV/dT per year, ``rho`` = dV/dr per 1.00 of rate), scaled by each
trade's quantity; the report columns ``vega_per_vol_point``,
``theta_per_day`` and ``rho_per_bp`` carry their unit in their name.

Examples
--------
>>> from aadrisk.risk import MarketSnapshot, compute_risk
>>> market = MarketSnapshot.from_mapping({"valuation_date": "2024-06-28", "rate": 0.05,
...     "underlyings": {"XYZ": {"spot": 100.0, "vol": 0.2}}})
>>> report = compute_risk([{"trade_id": "T1", "underlying": "XYZ", "option_type": "put",
...     "strike": 95.0, "expiry": "2024-12-27", "quantity": -10}], market)
>>> cols = ["price", "delta", "gamma", "vega_per_vol_point", "theta_per_day", "rho_per_bp"]
>>> report.trades.loc[0, cols].astype(float).round(4).to_dict()  # doctest: +NORMALIZE_WHITESPACE
{'price': -25.2279, 'delta': 2.7082, 'gamma': -0.2345, 'vega_per_vol_point': -2.3383,
 'theta_per_day': 0.0879, 'rho_per_bp': 0.0148}

Books and markets are read from JSON files (docs/formats.md) by
:func:`load_book` and :func:`load_market`.
"""
from .engine import GREEKS, SCALED, SUMMED, UNITS, RiskReport, compute_risk
from .errors import BookError, MarketError, RiskError, TradeError
from .instruments import PRODUCTS, EuropeanOption, OptionType, parse_trade, register_product
from .greeks import greek_vectors
from .io import Book, load_book, load_market
from .market import DAYS_PER_YEAR, MarketSnapshot, UnderlyingQuote, year_fraction
from .pricers import (PRICERS, RISK_FACTORS, BsmEuropeanPricer, Pricer, bsm_program,
                      pricer_for, register_pricer)

__all__ = ["BookError", "Book", "BsmEuropeanPricer", "DAYS_PER_YEAR", "EuropeanOption",
           "GREEKS", "MarketError", "MarketSnapshot", "OptionType", "PRICERS", "PRODUCTS",
           "Pricer", "RISK_FACTORS", "RiskError", "RiskReport", "SCALED", "SUMMED",
           "TradeError", "UNITS", "UnderlyingQuote", "bsm_program", "compute_risk", "greek_vectors",
           "load_book", "load_market", "parse_trade", "pricer_for", "register_pricer",
           "register_product", "year_fraction"]
