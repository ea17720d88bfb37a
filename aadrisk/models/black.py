"""Black-76 and Bachelier options on a forward; BSM cash-or-nothing and asset-or-nothing digitals.

Every function is keyword-only and written once with :mod:`aadrisk.math`: it
runs on floats, NumPy arrays (one value per trade) and recorded tape values.
Option type flags are numbers (``is_call`` 1.0 for a call, 0.0 for a put), so
a mixed book of calls and puts is one evaluation.

Examples
--------
>>> from aadrisk.models import black_price, bachelier_price
>>> round(float(black_price(forward=100.0, strike=100.0, expiry=1.0, vol=0.2,
...                         discount=1.0, is_call=1.0)), 10)
7.9655674554
>>> round(float(bachelier_price(forward=100.0, strike=100.0, expiry=1.0, vol=20.0,
...                             discount=1.0, is_call=0.0)), 10)
7.978845608
"""
from __future__ import annotations

from .. import math as am

__all__ = ["asset_or_nothing_price", "bachelier_price", "black_price", "cash_or_nothing_price"]


def black_price(*, forward, strike, expiry, vol, discount, is_call):
    """Black-76 price of a European call or put on a forward.

    ``price = discount * w * (F N(w d1) - K N(w d2))``, ``w = +1`` call, ``-1`` put,
    ``d1,2 = (ln(F/K) +- vol^2 T / 2) / (vol sqrt(T))``.

    Parameters
    ----------
    forward, strike : price units (same currency), both > 0.
    expiry : years (Act/365F by convention of the caller), > 0.
    vol : lognormal volatility per sqrt(year) (0.2 = 20 %), > 0.
    discount : discount factor from the payment date to today (dimensionless).
    is_call : 1.0 for a call, 0.0 for a put.

    Returns
    -------
    Present value in price units, per unit of notional on the forward.

    Examples
    --------
    >>> round(float(black_price(forward=100.0, strike=110.0, expiry=0.5, vol=0.25,
    ...                         discount=0.98, is_call=1.0)), 10)
    3.3723904123
    """
    w = 2.0 * is_call - 1.0
    sd = vol * am.sqrt(expiry)
    d1 = am.log(forward / strike) / sd + 0.5 * sd
    d2 = d1 - sd
    return discount * w * (forward * am.norm_cdf(w * d1) - strike * am.norm_cdf(w * d2))


def bachelier_price(*, forward, strike, expiry, vol, discount, is_call):
    """Bachelier (normal model) price of a European call or put on a forward.

    ``price = discount * (w (F - K) N(w d) + vol sqrt(T) n(d))``,
    ``d = (F - K) / (vol sqrt(T))``.

    Parameters
    ----------
    forward, strike : price units (may be negative, e.g. rates).
    expiry : years, > 0.
    vol : normal volatility in price units per sqrt(year) (absolute, e.g. 0.01 = 100 bp
        for a rate), > 0.
    discount : discount factor (dimensionless).
    is_call : 1.0 for a call, 0.0 for a put.

    Returns
    -------
    Present value in price units.

    Examples
    --------
    >>> round(float(bachelier_price(forward=0.03, strike=0.025, expiry=2.0, vol=0.01,
    ...                             discount=0.95, is_call=1.0)), 12)
    0.008066342291
    """
    w = 2.0 * is_call - 1.0
    sd = vol * am.sqrt(expiry)
    m = forward - strike
    d = m / sd
    return discount * (w * m * am.norm_cdf(w * d) + sd * am.norm_pdf(d))


def _bsm_d(spot, strike, expiry, vol, rate, div):
    sd = vol * am.sqrt(expiry)
    d1 = (am.log(spot / strike) + (rate - div) * expiry) / sd + 0.5 * sd
    return d1, d1 - sd


def cash_or_nothing_price(*, spot, strike, expiry, vol, rate, div, is_call, cash=1.0):
    """Black-Scholes-Merton cash-or-nothing digital: pays ``cash`` at expiry if in the money.

    ``price = cash e^{-rT} N(w d2)`` (Haug 2007, 4.19.2; his example S=100, K=80, T=0.75,
    r=0.06, b=0, vol=0.35, cash 10: put 2.6710).

    Parameters
    ----------
    spot, strike : price units, > 0.
    expiry : years, > 0.
    vol : lognormal volatility per sqrt(year).
    rate, div : continuously compounded rate and dividend yield per year.
    is_call : 1.0 pays if ``S_T > K``, 0.0 pays if ``S_T < K``.
    cash : amount paid, in currency units (default 1).

    Returns
    -------
    Present value in currency units.

    Examples
    --------
    >>> round(float(cash_or_nothing_price(spot=100.0, strike=80.0, expiry=0.75, vol=0.35,
    ...                                   rate=0.06, div=0.06, is_call=0.0, cash=10.0)), 4)
    2.671
    """
    w = 2.0 * is_call - 1.0
    _, d2 = _bsm_d(spot, strike, expiry, vol, rate, div)
    return cash * am.exp(-rate * expiry) * am.norm_cdf(w * d2)


def asset_or_nothing_price(*, spot, strike, expiry, vol, rate, div, is_call):
    """Black-Scholes-Merton asset-or-nothing digital: pays ``S_T`` at expiry if in the money.

    ``price = S e^{-qT} N(w d1)`` (Haug 2007, 4.19.3; his example S=70, K=65, T=0.5,
    r=0.07, b=0.02, vol=0.27: put 20.2069).

    Parameters
    ----------
    spot, strike : price units, > 0.
    expiry : years, > 0.
    vol : lognormal volatility per sqrt(year).
    rate, div : continuously compounded rate and dividend yield per year.
    is_call : 1.0 pays if ``S_T > K``, 0.0 pays if ``S_T < K``.

    Returns
    -------
    Present value in price units, per unit of underlying.

    Examples
    --------
    >>> round(float(asset_or_nothing_price(spot=70.0, strike=65.0, expiry=0.5, vol=0.27,
    ...                                    rate=0.07, div=0.05, is_call=0.0)), 4)
    20.2069
    """
    w = 2.0 * is_call - 1.0
    d1, _ = _bsm_d(spot, strike, expiry, vol, rate, div)
    return spot * am.exp(-div * expiry) * am.norm_cdf(w * d1)
