"""Heston (1993) European options: semi-analytic price by fixed Gauss-Legendre quadrature.

Lewis (2000) single-integral form on the forward ``F = S e^{(r-q)T}``, with a
Black-Scholes control variate of variance ``vbar`` (the average expected variance
``theta + (v0 - theta)(1 - e^{-kappa T}) / (kappa T)``)::

    call = BSM(vol = sqrt(vbar)) - e^{-rT} sqrt(F K) / pi * I,
    I    = int_0^inf Re[e^{i u x} (phi(u - i/2) - e^{-vbar T (u^2 + 1/4) / 2})] / (u^2 + 1/4) du,
    put  = call - e^{-rT} (F - K),                       x = ln(F/K),

with ``phi`` the characteristic function of ``ln(S_T / F)`` in the "little Heston
trap" form (Albrecher, Mayer, Schoutens, Tistaert 2007)::

    beta = kappa - rho sigma i w,   d = sqrt(beta^2 + sigma^2 (w^2 + i w)),  Re d > 0,
    g = (beta - d) / (beta + d),
    D = (beta - d) / sigma^2 * (1 - e^{-dT}) / (1 - g e^{-dT}),
    C = kappa theta / sigma^2 * ((beta - d) T - 2 ln((1 - g e^{-dT}) / (1 - g))),
    phi(w) = exp(C + D v0),

principal branch of the log (``aadrisk.math.atan2``).  At ``w = u - i/2``,
``w^2 + i w = u^2 + 1/4`` is real.  Complex numbers are ``(re, im)`` pairs.

Quadrature (fixed: ``N_PANELS`` x ``N_GL`` = 24 x 16 = 384 nodes per option):
``u = c sinh(s)`` with ``c = 2 / sqrt(vbar T)`` (the Gaussian scale of the
integrand: nodes dense near 0, geometric in the tail), ``s`` in ``[0, asinh(U / c)]``
cut in 24 equal panels of 16 Gauss-Legendre nodes.  The truncation
``U = min(max(32 / a, sqrt(64 / (vbar T))), 2e4)``, with
``a = sqrt(1 - rho^2) (v0 + kappa theta T) / sigma`` the asymptotic exponential
decay rate of ``|phi(u - i/2)|``, puts the cut where the integrand is ~e^-32.
``c`` and ``U`` are computed on the tape from the parameters but held constant
for differentiation (``stop_gradient``): the Greeks are the derivatives of the
fixed-node sum, i.e. the same quadrature applied to the derivative integrand,
which decays like the integrand itself (times a polynomial in ``u``), so the
truncation error of the Greeks is of the same negligible order.  On the tape the
panels are one :func:`aadrisk.scan` (the body is one panel of 16 recorded terms),
so memory does not grow with the node count.

Accuracy: <= 1e-10 relative (plus 1e-10 x spot absolute) against QuantLib's
``AnalyticHestonEngine`` (adaptive Gauss-Lobatto, rel. tol. 1e-12) for
v0, theta in [0.01, 0.25], kappa in [0.2, 5], sigma in [0.1, 1], rho in
[-0.95, 0.5], T in [0.1, 5] y, K/S in [0.6, 1.5] on seeded random cases
(tests/models/test_heston.py checks 1e-8).  Not covered: corners where
``(v0 + kappa theta T) / sigma`` is tiny (e.g. v0 = theta = 0.01, T = 0.1, sigma = 1)
together with a large ``|ln(F/K)|`` -- the integrand then oscillates over
thousands of radians before it decays and 384 nodes are not enough.

Examples
--------
>>> from aadrisk.models import heston_price
>>> round(float(heston_price(spot=100.0, strike=100.0, expiry=1.0, rate=0.05, div=0.0,
...       v0=0.04, kappa=2.0, theta=0.04, sigma=0.5, rho=-0.7, is_call=1.0)), 8)
10.15462703
"""
from __future__ import annotations

import math

import numpy as np

from .. import math as am
from ..tape.record import Var, scan
from .black_scholes import bsm_price

__all__ = ["heston_price", "N_GL", "N_PANELS"]

N_GL = 16
N_PANELS = 24
_X, _W = np.polynomial.legendre.leggauss(N_GL)
_T = 0.5 * (_X + 1.0)           # nodes on [0, 1]
_WT = 0.5 * _W
_L = 32.0                       # truncation at |integrand| ~ e^-L
_C_SCALE = 2.0


# -- complex arithmetic on (re, im) pairs ---------------------------------------------
def _cmul(a, b):
    return a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]


def _cdiv(a, b):
    den = b[0] * b[0] + b[1] * b[1]
    return (a[0] * b[0] + a[1] * b[1]) / den, (a[1] * b[0] - a[0] * b[1]) / den


