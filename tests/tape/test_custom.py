"""Custom derivatives (implicit function theorem) and implied volatility.

Prices come from Black (1976) and Bachelier formulas written below.  Checks:

* round trip price -> implied vol recovers the vol to ``1e-12`` relative, for
  calls and puts, in and out of the money, a range of strikes and expiries --
  on well-conditioned cases, ``price / (sigma * vega) <= 100`` (beyond that
  the rounding of the price itself moves the vol by more than 1e-12);
* first derivatives (price, forward, strike, expiry, discount) equal the IFT
  closed forms ``dsigma/dx = -(dP/dx) / vega`` (``1e-10`` relative) and 4th-order
  central finite differences of the compiled implied vol (``1e-6`` relative
  plus round-off ``1.5 * 16 eps max|sigma| / h``);
* second derivatives (full Hessian from forward-over-reverse) equal finite
  differences of the compiled gradient (``1e-5`` relative plus round-off) and
  are symmetric;
* :func:`custom_derivative` on toy solves (cube root, a cubic's root) with
  hand-derived first and second derivatives (``1e-12`` relative).
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, example, given
from hypothesis import strategies as st

import aadrisk as ad
from aadrisk.tape.custom import custom_derivative, implied_vol_bachelier, implied_vol_black

EPS = np.finfo(float).eps
ARGS = ("price", "forward", "strike", "expiry", "discount")
STENCIL = (-2.0, -1.0, 1.0, 2.0)
WEIGHTS = (1.0, -8.0, 8.0, -1.0)
SQRT2PI = math.sqrt(2.0 * math.pi)
MIN_TV = 1e-12


def _phi(x):
    return math.exp(-0.5 * x * x) / SQRT2PI


def _Phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# -- pricing formulas and their partial derivatives at fixed vol ----------------------
def black(F, K, T, D, sigma, theta):
    """Black (1976): D theta (F N(theta d1) - K N(theta d2)) and dP/d(sigma, F, K, T, D)."""
    s = sigma * math.sqrt(T)
    d1 = math.log(F / K) / s + 0.5 * s
    d2 = d1 - s
    price = D * theta * (F * _Phi(theta * d1) - K * _Phi(theta * d2))
    vega = D * F * _phi(d1) * math.sqrt(T)
    parts = {"forward": D * theta * _Phi(theta * d1), "strike": -D * theta * _Phi(theta * d2),
             "expiry": D * F * _phi(d1) * sigma / (2.0 * math.sqrt(T)), "discount": price / D}
    return price, vega, parts


def bachelier(F, K, T, D, sigma, theta):
    """Bachelier: D (m N(m/s) + s phi(m/s)), m = theta (F - K), s = sigma sqrt(T)."""
    s = sigma * math.sqrt(T)
    m = theta * (F - K)
    d = m / s
    price = D * (m * _Phi(d) + s * _phi(d))
    vega = D * _phi(d) * math.sqrt(T)
    parts = {"forward": D * theta * _Phi(d), "strike": -D * theta * _Phi(d),
             "expiry": D * _phi(d) * sigma / (2.0 * math.sqrt(T)), "discount": price / D}
    return price, vega, parts


MODELS = {
    "black": (black, implied_vol_black),
    "bachelier": (bachelier, implied_vol_bachelier),
}


def _program(model, is_call):
    iv = MODELS[model][1]

    def fn(*, price, forward, strike, expiry, discount):
        return iv(price=price, forward=forward, strike=strike, expiry=expiry,
                  discount=discount, is_call=is_call)

    return ad.record(fn, name=f"iv_{model}")


PROGRAMS = {(m, c): _program(m, c) for m in MODELS for c in (0.0, 1.0)}


@st.composite
def black_cases(draw, n_max=4):
    """Options with F in [50, 200], K/F in [0.5, 2], vol [0.05, 1], T [0.05, 10], D [0.5, 1]."""
    is_call = draw(st.sampled_from([0.0, 1.0]))
    n = draw(st.integers(1, n_max))
    rows = []
    for _ in range(n):
        F = draw(st.floats(50.0, 200.0))
        K = F * draw(st.floats(0.5, 2.0))
        rows.append((F, K, draw(st.floats(0.05, 10.0)), draw(st.floats(0.5, 1.0)),
                     draw(st.floats(0.05, 1.0))))
    return "black", is_call, rows


@st.composite
def bachelier_cases(draw, n_max=4):
    """F in [50, 200], K - F in [-40, 40], normal vol [2, 40] per sqrt(year), T, D as above."""
    is_call = draw(st.sampled_from([0.0, 1.0]))
    n = draw(st.integers(1, n_max))
    rows = []
    for _ in range(n):
        F = draw(st.floats(50.0, 200.0))
        K = F + draw(st.floats(-40.0, 40.0))
        rows.append((F, K, draw(st.floats(0.05, 10.0)), draw(st.floats(0.5, 1.0)),
                     draw(st.floats(2.0, 40.0))))
    return "bachelier", is_call, rows


def _prepare(case):
    """Prices and reference partials of the well-conditioned, non-negligible options.

    Kept: ``price / (sigma vega) <= 100`` (the vol is determined to ~1e-13 by a
    double-precision price) and a time value of at least ``MIN_TV`` times the
    discounted forward scale (F for Black, sigma sqrt(T) for Bachelier);
    negligible prices are covered by :func:`test_deep_otm_solver_converges`.
    """
    model, is_call, rows = case
    theta = 2.0 * is_call - 1.0
    formula = MODELS[model][0]
    out = []
    for F, K, T, D, sigma in rows:
        price, vega, parts = formula(F, K, T, D, sigma, theta)
        intrinsic = D * max(theta * (F - K), 0.0)
        time_value = price - intrinsic
        unit = D * (F if model == "black" else sigma * math.sqrt(T))
        if not (vega > 0.0 and time_value > MIN_TV * unit):
            continue
        if price / (sigma * vega) > 100.0:
            continue
        out.append(dict(F=F, K=K, T=T, D=D, sigma=sigma, price=price, vega=vega, parts=parts,
                        tv=time_value))
    assume(out)
    inputs = {"price": np.array([o["price"] for o in out]),
              "forward": np.array([o["F"] for o in out]),
              "strike": np.array([o["K"] for o in out]),
              "expiry": np.array([o["T"] for o in out]),
              "discount": np.array([o["D"] for o in out])}
    return model, is_call, out, inputs


def _steps(out):
    """Bumps small against the distance to the no-arbitrage bounds.

    Moving F or K by delta changes the discounted intrinsic value by at most
    D delta, and only once the option is in the money: the distance is
    tv / D (+ |F - K| when out of the money).  Price and discount bumps are
    1e-3 of the time value in relative terms; expiry 1e-3 T.
    """
    h = {}
    h["price"] = np.array([1e-3 * o["tv"] for o in out])
    room = np.array([o["tv"] / o["D"] + (abs(o["F"] - o["K"]) if o["tv"] == o["price"] else 0.0)
                     for o in out])
    h["forward"] = 1e-3 * np.minimum([o["F"] for o in out], room)
    h["strike"] = 1e-3 * np.minimum([o["K"] for o in out], room)
    h["expiry"] = np.array([1e-3 * o["T"] for o in out])
    h["discount"] = np.array([1e-3 * o["D"] * o["tv"] / o["price"] for o in out])
    return h


def _stencil(inputs, name, h):
    pts = []
    for s in STENCIL:
        q = {k: v.copy() for k, v in inputs.items()}
        q[name] = q[name] + s * h
        pts.append(q)
    return {k: np.concatenate([q[k] for q in pts]) for k in inputs}


def _fd(samples, n, h):
    f = np.asarray(samples).reshape(len(STENCIL), n)
    d = sum(w * f[i] for i, w in enumerate(WEIGHTS)) / (12.0 * h)
    return d, 1.5 * 16 * EPS * np.max(np.abs(f), axis=0) / h


# ----------------------------------------------------------------------------------
@given(case=st.one_of(black_cases(6), bachelier_cases(6)))
@example(case=("black", 1.0, [(100.0, 100.0, 1.0, 1.0, 0.2)]))
@example(case=("black", 0.0, [(100.0, 60.0, 0.1, 0.95, 0.8), (100.0, 150.0, 5.0, 0.7, 0.1)]))
@example(case=("bachelier", 0.0, [(100.0, 130.0, 2.0, 0.9, 20.0)]))
def test_implied_vol_round_trip(case):
    model, is_call, out, inputs = _prepare(case)
    got = PROGRAMS[(model, is_call)].value(inputs).value
    for o, s in zip(out, got):
        assert abs(s - o["sigma"]) <= 1e-12 * o["sigma"], (model, is_call, o, s)
    # the plain-float path gives the same numbers
    iv = MODELS[model][1]
    for o, s in zip(out, got):
        plain = iv(price=o["price"], forward=o["F"], strike=o["K"], expiry=o["T"],
                   discount=o["D"], is_call=is_call)
        assert abs(plain - o["sigma"]) <= 1e-12 * o["sigma"]


def test_doc_example_atm_black():
    """ATM F = K = 100, T = 1, sigma = 0.2: dsigma/dprice = 1/vega = 1/(100 phi(0.1))."""
    price, vega, _ = black(100.0, 100.0, 1.0, 1.0, 0.2, 1.0)
    res = PROGRAMS[("black", 1.0)].grad({"price": price, "forward": 100.0, "strike": 100.0,
                                          "expiry": 1.0, "discount": 1.0})
    assert abs(res.value[0] - 0.2) <= 1e-15
    assert abs(res.grad["price"] - 1.0 / (100.0 * _phi(0.1))) <= 1e-12 / vega


@given(case=st.one_of(black_cases(), bachelier_cases()))
def test_first_derivatives_match_ift_and_finite_differences(case):
    model, is_call, out, inputs = _prepare(case)
    prog = PROGRAMS[(model, is_call)]
    n = len(out)
    res = prog.grad(inputs)
    # IFT closed form: dsigma/dprice = 1/vega, dsigma/dx = -(dP/dx)|sigma / vega
    for j, o in enumerate(out):
        ift = {"price": 1.0 / o["vega"]}
        ift.update({k: -v / o["vega"] for k, v in o["parts"].items()})
        for k in ARGS:
            g = res.grad[k][j]
            assert abs(g - ift[k]) <= 1e-10 * abs(ift[k]), (model, is_call, k, o, g, ift[k])
    h = _steps(out)
    for k in ARGS:
        vals = prog.value(_stencil(inputs, k, h[k])).value
        fd, ro = _fd(vals, n, h[k])
        for j in range(n):
            g = res.grad[k][j]
            assert abs(g - fd[j]) <= 1e-6 * abs(g) + ro[j], (model, k, out[j], g, fd[j])


@given(case=st.one_of(black_cases(3), bachelier_cases(3)))
def test_second_derivatives_match_finite_differences_of_gradient(case):
    model, is_call, out, inputs = _prepare(case)
    prog = PROGRAMS[(model, is_call)]
    n = len(out)
    H = prog.hessian(inputs, list(ARGS))
    h = _steps(out)
    for u in ARGS:
        gs = prog.grad(_stencil(inputs, u, h[u])).grad
        for v in ARGS:
            fd, ro = _fd(gs[v], n, h[u])
            for j in range(n):
                got = H[u][v][j]
                assert abs(got - fd[j]) <= 1e-5 * abs(got) + ro[j], (
                    model, is_call, u, v, out[j], got, fd[j])
    for u in ARGS:
        for v in ARGS:
            np.testing.assert_allclose(H[u][v], H[v][u], rtol=1e-9,
                                       atol=1e-14 * np.max(np.abs(H[u][v])))


def test_hvp_equals_hessian_times_direction():
    price, _, _ = black(100.0, 110.0, 2.0, 0.9, 0.3, 1.0)
    inputs = {"price": np.array([price]), "forward": 100.0, "strike": 110.0, "expiry": 2.0,
              "discount": 0.9}
    prog = PROGRAMS[("black", 1.0)]
    H = prog.hessian(inputs, list(ARGS))
    direction = {"price": 1.0, "forward": -0.5, "strike": 0.25, "expiry": 2.0, "discount": 0.1}
    hv = prog.hvp(inputs, direction)
    for u in ARGS:
        expect = sum(np.asarray(H[u][v]).sum() * direction[v] for v in ARGS)
        scale = sum(abs(np.asarray(H[u][v]).sum() * direction[v]) for v in ARGS)
        assert abs(np.asarray(hv.hvp[u]).sum() - expect) <= 1e-12 * scale, u


def test_put_call_parity_of_derivatives():
    """Call and put at the same vol have the same implied vol and the same vega."""
    F, K, T, D, sigma = 100.0, 90.0, 1.5, 0.97, 0.25
    c, vega, _ = black(F, K, T, D, sigma, 1.0)
    p, _, _ = black(F, K, T, D, sigma, -1.0)
    assert abs((c - p) - D * (F - K)) <= 1e-12 * c  # parity of the test formula itself
    rc = PROGRAMS[("black", 1.0)].grad({"price": c, "forward": F, "strike": K, "expiry": T,
                                        "discount": D})
    rp = PROGRAMS[("black", 0.0)].grad({"price": p, "forward": F, "strike": K, "expiry": T,
                                        "discount": D})
    assert abs(rc.value[0] - rp.value[0]) <= 2e-12 * sigma
    assert abs(rc.grad["price"] - rp.grad["price"]) <= 1e-10 / vega


# -- custom_derivative on toy solves -----------------------------------------------------
def _stopped_newton(f_and_df, y_init, n_iter=60):
    y = y_init
    for _ in range(n_iter):
        f, df = f_and_df(y)
        y = y - f / df
    return ad.stop_gradient(y)


def _cube_root(x):
    xs = ad.stop_gradient(x)
    y0 = _stopped_newton(lambda y: (y * y * y - xs, 3.0 * y * y), 1.0 + 0.0 * xs)
    return custom_derivative(y0, [x], lambda args, y: [1.0 / (3.0 * y * y)])


def test_custom_derivative_cube_root():
    """y = x^(1/3): y' = x^(-2/3)/3, y'' = -2/9 x^(-5/3) (power rule)."""
    prog = ad.record(lambda *, x: _cube_root(x))
    x = np.array([0.1, 0.5, 1.0, 2.0, 8.0, 27.0])
    res = prog.hvp({"x": x}, {"x": 1.0})
    np.testing.assert_allclose(res.value, np.cbrt(x), rtol=2 * EPS)
    np.testing.assert_allclose(res.grad["x"], x ** (-2.0 / 3.0) / 3.0, rtol=1e-12)
    np.testing.assert_allclose(res.tangent, x ** (-2.0 / 3.0) / 3.0, rtol=1e-12)
    np.testing.assert_allclose(res.hvp["x"], -2.0 / 9.0 * x ** (-5.0 / 3.0), rtol=1e-12)
    # without the rule the stopped solve has no derivative at all
    bare = ad.record(lambda *, x: _stopped_newton(
        lambda y: (y * y * y - x, 3.0 * y * y), 1.0 + 0.0 * x))
    assert np.array_equal(bare.grad({"x": x}).grad["x"], np.zeros(len(x)))


