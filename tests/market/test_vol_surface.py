"""Vol surfaces: interpolation, bucketed vega by AAD vs node bumps, bad data."""
import numpy as np
import pytest

import aadrisk as ad
from aadrisk.market.vol_surface import CORNERS, VolSurface, VolSurfaceError, interpolated_vol
from aadrisk.models import bsm_price

EXP = [0.25, 0.5, 1.0, 2.0]
STR = [80.0, 90.0, 100.0, 110.0, 120.0]


def _surface(vols=None):
    rng = np.random.default_rng(7)
    if vols is None:
        base = 0.2 + 0.1 * ((np.asarray(STR) - 100.0) / 100.0) ** 2
        vols = base[None, :] + 0.01 * rng.random((len(EXP), len(STR)))
        vols = np.sqrt(np.maximum.accumulate(vols ** 2 * np.asarray(EXP)[:, None], axis=0)
                       / np.asarray(EXP)[:, None])  # no calendar arbitrage
    return VolSurface("SPX", EXP, STR, vols,
                      expiry_labels=["2027-03-01", "2027-06-01", "2027-12-01", "2028-12-01"])


def test_reproduces_nodes_and_flat_extrapolation():
    s = _surface()
    T, K = np.meshgrid(EXP, STR, indexing="ij")
    got = interpolated_vol(**s.lookup(expiry=T.ravel(), strike=K.ravel()).inputs())
    np.testing.assert_allclose(got, s.vols.ravel(), rtol=1e-15)
    # flat in strike beyond the grid, flat vol beyond the first/last expiry
    lk = s.lookup(expiry=np.array([0.1, 5.0, 1.0]), strike=np.array([100.0, 100.0, 500.0]))
    got = interpolated_vol(**lk.inputs())
    np.testing.assert_allclose(got, [s.vols[0, 2], s.vols[-1, 2], s.vols[2, -1]], rtol=1e-15)


def test_linear_in_total_variance_between_expiries():
    s = _surface()
    T = 0.75  # between 0.5 and 1.0 at a node strike
    got = interpolated_vol(**s.lookup(expiry=np.array([T]), strike=np.array([90.0])).inputs())
    w0, w1 = s.vols[1, 1] ** 2 * 0.5, s.vols[2, 1] ** 2 * 1.0
    assert got[0] == pytest.approx(np.sqrt((0.5 * w0 + 0.5 * w1) / T), rel=1e-15)


def _bs_with_surface(*, spot, strike, rate, div, is_call, v00, v01, v10, v11, lam, alpha,
                     t0, t1, expiry):
    vol = interpolated_vol(v00=v00, v01=v01, v10=v10, v11=v11, lam=lam, alpha=alpha, t0=t0,
                           t1=t1, expiry=expiry)
    return bsm_price(spot=spot, strike=strike, expiry=expiry, vol=vol, rate=rate, div=div,
                     is_call=is_call)


def _book(n=40):
    rng = np.random.default_rng(3)
    return (rng.uniform(0.1, 3.0, n), rng.uniform(70, 130, n),
            (rng.random(n) < 0.5).astype(float))


def _prices(s, T, K, c, vols=None):
    lk = s.lookup(expiry=T, strike=K)
    return _bs_with_surface(spot=100.0, strike=K, rate=0.02, div=0.01, is_call=c,
                            **lk.inputs(vols))


def test_bucketed_vega_matches_node_bumps_and_sums_to_parallel():
    s = _surface()
    T, K, c = _book()
    lk = s.lookup(expiry=T, strike=K)
    prog = ad.record(_bs_with_surface)
    res = prog.grad({"spot": 100.0, "strike": K, "rate": 0.02, "div": 0.01, "is_call": c,
                     **lk.inputs()}, wrt=list(CORNERS))
    np.testing.assert_allclose(res.value, _prices(s, T, K, c), rtol=1e-14)
    vega = lk.scatter(res.grad)                     # (trades, nodes)
    h = 1e-6
    for node in range(s.vols.size):
        up, dn = s.vols.copy().ravel(), s.vols.copy().ravel()
        up[node] += h
        dn[node] -= h
        fd = (_prices(s, T, K, c, up) - _prices(s, T, K, c, dn)) / (2 * h)
        np.testing.assert_allclose(vega[:, node], fd, rtol=1e-6, atol=1e-8)
    par = (_prices(s, T, K, c, s.vols.ravel() + h) - _prices(s, T, K, c, s.vols.ravel() - h)) / (2 * h)
    np.testing.assert_allclose(vega.sum(axis=1), par, rtol=1e-7, atol=1e-9)


def test_labels_follow_the_grammar():
    s = _surface()
    assert s.label(1, 2) == "vol/SPX/2027-06-01/100"
    assert len(s.labels) == len(EXP) * len(STR)


@pytest.mark.parametrize("kwargs, match", [
    (dict(expiries=[0.5, 0.5], strikes=[90.0, 110.0], vols=[[0.2, 0.2], [0.2, 0.2]]),
     "expiries must increase"),
    (dict(expiries=[0.5, 1.0], strikes=[110.0, 90.0], vols=[[0.2, 0.2], [0.2, 0.2]]),
     "strikes must increase"),
    (dict(expiries=[0.5, 1.0], strikes=[90.0, 110.0], vols=[[0.2, -0.1], [0.2, 0.2]]),
     r"node vol/X/0.5/110 has vol -0.1"),
    (dict(expiries=[0.5, 1.0], strikes=[90.0, 110.0], vols=[[0.2, 0.2], [0.2]]),
     "shape"),
    (dict(expiries=[0.5, 1.0], strikes=[90.0, 110.0], vols=[[0.3, 0.2], [0.2, 0.2]]),
     r"calendar arbitrage at strike 90.*vol/X/0.5/90.*vol/X/1/90"),
])
def test_bad_surfaces_name_the_node(kwargs, match):
    with pytest.raises(VolSurfaceError, match=match):
        VolSurface("X", **kwargs)
