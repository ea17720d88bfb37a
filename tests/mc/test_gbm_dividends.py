"""GBM with a piecewise-constant dividend term structure (GBM(div_per_step=True))."""
import math

import numpy as np
import pytest

from aadrisk.mc import GBM, MonteCarlo
from aadrisk.mc.payoffs import PAYOFFS

N = 8
DT = np.full(N, 0.25)
R = np.linspace(0.01, 0.04, N)
Q = np.array([0.0, 0.0, 0.05, 0.05, 0.01, 0.0, 0.03, 0.02])
VOL = np.linspace(0.15, 0.25, N)


def _forward(path):
    return path.df * path.final


def _mc(per_step):
    return MonteCarlo(GBM(div_per_step=per_step), {"fwd": (_forward, ()),
                                                  "call": PAYOFFS["european"]}, n_steps=N)


BASE = {"spot": 100.0, "_dt": DT, "_r": R, "_vol": VOL, "call.strike": 105.0, "call.phi": 1.0}


def test_constant_term_structure_equals_flat_dividend():
    flat = _mc(False).grad({**BASE, "div": 0.02}, paths=20_000, seed=4)
    term = _mc(True).grad({**BASE, "_q": np.full(N, 0.02)}, paths=20_000, seed=4)
    for k in ("fwd", "call"):
        assert term.value[k] == flat.value[k]
        assert term.grad[k]["spot"] == flat.grad[k]["spot"]
        assert np.sum(term.grad[k]["_q"]) == pytest.approx(flat.grad[k]["div"], rel=1e-12)


def test_discounted_forward_and_per_step_dividend_greeks():
    res = _mc(True).grad({**BASE, "_q": Q}, paths=200_000, seed=9)
    exact = 100.0 * math.exp(-float(np.sum(Q * DT)))   # E[df S_T] = S0 exp(-sum q dt)
    assert abs(res.value["fwd"] - exact) < 3 * res.stderr["fwd"]
    # d/dq_i of S0 exp(-sum q dt) is -dt_i times it: pathwise, per path, so to MC error
    g, se = res.grad["fwd"]["_q"], res.grad_stderr["fwd"]["_q"]
    assert np.all(np.abs(g + DT * exact) < 4 * se + 1e-12)


def test_per_step_dividend_greeks_match_finite_differences():
    mc = _mc(True)
    kw = dict(paths=20_000, seed=2)
    g = mc.grad({**BASE, "_q": Q}, **kw).grad["call"]["_q"]
    h = 1e-6
    for i in (0, 3, 7):
        up, dn = Q.copy(), Q.copy()
        up[i] += h
        dn[i] -= h
        fd = (mc.value({**BASE, "_q": up}, **kw).value["call"]
              - mc.value({**BASE, "_q": dn}, **kw).value["call"]) / (2 * h)
        assert g[i] == pytest.approx(fd, rel=1e-6, abs=1e-9)
