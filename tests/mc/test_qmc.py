"""Sobol + Brownian bridge (randomised QMC): the bridge is exact, prices are unbiased with
far smaller errors than pseudo-random paths, Greeks equal same-scramble bumps."""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.mc import GBM, Heston, MonteCarlo
from aadrisk.mc.payoffs import PAYOFFS
from aadrisk.mc.qmc import BrownianBridge, SobolNormals
from aadrisk.models.black_scholes import bsm_price
from aadrisk.models.heston import heston_price


@pytest.mark.parametrize("times", [np.arange(1, 9) / 8.0, np.array([0.1, 0.15, 0.7, 1.0, 3.0])])
def test_bridge_increments_are_iid_standard_normal(times):
    """Increments = A xi with A A^T = I: the bridge is an exact construction of the path."""
    bb = BrownianBridge(times)
    A = bb.increments(np.eye(len(times)))
    np.testing.assert_allclose(A @ A.T, np.eye(len(times)), atol=1e-13)


def test_sobol_normals_shape_and_moments():
    g = SobolNormals(np.arange(1, 253) / 252.0, 2, seed=3)
    z = g.next(4096)
    assert z.shape == (252, 2, 4096)
    assert abs(z.mean()) < 5e-3 and abs(z.std() - 1.0) < 5e-3


def test_qmc_price_unbiased_and_much_more_accurate():
    n = 64
    eu = {"european": PAYOFFS["european"], "asian": PAYOFFS["asian"]}
    q = MonteCarlo(GBM(), eu, n_steps=n, qmc=True, replicates=8, chunk=2048)
    p = MonteCarlo(GBM(), eu, n_steps=n)
    inp = {"spot": 100.0, "div": 0.01, "_dt": np.full(n, 1 / n), "_r": np.full(n, 0.03),
           "_vol": np.full(n, 0.2), "european.strike": 100.0, "european.phi": 1.0,
           "asian.strike": 100.0, "asian.phi": 1.0}
    rq = q.grad(inp, paths=8 * 4096, seed=1)
    rp = p.value(inp, paths=8 * 4096, seed=1)
    ref = bsm_price(spot=100.0, strike=100.0, expiry=1.0, vol=0.2, rate=0.03, div=0.01,
                    is_call=True)
    assert abs(rq.value["european"] - ref) < 3 * rq.stderr["european"] + 1e-9
    assert rq.stderr["european"] < rp.stderr["european"] / 5
    assert rq.grad_stderr["european"]["spot"] > 0
    h = 1e-5
    up = q.value({**inp, "spot": 100.0 + h}, paths=8 * 4096, seed=1).value["asian"]
    dn = q.value({**inp, "spot": 100.0 - h}, paths=8 * 4096, seed=1).value["asian"]
    assert rq.grad["asian"]["spot"] == pytest.approx((up - dn) / (2 * h), rel=1e-6)


def test_qmc_heston_two_draws_per_step():
    p = {"v0": 0.04, "kappa": 1.5, "theta": 0.04, "xi": 0.224, "rho": -0.7}
    mc = MonteCarlo(Heston(scheme="qe"), {"c": PAYOFFS["european"]}, n_steps=25, qmc=True)
    r = mc.value({"spot": 100.0, "div": 0.0, **p, "_dt": np.full(25, 0.04),
                  "_r": np.full(25, 0.02), "c.strike": 100.0, "c.phi": 1.0},
                 paths=8 * 4096, seed=2)
    ref = heston_price(spot=100.0, strike=100.0, expiry=1.0, rate=0.02, div=0.0, v0=0.04,
                       kappa=1.5, theta=0.04, sigma=0.224, rho=-0.7, is_call=True)
    assert abs(r.value["c"] - ref) < 3 * r.stderr["c"] + 0.01   # + QE discretisation bias
