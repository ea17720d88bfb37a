"""Hull-White calibration to swaption (Jamshidian) and cap vols on the bundled USD curve."""
from __future__ import annotations

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.calibration import parse_quotes
from aadrisk.calibration.hull_white import HullWhiteProblem, calibrate_hull_white
from aadrisk.calibration.risk import quote_greeks
from aadrisk.models.hull_white import swaption_price

from _calib_helpers import VAL, market, market_raw, rng  # noqa: F401 (fixtures)

TRUE = (0.04, 0.011)
GRID = [(e, t) for e in ("1Y", "2Y", "5Y", "10Y") for t in ("2Y", "5Y", "10Y")]


def swaption_doc(vols, vol_type="normal"):
    return {"kind": "swaption", "currency": "USD", "vol_type": vol_type, "fixed_tenor": "1Y",
            "quotes": [{"expiry": e, "tenor": t, "vol": float(v)} for (e, t), v in zip(GRID, vols)]}


@pytest.fixture(scope="module")
def model_vols(market):
    q = parse_quotes(swaption_doc([0.01] * len(GRID)), VAL)
    return HullWhiteProblem(q, market).model_vols(TRUE)


@pytest.mark.parametrize("vol_type", ["normal", "lognormal"])
def test_swaption_parameters_recovered(market, vol_type):
    q0 = parse_quotes(swaption_doc([0.01 if vol_type == "normal" else 0.25] * len(GRID),
                                   vol_type), VAL)
    vols = HullWhiteProblem(q0, market).model_vols(TRUE)
    res = calibrate_hull_white(parse_quotes(swaption_doc(vols, vol_type), VAL), market)
    assert res.converged
    np.testing.assert_allclose([res.params["a"], res.params["sigma"]], TRUE, rtol=1e-6)


def test_cap_parameters_recovered(market):
    doc = {"kind": "cap", "currency": "USD", "vol_type": "normal", "frequency": "6M",
           "quotes": [{"maturity": m, "vol": 0.01} for m in ("2Y", "3Y", "5Y", "7Y", "10Y")]}
    vols = HullWhiteProblem(parse_quotes(doc, VAL), market).model_vols(TRUE)
    # model vols of caps are first order (market + price error / vega): iterate the quotes
    # to the flat vols that reprice the HW caps exactly
    for _ in range(4):
        for qq, v in zip(doc["quotes"], vols):
            qq["vol"] = float(v)
        vols = HullWhiteProblem(parse_quotes(doc, VAL), market).model_vols(TRUE)
    res = calibrate_hull_white(parse_quotes(doc, VAL), market)
    assert res.converged
    np.testing.assert_allclose([res.params["a"], res.params["sigma"]], TRUE, rtol=1e-6)


def test_noisy_swaption_quotes_converge(market, model_vols, rng):
    noisy = model_vols + 0.0002 * rng.standard_normal(len(GRID))      # 2 bp noise
    res = calibrate_hull_white(parse_quotes(swaption_doc(noisy), VAL), market)
    assert res.converged
    assert 5e-5 < res.rmse < 2.5e-4
    assert abs(res.params["a"] - TRUE[0]) < 0.02


def _trade(a, sigma):
    """A 3Y x 7Y payer swaption struck at 4.5 % on a flat 4 % curve (model price)."""
    times = [3.0 + k for k in range(1, 8)]
    return swaption_price(a=a, sigma=sigma, expiry=3.0, df_expiry=np.exp(-0.12), times=times,
                          dfs=[np.exp(-0.04 * t) for t in times], accruals=[1.0] * 7,
                          strike=0.045, is_payer=1.0)


def test_quote_greeks_equal_bump_recalibrate_reprice(market, model_vols, rng):
    vols = model_vols + 0.0002 * rng.standard_normal(len(GRID))
    tight = dict(gtol=1e-15, max_iter=300)
    res = calibrate_hull_white(parse_quotes(swaption_doc(vols), VAL), market, **tight)
    g = ad.record(_trade).grad({"a": res.params["a"], "sigma": res.params["sigma"]})
    ift = quote_greeks(res, {"a": g.grad["a"], "sigma": g.grad["sigma"]})
    h = 1e-5
    fd = np.empty(len(GRID))
    for n in range(len(GRID)):
        pv = []
        for s in (1.0, -1.0):
            v2 = vols.copy()
            v2[n] += s * h
            r2 = calibrate_hull_white(parse_quotes(swaption_doc(v2), VAL), market, **tight,
                                      x0=res.params)
            pv.append(float(_trade(r2.params["a"], r2.params["sigma"])))
        fd[n] = (pv[0] - pv[1]) / (2 * h)
    np.testing.assert_allclose(ift.to_numpy(), fd, rtol=1e-4, atol=1e-4 * np.abs(fd).max())
    assert ift.index[0] == "swaption/USD/1Y/2Y"
