"""Black-Scholes-Merton on the tape against closed-form prices and Greeks, and QuantLib.

The closed forms (continuous dividend yield q) are those of the generalised
Black-Scholes-Merton model, e.g. E. G. Haug, *The Complete Guide to Option
Pricing Formulas*, 2nd ed. (2007), sections 1.1.6 (price) and 2.1 (Greeks:
delta 2.1.1, vanna 2.1.4, gamma 2.1.6, vega 2.1.9, volga 2.1.12, theta 2.1.15,
rho 2.1.19), with b = r - q; the same formulas are in J. C. Hull, *Options,
Futures, and Other Derivatives*, 10th ed., chapters 17 and 19:

    d1 = (ln(S/K) + (r - q + vol^2/2) T) / (vol sqrt(T)),   d2 = d1 - vol sqrt(T)
    call  = S e^{-qT} N(d1) - K e^{-rT} N(d2)
    put   = K e^{-rT} N(-d2) - S e^{-qT} N(-d1)
    delta = e^{-qT} N(d1)  (call),   -e^{-qT} N(-d1)  (put)
    gamma = e^{-qT} n(d1) / (S vol sqrt(T))
    vega  = S e^{-qT} n(d1) sqrt(T)
    theta = -dV/dT = -S e^{-qT} n(d1) vol / (2 sqrt(T)) + w (q S e^{-qT} N(w d1)
                     - r K e^{-rT} N(w d2)),   w = +1 call, -1 put
    rho   = w K T e^{-rT} N(w d2)
    vanna = d2V/dS dvol = -e^{-qT} n(d1) d2 / vol
    volga = d2V/dvol^2  = vega d1 d2 / vol

Tolerance: 1e-12 relative, with an absolute floor of 1e-12 times the natural
scale of each quantity (spot for price-like figures, 1 for delta and vanna,
1/spot for gamma) for values that are tiny compared with that scale.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.models import bsm_price

RTOL = 1e-12
FLOOR = 1e-12
N_OPTIONS = 4000

_erfc = np.vectorize(math.erfc, otypes=[float])


def N(x):
    """Standard normal distribution function via erfc (accurate in both tails)."""
    return 0.5 * _erfc(-np.asarray(x) / math.sqrt(2.0))


def n(x):
    """Standard normal density."""
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2.0 * math.pi)


def closed_form(spot, strike, expiry, vol, rate, div, is_call):
    """Price and Greeks of the generalised BSM model (Haug 2007, ch. 1-2), per unit."""
    S, K, T, s, r, q = spot, strike, expiry, vol, rate, div
    w = np.where(is_call > 0.5, 1.0, -1.0)
    sq = np.sqrt(T)
    d1 = (np.log(S / K) + (r - q + 0.5 * s * s) * T) / (s * sq)
    d2 = d1 - s * sq
    dq, dr = np.exp(-q * T), np.exp(-r * T)
    vega = S * dq * n(d1) * sq
    return {
        "price": w * (S * dq * N(w * d1) - K * dr * N(w * d2)),
        "delta": w * dq * N(w * d1),
        "gamma": dq * n(d1) / (S * s * sq),
        "vega": vega,
        "theta": -S * dq * n(d1) * s / (2.0 * sq) + w * (q * S * dq * N(w * d1)
                                                          - r * K * dr * N(w * d2)),
        "rho": w * K * T * dr * N(w * d2),
        "vanna": -dq * n(d1) * d2 / s,
        "volga": vega * d1 * d2 / s,
    }


def natural_scale(name, spot):
    """Scale of the absolute floor of each quantity (see module docstring)."""
    return {"delta": np.ones_like(spot), "vanna": np.ones_like(spot),
            "gamma": 1.0 / spot}.get(name, spot)


def assert_close(name, got, want, spot):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    tol = RTOL * np.abs(want) + FLOOR * natural_scale(name, spot)
    err = np.abs(got - want)
    assert np.all(np.isfinite(got)), f"{name}: non-finite values"
    bad = np.flatnonzero(err > tol)
    if bad.size:
        i = bad[np.argmax((err / tol)[bad])]
        pytest.fail(f"{name}: {bad.size} of {got.size} outside tolerance; worst element {i}: "
                    f"tape {got[i]!r}, closed form {want[i]!r}, error {err[i]:.3g} > {tol[i]:.3g}")


@pytest.fixture(scope="module")
def program():
    return ad.record(bsm_price)


@pytest.fixture(scope="module")
def book():
    """A seeded random book: calls and puts from deep OTM to deep ITM, 1 week to 5 years."""
    rng = np.random.default_rng(20240628)
    spot = rng.uniform(5.0, 5000.0, N_OPTIONS)
    return {
        "spot": spot,
        "strike": spot * np.exp(rng.uniform(-0.8, 0.8, N_OPTIONS)),
        "expiry": rng.uniform(7 / 365, 5.0, N_OPTIONS),
        "vol": rng.uniform(0.05, 0.9, N_OPTIONS),
        "rate": rng.uniform(-0.02, 0.10, N_OPTIONS),
        "div": rng.uniform(0.0, 0.06, N_OPTIONS),
        "is_call": rng.integers(0, 2, N_OPTIONS).astype(float),
    }


@pytest.fixture(scope="module")
def expected(book):
    return closed_form(**book)


def test_book_covers_calls_puts_and_moneyness(book, expected):
    assert 0.4 < book["is_call"].mean() < 0.6
    assert expected["price"].min() < 1e-6 * book["spot"].max()      # some nearly worthless
    assert (np.abs(expected["delta"]) > 0.95).any()                   # some deep in the money


def test_price(program, book, expected):
    res = program.value(book)
    assert_close("price", res.value, expected["price"], book["spot"])


def test_first_order_greeks_from_reverse_mode(program, book, expected):
    res = program.grad(book)
    assert_close("price", res.value, expected["price"], book["spot"])
    assert_close("delta", res.grad["spot"], expected["delta"], book["spot"])
    assert_close("vega", res.grad["vol"], expected["vega"], book["spot"])
    assert_close("theta", -res.grad["expiry"], expected["theta"], book["spot"])
    assert_close("rho", res.grad["rate"], expected["rho"], book["spot"])


def test_gamma_and_vanna_from_hvp(program, book, expected):
    res = program.hvp(book, {"spot": 1.0})
    assert_close("delta", res.grad["spot"], expected["delta"], book["spot"])
    assert_close("delta", res.tangent, expected["delta"], book["spot"])  # JVP along spot
    assert_close("gamma", res.hvp["spot"], expected["gamma"], book["spot"])
    assert_close("vanna", res.hvp["vol"], expected["vanna"], book["spot"])


def test_volga_and_vanna_from_hessian(program, book, expected):
    H = program.hessian(book, ["spot", "vol"])
    assert_close("gamma", H["spot"]["spot"], expected["gamma"], book["spot"])
    assert_close("vanna", H["spot"]["vol"], expected["vanna"], book["spot"])
    assert_close("vanna", H["vol"]["spot"], expected["vanna"], book["spot"])
    assert_close("volga", H["vol"]["vol"], expected["volga"], book["spot"])


def test_forward_mode_vega(program, book, expected):
    res = program.jvp(book, {"vol": 1.0})
    assert_close("vega", res.tangent, expected["vega"], book["spot"])


def test_put_call_parity(program, book):
    calls = program.hvp({**book, "is_call": 1.0}, {"spot": 1.0})
    puts = program.hvp({**book, "is_call": 0.0}, {"spot": 1.0})
    S, K, T = book["spot"], book["strike"], book["expiry"]
    dq, dr = np.exp(-book["div"] * T), np.exp(-book["rate"] * T)
    # C - P = S e^{-qT} - K e^{-rT}; its derivatives: delta e^{-qT}, gamma 0, vega 0.
    assert_close("price", calls.value - puts.value, S * dq - K * dr, S)
    assert_close("delta", calls.grad["spot"] - puts.grad["spot"], dq, S)
    assert_close("gamma", calls.hvp["spot"], puts.hvp["spot"], S)
    assert_close("vega", calls.grad["vol"], puts.grad["vol"], S)
    assert_close("rho", calls.grad["rate"] - puts.grad["rate"], K * T * dr, S)


def test_plain_float_path_agrees_with_tape(program, book):
    """bsm_price is written once: called on floats it gives the tape's numbers."""
    idx = range(0, N_OPTIONS, 97)
    taped = program.value(book).value
    for i in idx:
        args = {k: float(v[i]) for k, v in book.items()}
        assert float(bsm_price(**args)) == pytest.approx(taped[i], rel=RTOL,
                                                         abs=FLOOR * args["spot"])


