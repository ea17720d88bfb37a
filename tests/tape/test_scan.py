"""Time-stepping loops (:func:`aadrisk.scan`): derivatives through 252 steps.

The model is a GBM log-Euler scheme with a per-step volatility step input
(shape ``(252,)``) and one :func:`aadrisk.normal` per step, carrying the log
spot and a running sum of spots; the payoff is smooth (softplus of the
terminal spot and of the running average minus the strike).

Finite differences use the 4th-order central stencil
``(f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / 12h`` on the same program with the
same seed (common random numbers), so pathwise derivatives are compared
exactly: tolerance ``1e-6 * |derivative|`` plus the stencil's round-off
``1.5 * 16 eps * max|f| / h``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.tape.reference import ReferenceEvaluator

EPS = np.finfo(float).eps
RTOL_FD = 1e-6
STENCIL = (-2.0, -1.0, 1.0, 2.0)
WEIGHTS = (1.0, -8.0, 8.0, -1.0)


def make_gbm(n_steps, checkpoint_every=None, width=5.0):
    """Asian-flavoured GBM payoff with per-step vols; inputs spot, rate, strike, vol."""
    dt = 1.0 / n_steps
    sq = math.sqrt(dt)

    def gbm(*, spot, rate, strike):
        def step(state, xs):
            logs, acc = state
            v = xs["vol"]
            logs = logs + (rate - 0.5 * v * v) * dt + v * sq * ad.normal()
            return logs, acc + ad.exp(logs)

        logs, acc = ad.scan(step, (ad.log(spot), 0.0), n_steps=n_steps, xs=["vol"],
                            checkpoint_every=checkpoint_every)
        payoff = ad.softplus(ad.exp(logs) - strike, width) \
            + 0.5 * ad.softplus(acc / n_steps - strike, width)
        return ad.exp(-rate) * payoff

    return ad.record(gbm, name=f"gbm{n_steps}")


def _fd(values, h):
    f = np.asarray(values, dtype=float)
    d = sum(w * f[i] for i, w in enumerate(WEIGHTS)) / (12.0 * h)
    return d, 1.5 * 16 * EPS * np.max(np.abs(f)) / h


def _assert_fd(got, fd, roundoff, what):
    tol = RTOL_FD * abs(got) + roundoff
    assert abs(got - fd) <= tol, f"{what}: AAD {got!r} vs FD {fd!r} (tol {tol:.3g})"


N = 252
PATHS = 128
SEED = 20240601
VOLS = 0.2 + 0.1 * np.sin(np.arange(N) / 20.0)   # a non-flat vol term structure
BASE = {"spot": 100.0, "rate": 0.03, "strike": 105.0, "vol": VOLS}


@pytest.fixture(scope="module")
def gbm252():
    prog = make_gbm(N)
    res = prog.grad(BASE, batch=PATHS, seed=SEED, reduce="mean")
    return prog, res


def _mean_value(prog, inputs):
    return prog.value(inputs, batch=PATHS, seed=SEED, reduce="mean").value


def test_gbm_gradient_spot_and_rate_match_finite_differences(gbm252):
    prog, res = gbm252
    for name, h in (("spot", 0.05), ("rate", 1e-4), ("strike", 0.05)):
        vals = [_mean_value(prog, {**BASE, name: BASE[name] + s * h}) for s in STENCIL]
        fd, ro = _fd(vals, h)
        _assert_fd(res.grad[name], fd, ro, f"d/d{name}")


def test_gbm_gradient_every_step_vol_matches_finite_differences(gbm252):
    prog, res = gbm252
    g = res.grad["vol"]
    assert g.shape == (N,)
    h = 1e-4
    for t in range(N):
        vals = []
        for s in STENCIL:
            v = VOLS.copy()
            v[t] += s * h
            vals.append(_mean_value(prog, {**BASE, "vol": v}))
        fd, ro = _fd(vals, h)
        _assert_fd(g[t], fd, ro, f"d/dvol[{t}]")


def test_gbm_gamma_and_vanna_match_finite_differences_of_gradient(gbm252):
    prog, _ = gbm252
    hv = prog.hvp(BASE, {"spot": 1.0}, batch=PATHS, seed=SEED, reduce="mean")
    h = 0.05
    grads = [prog.grad({**BASE, "spot": 100.0 + s * h}, batch=PATHS, seed=SEED,
                       reduce="mean") for s in STENCIL]
    fd, ro = _fd([r.grad["spot"] for r in grads], h)
    _assert_fd(hv.hvp["spot"], fd, ro, "gamma")
    fd, ro = _fd([r.grad["rate"] for r in grads], h)
    _assert_fd(hv.hvp["rate"], fd, ro, "d2/dspot drate")
    fdv = np.array([_fd([r.grad["vol"][t] for r in grads], h) for t in range(N)])
    for t in range(0, N, 9):
        _assert_fd(hv.hvp["vol"][t], fdv[t, 0], fdv[t, 1], f"d2/dspot dvol[{t}]")


def test_gbm_forward_and_reverse_agree(gbm252):
    """JVP along a vol direction equals the reverse gradient dotted with it (1e-12)."""
    prog, res = gbm252
    direction = np.cos(np.arange(N) / 7.0)
    t = prog.jvp(BASE, {"vol": direction, "rate": 0.5}, batch=PATHS, seed=SEED,
                 reduce="mean")
    expect = float(np.dot(res.grad["vol"], direction)) + 0.5 * res.grad["rate"]
    scale = float(np.dot(np.abs(res.grad["vol"]), np.abs(direction))) + 0.5 * abs(
        res.grad["rate"])
    assert abs(t.tangent - expect) <= 1e-12 * scale
    assert t.value == res.value


@pytest.mark.parametrize("k", [1, 7, 16, 252])
def test_checkpoint_interval_does_not_change_results(k):
    spot = np.linspace(90.0, 110.0, 40)
    inputs = {**BASE, "spot": spot}
    direction = {"spot": 1.0, "vol": np.full(N, 0.3)}
    base = make_gbm(N, checkpoint_every=1).hvp(inputs, direction, seed=SEED, block=16)
    prog = make_gbm(N, checkpoint_every=k)
    assert prog.checkpoint_intervals() == [k]
    other = prog.hvp(inputs, direction, seed=SEED, block=16)
    assert np.array_equal(base.value, other.value)
    assert np.array_equal(base.tangent, other.tangent)
    for name in ("spot", "rate", "strike", "vol"):
        assert np.array_equal(base.grad[name], other.grad[name]), name
        assert np.array_equal(base.hvp[name], other.hvp[name]), name


def test_default_checkpoint_interval_under_memory_pressure():
    """A block too large to store every step falls back to ceil(sqrt(N)) = 16, same bits."""
    prog = make_gbm(N)
    assert prog.checkpoint_intervals(block=256) == [1]
    assert prog.checkpoint_intervals(block=20_000) == [16]
    inputs = {**BASE, "spot": np.linspace(95.0, 105.0, 50)}
    a = prog.grad(inputs, seed=1, block=20_000)
    b = make_gbm(N, checkpoint_every=1).grad(inputs, seed=1, block=20_000)
    assert np.array_equal(a.value, b.value)
    for name in ("spot", "rate", "vol"):
        assert np.array_equal(a.grad[name], b.grad[name])


def _compare(res, ref, rtol=1e-12):
    np.testing.assert_allclose(res.value, ref.value, rtol=rtol, atol=1e-14)
    for fld in ("grad", "hvp"):
        for k, v in getattr(ref, fld).items():
            got = getattr(res, fld)[k]
            atol = 1e-12 * (1.0 + np.max(np.abs(v)))
            np.testing.assert_allclose(got, v, rtol=rtol, atol=atol, err_msg=f"{fld}[{k}]")
    if ref.tangent is not None:
        np.testing.assert_allclose(res.tangent, ref.tangent, rtol=rtol, atol=1e-13)


def test_short_loop_matches_reference_evaluator():
    prog = make_gbm(5, width=2.0)
    inputs = {"spot": np.array([95.0, 100.0, 104.0, 110.0]), "rate": 0.02, "strike": 101.0,
              "vol": np.array([0.1, 0.3, 0.25, 0.2, 0.15])}
    ref = ReferenceEvaluator(prog)
    direction = {"spot": np.array([1.0, -0.5, 0.25, 2.0]), "rate": 0.3,
                 "vol": np.array([1.0, 0.0, -1.0, 0.5, 2.0])}
    _compare(prog.value(inputs, seed=4), ref.evaluate(inputs, mode=0, seed=4))
    _compare(prog.grad(inputs, seed=4), ref.evaluate(inputs, mode=1, seed=4))
    _compare(prog.jvp(inputs, direction, seed=4),
             ref.evaluate(inputs, mode=2, tangents=direction, seed=4))
    _compare(prog.hvp(inputs, direction, seed=4),
             ref.evaluate(inputs, mode=3, tangents=direction, seed=4))
    for k in (1, 2, 5):  # also with recomputation between checkpoints
        p = make_gbm(5, checkpoint_every=k, width=2.0)
        _compare(p.hvp(inputs, direction, seed=4),
                 ref.evaluate(inputs, mode=3, tangents=direction, seed=4))


def test_per_element_step_input_values_and_gradients():
    """Step input of shape (N, batch): element j sees column j.

    Element j must equal (bitwise) element j of a run where the step input is
    shared and equal to column j; shared-input gradients (sums over elements)
    must match the reference evaluator.
    """
    n_steps, batch = 6, 5
    prog = make_gbm(n_steps, width=2.0)
    rng = np.random.default_rng(3)
    vol_el = 0.1 + 0.3 * rng.random((n_steps, batch))
    spot = np.linspace(90.0, 110.0, batch)
    inputs = {"spot": spot, "rate": 0.02, "strike": 100.0, "vol": vol_el}
    wrt = ["spot", "rate", "strike"]
    res = prog.grad(inputs, wrt=wrt, seed=8)
    assert res.value.shape == (batch,)
    assert np.array_equal(prog.value(inputs, seed=8).value, res.value)
    for j in range(batch):
        one = prog.grad({**inputs, "vol": vol_el[:, j]}, wrt=wrt, seed=8)
        assert res.value[j] == one.value[j]
        assert res.grad["spot"][j] == one.grad["spot"][j]
    ref = ReferenceEvaluator(prog).evaluate(inputs, mode=1, seed=8)
    np.testing.assert_allclose(res.value, ref.value, rtol=1e-13)
    for k in wrt:
        np.testing.assert_allclose(res.grad[k], ref.grad[k], rtol=1e-12)


def make_multi(checkpoints=(None, None, None)):
    """Three loops: A (10 steps, vol), B (4 steps, starts from A's result, drift),
    C (10 steps, reuses the step input vol, independent state)."""
    k1, k2, k3 = checkpoints

    def fn(*, spot, rate):
        def sa(st, xs):
            (x,) = st
            return (x * ad.exp(xs["vol"] * 0.3 * ad.normal() - 0.045 * xs["vol"] ** 2),)

        (a,) = ad.scan(sa, (spot,), n_steps=10, xs=["vol"], checkpoint_every=k1)

        def sb(st, xs):
            x, m = st
            x = x + xs["drift"] * x * rate + 0.5 * ad.normal()
            return x, ad.maximum(m, x)

        b, m = ad.scan(sb, (a, a), n_steps=4, xs=["drift"], checkpoint_every=k2)

        def sc(st, xs):
            return st * (1.0 + 0.1 * ad.tanh(xs["vol"] + rate * ad.normal()))

        c = ad.scan(sc, spot, n_steps=10, xs=["vol"], checkpoint_every=k3)  # single state
        return {"price": ad.exp(-rate) * ad.softplus(b - spot, 3.0) + 0.1 * m,
                "other": ad.log(c) + a * 0.01}

    return ad.record(fn)


MULTI_IN = {"spot": np.array([90.0, 100.0, 111.0]), "rate": 0.05,
            "vol": np.linspace(0.1, 0.3, 10), "drift": np.array([1.0, 0.5, -0.5, 2.0])}


def test_multiple_scans_match_reference_evaluator():
    prog = make_multi()
    assert len(prog.scans) == 3
    ref = ReferenceEvaluator(prog)
    direction = {"spot": 1.0, "rate": 0.5, "vol": np.linspace(-1.0, 1.0, 10),
                 "drift": np.array([0.0, 1.0, 0.0, -1.0])}
    for mode in range(4):
        tang = direction if mode >= 2 else None
        if mode == 0:
            res = prog.value(MULTI_IN, seed=77)
        elif mode == 1:
            res = prog.grad(MULTI_IN, seed=77)
        elif mode == 2:
            res = prog.jvp(MULTI_IN, direction, seed=77)
        else:
            res = prog.hvp(MULTI_IN, direction, seed=77)
        r = ref.evaluate(MULTI_IN, mode=mode, tangents=tang, seed=77)
        for out in ("price", "other"):
            one = type(res)(value=res.value[out], grad=res.grad.get(out, {}),
                            tangent=(res.tangent or {}).get(out), hvp=res.hvp.get(out, {}))
            rone = type(r)(value=r.value[out], grad=r.grad.get(out, {}),
                           tangent=(r.tangent or {}).get(out), hvp=r.hvp.get(out, {}))
            _compare(one, rone)


def test_multiple_scans_checkpoints_and_finite_differences():
    base = make_multi().hvp(MULTI_IN, {"spot": 1.0}, seed=77)
    other = make_multi((3, 2, 4)).hvp(MULTI_IN, {"spot": 1.0}, seed=77)
    for out in ("price", "other"):
        assert np.array_equal(base.value[out], other.value[out])
        for k in ("spot", "rate", "vol", "drift"):
            assert np.array_equal(base.grad[out][k], other.grad[out][k]), (out, k)
            assert np.array_equal(base.hvp[out][k], other.hvp[out][k]), (out, k)
    prog = make_multi()
    h = 0.01
    spots = MULTI_IN["spot"]
    vals = [prog.value({**MULTI_IN, "spot": spots + s * h}, seed=77).value for s in STENCIL]
    grads = [prog.grad({**MULTI_IN, "spot": spots + s * h}, seed=77).grad for s in STENCIL]
    for out in ("price", "other"):
        for j in range(len(spots)):
            fd, ro = _fd([v[out][j] for v in vals], h)
            _assert_fd(base.grad[out]["spot"][j], fd, ro, f"{out} d/dspot[{j}]")
            fd, ro = _fd([g[out]["spot"][j] for g in grads], h)
            _assert_fd(base.hvp[out]["spot"][j], fd, ro, f"{out} d2/dspot2[{j}]")
    # step input 'vol' used by two loops: its gradient collects both
    hv = 1e-4
    for t in range(10):
        vv = []
        for s in STENCIL:
            v = MULTI_IN["vol"].copy()
            v[t] += s * hv
            vv.append(prog.value({**MULTI_IN, "vol": v}, seed=77).value["other"].sum())
        fd, ro = _fd(vv, hv)
        _assert_fd(base.grad["other"]["vol"][t], fd, ro, f"other d/dvol[{t}]")


def test_scan_single_state_and_constant_init():
    """A bare (non-tuple) state and a constant initial value: compound growth."""
    prog = ad.record(lambda *, r: ad.scan(lambda s, _: s * (1.0 + r), 1.0, n_steps=12))
    res = prog.hvp({"r": 0.01}, {"r": 1.0})
    # value (1+r)^12, d/dr = 12 (1+r)^11, d2/dr2 = 132 (1+r)^10  (hand-computed)
    assert abs(res.value[0] - 1.01 ** 12) <= 4 * EPS * 1.01 ** 12
    assert abs(res.grad["r"] - 12 * 1.01 ** 11) <= 1e-14 * 12 * 1.01 ** 11
    assert abs(res.hvp["r"] - 132 * 1.01 ** 10) <= 1e-13 * 132 * 1.01 ** 10


def _multi_payoff(*, spot, vol, rate):
    """Ten payoffs of one GBM loop (more outputs than one vector-adjoint sweep carries)."""
    def step(st, _):
        s, a = st
        s = s * ad.exp((rate - 0.5 * vol * vol) * 0.05 + vol * math.sqrt(0.05) * ad.normal())
        return (s, a + s)
    s, a = ad.scan(step, (spot, 0.0), 20)
    return {f"p{k}": ad.exp(-rate) * ad.softplus(a / 20.0 + s * (k / 10.0) - 90.0 - 2.0 * k,
                                                 1.0)
            for k in range(10)}


@pytest.mark.parametrize("mode", ["grad", "hvp"])
def test_vector_adjoint_equals_one_output_programs_bit_for_bit(mode):
    """Outputs swept together (program.ADJOINT_WIDTH per sweep) give exactly the adjoints of
    one-output programs: the shared forward recomputation changes no number."""
    from aadrisk.tape.program import ADJOINT_WIDTH
    inp = {"spot": np.array([95.0, 100.0, 105.0] * 50), "vol": 0.25, "rate": 0.02}
    multi = ad.record(_multi_payoff)
    assert len(multi.output_names) > ADJOINT_WIDTH

    def run(p):
        if mode == "grad":
            return p.grad(inp, seed=7, block=32)
        return p.hvp(inp, {"spot": 1.0}, seed=7, block=32)
    r = run(multi)
    for k in range(10):
        single = ad.record((lambda kk: lambda *, spot, vol, rate:
                            _multi_payoff(spot=spot, vol=vol, rate=rate)[f"p{kk}"])(k))
        r1 = run(single)
        for name in ("spot", "vol", "rate"):
            np.testing.assert_array_equal(r.grad[f"p{k}"][name], r1.grad[name])
            if mode == "hvp":
                np.testing.assert_array_equal(r.hvp[f"p{k}"][name], r1.hvp[name])
