"""SABR implied volatilities (Hagan et al. 2002) and prices through Black-76 / Bachelier.

P. Hagan, D. Kumar, A. Lesniewski, D. Woodward, "Managing smile risk",
Wilmott Magazine (2002): the lognormal expansion (their eq. 2.17a) and the
normal expansion (their eq. B.69a), in the form used by QuantLib's
``sabrVolatility``.  With ``L = ln(F/K)``, ``A = (F K)^(1-beta)``:

* ``z = nu / alpha * sqrt(A) * L``,
  ``x(z) = ln((sqrt(1 - 2 rho z + z^2) + z - rho) / (1 - rho))``;
* lognormal: ``alpha / (sqrt(A) (1 + (1-beta)^2 L^2/24 + (1-beta)^4 L^4/1920)) * z/x(z) *
  (1 + T ((1-beta)^2 alpha^2 / (24 A) + rho beta nu alpha / (4 sqrt(A))
  + (2 - 3 rho^2) nu^2 / 24))``;
* normal: ``alpha (F K)^(beta/2) (1 + L^2/24 + L^4/1920) / (1 + (1-beta)^2 L^2/24
  + (1-beta)^4 L^4/1920) * z/x(z) * (1 + T (-beta (2-beta) alpha^2 / (24 A)
  + rho beta nu alpha / (4 sqrt(A)) + (2 - 3 rho^2) nu^2 / 24))``.

ATM limit.  ``z/x(z) -> 1`` as ``z -> 0`` (``K -> F``), but the quotient
loses digits near 0 and its derivatives blow up.  Since ``x'(z) =
(1 - 2 rho z + z^2)^(-1/2) = sum_n P_n(rho) z^n`` (Legendre generating
function), ``x(z)/z = sum_n P_n(rho) z^n / (n + 1)``; for ``|z| < 0.05`` this
series to ``n = 14`` (truncation below 1e-19) is used instead, selected by
:func:`aadrisk.where`, so values and first and second derivatives are
finite, exact at the money and continuous (to about 1e-12 relative) at the switch.

Examples
--------
>>> from aadrisk.models import sabr_vol
>>> round(float(sabr_vol(forward=0.03, strike=0.03, expiry=2.0, alpha=0.03, beta=0.5, nu=0.4,
...                      rho=-0.3)), 12)
0.176408597795
"""
from __future__ import annotations

from .. import math as am
from .black import bachelier_price, black_price

__all__ = ["sabr_normal_price", "sabr_normal_vol", "sabr_price", "sabr_vol"]

_Z_SWITCH = 0.05
_N_SERIES = 14


def _z_over_x(z, rho):
    """``z / x(z)`` with a Legendre series of ``x(z) / z`` near ``z = 0``."""
    small = am.abs(z) < _Z_SWITCH
    # series: x(z)/z = sum_n P_n(rho) z^n / (n + 1),  (n+1) P_{n+1} = (2n+1) rho P_n - n P_{n-1}
    p_prev, p = 1.0, rho
    s = 1.0 + rho * z / 2.0
    zn = z
    for n in range(1, _N_SERIES):
        p_prev, p = p, ((2 * n + 1) * rho * p - n * p_prev) / (n + 1)
        zn = zn * z
        s = s + p * zn / (n + 2)
    # direct formula, fed a harmless z where the series is used (no 0/0 on the tape)
    zd = am.where(small, _Z_SWITCH, z)
    xd = am.log((am.sqrt(1.0 - 2.0 * rho * zd + zd * zd) + zd - rho) / (1.0 - rho))
    return am.where(small, 1.0 / s, zd / xd)


def _common(forward, strike, alpha, beta, nu, rho):
    log_m = am.log(forward / strike)
    one_b = 1.0 - beta
    log_fk = am.log(forward * strike)
    a = am.exp(one_b * log_fk)            # (F K)^(1 - beta)
    sqrt_a = am.exp(0.5 * one_b * log_fk)
    z = nu / alpha * sqrt_a * log_m
    c = one_b * one_b * log_m * log_m
    denom = 1.0 + c / 24.0 + c * c / 1920.0
    return log_m, log_fk, a, sqrt_a, _z_over_x(z, rho), denom


