"""Single barrier options (continuous monitoring, BSM with dividend yield), branch-free.

Reiner-Rubinstein (1991) formulas as in E. G. Haug, *The Complete Guide to
Option Pricing Formulas*, 2nd ed. (2007), section 4.17.1, with the terms
A..F.  Down/up, in/out and call/put are per-trade 0/1 flags combined with
:func:`aadrisk.where`, so a mixed book is one evaluation of one recording.

Every one of the eight (type, option) pairs is a signed sum of the terms;
for the knock-in options (without rebate) it is one of ``C``, ``A - B + D``,
``A`` or ``B - C + D``; the knock-out is ``A - (that) + F`` (in + out =
vanilla ``A``); the knock-in adds ``E``.

Rebate: a knock-out pays ``rebate`` when the barrier is hit (at the hitting
time); a knock-in pays ``rebate`` at expiry if the barrier was never hit
(Haug's convention, also QuantLib's ``AnalyticBarrierEngine``).

Already breached barrier (spot strictly below a down barrier or strictly
above an up barrier): QuantLib raises "barrier touched".  A tape cannot
raise per element, so here the option is treated as having been hit just
now: a knock-out is worth the rebate (paid immediately), a knock-in is
worth the vanilla European option (no rebate).  This is also the limit of
the formulas as spot tends to the barrier, so the value is continuous at
the barrier.

Examples
--------
>>> from aadrisk.models import barrier_price
>>> round(float(barrier_price(spot=100.0, strike=90.0, barrier=95.0, rebate=3.0, expiry=0.5,
...                           vol=0.25, rate=0.08, div=0.04, is_call=1.0, is_down=1.0,
...                           is_in=0.0)), 4)   # Haug (1998) p. 72: 9.0246
9.0246
"""
from __future__ import annotations

from .. import math as am

__all__ = ["barrier_price"]


def barrier_price(*, spot, strike, barrier, rebate, expiry, vol, rate, div, is_call, is_down,
                  is_in):
    """Price of a European single-barrier option with continuous monitoring.

    Parameters
    ----------
    spot, strike, barrier : price units, > 0.
    rebate : cash amount in currency units (>= 0); see the module notes for when it is paid.
    expiry : years (Act/365F by convention of the caller), > 0.
    vol : lognormal volatility per sqrt(year).
    rate, div : continuously compounded risk-free rate and dividend yield per year.
    is_call : 1.0 call, 0.0 put.
    is_down : 1.0 down barrier (below spot), 0.0 up barrier (above spot).
    is_in : 1.0 knock-in, 0.0 knock-out.

    Returns
    -------
    Present value in price units, per unit of underlying.

    Examples
    --------
    >>> round(float(barrier_price(spot=100.0, strike=100.0, barrier=105.0, rebate=3.0,
    ...                           expiry=0.5, vol=0.25, rate=0.08, div=0.04, is_call=0.0,
    ...                           is_down=0.0, is_in=1.0)), 4)  # Haug: 3.3721
    3.3721
    """
    phi = 2.0 * is_call - 1.0
    eta = 2.0 * is_down - 1.0
    S, X, H, K, T = spot, strike, barrier, rebate, expiry
    sd = vol * am.sqrt(T)
    var = vol * vol
    mu = (rate - div - 0.5 * var) / var
    lam = am.sqrt(mu * mu + 2.0 * rate / var)
    df_r = am.exp(-rate * T)
    fwd_s = S * am.exp(-div * T)          # S e^{(b - r) T}
    log_hs = am.log(H / S)
    hs_2mu = am.exp(2.0 * mu * log_hs)    # (H/S)^{2 mu}
    hs_2mu1 = hs_2mu * (H / S) * (H / S)  # (H/S)^{2 (mu + 1)}
    shift = (1.0 + mu) * sd
    x1 = am.log(S / X) / sd + shift
    x2 = -log_hs / sd + shift
    y1 = am.log(H * H / (S * X)) / sd + shift
    y2 = log_hs / sd + shift
    z = log_hs / sd + lam * sd
    N = am.norm_cdf
    A = phi * fwd_s * N(phi * x1) - phi * X * df_r * N(phi * (x1 - sd))
    B = phi * fwd_s * N(phi * x2) - phi * X * df_r * N(phi * (x2 - sd))
    C = phi * fwd_s * hs_2mu1 * N(eta * y1) - phi * X * df_r * hs_2mu * N(eta * (y1 - sd))
    D = phi * fwd_s * hs_2mu1 * N(eta * y2) - phi * X * df_r * hs_2mu * N(eta * (y2 - sd))
    E = K * df_r * (N(eta * (x2 - sd)) - hs_2mu * N(eta * (y2 - sd)))
    F = K * (am.exp((mu + lam) * log_hs) * N(eta * z)
             + am.exp((mu - lam) * log_hs) * N(eta * (z - 2.0 * lam * sd)))
    # knock-in core (no rebate), by option type, barrier side and strike vs barrier
    same = phi * eta                           # +1: down call / up put; -1: up call / down put
    u = phi * am.where(X >= H, 1.0, -1.0)      # +1: (call, X >= H) or (put, X < H)
    core = am.where(same > 0.0, am.where(u > 0.0, C, A - B + D),
                    am.where(u > 0.0, A, B - C + D))
    value = am.where(is_in > 0.5, core + E, A - core + F)
    breached = am.where(is_down > 0.5, am.where(S < H, 1.0, 0.0), am.where(S > H, 1.0, 0.0))
    return am.where(breached > 0.5, am.where(is_in > 0.5, A, K), value)
