"""Every row of :data:`aadrisk.tape.primitives.TABLE` against an independent reference.

The references below are written by hand from textbook calculus (sources named
per row); they do not read the table's formula strings.  Each differentiable
row is checked

(a) compiled value / reverse gradient / JVP / HVP / full Hessian of a one-op
    program (``aadrisk.tape.record.apply``) against the analytic reference,
    relative tolerance ``RTOL_EXACT = 1e-12``; and
(b) compiled gradient against 4th-order central finite differences of the
    compiled value, and compiled Hessian against finite differences of the
    compiled gradient, relative tolerance ``RTOL_FD = 1e-6`` plus a stated
    round-off allowance.

Inputs are drawn by Hypothesis inside each row's ``domain`` (and ``param``
range), at least ``KINK_MARGIN`` away from the row's ``kink`` points.

Tolerance convention (tests, not the library, decide what is accurate)::

    |got - ref| <= RTOL * max(|ref|, scale)

``scale`` is ``|ref|`` (pure relative) unless a quantity is a sum of terms that
cancel in exact arithmetic (``a - b``, ``1 + b log a``, ``a**2 - 1`` ...): there
the magnitude of the cancelling terms is used, because no plain double-precision
formula resolves the difference better than that.  Products of well-conditioned
factors get no such allowance.  An absolute ``UNDERFLOW = 1e-300`` is added
for results in the subnormal range (Hypothesis draws arguments like 5e-324).
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import aadrisk as ad
from aadrisk.tape import _gen
from aadrisk.tape.primitives import TABLE
from aadrisk.tape.record import apply

RTOL_EXACT = 1e-12
RTOL_FD = 1e-6
KINK_MARGIN = 1e-3
UNDERFLOW = 1e-300  # absolute floor: results in the subnormal range carry no relative precision
EPS = np.finfo(float).eps
ARG_NAMES = ("a", "b", "c")
ROWS = {prim.name: prim for prim in TABLE}

SQRT2PI = math.sqrt(2.0 * math.pi)


def _phi(x):
    """Standard normal density, exp(-x^2/2)/sqrt(2 pi) (A&S 26.2.1)."""
    return math.exp(-0.5 * x * x) / SQRT2PI


def _Phi(x):
    """Standard normal cdf, erfc(-x/sqrt 2)/2 (A&S 26.2.29), accurate in the lower tail."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _logistic(z):
    """1/(1+exp(-z)) without overflow."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _logistic_slope(z):
    """s(z)(1-s(z)) = exp(-|z|)/(1+exp(-|z|))^2: full relative accuracy for any z."""
    e = math.exp(-abs(z))
    return e / ((1.0 + e) * (1.0 + e))


class Q(float):
    """A reference number with the magnitude ``scale`` of its cancelling terms."""

    def __new__(cls, value, scale=None):
        obj = super().__new__(cls, value)
        obj.scale = abs(value) if scale is None else abs(scale)
        return obj


def _scale(q):
    return q.scale if isinstance(q, Q) else abs(q)


# ----------------------------------------------------------------------------------
# Hand-written references.  Each returns {"f": value, "a": df/da, "b": df/db,
# "aa"/"ab"/"bb": second partials}; missing first/second partials are zero.
# Partials with respect to the condition argument ``c`` are always zero.
# ----------------------------------------------------------------------------------
def _ref_add(a, b, c, p):  # d(a+b) = da + db
    return {"f": Q(a + b, abs(a) + abs(b)), "a": 1.0, "b": 1.0}


def _ref_sub(a, b, c, p):
    return {"f": Q(a - b, abs(a) + abs(b)), "a": 1.0, "b": -1.0}


def _ref_mul(a, b, c, p):  # product rule
    return {"f": a * b, "a": b, "b": a, "ab": 1.0}


def _ref_div(a, b, c, p):  # quotient rule: d(a/b)/db = -a/b^2, d2/db2 = 2a/b^3
    return {"f": a / b, "a": 1.0 / b, "b": -a / b ** 2, "ab": -1.0 / b ** 2,
            "bb": 2.0 * a / b ** 3}


def _ref_square(a, b, c, p):
    return {"f": a * a, "a": 2.0 * a, "aa": 2.0}


def _ref_powc(a, b, c, p):  # power rule with constant exponent p
    return {"f": math.pow(a, p), "a": p * math.pow(a, p - 1.0),
            "aa": p * (p - 1.0) * math.pow(a, p - 2.0)}


def _ref_pow(a, b, c, p):
    # a^b = exp(b ln a): d/da = b a^(b-1), d/db = a^b ln a, d2/dadb = a^(b-1) (1 + b ln a)
    la = math.log(a)
    return {"f": math.exp(b * la), "a": b * math.pow(a, b - 1.0), "b": math.pow(a, b) * la,
            "aa": b * (b - 1.0) * math.pow(a, b - 2.0),
            "ab": Q(math.pow(a, b - 1.0) * (1.0 + b * la),
                    math.pow(a, b - 1.0) * (1.0 + abs(b * la))),
            "bb": math.pow(a, b) * la * la}


def _ref_exp(a, b, c, p):
    e = math.exp(a)
    return {"f": e, "a": e, "aa": e}


def _ref_log(a, b, c, p):
    return {"f": math.log(a), "a": 1.0 / a, "aa": -1.0 / (a * a)}


def _ref_sqrt(a, b, c, p):  # d sqrt(a) = a^(-1/2)/2, d2 = -a^(-3/2)/4
    return {"f": math.sqrt(a), "a": 0.5 * a ** -0.5, "aa": -0.25 * a ** -1.5}


def _ref_abs(a, b, c, p):  # away from 0: |a|' = sign(a), |a|'' = 0
    return {"f": abs(a), "a": math.copysign(1.0, a)}


def _ref_sin(a, b, c, p):
    return {"f": math.sin(a), "a": math.cos(a), "aa": -math.sin(a)}


def _ref_cos(a, b, c, p):
    return {"f": math.cos(a), "a": -math.sin(a), "aa": -math.cos(a)}


def _ref_tanh(a, b, c, p):  # tanh' = sech^2, tanh'' = -2 tanh sech^2
    sech2 = 1.0 / math.cosh(a) ** 2
    return {"f": math.tanh(a), "a": sech2, "aa": -2.0 * math.tanh(a) * sech2}


def _ref_erf(a, b, c, p):  # erf' = 2/sqrt(pi) exp(-a^2) (A&S 7.1.19)
    g = 2.0 / math.sqrt(math.pi) * math.exp(-a * a)
    return {"f": math.erf(a), "a": g, "aa": -2.0 * a * g}


def _ref_norm_cdf(a, b, c, p):  # Phi' = phi, phi' = -a phi
    return {"f": _Phi(a), "a": _phi(a), "aa": -a * _phi(a)}


def _ref_norm_pdf(a, b, c, p):  # phi'' = (a^2 - 1) phi
    return {"f": _phi(a), "a": -a * _phi(a), "aa": Q((a * a - 1.0) * _phi(a),
                                                    (a * a + 1.0) * _phi(a))}


def _ref_max(a, b, c, p):
    return {"f": max(a, b), "a": 1.0 if a > b else 0.0, "b": 0.0 if a > b else 1.0}


def _ref_min(a, b, c, p):
    return {"f": min(a, b), "a": 1.0 if a < b else 0.0, "b": 0.0 if a < b else 1.0}


def _ref_sigmoid(a, b, c, p):
    # s(z) = 1/(1+e^-z), z = a/p: s' = s(1-s)/p, s'' = s(1-s)(1-2s)/p^2 = -s(1-s) tanh(z/2)/p^2
    z = a / p
    sl = _logistic_slope(z)
    return {"f": _logistic(z), "a": sl / p,
            "aa": Q(-sl * math.tanh(0.5 * z) / (p * p), sl / (p * p))}


def _ref_softplus(a, b, c, p):
    # p log(1 + e^(a/p)): first derivative s(a/p), second s(1-s)/p
    z = a / p
    return {"f": p * math.log1p(math.exp(z)), "a": _logistic(z), "aa": _logistic_slope(z) / p}


def _ref_where(a, b, c, p):
    return {"f": a if c != 0.0 else b, "a": 1.0 if c != 0.0 else 0.0,
            "b": 0.0 if c != 0.0 else 1.0}


def _ref_atan2(a, b, c, p):  # d atan(y/x): dy -> x/(x^2+y^2), dx -> -y/(x^2+y^2)
    r = a * a + b * b
    return {"f": math.atan2(a, b), "a": b / r, "b": -a / r, "aa": -2.0 * a * b / r ** 2,
            "ab": (a * a - b * b) / r ** 2, "bb": 2.0 * a * b / r ** 2}


def _ref_stop_gradient(a, b, c, p):  # identity value, derivative zero by definition
    return {"f": a}


def _ref_copy(a, b, c, p):  # identity
    return {"f": a, "a": 1.0}


def _ref_floor(a, b, c, p):  # integer part; derivative zero away from the integers
    return {"f": float(math.floor(a)), "a": 0.0}


DIFF_REFS = {
    "copy": _ref_copy, "floor": _ref_floor,
    "add": _ref_add, "sub": _ref_sub, "mul": _ref_mul, "div": _ref_div,
    "square": _ref_square, "powc": _ref_powc, "pow": _ref_pow, "exp": _ref_exp,
    "log": _ref_log, "sqrt": _ref_sqrt, "abs": _ref_abs, "sin": _ref_sin, "cos": _ref_cos,
    "tanh": _ref_tanh, "atan2": _ref_atan2, "erf": _ref_erf, "norm_cdf": _ref_norm_cdf,
    "norm_pdf": _ref_norm_pdf, "max": _ref_max, "min": _ref_min, "sigmoid": _ref_sigmoid,
    "softplus": _ref_softplus, "where": _ref_where, "stop_gradient": _ref_stop_gradient,
}

# Arguments whose finite difference must equal the derivative (stop_gradient is an
# identity whose derivative is zero by definition; where's condition is a mask).
FD_ARGS = {"stop_gradient": (), "where": ("a", "b")}

COMPARISON_REFS = {
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
}


# -- Implied total stdev references: bisection on hand-written normalized prices ------
def _black_normalized(s, x, theta):
    """Undiscounted Black price / forward (Black 1976): theta (N(theta d1) - x N(theta d2))."""
    if s <= 0.0:
        return max(theta * (1.0 - x), 0.0)
    d1 = -math.log(x) / s + 0.5 * s
    d2 = d1 - s
    return theta * (_Phi(theta * d1) - x * _Phi(theta * d2))


def _black_terms(s, x, theta):
    """Magnitude of the terms of the normalized Black price and its vega phi(d1)."""
    d1 = -math.log(x) / s + 0.5 * s
    return _Phi(theta * d1) + x * _Phi(theta * (d1 - s)), _phi(d1)


def _bachelier_normalized(s, m):
    """Undiscounted Bachelier price: m N(m/s) + s phi(m/s), m = theta (F - K)."""
    if s <= 0.0:
        return max(m, 0.0)
    return m * _Phi(m / s) + s * _phi(m / s)


def _bisect(fn, target, lo=0.0, hi=1.0):
    """Root of the increasing fn(s) = target by bisection down to adjacent doubles."""
    while fn(hi) < target:
        hi *= 2.0
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


NONDIFF_SOLVERS = {"iv_black_stdev", "iv_bachelier_stdev"}
REFERENCE_NAMES = set(DIFF_REFS) | set(COMPARISON_REFS) | NONDIFF_SOLVERS


# ----------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------
def _one_op_program(prim, p):
    names = ARG_NAMES[:prim.arity]

    def fn(**kw):
        return apply(prim.name, *[kw[n] for n in names], p=p)

    return ad.record(fn, names, name=f"one_op_{prim.name}")


def _kink_fn(prim):
    if prim.kink is None:
        return None
    return eval(f"lambda a, b=0.0, c=0.0: {prim.kink}")  # input generation only


def _floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def _row_case(draw, prim, n_max=4):
    """(p, points): the constant parameter and 1..n_max argument tuples in the domain."""
    p = draw(_floats(*prim.param)) if prim.param else 0.0
    point = st.tuples(*[_floats(lo, hi) for lo, hi in prim.domain])
    if prim.name == "where":  # the mask: exact 0 and 1 as well as other values
        point = st.tuples(_floats(*prim.domain[0]), _floats(*prim.domain[1]),
                          st.one_of(st.just(0.0), st.just(1.0), _floats(*prim.domain[2])))
    kink = _kink_fn(prim)
    if kink is not None:
        point = point.filter(lambda t: abs(kink(*t)) > KINK_MARGIN)
    pts = draw(st.lists(point, min_size=1, max_size=n_max))
    return p, np.array(pts, dtype=float)


def _corner_cases(prim):
    """Explicit examples: every combination of each argument's domain ends and midpoint
    (kink points removed), at both ends of the parameter range."""
    per_arg = [(lo, hi, 0.5 * (lo + hi)) for lo, hi in prim.domain]
    pts = list(itertools.product(*per_arg))
    kink = _kink_fn(prim)
    if kink is not None:
        pts = [t for t in pts if abs(kink(*t)) > KINK_MARGIN]
    params = prim.param if prim.param else (0.0,)
    return [(p, np.array(pts, dtype=float)) for p in params]


def _assert_close(got, ref, rtol, what, extra_atol=0.0):
    got = float(got)
    tol = rtol * _scale(ref) + extra_atol + UNDERFLOW
    assert abs(got - float(ref)) <= tol, (
        f"{what}: got {got!r}, reference {float(ref)!r}, |diff| {abs(got - float(ref)):.3g} "
        f"> tol {tol:.3g}")


def _ref_second(ref, u, v):
    key = "".join(sorted(u + v))
    return ref.get(key, 0.0)


DIFF_ROWS = sorted(DIFF_REFS)


# ----------------------------------------------------------------------------------
# Meta tests
# ----------------------------------------------------------------------------------
def test_every_table_row_has_a_reference():
    assert REFERENCE_NAMES == {prim.name for prim in TABLE}


def test_reference_kinds_match_table_diff_flag():
    for prim in TABLE:
        assert prim.diff == (prim.name in DIFF_REFS), prim.name


def test_opcodes_are_unique():
    names = [prim.name for prim in TABLE]
    assert len(names) == len(set(names))


def test_generated_kernels_in_sync_with_table():
    committed = Path(_gen.__file__).with_name("_generated.py").read_text()
    assert committed == _gen.generate(), (
        "aadrisk/tape/_generated.py is stale: run python -m aadrisk.tape._gen")


# ----------------------------------------------------------------------------------
# (a) compiled kernels vs analytic references
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DIFF_ROWS)
def test_compiled_matches_analytic_reference(name):
    prim = ROWS[name]
    names = ARG_NAMES[:prim.arity]

    @given(case=_row_case(prim), dseed=st.integers(0, 2**32 - 1))
    def check(case, dseed):
        p, pts = case
        n = len(pts)
        prog = _one_op_program(prim, p)
        inputs = {nm: pts[:, k].copy() for k, nm in enumerate(names)}
        rng = np.random.default_rng(dseed)  # JVP/HVP direction, uniform in [-2, 2]
        direction = {nm: rng.uniform(-2.0, 2.0, n) for nm in names}
        g = prog.grad(inputs)
        t = prog.jvp(inputs, direction)
        h = prog.hvp(inputs, direction)
        H = prog.hessian(inputs, list(names))
        for j in range(n):
            args = list(pts[j]) + [0.0] * (3 - prim.arity)
            ref = DIFF_REFS[name](*args, p)
            where = f"{name}{tuple(pts[j])} p={p}"
            for res in (g, t, h):
                _assert_close(res.value[j], ref["f"], RTOL_EXACT, f"value {where}")
            tan_ref = 0.0
            tan_scale = 0.0
            for u in names:
                d = ref.get(u, 0.0)
                _assert_close(g.grad[u][j], d, RTOL_EXACT, f"d/d{u} {where}")
                _assert_close(h.grad[u][j], d, RTOL_EXACT, f"d/d{u} (hvp) {where}")
                tan_ref += float(d) * direction[u][j]
                tan_scale += _scale(d) * abs(direction[u][j])
                hv_ref = 0.0
                hv_scale = 0.0
                for v in names:
                    dd = _ref_second(ref, u, v)
                    _assert_close(H[u][v][j], dd, RTOL_EXACT, f"d2/d{u}d{v} {where}")
                    hv_ref += float(dd) * direction[v][j]
                    hv_scale += _scale(dd) * abs(direction[v][j])
                _assert_close(h.hvp[u][j], Q(hv_ref, hv_scale), RTOL_EXACT,
                              f"hvp[{u}] {where}")
            _assert_close(t.tangent[j], Q(tan_ref, tan_scale), RTOL_EXACT, f"jvp {where}")
            _assert_close(h.tangent[j], Q(tan_ref, tan_scale), RTOL_EXACT, f"jvp (hvp) {where}")

    for case in _corner_cases(prim):
        check = example(case=case, dseed=0)(check)
    check()


# ----------------------------------------------------------------------------------
# (b) compiled derivatives vs finite differences of the compiled program
# ----------------------------------------------------------------------------------
STENCIL = (-2.0, -1.0, 1.0, 2.0)
WEIGHTS = (1.0, -8.0, 8.0, -1.0)  # 4th-order central: (f-2 - 8 f-1 + 8 f1 - f2) / 12h


def _steps(prim, pts):
    """Per point and argument: h = 1e-3 max(|x|, 0.1), capped at |kink|/8."""
    h = 1e-3 * np.maximum(np.abs(pts), 0.1)
    kink = _kink_fn(prim)
    if kink is not None:
        dist = np.array([abs(kink(*row)) for row in pts])
        h = np.minimum(h, dist[:, None] / 8.0)
    return h


def _stencil_inputs(pts, h, k, names):
    """Inputs for all stencil points of argument k, laid out as stencil-major batch."""
    bumped = []
    for s in STENCIL:
        q = pts.copy()
        q[:, k] += s * h[:, k]
        bumped.append(q)
    allp = np.concatenate(bumped)
    return {nm: allp[:, m].copy() for m, nm in enumerate(names)}


def _fd(samples, n, hk):
    """Combine stencil-major samples (4n,) into n derivatives and round-off bounds."""
    f = samples.reshape(len(STENCIL), n)
    d = sum(w * f[i] for i, w in enumerate(WEIGHTS)) / (12.0 * hk)
    # round-off of the stencil: sum |w| / 12 = 1.5, times a few ulps per sample
    roundoff = 1.5 * 16 * EPS * np.max(np.abs(f), axis=0) / hk
    return d, roundoff


@pytest.mark.parametrize("name", DIFF_ROWS)
def test_compiled_derivatives_match_finite_differences(name):
    prim = ROWS[name]
    names = ARG_NAMES[:prim.arity]
    fd_args = FD_ARGS.get(name, names)

    @given(case=_row_case(prim))
    def check(case):
        p, pts = case
        n = len(pts)
        prog = _one_op_program(prim, p)
        base = {nm: pts[:, k].copy() for k, nm in enumerate(names)}
        g0 = prog.grad(base)
        H = prog.hessian(base, list(names))
        h = _steps(prim, pts)
        for k, u in enumerate(names):
            if u not in fd_args:
                continue
            st_in = _stencil_inputs(pts, h, k, names)
            vals = prog.value(st_in).value
            d, ro = _fd(vals, n, h[:, k])
            for j in range(n):
                _assert_close(g0.grad[u][j], d[j], RTOL_FD,
                              f"d/d{u} vs FD at {name}{tuple(pts[j])} p={p}", ro[j])
            # second derivatives: FD in u of the compiled gradient
            gs = prog.grad(st_in)
            for v in names:
                if v not in fd_args:
                    continue
                d2, ro2 = _fd(gs.grad[v], n, h[:, k])
                for j in range(n):
                    _assert_close(H[u][v][j], d2[j], RTOL_FD,
                                  f"d2/d{u}d{v} vs FD at {name}{tuple(pts[j])} p={p}", ro2[j])

    for case in _corner_cases(prim):
        check = example(case=case)(check)
    check()


def test_stop_gradient_and_where_condition_have_zero_derivative():
    """stop_gradient's value moves with its argument, its derivative is exactly 0."""
    prog = _one_op_program(ROWS["stop_gradient"], 0.0)
    x = np.array([-1.5, 0.0, 2.0])
    res = prog.hvp({"a": x}, {"a": 1.0})
    assert np.array_equal(res.value, x)
    assert np.array_equal(res.grad["a"], np.zeros(3))
    assert np.array_equal(res.tangent, np.zeros(3))
    assert np.array_equal(res.hvp["a"], np.zeros(3))
    prog = _one_op_program(ROWS["where"], 0.0)
    inp = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0]), "c": np.array([0.0, 0.5])}
    res = prog.hvp(inp, {"c": 1.0})
    assert np.array_equal(res.value, [3.0, 2.0])
    assert np.array_equal(res.grad["c"], [0.0, 0.0])
    assert np.array_equal(res.tangent, [0.0, 0.0])


