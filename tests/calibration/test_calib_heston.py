"""Heston calibration: recovery from model quotes, noisy quotes, AAD vs FD Jacobian,
Feller, and Greeks to quotes through the calibration (IFT) against bump-recalibrate-reprice."""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.calibration import parse_quotes
from aadrisk.calibration.heston import PARAMS, HestonProblem, calibrate_heston
from aadrisk.calibration.risk import heston_option_greeks, quote_greeks

from _calib_helpers import VAL, expiries, rng, surface  # noqa: F401 (fixture)

SPOT, RATE, DIV = 100.0, 0.03, 0.01
TRUE = np.array([0.04, 1.5, 0.06, 0.5, -0.7])       # v0, kappa, theta, xi, rho
KW = dict(spot=SPOT, rate=RATE, div=DIV)


def model_surface(exps, strikes, x):
    q0 = parse_quotes(surface("X", exps, strikes, np.full((len(exps), len(strikes)), 0.2)), VAL)
    v = HestonProblem(q0, **KW).model_vols(x)
    return v.reshape(len(exps), len(strikes))


@pytest.fixture(scope="module")
def surf_8x6():
    exps = expiries(np.linspace(30, 730, 8))
    strikes = np.linspace(80, 125, 6)
    return exps, strikes, model_surface(exps, strikes, TRUE)


def test_parameters_recovered_from_model_quotes(surf_8x6):
    exps, strikes, vols = surf_8x6
    res = calibrate_heston(parse_quotes(surface("X", exps, strikes, vols), VAL), **KW,
                           gtol=1e-13, ftol=1e-15, xtol=1e-14)
    assert res.converged
    got = np.array([res.params[k] for k in PARAMS])
    np.testing.assert_allclose(got, TRUE, rtol=1e-6)
    assert res.rmse < 1e-9


def test_noisy_quotes_converge_to_the_noise_level(surf_8x6, rng):
    exps, strikes, vols = surf_8x6
    noisy = vols + 0.002 * rng.standard_normal(vols.shape)     # 0.2 vol point noise
    res = calibrate_heston(parse_quotes(surface("X", exps, strikes, noisy), VAL), **KW)
    assert res.converged
    assert 0.001 < res.rmse < 0.0025
    got = np.array([res.params[k] for k in PARAMS])
    assert np.all(np.abs(got - TRUE) < [0.005, 1.0, 0.01, 0.2, 0.1])


def test_aad_jacobian_equals_finite_differences(surf_8x6):
    exps, strikes, vols = surf_8x6
    p = HestonProblem(parse_quotes(surface("X", exps, strikes, vols), VAL), **KW)
    _, J = p.jacobian(TRUE)
    Jfd = p.fd_jacobian(TRUE, rel=1e-4)
    # the quadrature nodes move with the parameters under finite differences but are held
    # for AAD (heston.py): they differ by the quadrature error / h on the deep-OTM 1-month quote
    np.testing.assert_allclose(J, Jfd, rtol=1e-5, atol=5e-5)
    np.testing.assert_allclose(np.delete(J, 5, axis=0), np.delete(Jfd, 5, axis=0), rtol=1e-5,
                               atol=1e-7)


def test_feller_condition_enforced(surf_8x6):
    exps, strikes, _ = surf_8x6
    vols = model_surface(exps, strikes, np.array([0.04, 0.8, 0.05, 0.9, -0.6]))  # violates Feller
    res = calibrate_heston(parse_quotes(surface("X", exps, strikes, vols), VAL), **KW,
                           feller=True)
    p = res.params
    assert p["xi"] ** 2 <= 2 * p["kappa"] * p["theta"] * (1 + 1e-12)
    assert res.rmse > 1e-4         # the unconstrained model point is not reachable


def test_quote_greeks_equal_bump_recalibrate_reprice(rng):
    """dV/dq by the IFT at the optimum against central bumps of each quote by 1e-3
    (each bumped surface recalibrated from the optimum to 1e-14), 1e-4 relative."""
    exps = expiries([91, 273, 547])
    strikes = [85.0, 95.0, 105.0, 115.0]
    vols = model_surface(exps, strikes, TRUE) + 0.003 * rng.standard_normal((3, 4))
    tight = dict(gtol=1e-14, ftol=1e-16, xtol=1e-15, max_iter=300, check_arbitrage=False)
    doc = surface("X", exps, strikes, vols)
    res = calibrate_heston(parse_quotes(doc, VAL), **KW, **tight)
    assert res.converged and res.rmse > 1e-3
    trade = dict(strike=102.0, expiry=1.2, is_call=1.0)
    _, dv = heston_option_greeks(res, **trade)
    ift = quote_greeks(res, dv)
    ift_gn = quote_greeks(res, dv, second_order=False)
    h = 1e-3
    fd = np.empty(12)
    for n in range(12):
        pv = []
        for s in (1.0, -1.0):
            v2 = vols.copy()
            v2.flat[n] += s * h
            r2 = calibrate_heston(parse_quotes(dict(doc, vols=v2.tolist()), VAL), **KW, **tight,
                                  x0=res.params)
            assert r2.converged
            pv.append(heston_option_greeks(r2, **trade)[0])
        fd[n] = (pv[0] - pv[1]) / (2 * h)
    np.testing.assert_allclose(ift.to_numpy(), fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())
    # without the second-order term the Greeks are visibly off on noisy quotes
    assert np.abs(ift_gn.to_numpy() - fd).max() > 1e-3 * np.abs(fd).max()
    assert list(ift.index) == res.labels
