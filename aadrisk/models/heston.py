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
truncation error of the Greeks is of the same negligible order.

On the tape the 384 nodes are one :func:`aadrisk.scan` of 192 steps; a step
evaluates ``N_STEP`` = 2 nodes of a panel, read (:func:`aadrisk.gather`) from
per-option tables of ``h t_i`` and ``w_i h c / 2`` built before the loop, so
memory does not grow with the node count.  Everything that does not depend on
the node (``beta``, the coefficients of ``d^2``, ``kappa theta / sigma^2`` ...) is
computed once per option before the loop, and the characteristic function is
evaluated in the form of :func:`_integrand` (about 75 operations per node).  A
small loop body matters for the Greeks: the reverse sweep re-evaluates the body
from checkpoints and clears its adjoint rows at every step, so its cost grows
with the body's size, whatever the work per row.

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
from ..tape.record import Var, scan, table
from .black_scholes import bsm_price

__all__ = ["heston_price", "N_GL", "N_PANELS", "N_STEP"]

N_GL = 16
N_PANELS = 24
N_STEP = 2                      # quadrature nodes per loop step (divides N_GL)
_X, _W = np.polynomial.legendre.leggauss(N_GL)
_T = 0.5 * (_X + 1.0)           # nodes on [0, 1]
_WT = 0.5 * _W
_L = 32.0                       # truncation at |integrand| ~ e^-L
_C_SCALE = 2.0


def _coefficients(*, x, T, v0, kappa, theta, sigma, rho, vbt):
    """Per-option constants of the integrand, hoisted out of the quadrature loop.

    At ``w = u - i/2``: ``beta = b0 + i b1 u`` (``b0 = kappa - rho sigma / 2``,
    ``b1 = -rho sigma``), ``d^2 / 2 = a0 + a1 u^2 + i a2 u``; ``kt = kappa theta / sigma^2``.
    """
    s2 = sigma * sigma
    rs = rho * sigma
    b0 = kappa - 0.5 * rs
    kt = kappa * theta / s2
    ktT = kt * T
    return dict(b0=b0, b1=-rs, a0=0.5 * (b0 * b0 + 0.25 * s2), a1=0.5 * (s2 - rs * rs),
                a2=-b0 * rs, nT=-T, nv0=-v0, kt=kt, ktT=ktT, kt2=2.0 * kt,
                c0=kt * math.log(8.0), nvbt=-0.5 * vbt, x=x)


def _integrand(u, uu, k):
    """``Re[e^{iux} (phi(u - i/2) - phi_BS)]`` at ``u`` (``uu = u^2 + 1/4``).

    Little-trap characteristic function rewritten with ``Q = (beta + d) - (beta - d) e``,
    ``e = e^{-dT}``: ``1 - g e = Q / (beta + d)`` and ``1 - g = 2 d / (beta + d)``, so
    ``D = -uu (1 - e) / Q`` (``beta^2 - d^2 = -sigma^2 uu``) and
    ``C = kt ((beta - d) T - 2 ln(Q / (2 d)))``; ``arg(Q / d)`` is taken as
    ``atan2`` of ``Q conj(d)``, the same principal value as ``arg((1 - g e) / (1 - g))``.
    """
    # d = sqrt(2 (ar + i ai)) with Re > 0; h = |d|^2 / 2
    ar = k["a0"] + k["a1"] * (u * u)
    ai = k["a2"] * u
    h = am.sqrt(ar ** 2 + ai ** 2)
    dr = am.sqrt(h + ar)
    di = ai / dr
    m = am.exp(k["nT"] * dr)
    ang = k["nT"] * di
    er, ei = m * am.cos(ang), m * am.sin(ang)
    b1 = k["b1"] * u
    mr, mi = k["b0"] - dr, b1 - di        # beta - d
    qr = (k["b0"] + dr) - (mr * er - mi * ei)
    qi = (b1 + di) - (mr * ei + mi * er)
    q2 = qr ** 2 + qi ** 2
    fr = 1.0 - er                         # 1 - e = (fr, -ei)
    coef = (k["nv0"] * uu) / q2           # v0 D = coef (1 - e) conj(Q)
    vdr = coef * (fr * qr - ei * qi)
    vdi = coef * (ei * qr + fr * qi)      # v0 Im D = -vdi
    lr = am.log(q2 / h)                   # ln |Q / (2 d)|^2 + ln 8
    li = am.atan2(qi * dr - qr * di, qr * dr + qi * di)
    ux = u * k["x"]
    zr = (k["c0"] + k["ktT"] * mr) - k["kt"] * lr + vdr
    zi = (k["ktT"] * mi + ux) - k["kt2"] * li - vdi
    return am.exp(zr) * am.cos(zi) - am.exp(k["nvbt"] * uu) * am.cos(ux)