def test_custom_derivative_cube_root_of_expression_finite_differences():
    """Chain rule around the rule: f(u) = cbrt(1 + u^2) * sin(u), FD of value and gradient."""
    prog = ad.record(lambda *, u: _cube_root(1.0 + u * u) * ad.sin(u))
    u = np.array([-1.3, 0.2, 0.9, 2.5])
    res = prog.hvp({"u": u}, {"u": 1.0})
    c = np.cbrt(1.0 + u * u)
    dc = 2.0 * u / (3.0 * c * c)                                    # d cbrt(1+u^2)/du
    d2c = 2.0 / (3.0 * c * c) - 8.0 * u * u / (9.0 * c ** 5)         # second derivative
    np.testing.assert_allclose(res.grad["u"], dc * np.sin(u) + c * np.cos(u), rtol=1e-12)
    np.testing.assert_allclose(res.hvp["u"], d2c * np.sin(u) + 2 * dc * np.cos(u)
                               - c * np.sin(u), rtol=1e-11)
    h = 1e-3
    gs = [prog.grad({"u": u + s * h}).grad["u"] for s in STENCIL]
    fd = sum(w * g for w, g in zip(WEIGHTS, gs)) / (12 * h)
    np.testing.assert_allclose(res.hvp["u"], fd, rtol=1e-6)


