"""Dupire local volatility from an implied-vol surface, for floats and tape values.

Total-variance form (Gatheral, *The Volatility Surface*, eq. 1.10): with
``y = ln(K / F(T))`` the log-moneyness on the forward and ``w(y, T) = sigma_imp^2 T``::

    sigma_loc^2(K, T) = dw/dT / (1 - y/w dw/dy + 1/4 (-1/4 - 1/w + y^2/w^2) (dw/dy)^2
                                 + 1/2 d2w/dy2),

``dw/dT`` taken at fixed ``y``.  The implied surface is the expiry x strike grid of
quotes; its interpolant is

* in ``y``, per expiry: a natural cubic spline of ``w`` through the nodes
  ``y_ij = ln(K_j / F_i)``, flat beyond the first and last node;
* in ``T``, at fixed ``y``: linear in ``w`` between expiries, ``w = (T / T_0) w_0(y)``
  before the first and ``(T / T_n) w_n(y)`` after the last (constant implied vol).

The spline and its ``y``-derivatives are **linear** in the node total variances with
coefficients that depend only on the grid, so they are computed in NumPy once and
the local vol of each output point is a short tape expression of the node vols:
recorded with the quote vols as inputs, one reverse sweep gives the sensitivity of
every local vol (or of a Monte Carlo price using them) to every implied-vol node.
``dw/dT`` is piecewise constant in ``T`` (local vol is piecewise smooth in time).

Arbitrage checks (on the quotes, before any local vol is computed):

* calendar: ``w`` non-decreasing in ``T`` at fixed ``y``
  (:func:`calendar_violations`);
* butterfly / density: the Dupire denominator above is positive at every quote
  (:func:`butterfly_violations`).

Examples
--------
>>> lv = dupire_local_vol(times=[0.5, 1.0], strikes=[90.0, 100.0, 110.0],
...                       vols=[[0.2] * 3, [0.2] * 3], forwards=[100.0, 100.0], spot=100.0,
...                       out_times=[0.25, 0.75], out_spots=[95.0, 105.0])
>>> [[round(float(v), 12) for v in row] for row in lv]
[[0.2, 0.2], [0.2, 0.2]]
"""
from __future__ import annotations

import math

import numpy as np

from .. import math as am

__all__ = ["LocalVolArbitrageError", "spline_weights", "dupire_local_vol", "dupire_parts",
           "calendar_violations", "butterfly_violations"]


class LocalVolArbitrageError(ValueError):
    """The implied surface admits arbitrage; the message names the quote."""


def _spline_matrix(x):
    """``M = S f``: second derivatives of the natural cubic spline through ``(x, f)``."""
    n = len(x)
    S = np.zeros((n, n))
    if n < 3:
        return S
    h = np.diff(x)
    A = np.zeros((n - 2, n - 2))
    R = np.zeros((n - 2, n))
    for k in range(1, n - 1):
        A[k - 1, k - 1] = 2.0 * (h[k - 1] + h[k])
        if k > 1:
            A[k - 1, k - 2] = h[k - 1]
        if k < n - 2:
            A[k - 1, k] = h[k]
        R[k - 1, k - 1] += 6.0 / h[k - 1]
        R[k - 1, k] += -6.0 / h[k - 1] - 6.0 / h[k]
        R[k - 1, k + 1] += 6.0 / h[k]
    S[1:-1] = np.linalg.solve(A, R)
    return S


def spline_weights(x, y):
    """Weights ``(c0, c1, c2)``, each (len(y), len(x)): spline value, first and second
    derivative at ``y`` are ``c @ f`` (natural cubic spline, flat beyond the nodes)."""
    x = np.asarray(x, dtype=float)
    y = np.atleast_1d(np.asarray(y, dtype=float))
    n = len(x)
    c0 = np.zeros((len(y), n))
    c1 = np.zeros((len(y), n))
    c2 = np.zeros((len(y), n))
    if n == 1:
        c0[:, 0] = 1.0
        return c0, c1, c2
    S = _spline_matrix(x)
    for m, yy in enumerate(y):
        if yy <= x[0]:
            c0[m, 0] = 1.0
            continue
        if yy >= x[-1]:
            c0[m, -1] = 1.0
            continue
        k = min(int(np.searchsorted(x, yy, side="right")) - 1, n - 2)
        h = x[k + 1] - x[k]
        a = (x[k + 1] - yy) / h
        b = (yy - x[k]) / h
        c0[m, k] += a
        c0[m, k + 1] += b
        c0[m] += ((a ** 3 - a) * S[k] + (b ** 3 - b) * S[k + 1]) * h * h / 6.0
        c1[m, k] -= 1.0 / h
        c1[m, k + 1] += 1.0 / h
        c1[m] += (-(3 * a * a - 1) * S[k] + (3 * b * b - 1) * S[k + 1]) * h / 6.0
        c2[m] += a * S[k] + b * S[k + 1]
    return c0, c1, c2


def _dot(c, f):
    tot = 0.0
    for cj, fj in zip(c, f):
        if cj != 0.0:
            tot = tot + float(cj) * fj
    return tot


def _forward_at(t, times, forwards, spot):
    """``F(t)``: ``ln F`` linear in ``t`` through ``(0, ln S)`` and the expiries' forwards."""
    lt = np.concatenate([[0.0], times])
    lf = np.log(np.concatenate([[spot], forwards]))
    if t <= lt[-1]:
        return float(np.exp(np.interp(t, lt, lf)))
    slope = (lf[-1] - lf[-2]) / (lt[-1] - lt[-2])
    return float(np.exp(lf[-1] + slope * (t - lt[-1])))