def sabr_vol(*, forward, strike, expiry, alpha, beta, nu, rho):
    """Hagan's lognormal (Black) implied volatility of the SABR model.

    Parameters
    ----------
    forward, strike : rate or price units, > 0.
    expiry : years, >= 0.
    alpha : initial volatility, in units of forward^(1-beta) per sqrt(year), > 0.
    beta : CEV exponent in [0, 1].
    nu : volatility of volatility per sqrt(year), >= 0.
    rho : correlation in (-1, 1).

    Returns
    -------
    Black volatility per sqrt(year).

    Examples
    --------
    >>> round(float(sabr_vol(forward=100.0, strike=90.0, expiry=1.0, alpha=0.2, beta=1.0,
    ...                      nu=0.5, rho=-0.4)), 12)
    0.213289034612
    """
    _, _, a, sqrt_a, zx, denom = _common(forward, strike, alpha, beta, nu, rho)
    one_b = 1.0 - beta
    corr = 1.0 + expiry * (one_b * one_b * alpha * alpha / (24.0 * a)
                           + 0.25 * rho * beta * nu * alpha / sqrt_a
                           + (2.0 - 3.0 * rho * rho) * nu * nu / 24.0)
    return alpha / (sqrt_a * denom) * zx * corr


def sabr_normal_vol(*, forward, strike, expiry, alpha, beta, nu, rho):
    """Hagan's normal (Bachelier) implied volatility of the SABR model.

    Parameters are as for :func:`sabr_vol`.

    Returns
    -------
    Normal volatility in forward units per sqrt(year).

    Examples
    --------
    >>> round(float(sabr_normal_vol(forward=0.03, strike=0.035, expiry=2.0, alpha=0.03,
    ...                             beta=0.5, nu=0.4, rho=-0.3)), 12)
    0.005308450745
    """
    log_m, log_fk, a, sqrt_a, zx, denom = _common(forward, strike, alpha, beta, nu, rho)
    d = log_m * log_m
    num = 1.0 + d / 24.0 + d * d / 1920.0
    corr = 1.0 + expiry * (-beta * (2.0 - beta) * alpha * alpha / (24.0 * a)
                           + 0.25 * rho * beta * nu * alpha / sqrt_a
                           + (2.0 - 3.0 * rho * rho) * nu * nu / 24.0)
    return alpha * am.exp(0.5 * beta * log_fk) * num / denom * zx * corr


def sabr_price(*, forward, strike, expiry, alpha, beta, nu, rho, discount, is_call):
    """Black-76 price with the SABR lognormal vol (``discount`` = discount factor, dimensionless).

    Examples
    --------
    >>> round(float(sabr_price(forward=100.0, strike=90.0, expiry=1.0, alpha=0.2, beta=1.0,
    ...                        nu=0.5, rho=-0.4, discount=1.0, is_call=0.0)), 8)
    4.02834849
    """
    vol = sabr_vol(forward=forward, strike=strike, expiry=expiry, alpha=alpha, beta=beta, nu=nu,
                   rho=rho)
    return black_price(forward=forward, strike=strike, expiry=expiry, vol=vol, discount=discount,
                       is_call=is_call)


def sabr_normal_price(*, forward, strike, expiry, alpha, beta, nu, rho, discount, is_call):
    """Bachelier price with the SABR normal vol (``discount`` = discount factor).

    Examples
    --------
    >>> round(float(sabr_normal_price(forward=0.03, strike=0.035, expiry=2.0, alpha=0.03,
    ...       beta=0.5, nu=0.4, rho=-0.3, discount=1.0, is_call=1.0)), 10)
    0.0011357244
    """
    vol = sabr_normal_vol(forward=forward, strike=strike, expiry=expiry, alpha=alpha, beta=beta,
                          nu=nu, rho=rho)
    return bachelier_price(forward=forward, strike=strike, expiry=expiry, vol=vol,
                           discount=discount, is_call=is_call)