# ----------------------------------------------------------------------------------
# Non-differentiable rows
# ----------------------------------------------------------------------------------
@st.composite
def _comparison_pairs(draw):
    w = ROWS["lt"].domain[0]
    pts = draw(st.lists(st.one_of(
        st.tuples(_floats(*w), _floats(*w)),
        _floats(*w).map(lambda x: (x, x)),  # ties
    ), min_size=1, max_size=6))
    return np.array(pts, dtype=float)


@pytest.mark.parametrize("name", sorted(COMPARISON_REFS))
@given(pts=_comparison_pairs())
@example(pts=np.array([[0.0, -0.0], [1.0, 1.0], [-1.0, 2.0], [2.0, -1.0]]))
def test_comparison_values_and_zero_gradient(name, pts):
    prog = _one_op_program(ROWS[name], 0.0)
    inputs = {"a": pts[:, 0].copy(), "b": pts[:, 1].copy()}
    res = prog.hvp(inputs, {"a": 1.0, "b": -0.5})
    expected = [1.0 if COMPARISON_REFS[name](a, b) else 0.0 for a, b in pts]
    assert np.array_equal(res.value, expected)
    for u in ("a", "b"):
        assert np.array_equal(res.grad[u], np.zeros(len(pts)))
        assert np.array_equal(res.hvp[u], np.zeros(len(pts)))
    assert np.array_equal(res.tangent, np.zeros(len(pts)))
    # value-only and reference paths agree
    assert np.array_equal(prog.value(inputs).value, expected)


