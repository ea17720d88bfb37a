"""Dupire local vol (aadrisk.models.local_vol): flat surface, analytic cases, tape
derivatives to implied-vol nodes, arbitrage detection."""
from __future__ import annotations

import math

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.models.local_vol import (butterfly_violations, calendar_violations,
                                      dupire_local_vol, spline_weights)

SPOT, R = 100.0, 0.02
T = [0.25, 0.5, 1.0, 2.0]
K = list(np.linspace(60.0, 160.0, 11))
FWD = [SPOT * math.exp(R * t) for t in T]


def lv(vols, out_t, out_s):
    return np.array(dupire_local_vol(times=T, strikes=K, vols=vols, forwards=FWD, spot=SPOT,
                                     out_times=out_t, out_spots=out_s), dtype=float)


def test_flat_surface_gives_local_equal_implied():
    out = lv([[0.23] * len(K) for _ in T], [0.1, 0.3, 0.75, 1.5, 2.5], [70.0, 100.0, 150.0])
    np.testing.assert_allclose(out, 0.23, rtol=1e-13)


def test_term_structure_gives_the_forward_vol():
    """sigma_imp(T) only: sigma_loc^2 = d(sigma^2 T)/dT, piecewise constant between expiries."""
    s = [0.30, 0.25, 0.22, 0.20]
    out = lv([[v] * len(K) for v in s], [0.1, 0.4, 0.8, 1.5], [80.0, 120.0])
    w = [v * v * t for v, t in zip(s, T)]
    ref = [s[0], math.sqrt((w[1] - w[0]) / 0.25), math.sqrt((w[2] - w[1]) / 0.5),
           math.sqrt((w[3] - w[2]) / 1.0)]
    np.testing.assert_allclose(out, np.array(ref)[:, None].repeat(2, 1), rtol=1e-13)


def test_linear_skew_matches_gatherals_formula():
    """w(y, T) = T (a + b y): the spline reproduces it exactly, and Gatheral (1.10) gives
    sigma_loc^2 = (a + b y) / (1 - y b / (a + b y) + 1/4 (-1/4 - 1/w + y^2/w^2) b^2 T^2)."""
    a, b = 0.04, -0.02
    vols = [[math.sqrt(a + b * math.log(k / f)) for k in K] for f in FWD]
    ts, ss = [0.4, 0.7, 1.5], [85.0, 100.0, 125.0]
    out = lv(vols, ts, ss)
    for i, t in enumerate(ts):
        for j, s in enumerate(ss):
            y = math.log(s / (SPOT * math.exp(R * t)))
            w = t * (a + b * y)
            den = 1 - y / w * b * t + 0.25 * (-0.25 - 1 / w + y * y / (w * w)) * b * b * t * t
            assert out[i, j] == pytest.approx(math.sqrt((a + b * y) / den), rel=1e-12)


def test_spline_weights_reproduce_a_cubic_between_natural_ends():
    x = np.linspace(-1, 1, 9)
    f = 0.3 + 0.2 * x - 0.1 * x ** 2
    c0, c1, c2 = spline_weights(x, [0.0, 0.33])
    # a natural spline is not exact for a quadratic, but close in the middle
    assert c0 @ f == pytest.approx([0.3, 0.3 + 0.066 - 0.010890], abs=2e-4)
    assert c1 @ f == pytest.approx([0.2, 0.2 - 0.066], abs=5e-3)


def test_tape_local_vol_and_its_gradient_to_every_implied_node():
    rng = np.random.default_rng(7)
    base = np.array([[0.2 + 0.05 * math.log(100.0 / k) ** 2 * 10 + 0.01 * i for k in K]
                     for i in range(len(T))])
    base += 0.002 * rng.standard_normal(base.shape)
    names = [f"v{i}_{j}" for i in range(len(T)) for j in range(len(K))]

    def f(**kw):
        vols = [[kw[f"v{i}_{j}"] for j in range(len(K))] for i in range(len(T))]
        return dupire_local_vol(times=T, strikes=K, vols=vols, forwards=FWD, spot=SPOT,
                                out_times=[0.6], out_spots=[95.0])[0][0]

    prog = ad.record(f, inputs=names)
    x = {n: float(v) for n, v in zip(names, base.ravel())}
    res = prog.grad(x)
    assert float(res.value[0]) == pytest.approx(float(lv(base.tolist(), [0.6], [95.0])[0, 0]),
                                                rel=1e-13)
    g = np.array([float(res.grad[n]) for n in names])
    assert np.count_nonzero(g) >= len(K)      # depends on the two neighbouring slices
    h = 1e-6
    for n in np.argsort(-np.abs(g))[:6]:
        up, dn = base.copy(), base.copy()
        up.flat[n] += h
        dn.flat[n] -= h
        fd = (lv(up.tolist(), [0.6], [95.0]) - lv(dn.tolist(), [0.6], [95.0]))[0, 0] / (2 * h)
        assert g[n] == pytest.approx(fd, rel=1e-6)


def test_arbitrage_detectors_name_the_offending_quote():
    t = np.array([0.5] * 3 + [1.0] * 3)
    y = np.array([-0.1, 0.0, 0.1] * 2)
    w = np.array([0.02, 0.018, 0.017, 0.04, 0.015, 0.034])   # ATM variance falls
    assert calendar_violations(t, y, w) == [(4, 1)]
    w_ok = w.copy()
    w_ok[4] = 0.036
    assert calendar_violations(t, y, w_ok) == []
    t1 = np.array([0.5] * 5)
    y1 = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    spike = 0.5 * np.array([0.15, 0.15, 0.40, 0.15, 0.15]) ** 2
    assert [m for m, _ in butterfly_violations(t1, y1, spike)] == [2]   # the spike itself
    assert butterfly_violations(t1, y1, 0.5 * np.full(5, 0.2) ** 2) == []
