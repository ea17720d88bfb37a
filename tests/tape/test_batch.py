"""Batch semantics and bit-reproducibility of the compiled evaluator.

* shared vs per-element inputs: a shared input's gradient is the sum over the
  batch of the per-element gradients; ``reduce="mean"`` gives the batch means
  and standard errors ``std(ddof=1)/sqrt(n)`` that NumPy computes;
* element ``i``'s value and derivatives are bitwise identical whatever the
  batch size (1, 7, 100 000), block size (1, 7, 256, 1000) or thread count;
  shared-gradient sums and ``reduce="mean"`` figures are bitwise identical for
  any thread count;
* :func:`aadrisk.normal` gives element ``i`` the same number whatever the
  layout, and is standard normal (statistical tolerances stated per test).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.tape.reference import ReferenceEvaluator


def _payoff(*, spot, vol, strike, rate):
    """A smooth one-step GBM payoff with one normal draw per element."""
    z = ad.normal()
    s_t = spot * ad.exp((rate - 0.5 * vol * vol) + vol * z)
    return ad.exp(-rate) * ad.softplus(s_t - strike, 2.0) + 0.01 * ad.sin(spot * vol)


PROG = ad.record(_payoff)


def _inputs(n, rng=None):
    rng = rng or np.random.default_rng(12345)
    return {"spot": 90.0 + 20.0 * rng.random(n), "vol": 0.1 + 0.3 * rng.random(n),
            "strike": 100.0, "rate": 0.03}


def _assert_results_equal(r1, r2, sl1=slice(None), sl2=slice(None)):
    """Bitwise equality of values, per-element gradients, tangents and HVPs."""
    assert np.array_equal(r1.value[sl1], r2.value[sl2])
    for fld in ("grad", "hvp"):
        d1, d2 = getattr(r1, fld), getattr(r2, fld)
        assert set(d1) == set(d2)
        for k in d1:
            if np.ndim(d1[k]) == 1:
                assert np.array_equal(d1[k][sl1], d2[k][sl2]), (fld, k)
    if r1.tangent is not None:
        assert np.array_equal(r1.tangent[sl1], r2.tangent[sl2])


# -- shared vs per element -------------------------------------------------------
def test_shared_gradient_is_sum_of_per_element_gradients():
    n = 1000
    inp = _inputs(n)
    shared = PROG.hvp(inp, {"spot": 1.0, "rate": 0.5})
    per = PROG.hvp({**inp, "strike": np.full(n, 100.0), "rate": np.full(n, 0.03)},
                   {"spot": 1.0, "rate": np.full(n, 0.5)})
    assert np.array_equal(shared.value, per.value)
    assert np.array_equal(shared.grad["spot"], per.grad["spot"])
    for k in ("strike", "rate"):
        assert np.ndim(shared.grad[k]) == 0 and per.grad[k].shape == (n,)
        # summation order differs (blocks/lanes vs numpy): 1e-13 relative
        np.testing.assert_allclose(shared.grad[k], math.fsum(per.grad[k]), rtol=1e-13)
        np.testing.assert_allclose(shared.hvp[k], math.fsum(per.hvp[k]), rtol=1e-13)


def test_shared_input_matches_reference_evaluator():
    inp = _inputs(9)
    res = PROG.hvp(inp, {"vol": 1.0})
    ref = ReferenceEvaluator(PROG).evaluate(inp, mode=3, tangents={"vol": 1.0})
    np.testing.assert_allclose(res.value, ref.value, rtol=1e-13)
    for k in inp:
        np.testing.assert_allclose(res.grad[k], ref.grad[k], rtol=1e-12)
        np.testing.assert_allclose(res.hvp[k], ref.hvp[k], rtol=1e-12)


@pytest.mark.parametrize("n", [2, 37, 5000])
def test_reduce_mean_matches_numpy(n):
    inp = _inputs(n)
    per = PROG.hvp(inp, {"spot": 1.0})
    red = PROG.hvp(inp, {"spot": 1.0}, reduce="mean")
    summ = PROG.grad(inp, reduce="sum")

    def check(got_mean, got_se, x, what):
        # mean: 1e-13 relative (summation order); stderr: 1e-9 relative (the
        # library's one-pass variance vs numpy's two-pass; data here have
        # mean/std < 10, so the one-pass formula loses < 1e-12)
        np.testing.assert_allclose(got_mean, np.mean(x), rtol=1e-13, err_msg=what)
        if got_se is None:
            return
        np.testing.assert_allclose(got_se, np.std(x, ddof=1) / math.sqrt(n), rtol=1e-9,
                                   err_msg=what)

    check(red.value, red.stderr, per.value, "value")
    check(red.tangent, None, per.tangent, "tangent")  # no stderr is reported for it
    for k in ("spot", "vol"):  # per-element inputs, reduced to mean over the batch
        check(red.grad[k], red.grad_stderr[k], per.grad[k], f"grad[{k}]")
        check(red.hvp[k], red.hvp_stderr[k], per.hvp[k], f"hvp[{k}]")
        np.testing.assert_allclose(summ.grad[k], math.fsum(per.grad[k]), rtol=1e-13)
    for k in ("strike", "rate"):  # shared: mean of the per-element contributions
        pe = PROG.grad({**inp, k: np.full(n, inp[k])}).grad[k]
        check(red.grad[k], red.grad_stderr[k], pe, f"grad[{k}]")
    np.testing.assert_allclose(summ.value, math.fsum(per.value), rtol=1e-13)


def test_reduce_mean_stderr_with_large_mean_small_spread():
    """Standard error when the mean is large relative to the spread.

    Values 100 + 1e-3 z (n = 10 000): the standard error 1e-5 is a perfectly
    well-conditioned figure (numpy's two-pass formula gets it to ~1e-15); it
    must agree to 1e-9 relative.  A one-pass ``sum(x^2)/n - mean^2`` variance
    loses ~ n eps (mean/std)^2 relative and fails here.
    """
    prog = ad.record(lambda *, x: 100.0 + 1e-3 * x)
    x = np.random.default_rng(1).standard_normal(10_000)
    res = prog.value({"x": x}, reduce="mean")
    v = 100.0 + 1e-3 * x
    np.testing.assert_allclose(res.value, v.mean(), rtol=1e-14)
    np.testing.assert_allclose(res.stderr, v.std(ddof=1) / 100.0, rtol=1e-9)


def test_reduce_mean_with_one_element_has_nan_stderr():
    res = PROG.grad(_inputs(1), reduce="mean")
    assert math.isnan(res.stderr)
    per = PROG.grad(_inputs(1))
    assert res.value == per.value[0]


# -- bitwise independence of batch size, block size and threads ------------------
@pytest.fixture(scope="module")
def big_batch():
    n = 100_000
    inp = _inputs(n, np.random.default_rng(7))
    direction = {"spot": 1.0, "vol": np.linspace(-1.0, 1.0, n)}
    return inp, direction, PROG.hvp(inp, direction, seed=42)


@pytest.mark.parametrize("m", [1, 7])
def test_element_results_do_not_depend_on_batch_size(big_batch, m):
    inp, direction, full = big_batch
    small_in = {k: (v[:m] if np.ndim(v) == 1 else v) for k, v in inp.items()}
    small_dir = {k: (v[:m] if np.ndim(v) == 1 else v) for k, v in direction.items()}
    small = PROG.hvp(small_in, small_dir, seed=42)
    _assert_results_equal(full, small, slice(0, m))
    # value-only and gradient-only sweeps give the same bits too
    assert np.array_equal(PROG.value(small_in, seed=42).value, full.value[:m])
    g = PROG.grad(small_in, seed=42)
    assert np.array_equal(g.grad["spot"], full.grad["spot"][:m])
    assert np.array_equal(PROG.jvp(small_in, small_dir, seed=42).tangent, full.tangent[:m])


def test_element_results_do_not_depend_on_block_size():
    n = 1000
    inp = _inputs(n)
    direction = {"vol": 1.0, "spot": np.linspace(0.0, 1.0, n)}
    base = PROG.hvp(inp, direction, seed=3, block=256)
    for block in (1, 7, 1000, 4096):
        other = PROG.hvp(inp, direction, seed=3, block=block)
        _assert_results_equal(base, other)


@pytest.mark.parametrize("reduce", [None, "mean", "sum"])
def test_results_bitwise_equal_across_thread_counts(reduce):
    n = 20_000
    inp = _inputs(n)
    direction = {"spot": 1.0, "rate": 1.0}
    r1 = PROG.hvp(inp, direction, seed=5, reduce=reduce, threads=1, block=64)
    r2 = PROG.hvp(inp, direction, seed=5, reduce=reduce, threads=2, block=64)
    r4 = PROG.hvp(inp, direction, seed=5, reduce=reduce, threads=4, block=64)
    for r in (r2, r4):
        if reduce is None:
            _assert_results_equal(r1, r)
        else:
            assert r1.value == r.value and r1.stderr == r.stderr
            assert r1.tangent == r.tangent
        for k in ("strike", "rate"):  # shared inputs: sums (or means) over the batch
            assert r1.grad[k] == r.grad[k], k
            assert r1.hvp[k] == r.hvp[k], k
            if reduce == "mean":
                assert r1.grad_stderr[k] == r.grad_stderr[k]
        if reduce is not None:
            for k in ("spot", "vol"):
                assert r1.grad[k] == r.grad[k]
                assert r1.hvp[k] == r.hvp[k]


def test_step_input_gradient_bitwise_equal_across_thread_counts():
    def fn(*, x):
        (s,) = ad.scan(lambda st, xs: (st[0] * ad.exp(xs["v"] * ad.normal()),), (x,),
                       n_steps=12, xs=["v"])
        return s
    prog = ad.record(fn)
    inp = {"x": np.linspace(1.0, 2.0, 3000), "v": np.full(12, 0.2)}
    a = prog.grad(inp, threads=1, block=32, reduce="mean")
    b = prog.grad(inp, threads=2, block=32, reduce="mean")
    assert np.array_equal(a.grad["v"], b.grad["v"])
    assert np.array_equal(a.grad_stderr["v"], b.grad_stderr["v"])
    assert a.value == b.value


# -- aadrisk.normal() ------------------------------------------------------------
NORMAL_PROG = ad.record(lambda: ad.normal(), [], name="normal")
TWO_NORMALS = ad.record(lambda: {"z1": ad.normal(), "z2": ad.normal()}, [], name="two")


def test_normal_element_independent_of_layout():
    full = NORMAL_PROG.value({}, batch=100_000, seed=9).value
    assert np.array_equal(NORMAL_PROG.value({}, batch=7, seed=9).value, full[:7])
    assert np.array_equal(NORMAL_PROG.value({}, batch=1, seed=9).value, full[:1])
    for block, threads in [(1, 1), (7, 2), (1000, 2), (100_000, 1)]:
        got = NORMAL_PROG.value({}, batch=100_000, seed=9, block=block, threads=threads).value
        assert np.array_equal(got, full), (block, threads)


def test_normal_matches_reference_counter():
    got = TWO_NORMALS.value({}, batch=5, seed=11).value
    ref = ReferenceEvaluator(TWO_NORMALS).evaluate({}, mode=0, seed=11, batch=5).value
    assert np.array_equal(got["z1"], ref["z1"]) and np.array_equal(got["z2"], ref["z2"])


def test_normal_moments_and_distribution():
    """1e6 draws: mean, variance, KS distance, and independence of two draws.

    Tolerances are 5 standard errors: mean 5/sqrt(n) = 0.005, variance
    5 sqrt(2/n) = 0.0071, correlation 5/sqrt(n); KS distance below 1.95/sqrt(n)
    (the 0.1 % critical value of the Kolmogorov distribution).
    """
    n = 1_000_000
    res = TWO_NORMALS.value({}, batch=n, seed=2024).value
    z1, z2 = res["z1"], res["z2"]
    for z in (z1, z2):
        assert np.all(np.isfinite(z))
        assert abs(z.mean()) < 5.0 / math.sqrt(n)
        assert abs(z.var() - 1.0) < 5.0 * math.sqrt(2.0 / n)
        # Kolmogorov-Smirnov distance to Phi
        s = np.sort(z)
        cdf = 0.5 * np.array([math.erfc(-v / math.sqrt(2.0)) for v in s[::50]])
        i = np.arange(0, n, 50)
        d = max(np.max(np.abs(cdf - i / n)), np.max(np.abs(cdf - (i + 1) / n)))
        assert d < 1.95 / math.sqrt(n) + 50.0 / n, d
    assert abs(np.corrcoef(z1, z2)[0, 1]) < 5.0 / math.sqrt(n)
    # reduce="mean" reports the same mean and a standard error ~ 1/sqrt(n)
    red = NORMAL_PROG.value({}, batch=n, seed=2024, reduce="mean")
    np.testing.assert_allclose(red.value, z1.mean(), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(red.stderr, z1.std(ddof=1) / math.sqrt(n), rtol=1e-9)


def test_normal_seeds_differ():
    a = NORMAL_PROG.value({}, batch=1000, seed=0).value
    b = NORMAL_PROG.value({}, batch=1000, seed=1).value
    c = NORMAL_PROG.value({}, batch=1000, seed=2**40 + 1).value
    assert not np.any(a == b)
    assert not np.any(b == c)
    # same seed, same numbers
    assert np.array_equal(a, NORMAL_PROG.value({}, batch=1000, seed=0).value)
    # consecutive elements and the two draws of one element differ
    two = TWO_NORMALS.value({}, batch=1000, seed=0).value
    assert not np.any(two["z1"] == two["z2"])
    assert len(np.unique(a)) == len(a)