def _point(hs, w, c2, k):
    """Weighted term of the quadrature node ``s`` (``u = c sinh(s)``, ``du = c cosh(s) ds``).

    ``hs = h s``; ``w`` is the Gauss-Legendre weight on ``[0, 1]`` times ``h c / 2``;
    ``c2 = c / 2``.
    """
    es = am.exp(hs)
    ems = 1.0 / es
    u = c2 * (es - ems)
    uu = u * u + 0.25
    return (w * (es + ems) / uu) * _integrand(u, uu, k)


def _step(state, h, c2, k, tab_ht, tab_w):
    """One loop step: ``N_STEP`` consecutive nodes of a panel, read from per-option tables.

    ``state = (j, total)``: step ``j`` covers nodes ``m .. m + N_STEP - 1`` of panel
    ``p = floor(j / S)``, ``m = N_STEP (j - S p)``, ``S = N_GL / N_STEP``;
    ``tab_ht[i] = h t_i`` and ``tab_w[i] = w_i h c / 2`` (node ``i`` of a panel).
    """
    j, tot = state
    per = N_GL // N_STEP
    p = am.floor(j / per)
    m = N_STEP * (j - per * p)
    hp = h * p
    for g in range(N_STEP):
        i = m + float(g)
        tot = tot + _point(hp + am.gather(tab_ht, i), am.gather(tab_w, i), c2, k)
    return j + 1.0, tot


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
    kT = kappa * T
    vbar = theta + (v0 - theta) * (1.0 - am.exp(-kT)) / kT
    vbt = vbar * T
    # node placement (held constant for differentiation)
    a = am.sqrt(1.0 - rho * rho) * (v0 + kappa * theta * T) / sigma
    U = am.stop_gradient(am.minimum(am.maximum(_L / a, am.sqrt(2.0 * _L / vbt)), 2.0e4))
    c = am.stop_gradient(_C_SCALE / am.sqrt(vbt))
    q = U / c
    h = am.stop_gradient(am.log(q + am.sqrt(q * q + 1.0)) / N_PANELS)   # asinh(U/c) / P

    k = _coefficients(x=x, T=T, v0=v0, kappa=kappa, theta=theta, sigma=sigma, rho=rho, vbt=vbt)
    c2 = 0.5 * c
    wc = h * c2
    if isinstance(h, Var):
        tab_ht = table([h * float(t) for t in _T])
        tab_w = table([wc * float(w) for w in _WT])
        _, total = scan(lambda st, _: _step(st, h, c2, k, tab_ht, tab_w), (0.0, 0.0),
                        n_steps=N_PANELS * N_GL // N_STEP)
    else:
        total = 0.0
        for p in range(N_PANELS):
            for t, w in zip(_T, _WT):
                total = total + _point(h * p + h * float(t), wc * float(w), c2, k)
    call = (bsm_price(spot=spot, strike=strike, expiry=T, vol=am.sqrt(vbar), rate=rate, div=div,
                      is_call=1.0)
            - df * am.sqrt(fwd * strike) / math.pi * total)
    return call - (1.0 - is_call) * df * (fwd - strike)
