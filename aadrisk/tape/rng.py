"""Counter-based normal random numbers: Philox-4x32-10 and Box-Muller, a block at a time.

The normal of element ``i`` at loop step ``t`` for draw ``d`` depends only on
``(seed, i, t, d)`` -- never on the batch size, block layout or thread count.
Elements ``2m`` and ``2m + 1`` share one Philox-4x32-10 call (Salmon et al.,
SC'11) on the counter ``(m, t + 1, d)`` keyed by the seed; its four 32-bit
words make two 53-bit uniforms ``u1, u2`` in (0, 1), and Box-Muller gives the
pair ``(r cos 2 pi u2, r sin 2 pi u2)`` with ``r = sqrt(-2 log u1)``.

Speed: :func:`normal_block` fills a whole block in one loop over its pairs that
the compiler vectorises -- Philox in registers, then ``log`` and ``sincos``
written as polynomials in plain arithmetic (accurate to about one unit in the
last place) instead of scalar library calls.  The scalar
:func:`counter_normal_pair` runs the very same operations on a block of one
pair, so every path of the engine draws bit-identical numbers.

Examples
--------
>>> import numpy as np
>>> from aadrisk.tape.rng import counter_normal_pair, normal_block, workspace
>>> z = np.empty(6)
>>> normal_block(7, 3, 6, 0, 0, z, workspace(6))
>>> bool(z[1] == counter_normal_pair(7, 2, 0, 0)[0])   # element 4: pair 2, cosine half
True
"""
from __future__ import annotations

import math

import numpy as np

from .._numba import jit
from .vmath import f2i, i2f

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S21 = np.uint64(21)
_S11 = np.uint64(11)
_S52 = np.uint64(52)
_S1 = np.uint64(1)
_FRAC = np.uint64(0x000FFFFFFFFFFFFF)
_ONE = np.uint64(0x3FF0000000000000)
_EXPM = np.uint64(0x7FF)
_2M53 = 2.0 ** -53
_LOW0, _LOW1 = 0.5 * _2M53, 1.5 * _2M53
_LN2_HI = 6.93147180369123816490e-01   # fdlibm's split of log(2)
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_SHIFT = 6755399441055744.0            # 1.5 * 2**52: i2f(k + _SHIFT_BITS) - _SHIFT = k
_SHIFT_BITS = 0x4338000000000000
_TWO_PI = 2.0 * math.pi

#: (2k+1)^-1 for the series log m = 2 s sum_k s^(2k) / (2k+1)
_L = tuple(1.0 / (2 * k + 1) for k in range(12))
#: Taylor coefficients of sin and cos on [-pi/4, pi/4] (errors below 1e-19)
_S = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(10))
_C = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(11))


@jit
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox-4x32 with 10 rounds; all arguments uint64 holding 32-bit words."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0 = p0 >> _S32
        lo0 = p0 & _MASK
        hi1 = p1 >> _S32
        lo1 = p1 & _MASK
        c0 = (hi1 ^ c1 ^ k0) & _MASK
        c1 = lo1
        c2 = (hi0 ^ c3 ^ k1) & _MASK
        c3 = lo0
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


@jit(inline="always")
def _pair_words(k0, k1, c2, c3, e):
    """The two 53-bit integers of the pair with counter ``e``: Philox-4x32-10 on the
    counter ``(e, c2, c3)`` with key ``(k0, k1)`` (as :func:`philox4x32`), each
    output pair of 32-bit words joined to 53 bits."""
    a0, a1, a2, a3 = e & _MASK, e >> _S32, c2, c3
    for _ in range(10):
        q0 = _M0 * a0
        q1 = _M1 * a2
        a0, a1, a2, a3 = (((q1 >> _S32) ^ a1 ^ k0) & _MASK, q1 & _MASK,
                          ((q0 >> _S32) ^ a3 ^ k1) & _MASK, q0 & _MASK)
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return (a0 << _S21) ^ (a1 >> _S11), (a2 << _S21) ^ (a3 >> _S11)


@jit(inline="always")
def _unit(y):
    """The uniform ``(y + 1/2) 2^-53`` in (0, 1) of a 53-bit integer ``y = 2 h + b``,
    as ``(1 + h 2^-52) - 1 + (b + 1/2) 2^-53`` -- the float ``1 + h 2^-52`` made from
    bits -- which rounds exactly as the plain conversion does, in operations that
    vectorise."""
    low = _LOW1 if y & _S1 else _LOW0
    return (i2f(np.int64(_ONE | (y >> _S1))) - 1.0) + low


