"""Black-Scholes-Merton European option, written once for floats and tape values.

Examples
--------
>>> from aadrisk.models import bsm_price
>>> round(float(bsm_price(spot=100.0, strike=100.0, expiry=1.0, vol=0.2, rate=0.05,
...                       div=0.0, is_call=1.0)), 10)
10.4505835722
"""
from __future__ import annotations

from .. import math as am


def bsm_price(*, spot, strike, expiry, vol, rate, div, is_call):
    """Price of a European call (``is_call=1``) or put (``is_call=0``).

    Parameters
    ----------
    spot, strike : price units.
    expiry : years (Act/365F by convention of the caller).
    vol : lognormal volatility per sqrt(year) (0.2 = 20 %).
    rate, div : continuously compounded risk-free rate and dividend yield per year.
    is_call : 1.0 for a call, 0.0 for a put.

    Returns
    -------
    Discounted option price in price units, for one unit of underlying.
    """
    theta = 2.0 * is_call - 1.0
    sd = vol * am.sqrt(expiry)
    df_q = am.exp(-div * expiry)
    df_r = am.exp(-rate * expiry)
    d1 = (am.log(spot / strike) + (rate - div) * expiry) / sd + 0.5 * sd
    d2 = d1 - sd
    return theta * (spot * df_q * am.norm_cdf(theta * d1) - strike * df_r * am.norm_cdf(theta * d2))
