"""Scalar helper functions used by the primitive table and the kernels.

Each is a Numba function (``jit``) whose pure-Python twin (``.py_func``) the
reference evaluator uses, so compiled and reference results come from the
same formulas.  All arguments and results are float64; units are those of the
caller.

Examples
--------
>>> from aadrisk.tape.scalar import norm_cdf, sigmoid
>>> round(norm_cdf(0.0), 12), round(sigmoid(0.0, 1.0), 12)
(0.5, 0.5)
"""
from __future__ import annotations

import math

import numpy as np

from .._numba import jit
from .vmath import f2i, vexp, vlog  # noqa: F401  (re-exported for the primitive table)

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@jit
def norm_cdf(x):
    """Standard normal distribution function, accurate in both tails."""
    return 0.5 * math.erfc(-x / SQRT2)


@jit
def norm_pdf(x):
    """Standard normal density."""
    return INV_SQRT_2PI * vexp(-0.5 * x * x)


@jit
def sigmoid(x, width):
    """Logistic step ``1 / (1 + exp(-x / width))``, overflow-free and branch-free
    (selects only: a loop over it vectorises).

    The step rises from 0.12 to 0.88 over ``[-2 width, 2 width]``.
    """
    z = x * (1.0 / width)
    e = vexp(-abs(z))
    d = 1.0 + e
    return 1.0 / d if z >= 0.0 else e / d


@jit
def sigmoid_pair(x, width):
    """``(sigmoid(x, width), sigmoid(-x, width))`` from one ``exp``, each bit-identical
    to its own :func:`sigmoid` call (the fused engine keeps the second for the
    derivative ``y sigmoid(-x) / width`` instead of evaluating it again)."""
    z = x * (1.0 / width)
    e = vexp(-abs(z))
    d = 1.0 + e
    s, c = 1.0 / d, e / d
    return (s, c) if z >= 0.0 else (c, s)


@jit
def ffloor(x):
    """``floor(x)`` as a float (``math.floor`` gives an integer: a conversion per call
    that also stops loops over it from vectorising)."""
    return np.floor(x)


_SHIFT = 6755399441055744.0      # 1.5 * 2**52: f2i(k + _SHIFT) - _SHIFT_BITS = k (small k)
_SHIFT_BITS = 0x4338000000000000


@jit
def gather_at(x, top, base):
    """``base`` + the table row read at index value ``x`` (floor(x) clipped to [0, top],
    NaN to 0, as :func:`aadrisk.tape.kernels._gather_row`), unsigned: the fused
    kernels' table reads.  Selects, a rounding and integer arithmetic on the bits
    only -- no float-to-integer conversion (scalar on AVX2) and no negative-index
    wraparound -- so a loop of lookups vectorises."""
    y = x if x > 0.0 else 0.0
    y = y if y < top else float(top)
    return np.uint64(f2i(np.floor(y) + _SHIFT) - _SHIFT_BITS + base)


@jit
def softplus(x, width):
    """Smooth ``max(x, 0)``: ``width * log(1 + exp(x / width))``, overflow-free.

    It exceeds ``max(x, 0)`` by at most ``width * log 2`` (at ``x = 0``).
    """
    z = x / width
    return width * (max(z, 0.0) + math.log1p(math.exp(-abs(z))))


