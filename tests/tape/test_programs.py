"""Random composite programs: compiled kernels vs the pure-Python reference evaluator.

Hypothesis builds random expression trees (depth up to 6) over three inputs
``x, y, z`` from ``+ - * / ** exp log sqrt sin cos tanh norm_cdf maximum where``
(and a few more), with guards that keep every argument inside its domain
(``log(1 + u*u)``, ``sqrt(0.5 + u*u)``, ``u / (1 + v*v)``, ``(1 + u*u) ** tanh(v)``,
``exp(tanh(u))`` ...).  Each input is randomly per element (a 1-d array) or
shared (a scalar).  Compiled value, reverse gradient, forward JVP, HVP and
the full Hessian must equal :class:`aadrisk.tape.reference.ReferenceEvaluator`
to ``RTOL = 1e-12`` relative, with an absolute floor ``ATOL = 1e-12 * (1 + max|ref|)``
for entries near zero (cancellation can leave a last-bit difference of
O(eps * magnitude of the cancelling terms)).
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import aadrisk as ad
from aadrisk.tape.reference import ReferenceEvaluator

RTOL = 1e-12
INPUTS = ("x", "y", "z")

UNARY = ("neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "norm_cdf", "square", "powc",
         "sigmoid", "softplus", "abs", "erf")
BINARY = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "where_gt", "where_le",
          "smooth_max")


def build(tree, env):
    """Interpret a tree on tape values (env maps input names to Vars)."""
    kind = tree[0]
    if kind == "in":
        return env[tree[1]]
    if kind == "const":
        return tree[1]
    if kind in UNARY:
        u = build(tree[1], env)
        if kind == "neg":
            return -u
        if kind == "exp":
            return ad.exp(ad.tanh(u))
        if kind == "log":
            return ad.log(1.0 + u * u)
        if kind == "sqrt":
            return ad.sqrt(0.5 + u * u)
        if kind == "sin":
            return ad.sin(u)
        if kind == "cos":
            return ad.cos(u)
        if kind == "tanh":
            return ad.tanh(u)
        if kind == "norm_cdf":
            return ad.norm_cdf(u)
        if kind == "square":
            return u ** 2
        if kind == "powc":
            return (1.0 + u * u) ** tree[2]
        if kind == "sigmoid":
            return ad.sigmoid(u, tree[2])
        if kind == "softplus":
            return ad.softplus(u, tree[2])
        if kind == "abs":
            return abs(u)
        if kind == "erf":
            return ad.erf(u)
    u, v = build(tree[1], env), build(tree[2], env)
    if kind == "add":
        return u + v
    if kind == "sub":
        return u - v
    if kind == "mul":
        return u * v
    if kind == "div":
        return u / (1.0 + v * v)
    if kind == "pow":
        return (1.0 + u * u) ** ad.tanh(v)
    if kind == "maximum":
        return ad.maximum(u, v)
    if kind == "minimum":
        return ad.minimum(u, v)
    if kind == "where_gt":
        return ad.where(u > v, u * v, u - v)
    if kind == "where_le":
        return ad.where(u <= v, ad.sin(u), v)
    if kind == "smooth_max":
        return ad.smooth_max(u, v, 0.5)
    raise AssertionError(kind)


def _const():
    return st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


@st.composite
def trees(draw, depth):
    """A random expression tree of depth <= ``depth``; leaves are mostly inputs."""
    if depth == 0 or draw(st.integers(0, 5)) == 0:
        if draw(st.integers(0, 4)) == 0:
            return ("const", draw(_const()))
        return ("in", draw(st.sampled_from(INPUTS)))
    if draw(st.booleans()):
        kind = draw(st.sampled_from(UNARY))
        child = draw(trees(depth - 1))
        if kind == "powc":
            return (kind, child, draw(st.sampled_from([-1.5, -0.5, 0.5, 1.5, 3.0])))
        if kind in ("sigmoid", "softplus"):
            return (kind, child, draw(st.floats(0.2, 2.0)))
        return (kind, child)
    kind = draw(st.sampled_from(BINARY))
    return (kind, draw(trees(depth - 1)), draw(trees(depth - 1)))


@st.composite
def input_sets(draw, names=INPUTS):
    """Inputs (each per element or shared at random) and a direction for JVP/HVP."""
    per_elem = {nm: draw(st.booleans()) for nm in names}
    n = draw(st.integers(1, 5)) if any(per_elem.values()) else 1
    vals = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
    inputs, direction = {}, {}
    for nm in names:
        if per_elem[nm]:
            inputs[nm] = np.array(draw(st.lists(vals, min_size=n, max_size=n)))
        else:
            inputs[nm] = draw(vals)
        mode = draw(st.sampled_from(["elem", "shared", "absent"]))
        if mode == "elem":
            direction[nm] = np.array(draw(st.lists(vals, min_size=n, max_size=n)))
        elif mode == "shared":
            direction[nm] = draw(vals)
    return inputs, direction, n


def _close(got, ref, what):
    got = np.asarray(got, dtype=float)
    ref = np.asarray(ref, dtype=float)
    assert got.shape == ref.shape, (what, got.shape, ref.shape)
    atol = 1e-12 * (1.0 + np.max(np.abs(ref), initial=0.0))
    ok = np.abs(got - ref) <= RTOL * np.abs(ref) + atol
    assert ok.all(), f"{what}: compiled {got} vs reference {ref}"


def _check_result(res, ref, mode, what, output_names=None):
    """Compare one compiled Result with the reference Result (mode 0..3)."""
    if output_names is None:
        pairs = [(res.value, ref.value, res.grad, ref.grad, res.tangent, ref.tangent,
                  res.hvp, ref.hvp, what)]
    else:
        pairs = [(res.value[o], ref.value[o], res.grad.get(o, {}), ref.grad.get(o, {}),
                  (res.tangent or {}).get(o), (ref.tangent or {}).get(o),
                  res.hvp.get(o, {}), ref.hvp.get(o, {}), f"{what}[{o}]")
                 for o in output_names]
    for val, rval, grad, rgrad, tan, rtan, hvp, rhvp, w in pairs:
        _close(val, rval, f"{w} value")
        if mode & 1:
            assert set(grad) == set(rgrad), (w, set(grad), set(rgrad))
            for k in rgrad:
                _close(grad[k], rgrad[k], f"{w} grad[{k}]")
        if mode >= 2:
            _close(tan, rtan, f"{w} tangent")
        if mode == 3:
            for k in rhvp:
                _close(hvp[k], rhvp[k], f"{w} hvp[{k}]")


def _fn_of(tree):
    def fn(*, x, y, z):
        return build(tree, {"x": x, "y": y, "z": z})
    return fn


@given(tree=trees(6), case=input_sets())
def test_single_output_program_matches_reference(tree, case):
    inputs, direction, n = case
    prog = ad.record(_fn_of(tree))
    ref = ReferenceEvaluator(prog)
    what = f"tree {tree}"
    _check_result(prog.value(inputs), ref.evaluate(inputs, mode=0), 0, what)
    _check_result(prog.grad(inputs), ref.evaluate(inputs, mode=1), 1, what)
    _check_result(prog.jvp(inputs, direction),
                  ref.evaluate(inputs, mode=2, tangents=direction), 2, what)
    _check_result(prog.hvp(inputs, direction),
                  ref.evaluate(inputs, mode=3, tangents=direction), 3, what)


@settings(max_examples=25)
@given(tree=trees(5), case=input_sets())
def test_full_hessian_matches_reference_and_is_symmetric(tree, case):
    inputs, _, n = case
    prog = ad.record(_fn_of(tree))
    ref = ReferenceEvaluator(prog)
    H = prog.hessian(inputs, list(INPUTS))
    for u in INPUTS:
        r = ref.evaluate(inputs, mode=3, tangents={u: 1.0})
        for v in INPUTS:
            _close(H[u][v], r.hvp[v], f"H[{u}][{v}] of {tree}")
    for u in INPUTS:
        for v in INPUTS:
            # symmetry (up to rounding): d2f/dudv == d2f/dvu
            a, b = np.asarray(H[u][v]), np.asarray(H[v][u])
            if a.shape == b.shape:
                _close(a, b, f"symmetry H[{u}][{v}] of {tree}")


@given(t1=trees(5), t2=trees(5), t3=trees(3), case=input_sets())
def test_multi_output_program_matches_reference(t1, t2, t3, case):
    inputs, direction, n = case

    def fn(*, x, y, z):
        env = {"x": x, "y": y, "z": z}
        shared = build(t3, env)  # a subexpression used by both outputs
        return {"first": build(t1, env) + shared, "second": build(t2, env) * shared}

    prog = ad.record(fn)
    ref = ReferenceEvaluator(prog)
    outs = ["first", "second"]
    what = f"trees {t1}, {t2}, {t3}"
    assert prog.output_names == outs
    _check_result(prog.value(inputs), ref.evaluate(inputs, mode=0), 0, what, outs)
    _check_result(prog.grad(inputs), ref.evaluate(inputs, mode=1), 1, what, outs)
    _check_result(prog.jvp(inputs, direction),
                  ref.evaluate(inputs, mode=2, tangents=direction), 2, what, outs)
    _check_result(prog.hvp(inputs, direction),
                  ref.evaluate(inputs, mode=3, tangents=direction), 3, what, outs)


@given(tree=trees(5), case=input_sets())
def test_multi_output_equals_separate_single_output_programs(tree, case):
    """Each output of a multi-output program equals the same expression recorded alone."""
    inputs, direction, n = case
    fn = _fn_of(tree)

    def both(*, x, y, z):
        v = fn(x=x, y=y, z=z)
        return {"f": v, "g": ad.sin(v) + x}

    multi = ad.record(both).hvp(inputs, direction)
    single = ad.record(fn).hvp(inputs, direction)
    assert np.array_equal(multi.value["f"], single.value)
    assert np.array_equal(multi.tangent["f"], single.tangent)
    for k in INPUTS:
        assert np.array_equal(multi.grad["f"][k], single.grad[k])
        assert np.array_equal(multi.hvp["f"][k], single.hvp[k])


def test_known_program_by_hand():
    """f = x*y + exp(z) sin(x): derivatives written out by hand (product/chain rule)."""
    prog = ad.record(lambda *, x, y, z: x * y + ad.exp(z) * ad.sin(x))
    x, y, z = np.array([0.3, -1.2]), 0.7, np.array([0.1, 0.5])
    res = prog.hvp({"x": x, "y": y, "z": z}, {"x": 1.0})
    ez = np.exp(z)
    np.testing.assert_allclose(res.value, x * y + ez * np.sin(x), rtol=1e-15)
    np.testing.assert_allclose(res.grad["x"], y + ez * np.cos(x), rtol=1e-15)
    np.testing.assert_allclose(res.grad["y"], np.sum(x), rtol=1e-15)  # shared: summed
    np.testing.assert_allclose(res.grad["z"], ez * np.sin(x), rtol=1e-15)
    np.testing.assert_allclose(res.tangent, y + ez * np.cos(x), rtol=1e-15)
    np.testing.assert_allclose(res.hvp["x"], -ez * np.sin(x), rtol=1e-15)  # d2/dx2
    np.testing.assert_allclose(res.hvp["y"], 2.0, rtol=1e-15)  # sum_j d2/dxdy = 1 + 1
    np.testing.assert_allclose(res.hvp["z"], ez * np.cos(x), rtol=1e-15)
