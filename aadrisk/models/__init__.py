"""Pricing models written once for floats and tape values."""
from .black import asset_or_nothing_price, bachelier_price, black_price, cash_or_nothing_price
from .asian import geometric_asian_discrete_price, geometric_asian_price
from .barrier import barrier_price
from .black_scholes import bsm_price
from .heston import heston_price
from .sabr import sabr_normal_price, sabr_normal_vol, sabr_price, sabr_vol

__all__ = ["asset_or_nothing_price", "bachelier_price", "barrier_price", "black_price",
           "bsm_price", "cash_or_nothing_price", "geometric_asian_discrete_price",
           "geometric_asian_price", "heston_price", "sabr_normal_price", "sabr_normal_vol", "sabr_price",
           "sabr_vol"]
