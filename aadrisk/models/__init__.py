"""Pricing models written once for floats and tape values."""
from .black_scholes import bsm_price

__all__ = ["bsm_price"]