@jit(inline="always")
def _radius(u):
    """Box-Muller's ``sqrt(-2 log u)``, ``log`` from the exponent and mantissa bits of
    ``u`` and the atanh series (branch-free)."""
    b = f2i(u)
    x = i2f((b & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)       # in [1, 2)
    ex = i2f(((b >> 52) & 0x7FF) - 1023 + _SHIFT_BITS) - _SHIFT  # exponent, as a float
    big = x > _SQRT2
    x = x * 0.5 if big else x     # in [sqrt(1/2), sqrt(2)]
    ex = ex + 1.0 if big else ex
    s = (x - 1.0) / (x + 1.0)
    z = s * s
    poly = _L[11]
    for c in _L[10::-1]:
        poly = poly * z + c
    logx = 2.0 * s * poly
    lg = ex * _LN2_HI + (logx + ex * _LN2_LO)
    return math.sqrt(-2.0 * lg)


@jit(inline="always")
def _sincos_2pi(u):
    """(sin 2 pi u, cos 2 pi u) for u in (0, 1), by quadrant and Taylor polynomials
    (branch-free, so that a loop over it vectorises)."""
    w = u - 0.5                       # angle 2 pi u = 2 pi w + pi
    q = np.floor(4.0 * w + 0.5)       # nearest quarter turn, in -2 .. 2 (a float)
    r = _TWO_PI * (w - 0.25 * q)      # exact reduction: |r| <= pi / 4
    z = r * r
    sp = _S[9]
    for c in _S[8::-1]:
        sp = sp * z + c
    cp = _C[10]
    for c in _C[9::-1]:
        cp = cp * z + c
    sr = r * sp
    swap = q == 1.0 or q == -1.0
    s1 = cp if swap else sr
    c1 = sr if swap else cp
    # quarter turns q = 0, 1, +-2, -1: (sin, cos) = (s, c), (c, -s), (-s, -c), (-c, s)
    sn = -s1 if (q < -0.5 or q > 1.5) else s1
    cs = -c1 if (q > 0.5 or q < -1.5) else c1
    return -sn, -cs                   # the half-turn shift


@jit
def _key(seed, step, draw):
    s = np.uint64(seed)
    return (s & _MASK, (s >> _S32) & _MASK, np.uint64(step + 1) & _MASK,
            np.uint64(draw) & _MASK)


@jit
def _uniforms(seed, p0, m, step, draw, U1, U2):
    """U1[k], U2[k] <- the two uniforms in (0, 1) of pair p0 + k, k < m."""
    k0, k1, c2, c3 = _key(seed, step, draw)
    for k in range(m):
        y1, y2 = _pair_words(k0, k1, c2, c3, np.uint64(p0 + k))
        U1[k] = _unit(y1)
        U2[k] = _unit(y2)


@jit
def _pair_normals(seed, p0, m, step, draw, CS, SN):
    """CS[k], SN[k] <- the cosine and sine normals of pair p0 + k, k < m: Philox,
    uniforms, radius and rotation of a pair in registers, in one loop over the
    pairs that the compiler vectorises (four pairs per instruction)."""
    k0, k1, c2, c3 = _key(seed, step, draw)
    for k in range(m):
        y1, y2 = _pair_words(k0, k1, c2, c3, np.uint64(p0 + k))
        r = _radius(_unit(y1))
        sn, cs = _sincos_2pi(_unit(y2))
        CS[k] = r * cs
        SN[k] = r * sn


@jit
def workspace(n):
    """Buffers of :func:`normal_block` for up to ``n`` elements per call."""
    m = n // 2 + 2
    return (np.empty(m), np.empty(m))


@jit
def normal_block(seed, j0, n, step, draw, out, ws):
    """``out[:n]`` <- the normals of elements ``j0 .. j0 + n - 1`` at ``step``, ``draw``.

    ``ws``: the buffers of :func:`workspace` (for at least ``n`` elements).
    """
    if n <= 0:
        return
    p0 = j0 >> 1
    m = ((j0 + n - 1) >> 1) - p0 + 1
    CS, SN = ws
    _pair_normals(seed, p0, m, step, draw, CS, SN)
    k0 = 0
    if j0 & 1:                        # odd first element: the sine half of its pair
        out[0] = SN[0]
        k0 = 1
    e0 = 2 * p0 - j0
    full = (n - (e0 + 2 * k0)) >> 1   # pairs with both halves inside
    for k in range(k0, k0 + full):
        out[e0 + 2 * k] = CS[k]
        out[e0 + 2 * k + 1] = SN[k]
    k = k0 + full
    if k < m and e0 + 2 * k < n:      # a last cosine half
        out[e0 + 2 * k] = CS[k]


@jit
def counter_normal_pair(seed, pair, step, draw):
    """The two standard normals of elements ``2 pair`` and ``2 pair + 1``."""
    CS, SN = np.empty(1), np.empty(1)
    _pair_normals(seed, pair, 1, step, draw, CS, SN)
    return CS[0], SN[0]