def dupire_parts(*, times, strikes, vols, forwards, spot, t, k):
    """``(w, dw/dT, dw/dy, d2w/dy2, y)`` of the interpolated surface at time ``t``, strike ``k``.

    ``vols`` (n_T x n_K nested lists of floats or tape values); ``times`` (years),
    ``strikes``, ``forwards`` (per expiry) and ``t``, ``k`` are plain floats.
    """
    T = np.asarray(times, dtype=float)
    K = np.asarray(strikes, dtype=float)
    F = np.asarray(forwards, dtype=float)
    y = math.log(k / _forward_at(t, T, F, spot))
    W = [[v * v * float(T[i]) for v in row] for i, row in enumerate(vols)]

    def slice_(i):
        c0, c1, c2 = spline_weights(np.log(K / F[i]), [y])
        return _dot(c0[0], W[i]), _dot(c1[0], W[i]), _dot(c2[0], W[i])

    n = len(T)
    if t <= T[0] or n == 1 or t >= T[-1]:
        i = 0 if t <= T[0] else n - 1
        s = t / float(T[i])
        w0, w1, w2 = slice_(i)
        return s * w0, w0 / float(T[i]), s * w1, s * w2, y
    i = int(np.searchsorted(T, t, side="right")) - 1
    lam = (t - T[i]) / (T[i + 1] - T[i])
    a0, a1, a2 = slice_(i)
    b0, b1, b2 = slice_(i + 1)
    return ((1 - lam) * a0 + lam * b0, (b0 - a0) / float(T[i + 1] - T[i]),
            (1 - lam) * a1 + lam * b1, (1 - lam) * a2 + lam * b2, y)


def _denominator(w, w1, w2, y):
    return 1.0 - y / w * w1 + 0.25 * (-0.25 - 1.0 / w + y * y / (w * w)) * w1 * w1 + 0.5 * w2


def dupire_local_vol(*, times, strikes, vols, forwards, spot, out_times, out_spots,
                     floor=1e-12):
    """Local vol grid ``[a][b]`` at ``out_times[a]`` (years) and spot level ``out_spots[b]``.

    Parameters
    ----------
    times : expiries of the implied surface (years, increasing).
    strikes : strikes of the surface (increasing).
    vols : nested lists ``vols[i][j]`` Black vol at expiry i, strike j -- floats or tape
        values (then the result is tape values differentiable to every node).
    forwards : forward price to each expiry; ``spot`` the spot (forward at t = 0).
    out_times, out_spots : the output grid.
    floor : the local variance is ``max(dw/dT, floor) / max(denominator, floor)`` so that
        a slightly arbitrageable corner does not give NaN (check the quotes first with
        :func:`calendar_violations` / :func:`butterfly_violations`).
    """
    out = []
    for t in out_times:
        row = []
        for s in out_spots:
            w, wt, w1, w2, y = dupire_parts(times=times, strikes=strikes, vols=vols,
                                            forwards=forwards, spot=spot, t=float(t), k=float(s))
            den = _denominator(w, w1, w2, y)
            row.append(am.sqrt(am.maximum(wt, floor) / am.maximum(den, floor)))
        out.append(row)
    return out


def calendar_violations(t, y, w, tol=1e-10):
    """Quotes breaking calendar no-arbitrage: ``w`` falls from an expiry to the next at fixed ``y``.

    ``t``, ``y``, ``w`` per quote (years, log-moneyness on the forward, total variance).
    Each quote of expiry ``i+1`` whose ``y`` lies within the quotes of expiry ``i`` is
    compared with expiry ``i``'s total variance interpolated linearly in ``y``.  Returns
    ``[(later_quote_index, nearest_earlier_quote_index), ...]``.
    """
    t, y, w = (np.asarray(a, dtype=float) for a in (t, y, w))
    ts = np.unique(t)
    bad = []
    for a, b in zip(ts[:-1], ts[1:]):
        ia = np.flatnonzero(t == a)
        ia = ia[np.argsort(y[ia])]
        for m in np.flatnonzero(t == b):
            if y[ia[0]] - 1e-14 <= y[m] <= y[ia[-1]] + 1e-14:
                wa = np.interp(y[m], y[ia], w[ia])
                if w[m] < wa - tol * max(1.0, wa):
                    near = ia[np.argmin(np.abs(y[ia] - y[m]))]
                    bad.append((int(m), int(near)))
    return bad


def butterfly_violations(t, y, w):
    """Quotes where the Dupire denominator (risk-neutral density factor) is not positive.

    Per expiry, ``dw/dy`` and ``d2w/dy2`` from the natural spline through the expiry's
    quotes, at each quote.  Returns ``[(quote_index, denominator), ...]``.
    """
    t, y, w = (np.asarray(a, dtype=float) for a in (t, y, w))
    bad = []
    for tt in np.unique(t):
        idx = np.flatnonzero(t == tt)
        idx = idx[np.argsort(y[idx])]
        _, c1, c2 = spline_weights(y[idx], y[idx])
        w1, w2 = c1 @ w[idx], c2 @ w[idx]
        yy, ww = y[idx], w[idx]
        den = 1.0 - yy / ww * w1 + 0.25 * (-0.25 - 1.0 / ww + yy ** 2 / ww ** 2) * w1 * w1 \
            + 0.5 * w2
        for m, d in zip(idx, den):
            if not d > 0.0:
                bad.append((int(m), float(d)))
    return bad
