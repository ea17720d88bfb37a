"""SABR (Hagan 2002) lognormal and normal vols and prices, against QuantLib (oracle only).

Oracles: ``sabrVolatility(K, F, T, alpha, beta, nu, rho[, VolatilityType])`` to
1e-10 relative away from the money (within ``|z| < 1e-3`` QuantLib's own
quotient z/x(z) loses digits, e.g. ~4e-13 relative at K/F - 1 = 3e-6, so 1e-9
there); prices through ``blackFormula`` / ``bachelierBlackFormula`` to 1e-10.
Greeks of the price (forward, alpha, nu, rho, strike) from one Program.grad
against Richardson-extrapolated central differences of QuantLib prices
(relative bumps 2e-4 and 1e-4: near the money QuantLib's price carries ~1e-13
relative noise from its z/x(z), which smaller bumps amplify), 1e-6 relative
tolerance + 1e-9 x forward absolute.  ATM: finite, continuous values
and first/second derivatives across the series switch and at K = F.
"""
from __future__ import annotations

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.models import sabr_normal_price, sabr_normal_vol, sabr_price, sabr_vol
from aadrisk.models.sabr import _Z_SWITCH

from _qlsetup import assert_close

ql = pytest.importorskip("QuantLib")

N = 300


def _book(seed, n=N):
    rng = np.random.default_rng(seed)
    F = rng.uniform(0.005, 0.08, n)
    return dict(forward=F, strike=F * np.exp(rng.uniform(-0.6, 0.6, n)),
                expiry=rng.integers(30, 10 * 365, n) / 365.0,
                alpha=rng.uniform(0.1, 0.4, n) * F ** (1 - (b := rng.uniform(0.0, 1.0, n))),
                beta=b, nu=rng.uniform(0.05, 0.8, n), rho=rng.uniform(-0.8, 0.8, n),
                discount=rng.uniform(0.7, 1.0, n), is_call=rng.integers(0, 2, n).astype(float))


def _vol_args(x):
    return {k: x[k] for k in ["forward", "strike", "expiry", "alpha", "beta", "nu", "rho"]}


def _ql_vol(x, i, normal):
    t = ql.Normal if normal else ql.ShiftedLognormal
    return ql.sabrVolatility(x["strike"][i], x["forward"][i], x["expiry"][i], x["alpha"][i],
                             x["beta"][i], x["nu"][i], x["rho"][i], t)


def _ql_price(x, i, normal):
    typ = ql.Option.Call if x["is_call"][i] else ql.Option.Put
    sd = _ql_vol(x, i, normal) * np.sqrt(x["expiry"][i])
    f = ql.bachelierBlackFormula if normal else ql.blackFormula
    return f(typ, x["strike"][i], x["forward"][i], sd, x["discount"][i])


@pytest.mark.parametrize("normal", [False, True])
def test_vols_and_prices_vs_quantlib(normal):
    x = _book(61 + normal)
    vfn, pfn = (sabr_normal_vol, sabr_normal_price) if normal else (sabr_vol, sabr_price)
    want_v = np.array([_ql_vol(x, i, normal) for i in range(N)])
    want_p = np.array([_ql_price(x, i, normal) for i in range(N)])
    assert_close(vfn(**_vol_args(x)), want_v, 1e-10, 0.0, "vol")
    tape = ad.record(pfn).value(x).value
    assert_close(tape, want_p, 1e-10, 1e-13 * x["forward"], "price")
    assert_close(pfn(**x), tape, 1e-13, 1e-15, "float vs tape")


@pytest.mark.parametrize("normal", [False, True])
def test_greeks_vs_quantlib_central_differences(normal):
    n = 80
    x = _book(63 + normal, n)
    pfn = sabr_normal_price if normal else sabr_price
    names = ["forward", "strike", "alpha", "nu", "rho"]
    g = ad.record(pfn).grad(x, wrt=names)
    for name in names:
        want = np.empty(n)
        for i in range(n):
            cd = []
            for h in (2e-4 * abs(x[name][i]), 1e-4 * abs(x[name][i])):
                up = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in x.items()}
                dn = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in x.items()}
                up[name][i] += h
                dn[name][i] -= h
                cd.append((_ql_price(up, i, normal) - _ql_price(dn, i, normal)) / (2 * h))
            want[i] = (4.0 * cd[1] - cd[0]) / 3.0   # Richardson: O(h^4)
        scale = x["forward"] / np.abs(x[name])
        assert_close(g.grad[name], want, 1e-6, 1e-9 * scale, f"d price / d {name}")