@given(case=_row_case(ROWS["iv_black_stdev"], n_max=6))
@example(case=(0.0, np.array([[0.2, 1.0, 1.0], [0.1, 0.7, 1.0], [0.3, 0.7, 1.0],
                              [0.05, 1.4, 1.0]])))
def test_iv_black_stdev_forward(case):
    """Raw solver: NaN below intrinsic, 0 at intrinsic, else the bisection root.

    Tolerance: 8 eps s + 32 eps (size of the price's terms) / vega -- the
    sensitivity of the root to rounding of the normalized price.
    """
    _, pts = case
    prog = _one_op_program(ROWS["iv_black_stdev"], 0.0)
    got = prog.value({"a": pts[:, 0].copy(), "b": pts[:, 1].copy(),
                      "c": pts[:, 2].copy()}).value
    for (c, x, theta), s in zip(pts, got):
        intrinsic = max(theta * (1.0 - x), 0.0)
        if c < intrinsic:
            assert math.isnan(s), (c, x, theta, s)
            continue
        if c == intrinsic:
            assert s == 0.0
            continue
        ref = _bisect(lambda v: _black_normalized(v, x, theta), c)
        terms, vega = _black_terms(ref, x, theta)
        tol = 8 * EPS * ref + 32 * EPS * terms / vega
        assert abs(s - ref) <= tol, (c, x, theta, s, ref, tol)


