"""SABR per-expiry calibration in lockstep: recovery, noise, quote Greeks vs bumping."""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.calibration import parse_quotes
from aadrisk.calibration.risk import parameter_sensitivities, quote_greeks, sabr_option_greeks
from aadrisk.calibration.sabr import SabrProblem, calibrate_sabr

from _calib_helpers import VAL, expiries, rng, surface  # noqa: F401 (fixture)

KW = dict(spot=100.0, rate=0.03, div=0.01)
BETA = 0.7


def model_surface(exps, strikes, X):
    q0 = parse_quotes(surface("X", exps, strikes, np.full((len(exps), len(strikes)), 0.2)), VAL)
    return SabrProblem(q0, beta=BETA, **KW).model_vols(X)


@pytest.fixture(scope="module")
def truth(rng):
    exps = expiries(np.linspace(30, 1830, 20))
    strikes = np.linspace(70, 130, 9)
    X = np.column_stack([0.2 * 100 ** 0.3 * (1 + 0.1 * rng.standard_normal(20)),
                         rng.uniform(0.2, 0.9, 20), rng.uniform(-0.7, 0.1, 20)])
    return exps, strikes, X, model_surface(exps, strikes, X)


def test_parameters_recovered_per_expiry(truth):
    exps, strikes, X, vols = truth
    res = calibrate_sabr(parse_quotes(surface("X", exps, strikes, vols), VAL), beta=BETA, **KW,
                         check_arbitrage=False)
    assert res.converged
    got = np.array([[res.params[e][k] for k in ("alpha", "nu", "rho")] for e in exps])
    np.testing.assert_allclose(got, X, rtol=1e-6, atol=1e-9)
    assert all(res.params[e]["beta"] == BETA for e in exps)
    assert res.rmse < 1e-10


def test_noisy_quotes_converge(truth, rng):
    exps, strikes, X, vols = truth
    noisy = vols + 0.001 * rng.standard_normal(vols.shape)
    res = calibrate_sabr(parse_quotes(surface("X", exps, strikes, noisy), VAL), beta=BETA, **KW,
                         check_arbitrage=False)
    assert res.converged
    assert 0.0004 < res.rmse < 0.0012


def test_quote_greeks_equal_bump_recalibrate_reprice(truth, rng):
    exps, strikes, X, vols = truth
    exps, vols = exps[:3], vols[:3] + 0.002 * rng.standard_normal((3, len(strikes)))
    doc = surface("X", exps, strikes, vols)
    tight = dict(gtol=1e-15, max_iter=300, check_arbitrage=False)
    res = calibrate_sabr(parse_quotes(doc, VAL), beta=BETA, **KW, **tight)
    trade = dict(expiry_iso=exps[1], strike=93.0, is_call=0.0)
    _, dv = sabr_option_greeks(res, **trade)
    ift = quote_greeks(res, dv)
    h = 1e-4
    fd = np.zeros(vols.size)
    for n in range(vols.size):
        pv = []
        for s in (1.0, -1.0):
            v2 = vols.copy()
            v2.flat[n] += s * h
            r2 = calibrate_sabr(parse_quotes(dict(doc, vols=v2.tolist()), VAL), beta=BETA, **KW,
                                **tight)
            pv.append(sabr_option_greeks(r2, **trade)[0])
        fd[n] = (pv[0] - pv[1]) / (2 * h)
    np.testing.assert_allclose(ift.to_numpy(), fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())
    # block diagonal: the trade's expiry only
    S = parameter_sensitivities(res)
    own = [lab for lab in S.columns if f"/{exps[1]}/" in lab]
    assert np.all(ift.drop(own).to_numpy() == 0.0)
    assert np.abs(ift[own]).max() > 0


def test_calibration_as_a_custom_adjoint_on_the_tape(truth, rng):
    """A price recorded with the quote vols as inputs, through calibrated_params_on_tape,
    has the IFT quote Greeks as its reverse-mode gradient."""
    import aadrisk as ad
    from aadrisk.calibration.risk import calibrated_params_on_tape
    from aadrisk.models.sabr import sabr_price

    exps, strikes, X, vols = truth
    exps, vols = exps[:2], vols[:2] + 0.002 * rng.standard_normal((2, len(strikes)))
    res = calibrate_sabr(parse_quotes(surface("X", exps, strikes, vols), VAL), beta=BETA, **KW,
                         check_arbitrage=False, gtol=1e-15)
    e = exps[1]
    p = res.extra["problem"]
    fwd, t = float(p.forward[1, 0]), float(p.t[1, 0])
    names = [f"q{i}" for i in range(len(res.labels))]

    def price(**q):
        th = calibrated_params_on_tape(res, [q[n] for n in names])
        pre = f"model/sabr/X/{e}/"
        return sabr_price(forward=fwd, strike=93.0, expiry=t, alpha=th[pre + "alpha"], beta=BETA,
                          nu=th[pre + "nu"], rho=th[pre + "rho"], discount=np.exp(-0.03 * t),
                          is_call=0.0)

    prog = ad.record(price, inputs=names)
    g = prog.grad({n: float(v) for n, v in zip(names, res.market)})
    _, dv = sabr_option_greeks(res, expiry_iso=e, strike=93.0, is_call=0.0)
    ref = quote_greeks(res, dv)
    got = np.array([float(g.grad[n]) for n in names])
    np.testing.assert_allclose(got, ref.to_numpy(), rtol=1e-10, atol=1e-12)
    assert float(g.value[0]) == pytest.approx(sabr_option_greeks(res, expiry_iso=e, strike=93.0,
                                                                 is_call=0.0)[0], rel=1e-12)