def _cexp(a):
    m = am.exp(a[0])
    return m * am.cos(a[1]), m * am.sin(a[1])


def _csqrt_rhp(a):
    """Principal square root for ``Re a > 0`` (no cancellation there)."""
    r = am.sqrt(a[0] * a[0] + a[1] * a[1])
    re = am.sqrt(0.5 * (r + a[0]))
    return re, a[1] / (2.0 * re)


def _clog(a):
    """Principal complex logarithm ``(ln|a|, atan2(im, re))``."""
    x, y = a
    return 0.5 * am.log(x * x + y * y), am.atan2(y, x)


def _integrand(u, *, x, T, v0, kt, s2, br, rs, vbt):
    """``Re[e^{iux} (phi(u - i/2) - phi_BS)] / (u^2 + 1/4)``."""
    beta = (br, -rs * u)
    u2 = u * u + 0.25
    bb = _cmul(beta, beta)
    d = _csqrt_rhp((bb[0] + s2 * u2, bb[1]))
    bm = (beta[0] - d[0], beta[1] - d[1])
    bp = (beta[0] + d[0], beta[1] + d[1])
    g = _cdiv(bm, bp)
    e = _cexp((-d[0] * T, -d[1] * T))
    ge = _cmul(g, e)
    one_ge = (1.0 - ge[0], -ge[1])
    dd = _cdiv(_cmul(bm, (1.0 - e[0], -e[1])), one_ge)
    lg = _clog(_cdiv(one_ge, (1.0 - g[0], -g[1])))
    ex_re = kt * (bm[0] * T - 2.0 * lg[0]) + dd[0] * v0 / s2
    ex_im = kt * (bm[1] * T - 2.0 * lg[1]) + dd[1] * v0 / s2 + u * x
    return (am.exp(ex_re) * am.cos(ex_im) - am.exp(-0.5 * vbt * u2) * am.cos(u * x)) / u2


def _panel(p, h, c, f):
    """Sum of the 16 Gauss-Legendre terms of panel ``p`` (width ``h`` in ``s``)."""
    tot = 0.0
    for t, wt in zip(_T, _WT):
        s = h * (p + float(t))
        es = am.exp(s)
        ems = 1.0 / es
        u = 0.5 * c * (es - ems)
        tot = tot + (float(wt) * h * 0.5 * c) * (es + ems) * f(u)
    return tot


def heston_price(*, spot, strike, expiry, rate, div, v0, kappa, theta, sigma, rho, is_call):
    """Price of a European call or put in the Heston (1993) model.

    Parameters
    ----------
    spot, strike : price units, > 0.
    expiry : years (Act/365F by convention of the caller), > 0.
    rate, div : continuously compounded rate and dividend yield per year.
    v0 : initial variance (vol^2, per year), > 0.
    kappa : mean-reversion speed per year, > 0.
    theta : long-run variance per year, > 0.
    sigma : volatility of variance (vol of vol) per sqrt(year), > 0.
    rho : correlation of spot and variance shocks, in (-1, 1).
    is_call : 1.0 call, 0.0 put.

    Returns
    -------
    Present value in price units, per unit of underlying.
    """
    T = expiry
    df = am.exp(-rate * T)
    fwd = spot * am.exp((rate - div) * T)
    x = am.log(fwd / strike)
    s2 = sigma * sigma
    kT = kappa * T
    vbar = theta + (v0 - theta) * (1.0 - am.exp(-kT)) / kT
    vbt = vbar * T
    # node placement (held constant for differentiation)
    a = am.sqrt(1.0 - rho * rho) * (v0 + kappa * theta * T) / sigma
    U = am.stop_gradient(am.minimum(am.maximum(_L / a, am.sqrt(2.0 * _L / vbt)), 2.0e4))
    c = am.stop_gradient(_C_SCALE / am.sqrt(vbt))
    q = U / c
    h = am.stop_gradient(am.log(q + am.sqrt(q * q + 1.0)) / N_PANELS)   # asinh(U/c) / P

    def f(u):
        return _integrand(u, x=x, T=T, v0=v0, kt=kappa * theta / s2, s2=s2,
                          br=kappa - 0.5 * rho * sigma, rs=rho * sigma, vbt=vbt)

    if isinstance(h, Var):
        _, total = scan(lambda st, _: (st[0] + 1.0, st[1] + _panel(st[0], h, c, f)),
                        (0.0, 0.0), n_steps=N_PANELS)
    else:
        total = 0.0
        for p in range(N_PANELS):
            total = total + _panel(float(p), h, c, f)
    call = (bsm_price(spot=spot, strike=strike, expiry=T, vol=am.sqrt(vbar), rate=rate, div=div,
                      is_call=1.0)
            - df * am.sqrt(fwd * strike) / math.pi * total)
    return call - (1.0 - is_call) * df * (fwd - strike)
