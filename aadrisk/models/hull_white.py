"""Hull-White one-factor model (constant ``a``, ``sigma``): analytic bond, bond-option,
caplet/floorlet and Jamshidian swaption prices, for floats and tape values.

Model ``dr = (theta(t) - a r) dt + sigma dW`` fitted to today's discount curve, written
``r = x + alpha(t)`` with ``dx = -a x dt + sigma dW``, ``x(0) = 0`` (Brigo & Mercurio,
*Interest Rate Models*, 2nd ed., sections 3.3.1-3.3.2).  With
``B(t, T) = (1 - e^{-a (T - t)}) / a`` the bond price at ``t`` is

    P(t, T; x) = P(0, T) / P(0, t) * exp(-B x - B sigma^2 (1 - e^{-a t})^2 / (2 a^2)
                                         - sigma^2 (1 - e^{-2 a t}) B^2 / (4 a)),

and a European option expiring at ``T`` on the zero-coupon bond maturing at ``S``
(strike ``K``) is (B&M eq. 3.40-3.41)

    sigma_p = sigma sqrt((1 - e^{-2 a T}) / (2 a)) B(T, S),
    h = ln(P(0, S) / (K P(0, T))) / sigma_p + sigma_p / 2,
    ZBC = P(0, S) N(h) - K P(0, T) N(h - sigma_p),
    ZBP = K P(0, T) N(sigma_p - h) - P(0, S) N(-h).

Caplet (reset ``T``, payment ``S``, accrual ``tau``, strike ``K``, notional 1):
``(1 + tau K) ZBP(T, S, 1 / (1 + tau K))``; floorlet likewise with ZBC.

Jamshidian (1989) swaption (exercise ``T0`` into a swap paying fixed ``K`` at
``T_1..T_n`` with accruals ``tau_i``; floating leg at par): with ``c_i = K tau_i``
(``+ 1`` at ``T_n``) solve ``sum c_i P(T0, T_i; x*) = 1`` and set ``K_i = P(T0, T_i; x*)``;
payer = ``sum c_i ZBP(T0, T_i, K_i)``, receiver = ``sum c_i ZBC(T0, T_i, K_i)``.  The root
``x*`` is found by Newton's method from ``x = 0`` recorded on the tape with a fixed number
of steps (:data:`NEWTON_STEPS`): the coupon-bond price is decreasing and convex in ``x``,
so Newton converges monotonically after the first step, and quadratically; differentiating
the converged iterates gives the implicit-function derivatives of ``x*`` (first and second
order) to rounding.  Coupons ``c_i = 0`` are allowed, so swaptions of different tenors
share one program by padding.

All times are in years (Act/365F from the valuation date in aadrisk); discount factors
come from the caller's curve.  ``a`` must be > 0 (use ``a >= 1e-4``).

Examples
--------
>>> round(float(zcb_option_price(a=0.03, sigma=0.01, expiry=1.0, maturity=5.0,
...       df_expiry=0.96, df_maturity=0.82, strike=0.85, is_call=1.0)), 10)
0.0142225762
"""
from __future__ import annotations

from .. import math as am

__all__ = ["NEWTON_STEPS", "hw_b", "zcb_price", "zcb_option_price", "caplet_price",
           "cap_price", "swaption_price"]

NEWTON_STEPS = 12


def hw_b(a, t, T):
    """``B(t, T) = (1 - e^{-a (T - t)}) / a``."""
    return (1.0 - am.exp(-a * (T - t))) / a


def zcb_price(*, a, sigma, t, maturity, df_t, df_maturity, x):
    """``P(t, T; x)``: price at ``t`` of the bond maturing at ``T`` given the state ``x(t)``."""
    b = hw_b(a, t, maturity)
    e = 1.0 - am.exp(-a * t)
    c = b * sigma * sigma * e * e / (2.0 * a * a) + \
        sigma * sigma * (1.0 - am.exp(-2.0 * a * t)) * b * b / (4.0 * a)
    return df_maturity / df_t * am.exp(-b * x - c)


