"""Monte Carlo programs against closed forms (within 3 standard errors) and bump-and-revalue
with the same random numbers (pathwise AAD Greeks of smooth / smoothed payoffs).

Closed forms are aadrisk's own (tested against QuantLib in tests/models): BSM, the
discrete geometric Asian (exact for GBM with flat vol), Heston semi-analytic.
"""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.mc import GBM, Heston, MonteCarlo, MultiGBM
from aadrisk.mc.payoffs import PAYOFFS, basket, worst_of
from aadrisk.models.asian import geometric_asian_discrete_price
from aadrisk.models.black_scholes import bsm_price
from aadrisk.models.heston import heston_price

S0, K, T, R, Q, VOL = 100.0, 100.0, 1.0, 0.03, 0.01, 0.2


def grid(n, vol=VOL, r=R):
    return {"_dt": np.full(n, T / n), "_r": np.full(n, r), "_vol": np.full(n, vol)}


def gbm_inputs(n, **payoff_params):
    inp = {"spot": S0, "div": Q, **grid(n)}
    inp.update(payoff_params)
    return inp


@pytest.fixture(scope="module")
def gbm_book():
    names = ["european", "asian", "geometric_asian", "barrier", "digital", "lookback"]
    return MonteCarlo(GBM(), {k: PAYOFFS[k] for k in names}, n_steps=12)


def _params(phi=1.0):
    p = {}
    for name in ["european", "asian", "geometric_asian", "barrier", "digital", "lookback"]:
        p[f"{name}.strike"] = K
        p[f"{name}.phi"] = phi
    p.update({"barrier.barrier": 80.0, "barrier.is_up": 0.0, "barrier.is_in": 0.0})
    return p


@pytest.mark.parametrize("phi", [1.0, -1.0])
def test_european_and_geometric_asian_match_closed_forms(gbm_book, phi):
    res = gbm_book.value({**gbm_inputs(12), **_params(phi)}, paths=100_000, seed=11)
    eu = bsm_price(spot=S0, strike=K, expiry=T, vol=VOL, rate=R, div=Q, is_call=phi > 0)
    ga = geometric_asian_discrete_price(spot=S0, strike=K, expiry=T, vol=VOL, rate=R, div=Q,
                                        is_call=phi > 0, n_fixings=12)
    for name, ref in (("european", eu), ("geometric_asian", ga)):
        err = abs(res.value[name] - ref) / res.stderr[name]
        assert err < 3.0, (name, res.value[name], ref, res.stderr[name])


def test_greeks_equal_bump_and_revalue_with_same_numbers(gbm_book):
    """Central differences of the same program, same seed: pathwise AAD to 1e-6 relative
    on smooth and smoothed payoffs (the asian/european kinks are hit with probability 0)."""
    base = {**gbm_inputs(12), **_params()}
    g = gbm_book.grad(base, paths=4000, seed=5)
    for name in ("spot", "div"):
        h = 1e-7 * max(1.0, abs(base[name]))   # small: no path crosses a kink
        up = gbm_book.value({**base, name: base[name] + h}, paths=4000, seed=5).value
        dn = gbm_book.value({**base, name: base[name] - h}, paths=4000, seed=5).value
        for p in ("european", "asian", "barrier", "digital", "geometric_asian", "lookback"):
            fd = (up[p] - dn[p]) / (2 * h)
            assert g.grad[p][name] == pytest.approx(fd, rel=1e-6, abs=1e-9), (p, name)
    # one step vol (a per-step input): bump step 5 only
    vols = base["_vol"].copy()
    h = 1e-6
    up = gbm_book.value({**base, "_vol": np.where(np.arange(12) == 5, vols + h, vols)},
                        paths=4000, seed=5).value
    dn = gbm_book.value({**base, "_vol": np.where(np.arange(12) == 5, vols - h, vols)},
                        paths=4000, seed=5).value
    for p in ("european", "asian", "barrier", "digital"):
        fd = (up[p] - dn[p]) / (2 * h)
        assert g.grad[p]["_vol"][5] == pytest.approx(fd, rel=1e-6, abs=1e-9), p


def test_standard_errors_for_price_and_every_greek(gbm_book):
    g = gbm_book.grad({**gbm_inputs(12), **_params()}, paths=20_000, seed=3)
    assert 0 < g.stderr["european"] < 0.2
    assert 0 < g.grad_stderr["european"]["spot"] < 0.02
    assert g.grad_stderr["asian"]["_vol"].shape == (12,)
    assert np.all(g.grad_stderr["asian"]["_vol"] > 0)


def test_reproducible_for_any_block_and_thread_count(gbm_book):
    inp = {**gbm_inputs(12), **_params()}
    a = gbm_book.grad(inp, paths=3000, seed=9, block=64, threads=1)
    b = gbm_book.grad(inp, paths=3000, seed=9, block=256, threads=2)
    for p in a.value:
        assert a.value[p] == b.value[p] or abs(a.value[p] - b.value[p]) < 1e-13 * abs(a.value[p])
        np.testing.assert_allclose(a.grad[p]["_vol"], b.grad[p]["_vol"], rtol=1e-12, atol=1e-15)


def test_path_i_gets_the_same_numbers_whatever_the_batch(gbm_book):
    inp = {**gbm_inputs(12), **_params()}
    small = gbm_book.program.value(gbm_book._inputs(inp), batch=100, seed=4)
    big = gbm_book.program.value(gbm_book._inputs(inp), batch=1000, seed=4)
    np.testing.assert_array_equal(small.value["asian"], big.value["asian"][:100])


