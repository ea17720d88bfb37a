"""Fused evaluation of one-loop programs (aadrisk.tape.fused) against the interpreter.

The fused engine must give the interpreter's values bit for bit (same formulas,
same random numbers, same block sums), its gradients to rounding, gradient
standard errors of the same size (batch means instead of per-path spreads),
and results independent of the thread count.  Programs outside its scope fall
back to the interpreter (``engine="auto"``) or raise (``engine="fused"``).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.tape.fused import Unsupported

N = 12
NODES = [f"v{k}" for k in range(6)]


def _mc(**kw):
    """GBM-like loop with a step-vol table read by gather at the path's spot bucket,
    a uniform state (log discount), a smoothed barrier and three payoffs."""
    tab = ad.table([kw[n] for n in NODES])
    spot, strike, barrier = kw["spot"], kw["strike"], kw["barrier"]

    def step(st, x):
        s, ldf, avg, alive = st
        u = ad.minimum(ad.maximum((s - 80.0) / 20.0, 0.0), 1.999999)
        i = ad.floor(u)
        w = u - i
        row = x["ti"] * 3.0 + i
        vol = x["scale"] * ((1.0 - w) * ad.gather(tab, row) + w * ad.gather(tab, row + 1.0))
        dt = x["dt"]
        s = s * ad.exp((kw["rate"] - 0.5 * vol * vol) * dt + vol * ad.sqrt(dt) * ad.normal())
        ldf = ldf + kw["rate"] * dt
        alive = alive * ad.sigmoid(ad.log(barrier / s), 0.01)
        return s, ldf, avg + s / N, alive

    s, ldf, avg, alive = ad.scan(step, (spot, 0.0, 0.0, 1.0), N, xs=("ti", "scale", "dt"))
    df = ad.exp(-ldf)
    return {"call": df * ad.softplus(s - strike, 0.5),
            "asian": df * ad.maximum(avg - strike, 0.0),
            "knock": df * ad.maximum(s - strike, 0.0) * alive,
            "const": df * strike}


INPUTS = {"spot": 100.0, "strike": 101.0, "barrier": 130.0, "rate": 0.03,
          **{n: 0.18 + 0.02 * k for k, n in enumerate(NODES)},
          "ti": np.repeat([0.0, 1.0], N // 2), "scale": 1.0 + 0.01 * np.arange(N),
          "dt": np.full(N, 0.5 / N)}
PATHS = 64 * 128 + 37   # a short last block


@pytest.fixture(scope="module")
def prog():
    return ad.record(_mc, inputs=["spot", "strike", "barrier", "rate", *NODES],
                     name="fused test")


@pytest.fixture(scope="module")
def both(prog):
    kw = dict(batch=PATHS, reduce="mean", seed=11, block=128)
    return (prog.grad(INPUTS, engine="fused", **kw), prog.grad(INPUTS, engine="interpreter", **kw))


def test_values_bit_identical_to_interpreter(prog, both):
    fused, interp = both
    for k in prog.output_names:
        assert fused.value[k] == interp.value[k]
        assert fused.stderr[k] == interp.stderr[k]
    kw = dict(batch=PATHS, reduce="mean", seed=11, block=128)
    v = prog.value(INPUTS, engine="fused", **kw)
    assert all(v.value[k] == interp.value[k] for k in prog.output_names)


def test_gradients_match_interpreter(prog, both):
    fused, interp = both
    for k in prog.output_names:
        for name in prog.input_names + prog.step_input_names:
            a, b = np.asarray(fused.grad[k][name]), np.asarray(interp.grad[k][name])
            scale = max(np.max(np.abs(b)), 1e-12)
            assert np.max(np.abs(a - b)) <= 1e-12 * scale, (k, name)


def test_gradient_standard_errors_are_batch_means_of_the_same_size(prog, both):
    fused, interp = both
    for k in ("call", "asian", "knock"):
        for name in ("spot", "rate", "v2"):
            a, b = fused.grad_stderr[k][name], interp.grad_stderr[k][name]
            assert 0.7 < a / b < 1.3, (k, name, a, b)   # 64 blocks: ~9 % estimation error


def test_gradient_matches_central_differences_with_the_same_numbers(prog):
    kw = dict(batch=PATHS, reduce="mean", seed=3, engine="fused")
    g = prog.grad(INPUTS, **kw).grad["call"]
    for name, h in (("spot", 1e-4), ("v3", 1e-6), ("rate", 1e-6)):
        up = prog.value({**INPUTS, name: INPUTS[name] + h}, **kw).value["call"]
        dn = prog.value({**INPUTS, name: INPUTS[name] - h}, **kw).value["call"]
        assert g[name] == pytest.approx((up - dn) / (2 * h), rel=1e-6), name


def test_thread_count_does_not_change_bits(prog):
    kw = dict(batch=PATHS, reduce="mean", seed=5, engine="fused")
    a, b = prog.grad(INPUTS, threads=1, **kw), prog.grad(INPUTS, threads=2, **kw)
    for k in prog.output_names:
        assert a.value[k] == b.value[k]
        assert all(np.array_equal(a.grad[k][n], b.grad[k][n]) for n in a.grad[k])


def test_outside_scope_falls_back_or_raises(prog):
    kw = dict(batch=4 * 128, seed=1)
    with pytest.raises(Unsupported):
        prog.grad(INPUTS, reduce=None, engine="fused", **kw)
    with pytest.raises(Unsupported):   # per-element inputs
        prog.value({**INPUTS, "spot": np.full(4 * 128, 100.0)}, reduce="mean",
                   engine="fused", **kw)
    auto = prog.grad({**INPUTS, "spot": np.full(4 * 128, 100.0)}, reduce="mean", **kw)
    interp = prog.grad({**INPUTS, "spot": np.full(4 * 128, 100.0)}, reduce="mean",
                       engine="interpreter", **kw)
    assert auto.value["call"] == interp.value["call"]
    with pytest.raises(ValueError, match="engine"):
        prog.value(INPUTS, batch=8, engine="jit")


def test_per_element_step_inputs_are_path_wise_leaves():
    """Quasi-random normals arrive as per-element step inputs: fused reads them per path."""
    def fn(*, spot, vol):
        def step(st, x):
            (s,) = st
            return (s * ad.exp(-0.5 * vol * vol * 0.01 + vol * 0.1 * x["z"]),)
        (s,) = ad.scan(step, (spot,), 8, xs=("z",))
        return ad.maximum(s - 100.0, 0.0)

    p = ad.record(fn)
    z = np.random.default_rng(0).standard_normal((8, 40 * 128))
    inp = {"spot": 100.0, "vol": 0.2, "z": z}
    kw = dict(reduce="mean", wrt=["spot", "vol"])
    a = p.grad(inp, engine="fused", block=256, **kw)
    b = p.grad(inp, engine="interpreter", block=256, **kw)
    assert a.value == b.value
    assert a.grad["vol"] == pytest.approx(b.grad["vol"], rel=1e-12)
    assert a.grad["spot"] == pytest.approx(b.grad["spot"], rel=1e-12)
    assert math.isfinite(a.grad_stderr["vol"])


def test_block_size_changes_only_rounding(prog):
    kw = dict(batch=PATHS, reduce="mean", seed=5, engine="fused")
    a, b = prog.grad(INPUTS, block=128, **kw), prog.grad(INPUTS, block=512, threads=1, **kw)
    for k in prog.output_names:
        assert a.value[k] == pytest.approx(b.value[k], rel=1e-13)
        for n in a.grad[k]:
            np.testing.assert_allclose(a.grad[k][n], b.grad[k][n], rtol=1e-12, atol=1e-15)


def test_sigmoid_pair_is_two_sigmoid_calls_bit_for_bit():
    from aadrisk.tape.scalar import sigmoid, sigmoid_pair
    xs = [0.0, -0.0, 1e-300, -3.7, 2.5, 40.0, -800.0, 800.0, 0.004999]
    for x in xs:
        for w in (0.005, 0.5, 2.0):
            y, c = sigmoid_pair(x, w)
            assert (y, c) == (sigmoid(x, w), sigmoid(-x, w))
    y, c = sigmoid_pair(float("nan"), 1.0)
    assert math.isnan(y) and math.isnan(c)


def test_a_table_built_in_the_loop_body_is_shared_per_step():
    """Local vol interpolated in time once per step (a table of uniform body nodes),
    then read per path: the fused engine reads it from the step's uniform values and
    sends its adjoints to the step's sums -- same bits and gradients as the interpreter,
    and central differences of the same program."""
    from aadrisk.mc import LocalVol, MonteCarlo, local_vol_time_weights
    from aadrisk.mc.payoffs import PAYOFFS
    times, spots, n = (0.5, 1.0, 2.0), tuple(np.linspace(60.0, 160.0, 6)), 16
    model = LocalVol(times=times, spots=spots)
    mc = MonteCarlo(model, {"c": PAYOFFS["european"]}, n_steps=n)
    inp = {"spot": 100.0, "div": 0.01, "_dt": np.full(n, 2.0 / n), "_r": np.full(n, 0.02),
           **local_vol_time_weights(np.array(times), np.arange(n) * 2.0 / n),
           "c.strike": 105.0, "c.phi": 1.0}
    inp.update({k: 0.2 + 0.01 * j for j, k in enumerate(model.node_names)})
    kw = dict(paths=32 * 256, seed=5, block=256, wrt=["spot", *model.node_names])
    a, b = mc.grad(inp, engine="fused", **kw), mc.grad(inp, engine="interpreter", **kw)
    assert a.value["c"] == b.value["c"]
    ga = np.array([a.grad["c"][k] for k in kw["wrt"]])
    gb = np.array([b.grad["c"][k] for k in kw["wrt"]])
    assert np.count_nonzero(gb) > 6
    assert np.max(np.abs(ga - gb)) <= 1e-12 * np.max(np.abs(gb))
    h, node = 1e-6, model.node_names[7]
    up = mc.value({**inp, node: inp[node] + h}, engine="fused", paths=kw["paths"], seed=5)
    dn = mc.value({**inp, node: inp[node] - h}, engine="fused", paths=kw["paths"], seed=5)
    fd = (up.value["c"] - dn.value["c"]) / (2 * h)
    assert abs(fd) > 1e-3 and a.grad["c"][node] == pytest.approx(fd, rel=1e-6)


def test_generated_module_is_keyed_on_what_its_machine_code_depends_on(prog, both):
    """Numba's disk cache checks only the generated file: its text (and so its name, a
    hash of the text) must change when Numba or the package kernels it inlines change,
    or an upgrade would keep running stale machine code."""
    import numba

    from aadrisk.tape import fused
    fp = fused.kernel_fingerprint()
    mods = [P.module for P in prog.__dict__["_fused_plans"].values()]
    assert mods and all(open(m.__file__).read().startswith(f"# kernels {fp}\n")
                        for m in mods)
    fused.kernel_fingerprint.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(numba, "__version__", numba.__version__ + "+other")
            assert fused.kernel_fingerprint() != fp
    finally:
        fused.kernel_fingerprint.cache_clear()
    assert fused.kernel_fingerprint() == fp