@given(case=_row_case(ROWS["iv_bachelier_stdev"], n_max=6))
@example(case=(0.0, np.array([[1.0, 0.0], [0.5, 1.0], [2.0, 2.0], [0.5, -3.0]])))
def test_iv_bachelier_stdev_forward(case):
    """Raw Bachelier solver; tolerance 8 eps s + 32 eps (|m| + s) / phi(m/s)."""
    _, pts = case
    prog = _one_op_program(ROWS["iv_bachelier_stdev"], 0.0)
    got = prog.value({"a": pts[:, 0].copy(), "b": pts[:, 1].copy()}).value
    for (v, m), s in zip(pts, got):
        intrinsic = max(m, 0.0)
        if v < intrinsic:
            assert math.isnan(s), (v, m, s)
            continue
        if v == intrinsic:
            assert s == 0.0
            continue
        ref = _bisect(lambda w: _bachelier_normalized(w, m), v)
        tol = 8 * EPS * ref + 32 * EPS * (abs(m) + ref) / _phi(m / ref)
        assert abs(s - ref) <= tol, (v, m, s, ref, tol)


# ----------------------------------------------------------------------------------
# Known-value anchors (hand-computed or from A&S tables), independent of Hypothesis
# ----------------------------------------------------------------------------------
ANCHORS = [
    # (name, args, p, value, source)
    ("norm_cdf", (1.0,), 0.0, 0.8413447460685429, "A&S Table 26.1, Phi(1)"),
    ("norm_cdf", (-8.0,), 0.0, 6.220960574271784e-16, "Phi(-8), 16-digit tables of Q(x)"),
    ("erf", (0.5,), 0.0, 0.5204998778130465, "A&S Table 7.1, erf(0.5)"),
    ("softplus", (0.0,), 0.5, 0.5 * math.log(2.0), "p log 2 at 0"),
    ("sigmoid", (0.0,), 0.3, 0.5, "logistic(0)"),
    ("powc", (4.0,), -0.5, 0.5, "4^-1/2"),
    ("pow", (2.0, 10.0), 0.0, 1024.0, "2^10"),
]


