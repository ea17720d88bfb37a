"""``exp`` and ``log`` that the compiler can vectorise, for the primitive table.

The C library's ``exp`` and ``log`` are opaque calls: a loop over a block of
paths that calls them runs one path at a time.  These are branch-free
(selects only) polynomial versions built from IEEE bit manipulation, so a
loop over an array of arguments compiles to AVX2 code with four paths per
instruction, and each is inlined where it is used.  Both are accurate to
about one unit in the last place over the whole double range (subnormals,
infinities and NaN included; ``tests/tape/test_vmath.py`` checks against the
C library) and give the same bits in compiled code and in Python
(``vexp.py_func``), which the reference evaluator uses.

Examples
--------
>>> from aadrisk.tape.vmath import vexp, vlog
>>> abs(vexp(1.0) - 2.718281828459045) < 5e-16, vlog(1.0)
(True, 0.0)
"""
from __future__ import annotations

import math
import struct

from numba import types
from numba.extending import intrinsic, overload

from .._numba import jit

__all__ = ["vexp", "vlog"]

_MASK = (1 << 64) - 1


# -- bit casts: plain Python functions, with Numba implementations (one LLVM bitcast) ----
def f2i(x):
    """The IEEE bits of the double ``x`` as a signed 64-bit integer."""
    return struct.unpack("<q", struct.pack("<d", x))[0]


def i2f(i):
    """The double whose IEEE bits are the 64-bit integer ``i`` (taken modulo 2**64)."""
    return struct.unpack("<d", struct.pack("<Q", i & _MASK))[0]


@intrinsic
def _f2i(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))
    return types.int64(types.float64), codegen


@intrinsic
def _i2f(typingctx, i):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return types.float64(types.int64), codegen


@overload(f2i, jit_options={"cache": True})
def _ol_f2i(x):
    return lambda x: _f2i(x)


@overload(i2f, jit_options={"cache": True})
def _ol_i2f(i):
    return lambda i: _i2f(i)


# -- exp ---------------------------------------------------------------------------------
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01   # ln 2 with 21 trailing zero bits: n * _LN2_HI exact
_LN2_LO = 1.90821492927058770002e-10
_SHIFT = 6755399441055744.0            # 1.5 * 2**52: x + _SHIFT rounds x to an integer
_SHIFT_BITS = 0x4338000000000000
_EXP_HI = 709.782712893384             # above: overflow to inf
_EXP_LO = -745.1332191019412           # below: underflow to 0 (half the least subnormal)


@jit
def vexp(x):
    """``e ** x`` (float), vectorisable: ``x = n ln2 + r``, ``|r| <= ln2 / 2``, a
    degree-13 Taylor polynomial for ``e ** r`` (truncation below 1e-17) and
    ``2 ** n`` built from its bits in two halves (correct subnormals)."""
    xc = x if x < 709.79 else 709.79
    xc = xc if xc > -745.2 else -745.2
    t = xc * _LOG2E + _SHIFT
    n = t - _SHIFT
    r = (xc - n * _LN2_HI) - n * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    k = f2i(t) - _SHIFT_BITS
    k1 = k >> 1
    y = p * i2f((k1 + 1023) << 52) * i2f((k - k1 + 1023) << 52)
    y = math.inf if x > _EXP_HI else y
    y = 0.0 if x < _EXP_LO else y
    return x if x != x else y


# -- log ---------------------------------------------------------------------------------
_SQRT2 = 1.4142135623730951
_TWO54 = 18014398509481984.0


@jit
def vlog(x):
    """Natural log (float), vectorisable: ``x = 2 ** k m`` with ``m`` in
    ``[sqrt(1/2), sqrt(2))`` from the bits, ``log m = f - f*f/2 + s (f*f/2 + R)``
    with ``f = m - 1``, ``s = f / (2 + f)`` and ``R`` the atanh series in ``s*s``
    to degree 11 (fdlibm's arrangement, Taylor coefficients)."""
    sub = x < 2.2250738585072014e-308
    xs = x * _TWO54 if sub else x
    b = f2i(xs)
    m = i2f((b & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    e = ((b >> 52) & 0x7FF) - (1077 if sub else 1023)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    k = i2f(e + _SHIFT_BITS) - _SHIFT
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    R = 2.0 / 23.0
    R = R * z + 2.0 / 21.0
    R = R * z + 2.0 / 19.0
    R = R * z + 2.0 / 17.0
    R = R * z + 2.0 / 15.0
    R = R * z + 2.0 / 13.0
    R = R * z + 2.0 / 11.0
    R = R * z + 2.0 / 9.0
    R = R * z + 2.0 / 7.0
    R = R * z + 2.0 / 5.0
    R = R * z + 2.0 / 3.0
    R = R * z
    hfsq = 0.5 * f * f
    y = k * _LN2_HI - ((hfsq - (s * (hfsq + R) + k * _LN2_LO)) - f)
    y = math.inf if x == math.inf else y
    y = -math.inf if x == 0.0 else y
    y = math.nan if x < 0.0 else y
    return x if x != x else y