@jit
def sign(x):
    """-1, 0 or 1."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0


# Counter-based random numbers live in :mod:`aadrisk.tape.rng` (re-exported here).
from .rng import counter_normal_pair, philox4x32  # noqa: E402,F401


@jit
def counter_normal(seed, elem, step, draw):
    """Standard normal number for (seed, element, step, draw).

    Elements ``2m`` and ``2m + 1`` share one Philox call (cosine and sine of
    Box-Muller); the number depends only on the element's own index.
    """
    z0, z1 = counter_normal_pair(seed, elem >> 1, step, draw)
    return z1 if elem & 1 else z0


# --------------------------------------------------------------------------
# Implied volatility root solves (non-differentiable primitives; the tape
# differentiates them by the implicit function theorem, see custom.py).
# --------------------------------------------------------------------------
@jit
def black_normalized(s, x, theta):
    """Undiscounted Black price over the forward: ``theta (N(theta d1) - x N(theta d2))``.

    ``s`` is the total standard deviation ``sigma sqrt(T)``, ``x = K / F``,
    ``theta`` +1 for a call and -1 for a put.
    """
    if s <= 0.0:
        return max(theta * (1.0 - x), 0.0)
    d1 = -math.log(x) / s + 0.5 * s
    d2 = d1 - s
    return theta * (norm_cdf(theta * d1) - x * norm_cdf(theta * d2))


@jit
def bachelier_normalized(s, m):
    """Undiscounted Bachelier price ``m N(m/s) + s n(m/s)`` for total stdev ``s``.

    For ``m/s < -5`` the form ``s n(d) / (t1 t2)`` with the continued fraction
    of the Mills ratio avoids the cancellation of the two terms (deep OTM).
    """
    if s <= 0.0:
        return max(m, 0.0)
    d = m / s
    if d >= -5.0:
        return m * norm_cdf(d) + s * norm_pdf(d)
    x = -d
    # t_k = x + k / t_{k+1}: backward recursion of the Mills-ratio continued fraction
    t = x
    for k in range(80, 1, -1):
        t = x + k / t
    t2 = t
    t1 = x + 1.0 / t2
    return s * norm_pdf(d) / (t1 * t2)


@jit
def _hybrid_newton(target, x, theta, kind):
    # Newton on log(price) in the total stdev s, safeguarded by bisection.
    # kind 0: Black normalized (x = K/F); kind 1: Bachelier (x = theta (F - K)).
    lo = 0.0
    hi = math.inf
    if kind == 0:
        s = max(math.sqrt(2.0 * abs(math.log(x))), target * math.sqrt(2.0 * math.pi))
    else:
        s = max(abs(x), target * math.sqrt(2.0 * math.pi))
    if s <= 0.0:
        s = 1e-3
    log_target = math.log(target)
    for _ in range(300):
        if kind == 0:
            f = black_normalized(s, x, theta)
            v = norm_pdf(-math.log(x) / s + 0.5 * s)
        else:
            f = bachelier_normalized(s, x)
            v = norm_pdf(x / s)
        if f == target:
            return s
        if f > target:
            hi = s
        else:
            lo = s
        s_new = -1.0
        if f > 0.0 and v > 0.0:
            s_new = s - (math.log(f) - log_target) * f / v
        if not (s_new > lo and s_new < hi):
            s_new = 0.5 * (lo + hi) if hi < math.inf else 2.0 * s
        if abs(s_new - s) <= 4e-16 * s:
            return s_new
        s = s_new
    return math.nan


@jit
def iv_black_stdev(c, x, theta):
    """Total standard deviation ``sigma sqrt(T)`` whose normalized Black price is ``c``.

    ``c`` is the undiscounted option price divided by the forward, ``x = K / F``.
    Returns NaN when ``c`` is outside the no-arbitrage bounds.
    """
    theta = 1.0 if theta >= 0.0 else -1.0
    intrinsic = max(theta * (1.0 - x), 0.0)
    upper = 1.0 if theta > 0.0 else x
    if not (x > 0.0) or not (c >= intrinsic) or not (c < upper):
        return math.nan
    if c == intrinsic:
        return 0.0
    # Solve on the out-of-the-money side (put-call parity), where it is better conditioned.
    if theta * (1.0 - x) > 0.0:
        c = c - theta * (1.0 - x)
        theta = -theta
    return _hybrid_newton(c, x, theta, 0)


@jit
def iv_bachelier_stdev(v, m):
    """Normal total standard deviation ``sigma_n sqrt(T)`` for undiscounted price ``v``.

    ``m = theta (F - K)`` is the signed intrinsic distance.  NaN outside bounds.
    """
    intrinsic = max(m, 0.0)
    if not (v >= intrinsic) or math.isnan(v):
        return math.nan
    if v == intrinsic:
        return 0.0
    if m > 0.0:  # in the money: use the out-of-the-money twin by parity
        v = v - m
        m = -m
    return _hybrid_newton(v, m, 1.0, 1)
