"""Dupire local vol on a node grid: flat grid = Black-Scholes; node Greeks = same-seed bumps."""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.mc import LocalVol, MonteCarlo, local_vol_time_weights
from aadrisk.mc.payoffs import PAYOFFS
from aadrisk.models.black_scholes import bsm_price

TIMES = (0.25, 0.5, 1.0)
SPOTS = (55.0, 80.0, 105.0, 130.0, 155.0)   # S0 = 100 off the nodes (sigma has kinks there)
N = 20


def _inputs(model, vols, **extra):
    dt = np.full(N, 1.0 / N)
    starts = np.arange(N) / N
    inp = {"spot": 100.0, "div": 0.01, "_dt": dt, "_r": np.full(N, 0.03),
           **local_vol_time_weights(model.times, starts),
           "european.strike": 100.0, "european.phi": 1.0, "barrier.strike": 100.0,
           "barrier.phi": 1.0, "barrier.barrier": 140.0, "barrier.is_up": 1.0,
           "barrier.is_in": 0.0}
    inp.update({n: float(v) for n, v in zip(model.node_names, np.ravel(vols))})
    inp.update(extra)
    return inp


@pytest.fixture(scope="module")
def mc():
    model = LocalVol(times=TIMES, spots=SPOTS)
    return model, MonteCarlo(model, {"european": PAYOFFS["european"],
                                     "barrier": PAYOFFS["barrier"]}, n_steps=N)


def test_flat_grid_is_black_scholes_and_node_vegas_sum_to_vega(mc):
    model, m = mc
    inp = _inputs(model, np.full(len(TIMES) * len(SPOTS), 0.2))
    r = m.grad(inp, paths=100_000, seed=4)
    ref = bsm_price(spot=100.0, strike=100.0, expiry=1.0, vol=0.2, rate=0.03, div=0.01,
                    is_call=True)
    assert abs(r.value["european"] - ref) < 3 * r.stderr["european"]
    vega = sum(r.grad["european"][n] for n in model.node_names)
    # BS vega with the same numbers (exact GBM in law): compare within MC error (3 se)
    se = np.sqrt(sum(r.grad_stderr["european"][n] ** 2 for n in model.node_names))
    bs_vega = (bsm_price(spot=100.0, strike=100.0, expiry=1.0, vol=0.2 + 1e-6, rate=0.03,
                         div=0.01, is_call=True) - ref) / 1e-6
    assert abs(vega - bs_vega) < 3 * se * len(model.node_names) ** 0.5 + 0.5


def test_node_greeks_equal_bumps_with_the_same_numbers(mc):
    model, m = mc
    rng = np.random.default_rng(0)
    vols = 0.15 + 0.1 * rng.random(len(TIMES) * len(SPOTS))
    inp = _inputs(model, vols)
    g = m.grad(inp, paths=3000, seed=6)
    for n in ("lv_0_2", "lv_1_1", "lv_2_3", "lv_2_4"):
        h = 1e-6
        up = m.value({**inp, n: inp[n] + h}, paths=3000, seed=6).value
        dn = m.value({**inp, n: inp[n] - h}, paths=3000, seed=6).value
        for p in ("european", "barrier"):
            fd = (up[p] - dn[p]) / (2 * h)
            assert g.grad[p][n] == pytest.approx(fd, rel=1e-6, abs=1e-9), (p, n)
    h = 1e-5
    up = m.value({**inp, "spot": 100.0 + h}, paths=3000, seed=6).value
    dn = m.value({**inp, "spot": 100.0 - h}, paths=3000, seed=6).value
    for p in ("european", "barrier"):
        assert g.grad[p]["spot"] == pytest.approx((up[p] - dn[p]) / (2 * h), rel=1e-6)


def test_spot_levels_must_be_equally_spaced():
    with pytest.raises(ValueError, match="equally spaced"):
        LocalVol(times=(1.0,), spots=(1.0, 2.0, 4.0))