@pytest.mark.parametrize("vfn", [sabr_vol, sabr_normal_vol])
def test_atm_limit_smooth_and_exact(vfn):
    F, a = 0.03, dict(expiry=2.0, alpha=0.03, beta=0.5, nu=0.4, rho=-0.3)
    prog = ad.record(lambda *, forward, strike: vfn(forward=forward, strike=strike, **a))
    # strikes around the money, across the series switch |z| = 0.05 and exactly at K = F
    zscale = a["nu"] / a["alpha"] * F ** (1 - a["beta"])     # z ~ zscale * ln(F/K)
    lm = np.r_[0.0, 1e-14, -1e-10, 1e-6, -1e-3, (_Z_SWITCH / zscale) * np.array(
        [1 - 1e-9, 1 + 1e-9, -(1 - 1e-9), -(1 + 1e-9)])]
    K = F * np.exp(-lm)
    g = prog.grad({"forward": F, "strike": K}, wrt=["strike"])
    h = prog.hvp({"forward": F, "strike": K}, {"strike": 1.0}, wrt=["strike"])
    assert np.all(np.isfinite(g.value)) and np.all(np.isfinite(g.grad["strike"]))
    assert np.all(np.isfinite(h.hvp["strike"]))
    # continuity across the switch: the two sides differ by ~2e-9 in ln K only
    v, d1, d2 = g.value, g.grad["strike"], h.hvp["strike"]
    for i, j in [(5, 6), (7, 8)]:
        assert abs(v[i] - v[j]) <= 1e-12 * abs(v[i]) + abs(d1[i]) * abs(K[i] - K[j]) * 2
        assert abs(d1[i] - d1[j]) <= 1e-9 * abs(d1[i]) + abs(d2[i]) * abs(K[i] - K[j]) * 2
        assert abs(d2[i] - d2[j]) <= 1e-6 * abs(d2[i])
    # at the money: derivatives equal central differences over a wide bump (smooth function)
    # (Richardson-extrapolated, bumps 2e-5 and 1e-5 in K; both sides use the series there)
    fd1, fd2 = [], []
    for hk in (2e-5, 1e-5):
        f = [float(vfn(forward=F, strike=F + s * hk, **a)) for s in (-1, 0, 1)]
        fd1.append((f[2] - f[0]) / (2 * hk))
        fd2.append((f[2] - 2 * f[1] + f[0]) / hk ** 2)
    assert d1[0] == pytest.approx((4 * fd1[1] - fd1[0]) / 3, rel=1e-8)
    assert d2[0] == pytest.approx((4 * fd2[1] - fd2[0]) / 3, rel=1e-4)
    # and the value at K = F is Hagan's ATM formula (lognormal: alpha / F^(1-beta) * (1 + ...))
    if vfn is sabr_vol:
        b, al, nu, r, T = a["beta"], a["alpha"], a["nu"], a["rho"], a["expiry"]
        atm = al / F ** (1 - b) * (1 + T * ((1 - b) ** 2 * al ** 2 / (24 * F ** (2 - 2 * b))
                                            + r * b * nu * al / (4 * F ** (1 - b))
                                            + (2 - 3 * r * r) * nu * nu / 24))
        assert v[0] == pytest.approx(atm, rel=1e-15)
    # QuantLib agrees near the money to its own accuracy
    for i in range(len(K)):
        t = ql.ShiftedLognormal if vfn is sabr_vol else ql.Normal
        want = ql.sabrVolatility(K[i], F, a["expiry"], a["alpha"], a["beta"], a["nu"], a["rho"], t)
        assert v[i] == pytest.approx(want, rel=1e-9)


def test_mixed_book_one_program_call_matches_floats():
    x = _book(67)
    for fn in (sabr_price, sabr_normal_price):
        res = ad.record(fn).value(x).value
        per = [fn(**{k: float(v[i]) for k, v in x.items()}) for i in range(N)]
        assert_close(res, per, 1e-13, 1e-15, fn.__name__)