@pytest.mark.parametrize("scheme,steps,tol_se", [("euler", 100, 3.0), ("qe", 25, 3.0)])
def test_heston_schemes_against_semi_analytic(scheme, steps, tol_se):
    """A Feller-satisfying set (2 kappa theta / xi^2 = 2.4): both schemes within 3 se
    (Euler at 100 steps, QE at 25 steps) of the semi-analytic price."""
    p = {"v0": 0.04, "kappa": 1.5, "theta": 0.04, "xi": 0.224, "rho": -0.7}
    mc = MonteCarlo(Heston(scheme=scheme), {"european": PAYOFFS["european"]}, n_steps=steps)
    g = {"_dt": np.full(steps, T / steps), "_r": np.full(steps, R)}
    res = mc.value({"spot": S0, "div": Q, **p, **g, "european.strike": K, "european.phi": 1.0},
                   paths=100_000, seed=21)
    ref = heston_price(spot=S0, strike=K, expiry=T, rate=R, div=Q, v0=p["v0"],
                       kappa=p["kappa"], theta=p["theta"], sigma=p["xi"], rho=p["rho"],
                       is_call=True)
    v, se = res.value["european"], res.stderr["european"]
    assert abs(v - ref) < tol_se * se, (v, ref, se)


def test_heston_parameter_greeks_equal_bumps():
    """Variance Greeks on a parameter set where pathwise derivatives are reliable (Feller
    ratio 2.4: the truncation at v = 0 is essentially never active)."""
    p = {"v0": 0.04, "kappa": 1.5, "theta": 0.04, "xi": 0.224, "rho": -0.7}
    mc = MonteCarlo(Heston(), {"european": PAYOFFS["european"]}, n_steps=50)
    inp = {"spot": S0, "div": Q, **p, "_dt": np.full(50, T / 50), "_r": np.full(50, R),
           "european.strike": K, "european.phi": 1.0}
    g = mc.grad(inp, paths=3000, seed=2).grad["european"]
    for name in ("v0", "kappa", "theta", "xi", "rho", "spot"):
        h = 1e-6 * max(1.0, abs(inp[name]))
        up = mc.value({**inp, name: inp[name] + h}, paths=3000, seed=2).value["european"]
        dn = mc.value({**inp, name: inp[name] - h}, paths=3000, seed=2).value["european"]
        assert g[name] == pytest.approx((up - dn) / (2 * h), rel=1e-5, abs=1e-8), name


def test_multi_asset_basket_correlation_greek_and_two_asset_identity():
    """Two perfectly correlated identical assets: the basket is one asset (BSM);
    correlation Greek against bump-and-revalue with the same numbers."""
    m = MultiGBM(asset_names=("A", "B"))
    mc = MonteCarlo(m, {"basket": (basket, ("strike", "phi", "w_0", "w_1")),
                        "worst": (worst_of, ("strike", "phi"))}, n_steps=4)
    inp = {"spot_0": 100.0, "spot_1": 50.0, "div_0": Q, "div_1": Q, "vol_0": VOL,
           "vol_1": VOL, "corr_0_1": 0.999999, "_dt": np.full(4, 0.25), "_r": np.full(4, R),
           "basket.strike": 1.0, "basket.phi": 1.0, "basket.w_0": 0.5, "basket.w_1": 0.5,
           "worst.strike": 1.0, "worst.phi": 1.0}
    res = mc.value(inp, paths=50_000, seed=8)
    ref = bsm_price(spot=1.0, strike=1.0, expiry=T, vol=VOL, rate=R, div=Q, is_call=True)
    assert abs(res.value["basket"] - ref) < 3 * res.stderr["basket"] + 1e-4
    inp["corr_0_1"] = 0.3
    g = mc.grad(inp, paths=4000, seed=8)
    h = 1e-6
    up = mc.value({**inp, "corr_0_1": 0.3 + h}, paths=4000, seed=8).value
    dn = mc.value({**inp, "corr_0_1": 0.3 - h}, paths=4000, seed=8).value
    for p in ("basket", "worst"):
        assert g.grad[p]["corr_0_1"] == pytest.approx((up[p] - dn[p]) / (2 * h), rel=1e-6)


def test_antithetic_pairs_unbiased_lower_variance_and_exact_greeks():
    """Pairs (z, -z): the price within 3 se of BSM, a smaller standard error than plain
    paths at the same number of simulated paths, and Greeks = same-seed bumps."""
    eu = {"european": PAYOFFS["european"]}
    anti = MonteCarlo(GBM(), eu, n_steps=4, antithetic=True)
    plain = MonteCarlo(GBM(), eu, n_steps=4)
    inp = {"spot": S0, "div": Q, **grid(4), "european.strike": K, "european.phi": 1.0}
    a = anti.grad(inp, paths=50_000, seed=1)
    p = plain.value(inp, paths=100_000, seed=1)
    ref = bsm_price(spot=S0, strike=K, expiry=T, vol=VOL, rate=R, div=Q, is_call=True)
    assert abs(a.value["european"] - ref) < 3 * a.stderr["european"]
    assert a.stderr["european"] < 0.8 * p.stderr["european"]
    h = 1e-5
    up = anti.value({**inp, "spot": S0 + h}, paths=50_000, seed=1).value["european"]
    dn = anti.value({**inp, "spot": S0 - h}, paths=50_000, seed=1).value["european"]
    assert a.grad["european"]["spot"] == pytest.approx((up - dn) / (2 * h), rel=1e-6)