def test_textbook_value():
    """Hull (10th ed., example 15.6 style): S=K=100, T=1, vol 20 %, r 5 %, no dividend."""
    assert float(bsm_price(spot=100.0, strike=100.0, expiry=1.0, vol=0.2, rate=0.05, div=0.0,
                           is_call=1.0)) == pytest.approx(10.450583572185565, rel=1e-14)


# ----------------------------------------------------------------------------------
# QuantLib as an independent oracle (test only).
# ----------------------------------------------------------------------------------
def _quantlib_cases(count=20):
    rng = np.random.default_rng(7)
    for _ in range(count):
        spot = float(rng.uniform(10.0, 1000.0))
        yield {
            "spot": spot,
            "strike": float(spot * np.exp(rng.uniform(-0.5, 0.5))),
            "days": int(rng.integers(5, 5 * 365)),
            "vol": float(rng.uniform(0.05, 0.8)),
            "rate": float(rng.uniform(-0.01, 0.08)),
            "div": float(rng.uniform(0.0, 0.05)),
            "is_call": float(rng.integers(0, 2)),
        }


QL_CASES = list(_quantlib_cases())


@pytest.mark.parametrize("case", QL_CASES, ids=[f"case{i}" for i in range(len(QL_CASES))])
def test_against_quantlib(program, case):
    ql = pytest.importorskip("QuantLib")
    valuation = dt.date(2024, 6, 28)
    today = ql.Date(valuation.day, valuation.month, valuation.year)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()  # T = days / 365 exactly, as in aadrisk.risk

    def flat(r):
        return ql.YieldTermStructureHandle(
            ql.FlatForward(today, r, dc, ql.Continuous, ql.NoFrequency))

    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(case["spot"])), flat(case["div"]), flat(case["rate"]),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), case["vol"], dc)))
    kind = ql.Option.Call if case["is_call"] else ql.Option.Put
    option = ql.VanillaOption(ql.PlainVanillaPayoff(kind, case["strike"]),
                              ql.EuropeanExercise(today + case["days"]))
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))

    inputs = {k: v for k, v in case.items() if k != "days"}
    inputs["expiry"] = case["days"] / 365.0
    res = program.hvp(inputs, {"spot": 1.0})
    ours = {"price": res.value[0], "delta": res.grad["spot"], "gamma": res.hvp["spot"],
            "vega": res.grad["vol"], "rho": res.grad["rate"], "theta": -res.grad["expiry"]}
    # QuantLib's vega and rho are per 1.00 of vol / rate, its theta is dV/dt per year.
    theirs = {"price": option.NPV(), "delta": option.delta(), "gamma": option.gamma(),
              "vega": option.vega(), "rho": option.rho(), "theta": option.theta()}
    for name, want in theirs.items():
        assert float(ours[name]) == pytest.approx(want, rel=1e-10, abs=1e-12 * case["spot"]), \
            name
