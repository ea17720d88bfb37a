"""Geometric average price Asian options under Black-Scholes-Merton.

The geometric average of lognormal prices is lognormal, so both options are
Black-76 on the average's forward ``G`` with the average's total variance
``V``, paid at expiry (discount ``e^{-rT}``):

* continuous average over ``[0, T]`` (Kemna & Vorst 1990; Haug 2007, 4.20.1):
  ``ln G = ln S + (r - q - vol^2/2) T / 2 + V / 2``, ``V = vol^2 T / 3``;
* ``n`` equally spaced fixings ``t_i = i T / n``, ``i = 1..n`` (the last one at
  expiry; no fixing today), e.g. Haug 2007, 4.20.2:
  ``ln G = ln S + (r - q - vol^2/2) T (n + 1) / (2 n) + V / 2``,
  ``V = vol^2 T (n + 1)(2 n + 1) / (6 n^2)``.

Examples
--------
>>> from aadrisk.models import geometric_asian_price
>>> round(float(geometric_asian_price(spot=80.0, strike=85.0, expiry=0.25, vol=0.2, rate=0.05,
...                                   div=-0.03, is_call=0.0)), 4)  # Haug (2007) 4.20.1: 4.6922
4.6922
"""
from __future__ import annotations

from .. import math as am
from .black import black_price

__all__ = ["geometric_asian_discrete_price", "geometric_asian_price"]


def _price(spot, strike, expiry, vol, rate, div, is_call, time_mean, var):
    log_g = am.log(spot) + (rate - div - 0.5 * vol * vol) * time_mean + 0.5 * var
    return black_price(forward=am.exp(log_g), strike=strike, expiry=1.0, vol=am.sqrt(var),
                       discount=am.exp(-rate * expiry), is_call=is_call)


def geometric_asian_price(*, spot, strike, expiry, vol, rate, div, is_call):
    """Continuously averaged geometric average price option (Kemna-Vorst).

    Parameters
    ----------
    spot, strike : price units, > 0.
    expiry : years; the average runs over ``[0, expiry]``, > 0.
    vol : lognormal volatility per sqrt(year).
    rate, div : continuously compounded rate and dividend yield per year.
    is_call : 1.0 call on the average, 0.0 put.

    Returns
    -------
    Present value in price units, per unit of underlying.

    Examples
    --------
    >>> round(float(geometric_asian_price(spot=100.0, strike=100.0, expiry=1.0, vol=0.2,
    ...                                   rate=0.05, div=0.0, is_call=1.0)), 6)
    5.546819
    """
    return _price(spot, strike, expiry, vol, rate, div, is_call, 0.5 * expiry,
                  vol * vol * expiry / 3.0)


def geometric_asian_discrete_price(*, spot, strike, expiry, vol, rate, div, is_call, n_fixings):
    """Discretely averaged geometric average price option, ``n`` equally spaced fixings.

    Parameters
    ----------
    spot, strike : price units, > 0.
    expiry : years; fixings at ``i * expiry / n_fixings``, ``i = 1..n_fixings``, > 0.
    vol : lognormal volatility per sqrt(year).
    rate, div : continuously compounded rate and dividend yield per year.
    is_call : 1.0 call on the average, 0.0 put.
    n_fixings : number of fixings ``n >= 1`` (may be per trade; it is only used
        arithmetically, so it can be an input of a recorded program).

    Returns
    -------
    Present value in price units, per unit of underlying.  ``n = 1`` is the
    European option; ``n -> infinity`` tends to :func:`geometric_asian_price`.

    Examples
    --------
    >>> round(float(geometric_asian_discrete_price(spot=100.0, strike=100.0, expiry=1.0,
    ...       vol=0.2, rate=0.05, div=0.0, is_call=1.0, n_fixings=1)), 10)  # = BSM call
    10.4505835722
    """
    n = n_fixings
    time_mean = expiry * (n + 1.0) / (2.0 * n)
    var = vol * vol * expiry * (n + 1.0) * (2.0 * n + 1.0) / (6.0 * n * n)
    return _price(spot, strike, expiry, vol, rate, div, is_call, time_mean, var)
