"""GATHER: table lookups at a per-element index (local-vol grids, term structures).

Checked against the pure-Python reference evaluator in every mode (values, reverse,
forward, forward-over-reverse), inside and outside loops, and against central finite
differences of the kernels' own values.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.tape.reference import ReferenceEvaluator

NODES = [f"v{k}" for k in range(6)]


def local_vol_like(**kw):
    """A 6-node vol table (2 times x 3 spot buckets) read along a path by bilinear weights."""
    tab = ad.table([kw[n] for n in NODES])
    spot, width = kw["spot"], 20.0

    def step(st, x):
        (s,) = st
        u = (s - 80.0) / width                       # spot bucket coordinate
        u = ad.minimum(ad.maximum(u, 0.0), 1.999999)
        i = ad.floor(u)
        w = u - i
        row = x["ti"] * 3.0 + i
        vol = (1.0 - w) * ad.gather(tab, row) + w * ad.gather(tab, row + 1.0)
        return (s * ad.exp(-0.5 * vol * vol * 0.1 + vol * math.sqrt(0.1) * ad.normal()),)

    (s,) = ad.scan(step, (spot,), 6, xs=("ti",))
    return ad.softplus(s - 100.0, 2.0) + ad.gather(tab, kw["pick"]) * 0.1


INPUTS = {"spot": np.array([85.0, 100.0, 115.0, 70.0, 130.0]), "pick": np.array(
    [-3.0, 0.0, 2.5, 5.0, 99.0]), "ti": np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
    **{n: 0.15 + 0.02 * k for k, n in enumerate(NODES)}}


@pytest.fixture(scope="module")
def prog():
    return ad.record(local_vol_like, inputs=NODES + ["spot", "pick"])


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_gather_matches_reference_in_every_mode(prog, mode):
    ref = ReferenceEvaluator(prog)
    tang = {"spot": np.array([1.0, -0.5, 0.25, 2.0, 1.0]), "v2": 1.0, "v4": -2.0}
    run = [lambda: prog.value(INPUTS, seed=3), lambda: prog.grad(INPUTS, seed=3),
           lambda: prog.jvp(INPUTS, tang, seed=3), lambda: prog.hvp(INPUTS, tang, seed=3)]
    res = run[mode]()
    exp = ref.evaluate(INPUTS, mode=mode, tangents=tang if mode >= 2 else None, seed=3)
    _close(res.value, exp.value)
    if mode in (1, 3):
        for k in NODES + ["spot"]:
            _close(res.grad[k], exp.grad[k])
    if mode == 3:
        for k in NODES + ["spot"]:
            _close(res.hvp[k], exp.hvp[k])
    if mode == 2:
        _close(res.tangent, exp.tangent)


def test_gather_node_greeks_equal_finite_differences(prog):
    g = prog.grad(INPUTS, seed=5)
    for k in NODES:
        h = 1e-6
        up = prog.value({**INPUTS, k: INPUTS[k] + h}, seed=5).value
        dn = prog.value({**INPUTS, k: INPUTS[k] - h}, seed=5).value
        assert g.grad[k] == pytest.approx(np.sum((up - dn) / (2 * h)), rel=1e-7, abs=1e-10), k


def test_index_is_clipped_to_the_table_and_floats_work():
    r = ad.record(lambda *, a, b, i: ad.gather([a, b], i)).value(
        {"a": 1.0, "b": 2.0, "i": np.array([-5.0, 0.99, 1.0, 7.0, np.nan])})
    assert r.value.tolist() == [1.0, 1.0, 2.0, 2.0, 1.0]
    assert float(ad.gather([1.0, 2.0, 3.0], 1.5)) == 2.0


def test_unpacked_table_inside_a_loop_is_refused():
    def f(*, a, spot):
        c = a * 2.0
        d = a * 3.0

        def step(s, _):
            return s * ad.gather([c, d], s)
        return ad.scan(step, spot, 2)
    with pytest.raises(ad.TapeError, match="table"):
        ad.record(f)
