"""Heston (1993) semi-analytic prices and Greeks, against QuantLib (oracle only).

Oracle: ``AnalyticHestonEngine(model, 1e-12, 100000)`` (adaptive Gauss-Lobatto);
its own accuracy was checked against scipy ``quad`` of the Lewis integrand and
against QuantLib's Gauss-Laguerre and COS engines: agreement to ~1e-13 relative.

Box of the seeded random cases: v0, theta in [0.01, 0.25], kappa in [0.2, 5],
sigma in [0.1, 1], rho in [-0.95, 0.5], T in [0.1, 5] y (whole days), K/S in
[0.6, 1.5], r in [0, 0.06], q in [0, 0.04].  Prices: 1e-8 relative + 1e-10 x spot
absolute (observed max ~1e-10).  Greeks (spot delta, v0, kappa, theta, sigma, rho)
from one Program.grad: 1e-6 relative vs central differences of QuantLib prices and
of the aadrisk float price; gamma from Program.hvp vs second differences.
"""
from __future__ import annotations

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.models import bsm_price, heston_price

from _qlsetup import assert_close, setup_today

ql = pytest.importorskip("QuantLib")

PARAMS = ["v0", "kappa", "theta", "sigma", "rho"]
KEYS = ["spot", "strike", "expiry", "rate", "div", *PARAMS, "is_call"]


def _book(seed, n):
    rng = np.random.default_rng(seed)
    return dict(spot=np.full(n, 100.0), strike=100.0 * rng.uniform(0.6, 1.5, n),
                expiry=rng.integers(37, 5 * 365, n) / 365.0, rate=rng.uniform(0.0, 0.06, n),
                div=rng.uniform(0.0, 0.04, n), v0=rng.uniform(0.01, 0.25, n),
                kappa=rng.uniform(0.2, 5.0, n), theta=rng.uniform(0.01, 0.25, n),
                sigma=rng.uniform(0.1, 1.0, n), rho=rng.uniform(-0.95, 0.5, n),
                is_call=rng.integers(0, 2, n).astype(float))


def _ql_price(c):
    today = setup_today()
    dc = ql.Actual365Fixed()
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, c["rate"], dc, ql.Continuous))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, c["div"], dc, ql.Continuous))
    proc = ql.HestonProcess(rts, qts, ql.QuoteHandle(ql.SimpleQuote(c["spot"])), c["v0"],
                            c["kappa"], c["theta"], c["sigma"], c["rho"])
    eng = ql.AnalyticHestonEngine(ql.HestonModel(proc), 1e-12, 100000)
    typ = ql.Option.Call if c["is_call"] else ql.Option.Put
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(typ, c["strike"]),
                           ql.EuropeanExercise(today + int(round(c["expiry"] * 365))))
    opt.setPricingEngine(eng)
    return opt.NPV()


def _case(x, i):
    return {k: float(x[k][i]) for k in KEYS}


@pytest.fixture(scope="module")
def prog():
    return ad.record(heston_price)


def test_prices_vs_quantlib_one_call_mixed_book(prog):
    """A mixed book (strikes, expiries, calls and puts, parameters) is ONE Program call."""
    x = _book(7, 200)
    assert set(np.unique(x["is_call"])) == {0.0, 1.0}
    got = prog.value(x).value
    want = np.array([_ql_price(_case(x, i)) for i in range(200)])
    assert_close(got, want, 1e-8, 1e-10 * 100.0, "heston price vs QuantLib")
    # the float / numpy path gives the same numbers
    flt = np.array([heston_price(**_case(x, i)) for i in range(0, 200, 20)])
    assert_close(flt, got[::20], 1e-12, 0.0, "float path vs tape")


def _fd(fn, c, k, h):
    up, dn = dict(c), dict(c)
    up[k] += h
    dn[k] -= h
    return (fn(up) - fn(dn)) / (2.0 * h)


def test_greeks_one_grad_vs_fd(prog):
    x = _book(11, 12)
    wrt = ["spot", *PARAMS]
    res = prog.grad(x, wrt=wrt)
    for i in range(12):
        c = _case(x, i)
        for k in wrt:
            h = 1e-4 * c[k] if k != "rho" else 1e-4
            aad = res.grad[k][i]
            fd_ql = _fd(_ql_price, c, k, h)
            fd_me = _fd(lambda d: float(heston_price(**d)), c, k, h)
            scale = 1e-6 * abs(fd_ql) + 1e-7 * c["spot"] * (1.0 if k != "spot" else 1e-2)
            assert abs(aad - fd_ql) <= scale, (i, k, aad, fd_ql)
            assert abs(aad - fd_me) <= scale, (i, k, aad, fd_me)


def test_gamma_hvp_vs_fd(prog):
    x = _book(13, 10)
    res = prog.hvp(x, {"spot": 1.0}, wrt=["spot"])
    for i in range(10):
        c = _case(x, i)
        h = 1e-3 * c["spot"]
        p = lambda s: float(heston_price(**{**c, "spot": s}))  # noqa: E731
        fd = (p(c["spot"] + h) - 2 * p(c["spot"]) + p(c["spot"] - h)) / (h * h)
        assert abs(res.hvp["spot"][i] - fd) <= 1e-5 * abs(fd) + 1e-7, (i, res.hvp["spot"][i], fd)


def test_put_call_parity(prog):
    x = _book(17, 50)
    call = prog.value({**x, "is_call": 1.0}).value
    put = prog.value({**x, "is_call": 0.0}).value
    fwd = x["spot"] * np.exp((x["rate"] - x["div"]) * x["expiry"])
    parity = np.exp(-x["rate"] * x["expiry"]) * (fwd - x["strike"])
    assert_close(call - put, parity, 1e-12, 1e-11, "put-call parity")


def test_small_vol_of_vol_tends_to_bsm(prog):
    """sigma -> 0: Heston -> BSM with vol sqrt(average variance); error O(sigma)."""
    x = _book(19, 40)
    T, v0, k, th = x["expiry"], x["v0"], x["kappa"], x["theta"]
    vbar = th + (v0 - th) * (1 - np.exp(-k * T)) / (k * T)
    bsm = bsm_price(spot=x["spot"], strike=x["strike"], expiry=T, vol=np.sqrt(vbar),
                    rate=x["rate"], div=x["div"], is_call=x["is_call"])
    for sig, tol in [(1e-3, 1e-4), (1e-4, 1e-5)]:
        got = prog.value({**x, "sigma": sig, "rho": 0.0}).value
        assert_close(got, bsm, 0.0, tol * 100.0, f"sigma={sig} vs BSM")