def _sigma_p(a, sigma, expiry, maturity):
    return sigma * am.sqrt((1.0 - am.exp(-2.0 * a * expiry)) / (2.0 * a)) * hw_b(a, expiry,
                                                                                maturity)


def zcb_option_price(*, a, sigma, expiry, maturity, df_expiry, df_maturity, strike, is_call):
    """Price today of a European call (``is_call=1``) or put (0) on a zero-coupon bond."""
    sp = _sigma_p(a, sigma, expiry, maturity)
    h = am.log(df_maturity / (strike * df_expiry)) / sp + 0.5 * sp
    call = df_maturity * am.norm_cdf(h) - strike * df_expiry * am.norm_cdf(h - sp)
    put = strike * df_expiry * am.norm_cdf(sp - h) - df_maturity * am.norm_cdf(-h)
    return is_call * call + (1.0 - is_call) * put


def caplet_price(*, a, sigma, reset, pay, accrual, df_reset, df_pay, strike, is_cap=1.0):
    """Caplet (``is_cap=1``) or floorlet (0) on a simply compounded rate, notional 1."""
    n = 1.0 + accrual * strike
    return n * zcb_option_price(a=a, sigma=sigma, expiry=reset, maturity=pay,
                                df_expiry=df_reset, df_maturity=df_pay, strike=1.0 / n,
                                is_call=1.0 - is_cap)


def cap_price(*, a, sigma, resets, pays, accruals, df_resets, df_pays, strike, is_cap=1.0,
              counts=None):
    """Sum of caplets (lists of equal length).  ``counts`` (default all 1) multiplies each
    caplet: padding entries repeat a real caplet with count 0."""
    tot = 0.0
    counts = counts if counts is not None else [1.0] * len(resets)
    for T, S, tau, dT, dS, m in zip(resets, pays, accruals, df_resets, df_pays, counts):
        tot = tot + m * caplet_price(a=a, sigma=sigma, reset=T, pay=S, accrual=tau, df_reset=dT,
                                     df_pay=dS, strike=strike, is_cap=is_cap)
    return tot


def swaption_price(*, a, sigma, expiry, df_expiry, times, dfs, accruals, strike, is_payer=1.0,
                   newton_steps=NEWTON_STEPS):
    """Jamshidian price of a European swaption per unit notional.

    ``times``, ``dfs``, ``accruals``: fixed-leg payment times (> expiry), discount factors
    and accrual fractions (lists of equal length; trailing entries with accrual 0 are
    padding and must repeat the last real payment time and discount factor).  The last
    entry with positive accrual carries the notional.
    """
    n = len(times)
    last = [0.0] * n
    # the notional goes on the last real payment: entry i is last if accrual_{i+1} == 0
    for i in range(n):
        nxt = accruals[i + 1] if i + 1 < n else 0.0
        last[i] = am.where(nxt > 0.0, 0.0, 1.0) * am.where(accruals[i] > 0.0, 1.0, 0.0)
    cs = [strike * tau + lst for tau, lst in zip(accruals, last)]
    B = [hw_b(a, expiry, T) for T in times]
    e = 1.0 - am.exp(-a * expiry)
    v1 = sigma * sigma * e * e / (2.0 * a * a)
    v2 = sigma * sigma * (1.0 - am.exp(-2.0 * a * expiry)) / (4.0 * a)
    base = [c * d / df_expiry * am.exp(-b * v1 - b * b * v2) for c, d, b in zip(cs, dfs, B)]
    x = 0.0
    for _ in range(newton_steps):
        f = -1.0
        fp = 0.0
        for k, b in zip(base, B):
            term = k * am.exp(-b * x)
            f = f + term
            fp = fp - b * term
        x = x - f / fp
    tot = 0.0
    for c, d, b, T in zip(cs, dfs, B, times):
        Ki = d / df_expiry * am.exp(-b * x - b * v1 - b * b * v2)
        opt = zcb_option_price(a=a, sigma=sigma, expiry=expiry, maturity=T, df_expiry=df_expiry,
                               df_maturity=d, strike=Ki, is_call=1.0 - is_payer)
        tot = tot + c * opt
    return tot
