"""Vectorisable exp and log (aadrisk.tape.vmath) against the C library.

Reference: Python's ``math.exp`` / ``math.log`` (the platform libm, correctly
rounded or within 1 ulp), NumPy's ``np.exp`` where ``math.exp`` overflows.
Tolerance: at most 1 unit in the last place, special values exact.
"""
import math
import re

import numpy as np
import pytest

from aadrisk._numba import jit
from aadrisk.tape.scalar import sigmoid, sigmoid_pair
from aadrisk.tape.vmath import f2i, i2f, vexp, vlog


def _ulps(a, b):
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(f2i(a) - f2i(b))


def _exp_ref(x):
    with np.errstate(over="ignore", under="ignore"):
        return float(np.exp(x))


@jit
def _exp_all(xs, out):
    for j in range(xs.size):
        out[j] = vexp(xs[j])


@jit
def _log_all(xs, out):
    for j in range(xs.size):
        out[j] = vlog(xs[j])


EXP_SPECIAL = [0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 709.78, 709.782712893384, 709.7828,
               -708.39, -709.0, -740.0, -744.4, -745.13, -745.14, -800.0, 800.0,
               math.inf, -math.inf, math.nan]
LOG_SPECIAL = [5e-324, 1e-320, 2.2250738585072014e-308, 2.225073858507201e-308, 0.5, 1.0, 2.0,
               math.sqrt(2.0), 1.7976931348623157e308, math.inf, 0.0, -0.0, -1.0, math.nan]


def test_exp_within_one_ulp_over_the_double_range():
    rng = np.random.default_rng(7)
    xs = np.concatenate([rng.uniform(-746.0, 710.0, 20_000), rng.uniform(-5.0, 5.0, 20_000),
                         rng.uniform(-1e-8, 1e-8, 1_000), EXP_SPECIAL])
    out = np.empty_like(xs)
    _exp_all(xs, out)
    worst = max(_ulps(y, _exp_ref(x)) for x, y in zip(xs, out))
    assert worst <= 1


def test_log_within_one_ulp_including_subnormals_and_specials():
    rng = np.random.default_rng(8)
    xs = np.concatenate([np.exp(rng.uniform(-744.0, 709.0, 20_000)), rng.uniform(0.5, 2.0, 20_000),
                         1.0 + rng.uniform(-1e-7, 1e-7, 1_000), rng.uniform(0.0, 1e-310, 200),
                         LOG_SPECIAL])
    out = np.empty_like(xs)
    _log_all(xs, out)

    def ref(x):
        if math.isnan(x) or x < 0:
            return math.nan
        if x == 0:
            return -math.inf
        return math.log(x)
    worst = max(_ulps(y, ref(x)) for x, y in zip(xs, out))
    assert worst <= 1


@pytest.mark.parametrize("x", EXP_SPECIAL + [0.3, -17.25, 123.456])
def test_python_twin_gives_the_same_bits(x):
    """The reference evaluator runs ``.py_func``: it must agree with compiled code bit
    for bit."""
    for f in (vexp, vlog):
        a, b = f(x), f.py_func(x)
        assert (math.isnan(a) and math.isnan(b)) or f2i(a) == f2i(b), (f, x)


def test_bit_casts_round_trip():
    for x in (1.0, -2.5, 5e-324, math.inf):
        assert i2f(f2i(x)) == x
    assert f2i(1.0) == 0x3FF0000000000000
    assert i2f(-1) != i2f(-1)   # all bits set: a NaN


def test_sigmoid_pair_matches_two_sigmoid_calls_bit_for_bit():
    for x in (-40.0, -1.0, -1e-9, 0.0, 1e-9, 0.7, 3.0, 800.0):
        s, c = sigmoid_pair(x, 0.5)
        assert s == sigmoid(x, 0.5) and c == sigmoid(-x, 0.5)
        assert abs(s - 1.0 / (1.0 + math.exp(-x / 0.5))) <= 2e-16


def test_a_loop_over_vexp_compiles_to_vector_code():
    """What the module is for: LLVM vectorises the loop (``<N x double>`` in the IR)."""
    import numba
    fresh = numba.njit(cache=False)(_exp_all.py_func)   # a cached library keeps no IR
    xs = np.linspace(-1.0, 1.0, 16)
    fresh(xs, np.empty_like(xs))
    ir = "".join(fresh.inspect_llvm().values())
    assert re.search(r"<\d+ x double>", ir)
