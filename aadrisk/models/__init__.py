"""Pricing models written once for floats and tape values."""
from .black import asset_or_nothing_price, bachelier_price, black_price, cash_or_nothing_price
from .asian import geometric_asian_discrete_price, geometric_asian_price
from .barrier import barrier_price
from .black_scholes import bsm_price

__all__ = ["asset_or_nothing_price", "bachelier_price", "barrier_price", "black_price",
           "bsm_price", "cash_or_nothing_price", "geometric_asian_discrete_price",
           "geometric_asian_price"]
