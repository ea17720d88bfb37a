"""The NumPy Levenberg-Marquardt: exact recovery, bounds, weights, batches, flags."""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.calibration.lm import levenberg_marquardt


def rosenbrock(X):
    x, y = X[:, 0], X[:, 1]
    r = np.stack([10 * (y - x * x), 1 - x], axis=1)
    J = np.zeros((len(X), 2, 2))
    J[:, 0, 0] = -20 * x
    J[:, 0, 1] = 10
    J[:, 1, 0] = -1
    return r, J


def test_rosenbrock_batch_converges_to_the_minimum():
    X0 = np.array([[-1.2, 1.0], [2.0, -1.0], [0.0, 0.0]])
    res = levenberg_marquardt(rosenbrock, X0)
    assert res.converged.all()
    np.testing.assert_allclose(res.x, 1.0, atol=1e-9)


def test_bounds_are_respected_and_a_bound_optimum_is_stationary():
    res = levenberg_marquardt(rosenbrock, np.array([[-1.2, 0.5]]), upper=[0.5, 0.2])
    assert np.all(res.x <= [0.5, 0.2])
    # constrained optimum: y = 0.2 on the bound; x minimises 100 (0.2 - x^2)^2 + (1 - x)^2
    x = res.x[0, 0]
    assert res.x[0, 1] == pytest.approx(0.2)
    assert -400 * x * (0.2 - x * x) - 2 * (1 - x) == pytest.approx(0.0, abs=1e-7)
    assert res.converged[0]


def test_weights_select_the_fitted_points():
    t = np.linspace(0, 1, 6)
    y = np.where(t < 0.5, 1.0, 3.0)          # two levels; fit a constant

    def fun(X):
        return X[:, :1] - y[None], np.ones((len(X), 6, 1))

    w = np.where(t < 0.5, 1.0, 0.0)
    res = levenberg_marquardt(fun, np.array([[0.0]]), weights=w)
    assert res.x[0, 0] == pytest.approx(1.0, abs=1e-9)
    res = levenberg_marquardt(fun, np.array([[0.0]]), weights=np.where(t < 0.5, 1.0, 3.0))
    assert res.x[0, 0] == pytest.approx((3 * 1.0 + 3 * 3 * 3.0) / 12.0, abs=1e-9)


def test_projection_hook_and_iteration_cap_flag_non_convergence():
    seen = []

    def proj(X):
        seen.append(True)
        return np.minimum(X, 0.9)

    res = levenberg_marquardt(rosenbrock, np.array([[-1.2, 1.0]]), project=proj)
    assert seen and res.x[0, 0] <= 0.9
    res = levenberg_marquardt(rosenbrock, np.array([[-1.2, 1.0]]), max_iter=2)
    assert not res.converged[0] and "maximum number of iterations" in res.message[0]