def _cubic_root(a, b):
    """y with y^3 + a y = b (a > 0: unique real root), derivatives by the IFT."""
    sa, sb = ad.stop_gradient(a), ad.stop_gradient(b)
    y0 = _stopped_newton(lambda y: (y * y * y + sa * y - sb, 3.0 * y * y + sa), 0.0 * sa)

    def rule(args, y):
        g = 3.0 * y * y + args[0]
        return [-y / g, 1.0 / g]

    return custom_derivative(y0, [a, b], rule)


def test_custom_derivative_two_inputs_hand_derived_hessian():
    """F(y, a, b) = y^3 + a y - b = 0, g = 3y^2 + a:
    y_a = -y/g, y_b = 1/g, y_aa = 2 a y / g^3, y_ab = (3y^2 - a)/g^3, y_bb = -6y/g^3.
    """
    prog = ad.record(lambda *, a, b: _cubic_root(a, b))
    a = np.array([0.5, 1.0, 2.0, 3.0, 0.7])
    b = np.array([-2.0, 0.3, 1.0, 5.0, 0.0])
    res = prog.grad({"a": a, "b": b})
    y = res.value
    # the root solves the cubic to a few ulps of its terms
    assert np.all(np.abs(y ** 3 + a * y - b) <= 8 * EPS * (np.abs(y) ** 3 + a * np.abs(y) + 1))
    g = 3 * y * y + a
    np.testing.assert_allclose(res.grad["a"], -y / g, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(res.grad["b"], 1 / g, rtol=1e-12)
    H = prog.hessian({"a": a, "b": b}, ["a", "b"])
    ref = {("a", "a"): 2 * a * y / g ** 3, ("a", "b"): (3 * y * y - a) / g ** 3,
           ("b", "a"): (3 * y * y - a) / g ** 3, ("b", "b"): -6 * y / g ** 3}
    for (u, v), r in ref.items():
        np.testing.assert_allclose(H[u][v], r, rtol=1e-12, atol=1e-15, err_msg=f"{u}{v}")


# -- solver robustness for negligible prices -------------------------------------------
DEEP_OTM = [
    # (model, x = K/F or m = theta (F - K), total stdev s, theta)
    ("black", 0.5, 0.03, -1.0),    # put, K = F/2: normalized price 1.9e-121
    ("black", 2.0, 0.03, 1.0),     # call, K = 2F: 3.8e-121
    ("black", 1.5, 0.02, 1.0),     # 1.3e-94
    ("black", 0.8, 0.01, -1.0),    # 5.3e-114
    ("bachelier", -20.0, 1.0, 1.0),  # m/s = -20: 1.4e-90
    ("bachelier", -30.0, 1.0, 1.0),  # 1.6e-199
]


def test_deep_otm_solver_converges():
    """Tiny but positive, arbitrage-free prices: the root, or NaN -- never a wrong vol.

    Each price is well inside the double range and determines its stdev to
    ~1e-14 relative (price / (s vega) ~ 1/d^2 is small), so the solver must
    return s to 1e-10 relative, or NaN if it gives up.
    """
    from aadrisk.tape.scalar import iv_bachelier_stdev, iv_black_stdev

    failures = []
    for model, x, s, theta in DEEP_OTM:
        if model == "black":
            c = _black_normalized_price(s, x, theta)
            got = iv_black_stdev(c, x, theta)
        else:
            c = x * _Phi(x / s) + s * _phi(x / s)
            got = iv_bachelier_stdev(c, x)
        assert c > 0.0
        if not (math.isnan(got) or abs(got - s) <= 1e-10 * s):
            failures.append((model, x, s, theta, c, got))
    assert not failures, f"solver returned a wrong stdev silently: {failures}"


def _black_normalized_price(s, x, theta):
    d1 = -math.log(x) / s + 0.5 * s
    return theta * (_Phi(theta * d1) - x * _Phi(theta * (d1 - s)))