@pytest.mark.parametrize("name,args,p,value,source", ANCHORS)
def test_known_values(name, args, p, value, source):
    prog = _one_op_program(ROWS[name], p)
    got = prog.value({nm: x for nm, x in zip(ARG_NAMES, args)}).value[0]
    # 1e-14 relative: libm erf/erfc/pow are accurate to a few ulps
    assert abs(got - value) <= 1e-14 * abs(value), (source, got, value)


def test_sigmoid_slope_relative_accuracy_in_tail():
    """Deterministic reproducer: d sigmoid(a, p)/da at a = 3, p = 0.1 (z = 30).

    Exact value e^-30/(1+e^-30)^2/0.1 = 9.357622968840175e-13; a plain
    double-precision evaluation resolves it to ~1e-15 relative.
    """
    prog = _one_op_program(ROWS["sigmoid"], 0.1)
    g = prog.grad({"a": 3.0}).grad["a"]
    exact = _logistic_slope(30.0) / 0.1
    assert abs(g - exact) <= RTOL_EXACT * exact, (g, exact)
    prog = _one_op_program(ROWS["softplus"], 0.1)
    H = prog.hessian({"a": 3.0}, ["a"])
    assert abs(H["a"]["a"] - exact) <= RTOL_EXACT * exact, (H["a"]["a"], exact)
